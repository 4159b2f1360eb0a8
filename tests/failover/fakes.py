"""Scripted chunk senders for the failover unit tests: in-process, deterministic."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import anyio.lowlevel

from crowdsms._codes import CodeInfo, CodeKind
from crowdsms.errors import (
    ConnectionFailedError,
    DeliveryCertainty,
    HTTPStatusError,
    InvalidInputError,
    ProviderError,
)
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.phones import normalize_mainland_mobile

Answer = Callable[[Sequence[Recipient]], Sequence[RecipientOutcome]]
"""What one call answers (or raises)."""

CODES: Mapping[str, CodeInfo] = {
    "blocked": CodeInfo(CodeKind.RECIPIENT, "the number is on the blocklist"),
    "per_number": CodeInfo(CodeKind.RATE_LIMIT, "too many to this number", retryable=True),
    "repeat": CodeInfo(CodeKind.CONTENT, "identical message to this contact", job_wide=False),
    "review": CodeInfo(CodeKind.CONTENT, "the template is under review", retryable=True),
    "balance": CodeInfo(CodeKind.BALANCE, "the balance is used up"),
    "bad_vars": CodeInfo(CodeKind.INPUT, "the variables are malformed"),
    "auth": CodeInfo(CodeKind.AUTHENTICATION, "the key is wrong"),
}
"""A code table like the providers' (the failover rules read the families)."""


def phones(count: int, start: int = 0) -> list[str]:
    return [f"1390000{index:04d}" for index in range(start, start + count)]


def recipients(count: int, start: int = 0) -> list[Recipient]:
    return [Recipient(phone, {"code": phone[-4:]}) for phone in phones(count, start)]


def all_sent(recipients: Sequence[Recipient]) -> list[RecipientOutcome]:
    return [
        RecipientOutcome(phone=r.phone, status=OutcomeStatus.SENT, message_id=f"m-{r.phone}")
        for r in recipients
    ]


def refusing(codes: Mapping[str, str]) -> Answer:
    """Sends everyone except the numbers in ``codes``, refused with their code."""

    def answer(recipients: Sequence[Recipient]) -> list[RecipientOutcome]:
        return [
            RecipientOutcome(phone=r.phone, status=OutcomeStatus.FAILED, code=codes[r.phone])
            if r.phone in codes
            else RecipientOutcome(phone=r.phone, status=OutcomeStatus.SENT, message_id="m")
            for r in recipients
        ]

    return answer


def raising(error: Exception) -> Answer:
    def answer(recipients: Sequence[Recipient]) -> list[RecipientOutcome]:
        raise error

    return answer


def not_sent() -> ConnectionFailedError:
    return ConnectionFailedError(
        "could not connect to the provider", certainty=DeliveryCertainty.NOT_SENT
    )


def rejected() -> HTTPStatusError:
    return HTTPStatusError(
        "the provider did not process the request (HTTP 503)",
        status_code=503,
        certainty=DeliveryCertainty.NOT_SENT,
    )


def lost() -> ConnectionFailedError:
    return ConnectionFailedError(
        "the connection broke while waiting for the answer", certainty=DeliveryCertainty.UNKNOWN
    )


def refusal(code: str, *, job_wide: bool, provider: str = "fake") -> ProviderError:
    return ProviderError(
        provider=provider,
        code=code,
        provider_message="no",
        explanation=CODES[code].explanation if code in CODES else "unknown",
        job_wide=job_wide,
    )


class Scripted:
    """A chunk sender whose calls answer from ``script`` in turn (then ``then``)."""

    def __init__(
        self,
        *script: Answer,
        then: Answer = all_sent,
        max_chunk_size: int = 10,
        max_connections: int | None = None,
        reference: bool = False,
        refuse_invalid: Callable[[Recipient], bool] | None = None,
    ) -> None:
        self.script = list(script)
        self.then = then
        self.calls: list[list[Recipient]] = []
        self.received: list[Sequence[Recipient]] = []
        """Each call's recipients as passed (a CheckedRecipients stays one)."""
        self.validated: list[str] = []
        """The number of every recipient given to validate(), in order."""
        self.references: list[str | None] = []
        self._max = max_chunk_size
        self.max_connections = max_connections
        self.supports_reference = reference
        self._refuse_invalid = refuse_invalid

    @property
    def max_chunk_size(self) -> int:
        return self._max

    @property
    def supports_idempotency_key(self) -> bool:
        return False

    @property
    def phones(self) -> list[str]:
        """Every number this sender was asked to send, in order."""
        return [r.phone for call in self.calls for r in call]

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        self.validated.append(recipient.phone)
        if self._refuse_invalid is not None and self._refuse_invalid(recipient):
            raise InvalidInputError(
                "is refused by this fake", field=f"recipients[{position}]", position=position
            )
        phone = normalize_mainland_mobile(
            recipient.phone, field=f"recipients[{position}].phone", position=position
        )
        return Recipient(phone, recipient.vars)

    async def send_chunk(
        self,
        recipients: Sequence[Recipient],
        *,
        idempotency_key: str | None = None,
        reference: str | None = None,
    ) -> Sequence[RecipientOutcome]:
        assert idempotency_key is None
        if reference is not None:
            assert self.supports_reference, "a reference was passed to a sender without them"
        await anyio.lowlevel.checkpoint()
        self.calls.append(list(recipients))
        self.received.append(recipients)
        self.references.append(reference)
        answer = self.script.pop(0) if self.script else self.then
        return answer(recipients)


class Plain:
    """A chunk sender whose ``send_chunk`` takes no ``reference`` keyword at all."""

    max_chunk_size = 10
    supports_idempotency_key = False

    def __init__(self) -> None:
        self.calls = 0

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        return recipient

    async def send_chunk(
        self, recipients: Sequence[Recipient], *, idempotency_key: str | None = None
    ) -> Sequence[RecipientOutcome]:
        self.calls += 1
        return all_sent(recipients)
