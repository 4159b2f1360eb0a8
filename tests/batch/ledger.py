"""A model of a provider for randomized tests: what it really sent, and how it answers.

:class:`Provider` keeps the ledger (every message it sent) and, for keyed requests, the
answer to each key it processed, which it gives again to a copy instead of sending again.
:func:`answer` plays one request through it as an :class:`Answer` says.
"""

from __future__ import annotations

import enum
import os
from collections import Counter
from collections.abc import Callable, Sequence
from random import Random

import anyio
import anyio.lowlevel
import attrs

from crowdsms.batch import NOT_SENT, BatchOutcome, BatchSender
from crowdsms.errors import (
    ConnectionFailedError,
    DeliveryCertainty,
    ProviderError,
    RateLimitedError,
    RequestTimeoutError,
)
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome

from .fakes import Call

SCALE = int(os.environ.get("CROWDSMS_MODEL_SCALE", "1"))
"""How many times its default number of examples each model-based test runs (``1``)."""


def examples(default: int) -> int:
    """``default`` times :data:`SCALE`: the examples a model-based test runs."""
    return default * SCALE


class Answer(enum.Enum):
    """How the provider (and the owner) answer one chunk request."""

    SEND = "send"
    LOSE_AFTER = "lose after"  # processed; the answer is lost
    LOSE_BEFORE = "lose before"  # not processed; to the client, the same as LOSE_AFTER
    REFUSE = "refuse"  # the connection was refused: provably not sent, retryable
    THROTTLE = "throttle"  # HTTP 429: provably not sent, retryable
    REJECT = "reject"  # the provider refuses this chunk (its content, say)
    REJECT_ALL = "reject all"  # the provider refuses every chunk (the balance ran out)
    STOP = "stop"  # the owner stops the job; this request goes through
    INTERRUPT = "interrupt"  # Ctrl-C while this request is in flight, after it was processed


@attrs.define
class Provider:
    """What the provider really did: ``ledger`` holds every message it sent."""

    refuses: frozenset[str]  # numbers it refuses one by one (a blacklist, say)
    refusal_code: str = "blacklisted"  # the code it refuses them with
    now: list[float] = attrs.Factory(lambda: [0.0])  # the time, shared with the limiter
    ledger: list[str] = attrs.Factory(list)
    sent_at: dict[str, float] = attrs.Factory(dict)
    answered: dict[str, list[RecipientOutcome]] = attrs.Factory(dict)  # by processed key
    sent_with: list[tuple[str, str | None]] = attrs.Factory(list)
    """Each message's number and the request's reference, for delivery reports."""

    def process(
        self, given: Sequence[Recipient], key: str | None, reference: str | None = None
    ) -> list[RecipientOutcome]:
        if key is not None and key in self.answered:
            return self.answered[key]  # a copy of a request it processed: answered again
        outcomes = []
        for recipient in given:
            if recipient.phone in self.refuses:
                outcomes.append(
                    RecipientOutcome(
                        phone=recipient.phone,
                        status=OutcomeStatus.FAILED,
                        code=self.refusal_code,
                    )
                )
            else:
                self.ledger.append(recipient.phone)
                self.sent_with.append((recipient.phone, reference))
                self.sent_at[recipient.phone] = self.now[0]
                outcomes.append(
                    RecipientOutcome(
                        phone=recipient.phone,
                        status=OutcomeStatus.SENT,
                        message_id=f"m{len(self.ledger)}",
                        fee=1.0,
                    )
                )
        if key is not None:
            self.answered[key] = outcomes
        return outcomes


def refusal(*, job_wide: bool) -> ProviderError:
    return ProviderError(
        provider="fake",
        code="40" if job_wide else "15",
        provider_message="refused",
        explanation="the balance is used up" if job_wide else "the content is refused",
        job_wide=job_wide,
        certainty=DeliveryCertainty.NOT_SENT,
    )


