"""``FailoverChunkSender``: a chunk sender that moves what was provably not sent to the next
provider, and nothing else."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from crowdsms.errors import CrowdSMSError, DeliveryCertainty, InvalidInputError, ProviderError
from crowdsms.failover._circuit import FailoverCircuit
from crowdsms.failover._routes import FailoverRoute, RouteLike, check_routes
from crowdsms.failover._rules import (
    error_fails_over,
    error_opens_circuit,
    refusal_fails_over,
    refusal_opens_circuit,
)
from crowdsms.outcomes import (
    CheckedRecipients,
    OutcomeStatus,
    Recipient,
    RecipientOutcome,
    is_checked_by,
    outcomes_for_error,
)
from crowdsms.providers._spec import MessageOptions

__all__ = ["INVALID_FOR_PROVIDER", "WRONG_OUTCOME_COUNT", "FailoverChunkSender"]

logger = logging.getLogger("crowdsms.failover")

INVALID_FOR_PROVIDER = "invalid_for_provider"
"""The ``code`` of a recipient a later provider refused as invalid before sending."""

WRONG_OUTCOME_COUNT = "wrong_outcome_count"
"""The ``code`` of the recipients of a request whose answer had the wrong number of outcomes."""


class _Chunk:
    """What one ``send_chunk`` call knows so far about each recipient of its chunk."""

    def __init__(self, given: Sequence[Recipient], *, checked: bool = False) -> None:
        self.given = given
        self.checked = checked
        """Whether :meth:`FailoverChunkSender.validate` returned every given recipient."""
        self.results: list[RecipientOutcome | None] = [None] * len(given)
        self.pending: list[int] = list(range(len(given)))
        self.refused: dict[int, RecipientOutcome] = {}
        """The latest outcome of each recipient that went on to the next provider."""
        self.errors: list[tuple[FailoverRoute, CrowdSMSError]] = []
        """Whole requests that failed and went on to the next provider."""
        self.answered = False
        """Whether any provider answered for any recipient (a result, or a refusal)."""

    def settle(self, index: int, outcome: RecipientOutcome) -> None:
        self.results[index] = outcome
        self.answered = True

    def settle_all(self, indexes: Sequence[int], outcomes: Sequence[RecipientOutcome]) -> None:
        for index, outcome in zip(indexes, outcomes, strict=True):
            self.settle(index, outcome)
        self.pending = []


class FailoverChunkSender:
    """Sends each chunk with the first provider that can, never sending a recipient twice.

    A :class:`~crowdsms.outcomes.ChunkSender` over several providers' chunk senders, in
    order of preference, each made with that provider's own message definition; the batch
    sender (:class:`~crowdsms.batch.BatchSender`) uses it as it uses one provider's. Each
    chunk goes to the first provider; what that provider *provably did not send* and another
    may accept goes to the next one, and so on (the rules are in :mod:`crowdsms.failover`):

    - a whole request that failed ``NOT_SENT`` after the provider's client's own retries (a
      refused connection, 503 or 429 answers, or a refusal about this provider: credentials,
      balance, its template): every recipient of it goes on;
    - a request that may have been processed (``UNKNOWN``: a lost answer, a read timeout)
      never goes on: its recipients stay ``unknown``, naming the provider;
    - a recipient the provider refused within its answer goes on only when the provider's
      code table says the refusal is about the provider's side (its balance, its template);
      an invalid, blocklisted or unsubscribed number, or a per-number limit, stays
      ``failed``.

    Every outcome's ``provider`` names the provider whose answer it is (sent, refused last,
    or may have sent). When no provider answered for any recipient of the chunk (every one
    tried failed the request as a whole, ``NOT_SENT``), the last such error is raised, as a
    single provider's chunk sender would, so the batch sender's chunk retries and job-wide
    stop work as usual; those outcomes, made by the batch sender, have no ``provider``. (A
    job-wide error is raised only when no earlier provider may still recover.)

    Circuit: a refusal every further request would meet too (credentials, signature,
    exhausted balance, a message the provider refuses as a whole: ``job_wide``) stops the
    provider for the rest of the job (see :attr:`circuit`), so a job does not hammer it.
    When every provider is stopped, each chunk raises the last stopping error (job-wide, so
    the batch sender stops the job).

    Validation: :meth:`validate` is the first provider's, so the batch sender skips as
    ``invalid`` what the first provider cannot send. A later provider checks each recipient
    it is given with its own ``validate`` before sending; a recipient it refuses is
    ``failed`` (code :data:`INVALID_FOR_PROVIDER`) and goes no further: a recipient one
    provider refuses as invalid is taken as invalid everywhere. The batch sender's chunks
    (:class:`~crowdsms.outcomes.CheckedRecipients` this sender validated) go to the first
    provider as its own checked recipients when it gets them exactly as its ``validate``
    returned them (no variables renamed), so it does not check them again; a later provider
    always checks them.

    Variables: give recipients' ``vars`` under your own names (e.g. CSV column names); each
    provider's ``var_name`` renames them as its templates write them (see
    :class:`~crowdsms.failover.FailoverRoute`).

    Idempotency keys: ``supports_idempotency_key`` is always false, so the batch sender
    never resends a chunk whose answer was lost. A key is remembered only by the provider
    that received it, and after a lost answer (or a restart) nothing says which provider
    that was: resending would offer the chunk to the first provider, whose 503 would carry
    it on to the next, which could send it a second time. ``unknown`` recipients are settled
    with delivery reports instead (:func:`~crowdsms.batch.reconcile`).

    References: ``supports_reference`` is true when any provider supports them; a
    ``reference`` is passed to the providers that do.
    """

    def __init__(
        self, senders: Sequence[RouteLike], *, circuit: FailoverCircuit | None = None
    ) -> None:
        self._routes = check_routes(senders)
        self.circuit = circuit if circuit is not None else FailoverCircuit()
        """The providers this sender has stopped using, and why."""

    @classmethod
    def from_registry(
        cls,
        providers: Sequence[tuple[str, Any, MessageOptions]],
        *,
        circuit: FailoverCircuit | None = None,
    ) -> FailoverChunkSender:
        """A failover sender from ``(provider, client, message)`` triples, in order.

        Each provider's chunk sender is built from its async client and its own
        :class:`~crowdsms.providers._spec.MessageOptions` (what the command line would be
        given for it), with its code table and variable names from the registry (see
        :meth:`FailoverRoute.from_registry`). A provider missing what its message needs is
        refused with :class:`~crowdsms.errors.ConfigurationError` before anything is sent.
        """
        return cls(
            [
                FailoverRoute.from_registry(name, client, message)
                for name, client, message in providers
            ],
            circuit=circuit,
        )

    def __repr__(self) -> str:
        names = ", ".join(route.name for route in self._routes)
        return f"<FailoverChunkSender [{names}] max_chunk_size={self.max_chunk_size}>"

    @property
    def routes(self) -> tuple[FailoverRoute, ...]:
        """The providers, in order of preference."""
        return self._routes

    @property
    def max_chunk_size(self) -> int:
        """The smallest of the providers' chunk sizes: any chunk fits every provider."""
        return min(route.sender.max_chunk_size for route in self._routes)

    @property
    def max_connections(self) -> int | None:
        """The smallest of the providers' ``max_connections`` that are known, else ``None``."""
        known = [getattr(route.sender, "max_connections", None) for route in self._routes]
        limits = [limit for limit in known if isinstance(limit, int)]
        return min(limits) if limits else None

    @property
    def target(self) -> dict[str, str]:
        """Where the chunks may go, with nothing secret: every provider in order, with its
        base URL and account where its chunk sender tells them (a batch job's journal
        records it, and a resume elsewhere is refused)."""
        routes = []
        for route in self._routes:
            told = getattr(route.sender, "target", None)
            told = told if isinstance(told, Mapping) else {}
            parts = [
                route.name,
                *(str(told[key]) for key in ("base_url", "account") if key in told),
            ]
            routes.append(" ".join(parts))
        names = ",".join(route.name for route in self._routes)
        return {"provider": f"failover({names})", "routes": "; ".join(routes)}

    @property
    def supports_idempotency_key(self) -> bool:
        """Always false: keys cannot follow a chunk from one provider to the next."""
        return False

    @property
    def supports_reference(self) -> bool:
        """Whether any provider carries a reference into its delivery reports."""
        return any(getattr(route.sender, "supports_reference", False) for route in self._routes)

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        """The first provider's validation: ``recipient`` normalized, or InvalidInputError.

        The returned recipient keeps its variables under the names it was given.
        """
        first = self._routes[0]
        checked = first.sender.validate(first.recipient(recipient), position=position)
        if first.var_name is None or not recipient.vars:
            return checked
        return Recipient(phone=checked.phone, vars=recipient.vars)

    async def send_chunk(
        self,
        recipients: Sequence[Recipient],
        *,
        idempotency_key: str | None = None,
        reference: str | None = None,
    ) -> Sequence[RecipientOutcome]:
        """Send ``recipients`` with the first provider that can; one outcome each, in order.

        ``idempotency_key`` must be ``None`` (see the class). Raises the chunk's last error
        when no provider answered for any recipient (see the class).
        """
        if idempotency_key is not None:
            raise InvalidInputError(
                "is not supported by a failover sender: a key cannot follow a chunk from "
                "one provider to the next",
                field="idempotency_key",
                action="Pass None (supports_idempotency_key is False)",
            )
        chunk = _Chunk(list(recipients), checked=is_checked_by(recipients, self))
        for position, route in enumerate(self._routes):
            if not chunk.pending:
                break
            if self.circuit.is_open(route.name):
                continue
            await self._try(route, chunk, later=position > 0, reference=reference)
        if chunk.pending:
            if not chunk.answered:
                raise self._final_error(chunk)
            for index in chunk.pending:
                chunk.results[index] = chunk.refused[index]
        return [outcome for outcome in chunk.results if outcome is not None]

    async def _try(
        self, route: FailoverRoute, chunk: _Chunk, *, later: bool, reference: str | None
    ) -> None:
        """Send the chunk's pending recipients with ``route``; update what is known."""
        indexes: list[int] = []
        batch: list[Recipient] = []
        unchanged = True
        for index in chunk.pending:
            given = chunk.given[index]
            recipient = route.recipient(given)
            if later:
                try:
                    recipient = route.sender.validate(recipient, position=index)
                except InvalidInputError as error:
                    chunk.settle(index, self._invalid(route, chunk, index, error))
                    continue
            else:
                unchanged = unchanged and recipient is given
            indexes.append(index)
            batch.append(recipient)
        chunk.pending = indexes
        if not batch:
            return
        sending: Sequence[Recipient] = batch
        if not later and chunk.checked and unchanged:
            # validate() returned them as this provider's own validate() did: not again
            sending = CheckedRecipients(batch, checked_by=route.sender)
        try:
            outcomes = await self._send(route, sending, reference)
        except CrowdSMSError as error:
            self._failed(route, chunk, indexes, error)
            return
        except Exception as error:
            logger.exception(
                "failover: %s's chunk sender raised %s; its %d recipients are reported as unknown",
                route.name,
                type(error).__name__,
                len(batch),
            )
            chunk.settle_all(indexes, self._unknown(route, chunk, indexes, error))
            return
        if len(outcomes) != len(batch):
            logger.error(
                "failover: %s's chunk sender returned %d outcomes for %d recipients; they are "
                "reported as unknown",
                route.name,
                len(outcomes),
                len(batch),
            )
            chunk.settle_all(indexes, self._unknown(route, chunk, indexes, None))
            return
        self._answered(route, chunk, indexes, outcomes, later=later)

    @staticmethod
    async def _send(
        route: FailoverRoute, batch: Sequence[Recipient], reference: str | None
    ) -> Sequence[RecipientOutcome]:
        if reference is not None and getattr(route.sender, "supports_reference", False):
            send: Any = route.sender.send_chunk
            result: Sequence[RecipientOutcome] = await send(batch, reference=reference)
            return result
        return await route.sender.send_chunk(batch)

    def _failed(
        self, route: FailoverRoute, chunk: _Chunk, indexes: list[int], error: CrowdSMSError
    ) -> None:
        """The request failed as a whole: go on, or settle its recipients."""
        if error_opens_circuit(error):
            self.circuit.open(route.name, error)
        outcomes = [
            attrs.evolve(outcome, provider=route.name)
            for outcome in outcomes_for_error([chunk.given[i] for i in indexes], error)
        ]
        if error_fails_over(error):
            logger.info(
                "failover: %s did not send %d recipients (%s); the next provider gets them",
                route.name,
                len(indexes),
                type(error).__name__,
            )
            chunk.errors.append((route, error))
            chunk.refused.update(zip(indexes, outcomes, strict=True))
            return
        unknown = getattr(error, "certainty", None) is DeliveryCertainty.UNKNOWN
        if not chunk.answered and not unknown:
            raise error  # as one provider's chunk sender would: the batch sender decides
        chunk.settle_all(indexes, outcomes)

    def _answered(
        self,
        route: FailoverRoute,
        chunk: _Chunk,
        indexes: list[int],
        outcomes: Sequence[RecipientOutcome],
        *,
        later: bool,
    ) -> None:
        """The provider answered per recipient: keep its outcomes, pass on what may go on."""
        chunk.answered = True
        onward: list[int] = []
        for index, outcome in zip(indexes, outcomes, strict=True):
            if later:
                outcome = attrs.evolve(outcome, provider=route.name, phone=chunk.given[index].phone)
            else:
                outcome = attrs.evolve(outcome, provider=route.name)
            if outcome.status is OutcomeStatus.FAILED and refusal_fails_over(outcome, route.codes):
                if refusal_opens_circuit(outcome, route.codes):
                    self.circuit.open(route.name, _refusal_error(route, outcome))
                chunk.refused[index] = outcome
                onward.append(index)
            else:
                chunk.results[index] = outcome
        if onward:
            logger.info(
                "failover: %s refused %d recipients for reasons of its own (e.g. code %s); "
                "the next provider gets them",
                route.name,
                len(onward),
                chunk.refused[onward[0]].code,
            )
        chunk.pending = onward

    def _final_error(self, chunk: _Chunk) -> CrowdSMSError:
        """The error to raise when no provider answered for any recipient of the chunk.

        The last provider's error, unless it is one that stopped its provider while an
        earlier provider failed only for now: then that one, so the job is not stopped while
        a provider may still take it. With no provider left to try, the last stopping error.
        """
        for route, error in reversed(chunk.errors):
            if not self.circuit.is_open(route.name):
                return error
        if chunk.errors:
            return chunk.errors[-1][1]
        names = {route.name for route in self._routes}
        stopped = [error for name, error in self.circuit.opened.items() if name in names]
        return copy.copy(stopped[-1])  # a fresh copy: the chunks of a job may raise it at once

    def _invalid(
        self, route: FailoverRoute, chunk: _Chunk, index: int, error: InvalidInputError
    ) -> RecipientOutcome:
        before = chunk.refused.get(index)
        previous = before.provider if before is not None else "the providers before it"
        return RecipientOutcome(
            phone=chunk.given[index].phone,
            status=OutcomeStatus.FAILED,
            code=INVALID_FOR_PROVIDER,
            message=(
                f"not sent: {previous} did not send it, and {route.name} refuses it as "
                f"invalid ({error}); a recipient one provider refuses is not tried further"
            ),
            provider=route.name,
        )

    @staticmethod
    def _unknown(
        route: FailoverRoute, chunk: _Chunk, indexes: list[int], error: Exception | None
    ) -> list[RecipientOutcome]:
        if error is None:
            code = WRONG_OUTCOME_COUNT
            why = "its chunk sender answered with the wrong number of outcomes"
        else:
            code = type(error).__name__
            why = f"its chunk sender raised an unexpected {code} ({str(error)[:200]})"
        message = (
            f"{route.name} may have sent it: {why}. Check its delivery reports before sending again"
        )
        return [
            RecipientOutcome(
                phone=chunk.given[index].phone,
                status=OutcomeStatus.UNKNOWN,
                code=code,
                message=message,
                provider=route.name,
            )
            for index in indexes
        ]


def _refusal_error(route: FailoverRoute, outcome: RecipientOutcome) -> ProviderError:
    """The error that stops ``route`` after it refused a recipient for an account reason."""
    code = outcome.code or "?"
    info = route.codes.get(code)
    return ProviderError(
        provider=route.name,
        code=code,
        provider_message=outcome.message or "",
        explanation=info.explanation if info is not None else "a refusal of the account",
        action="Fix the account (credentials, balance) before sending with it again",
        job_wide=True,
    )
