"""Fake chunk senders and injected time for the batch tests: in-process, deterministic."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator, Sequence

import anyio
import anyio.lowlevel
import attrs

from crowdsms._transport import Runtime
from crowdsms.errors import InvalidInputError
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.phones import normalize_mainland_mobile


def phone_at(position: int) -> str:
    """A valid mainland mobile number that encodes ``position`` (139 + 8 digits)."""
    return f"139{position:08d}"


def position_of(phone: str) -> int:
    """The position encoded by :func:`phone_at`."""
    return int(phone[3:])


def recipients(count: int) -> Iterator[Recipient]:
    """``count`` distinct valid recipients, lazily."""
    for position in range(count):
        yield Recipient(phone_at(position), {"n": str(position)})


def sent(recipient: Recipient, prefix: str = "id") -> RecipientOutcome:
    """The outcome the fakes give a recipient they accept."""
    return RecipientOutcome(
        phone=recipient.phone,
        status=OutcomeStatus.SENT,
        message_id=f"{prefix}-{recipient.phone}",
        fee=1.0,
    )


@attrs.define
class Call:
    """One send_chunk call as the fake received it."""

    phones: list[str]
    key: str | None
    number: int
    time: float = 0.0
    in_flight: int = 0
    reference: str | None = None


Script = Callable[[Call, Sequence[Recipient]], Awaitable[Sequence[RecipientOutcome]]]


class FakeChunkSender:
    """Records every chunk; answers with ``script`` (default: all sent).

    ``strict`` validation uses the real phone normalizer; otherwise any 11 ASCII digits pass
    (fast enough for 200,000 recipients). ``jitter`` makes each call yield to the event loop a
    random number of times (seeded), so chunks complete out of order.
    """

    def __init__(
        self,
        *,
        max_chunk_size: int = 50,
        keyed: bool = False,
        script: Script | None = None,
        strict: bool = True,
        jitter: int = 0,
        seed: int = 0,
        clock: Callable[[], float] | None = None,
        prefix: str = "id",
        references: bool = False,
    ) -> None:
        self._max = max_chunk_size
        self._keyed = keyed
        self._script = script
        self._strict = strict
        self._jitter = jitter
        self._random = random.Random(seed)
        self._clock = clock
        self._prefix = prefix
        self.supports_reference = references
        """Whether the job passes each request its chunk's reference (``Call.reference``)."""
        self.calls: list[Call] = []
        self.completed: list[int] = []  # call numbers, in the order the calls returned
        self.in_flight = 0
        self.max_in_flight = 0
        self.validated = 0

    @property
    def max_chunk_size(self) -> int:
        return self._max

    @property
    def supports_idempotency_key(self) -> bool:
        return self._keyed

    def validate(self, recipient: Recipient, *, position: int) -> Recipient:
        self.validated += 1
        field = f"recipients[{position}].phone"
        if self._strict:
            phone = normalize_mainland_mobile(recipient.phone, field=field, position=position)
        else:
            phone = recipient.phone.strip()
            if not (phone.isascii() and phone.isdigit() and len(phone) == 11):
                raise InvalidInputError("not 11 digits", field=field, position=position)
        return Recipient(phone, recipient.vars)

    def phones_received(self) -> list[str]:
        return [phone for call in self.calls for phone in call.phones]

    async def send_chunk(
        self,
        recipients: Sequence[Recipient],
        *,
        idempotency_key: str | None = None,
        reference: str | None = None,
    ) -> Sequence[RecipientOutcome]:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        call = Call(
            phones=[recipient.phone for recipient in recipients],
            key=idempotency_key,
            number=len(self.calls),
            time=self._clock() if self._clock is not None else 0.0,
            in_flight=self.in_flight,
            reference=reference,
        )
        self.calls.append(call)
        try:
            for _ in range(self._random.randint(0, self._jitter)):
                await anyio.lowlevel.checkpoint()
            if self._script is not None:
                return await self._script(call, recipients)
            return [sent(recipient, self._prefix) for recipient in recipients]
        finally:
            self.in_flight -= 1
            self.completed.append(call.number)


class FakeTime:
    """A monotonic clock that only moves when something sleeps; sleeps are recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += max(0.0, delay)
        await anyio.lowlevel.checkpoint()

    def runtime(self) -> Runtime:
        return Runtime(
            wall_time=lambda: 1_700_000_000.0 + self.now,
            monotonic=self.monotonic,
            sleep=self.sleep,
            random=lambda: 0.0,
        )


@attrs.frozen
class PacePermit:
    """A permit of :class:`CheckpointPace`: granted at half the shared rate."""

    rate: float = 50.0


class CheckpointPace:
    """A shared rate limit (``shared_pace``) whose every call yields to the event loop, as
    a Redis round trip does, and never waits; it runs at half its rate, so each success
    tells it the rate may recover. ``told`` records what it heard."""

    rate = 100.0

    def __init__(self) -> None:
        self.told: list[str] = []

    async def acquire(self, n: int = 1) -> PacePermit:
        await anyio.lowlevel.checkpoint()
        return PacePermit()

    async def slow_down(
        self, factor: float = 0.5, *, retry_after: float | None = None, permit: object = None
    ) -> bool:
        self.told.append("slow_down")
        await anyio.lowlevel.checkpoint()
        return True

    async def recovered(self) -> float:
        self.told.append("recovered")
        await anyio.lowlevel.checkpoint()
        return self.rate