async def answer(
    how: Answer | None,
    call: Call,
    given: Sequence[Recipient],
    *,
    provider: Provider,
    ambiguous: set[str],
    interrupt: Callable[[], None],
    stop: Callable[[], None],
    yields: int = 0,
    reference: str | None = None,
) -> Sequence[RecipientOutcome]:
    """Play one request through ``provider`` as ``how`` says (``None``: sent).

    ``ambiguous`` gets every number of a request that may have reached the provider;
    ``interrupt`` cancels the run (Ctrl-C) once the provider has processed the request,
    and ``stop`` is the owner's stop; ``reference`` is the request's (for reports). A
    request written in full yields to the event loop ``yields`` times before the provider
    acts on it (other requests go on meanwhile, and a cancellation there finds it written,
    not processed).
    """
    if how is Answer.REFUSE:
        raise ConnectionFailedError("refused", certainty=DeliveryCertainty.NOT_SENT)
    if how is Answer.THROTTLE:
        raise RateLimitedError("too many requests", status_code=429, retry_after=0.0)
    if how in (Answer.REJECT, Answer.REJECT_ALL):
        raise refusal(job_wide=how is Answer.REJECT_ALL)
    # Every other request is written in full: the provider may have it.
    ambiguous.update(recipient.phone for recipient in given)
    for _ in range(yields):
        await anyio.lowlevel.checkpoint()
    if how is Answer.LOSE_BEFORE:
        raise RequestTimeoutError("read timeout", certainty=DeliveryCertainty.UNKNOWN)
    outcomes = provider.process(given, call.key, reference)
    if how is Answer.LOSE_AFTER:
        raise RequestTimeoutError("read timeout", certainty=DeliveryCertainty.UNKNOWN)
    if how is Answer.INTERRUPT:
        interrupt()
        await anyio.lowlevel.checkpoint()
    if how is Answer.STOP:
        stop()
    return outcomes


@attrs.define
class Owner:
    """One run of a job, as its requests see it: its Ctrl-C (``scope``), the owner's stop
    (of ``sender``, once made), and a seeded random for how long each request takes."""

    provider: Provider
    ambiguous: set[str]
    scope: anyio.CancelScope = attrs.Factory(anyio.CancelScope)
    random: Random = attrs.Factory(lambda: Random(0))  # seeded: the same run every time
    sender: BatchSender | None = None
    ctrl_c_with_answer: int | None = None
    """Ctrl-C comes as the answer to this request (by number) does: the provider's answer
    reaches the job, and the cancellation its next checkpoint."""

    def stop(self) -> None:
        assert self.sender is not None
        self.sender.stop("the owner stopped it")

    async def play(
        self, answers: Sequence[Answer], call: Call, given: Sequence[Recipient], *, jitter: int
    ) -> Sequence[RecipientOutcome]:
        """Answer ``call`` as ``answers`` say for its number (sent, past their end)."""
        try:
            return await answer(
                answers[call.number] if call.number < len(answers) else None,
                call,
                given,
                provider=self.provider,
                ambiguous=self.ambiguous,
                interrupt=self.scope.cancel,
                stop=self.stop,
                yields=self.random.randint(0, jitter),
                reference=call.reference,
            )
        finally:
            if call.number == self.ctrl_c_with_answer:
                self.scope.cancel()


def assert_true_to_ledger(
    outcomes: list[BatchOutcome],
    people: list[Recipient],
    provider: Provider,
    *,
    others_send: bool = False,
) -> None:
    """The promises a run that ended keeps: one outcome each, in input order (the first
    ones only, if it stopped); ``sent`` ones in the ledger, ``failed`` and ``skipped`` ones
    not. With ``others_send`` (other runs send the same job at once), a chunk this run left
    unsent when it stopped (code ``not_sent``) may have been sent by another run."""
    assert [item.outcome.phone for item in outcomes] == [
        person.phone for person in people[: len(outcomes)]
    ]
    ledger = set(provider.ledger)
    for item in outcomes:
        phone, status = item.outcome.phone, item.outcome.status
        if status is OutcomeStatus.SENT:
            assert phone in ledger, f"{phone} reported sent, never sent"
        elif others_send and item.outcome.code == NOT_SENT:
            continue
        elif status in (OutcomeStatus.FAILED, OutcomeStatus.SKIPPED):
            assert phone not in ledger, f"{phone} reported {status.value}, but was sent"


def never_twice(provider: Provider) -> None:
    twice = [phone for phone, times in Counter(provider.ledger).items() if times > 1]
    assert not twice, f"sent twice: {twice}"
