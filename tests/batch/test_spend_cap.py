"""The spend cap: never exceeded, even with requests in flight; resumed with a higher cap.

The sandbox's ledger is the judge of what was spent: the sum of its ``fee`` (segments).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from crowdsms import RetryPolicy
from crowdsms.batch import SPEND_CAP, BatchOutcome, BatchSender, SpendCapReached
from crowdsms.batch._budget import spend_cap
from crowdsms.batch._journal import Journal
from crowdsms.batch._spend_store import SpendStore
from crowdsms.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    DeliveryCertainty,
    InvalidInputError,
)
from crowdsms.outcomes import OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.sandbox import serve

from .fakes import Call, FakeChunkSender, FakeTime

ONE_ATTEMPT = RetryPolicy(max_attempts=1)
CONTENT = "【测试】@var(name)，您的验证码是 @var(code)"
PREFIX = len("【测试】，您的验证码是 ") + 4  # the code is 4 characters


def recipients(count: int) -> list[Recipient]:
    """Messages of 1, 2 and 3 segments in turn (70, 134 and 201 characters)."""
    lengths = (70, 134, 201)
    return [
        Recipient(f"1380013{i:04d}", {"name": "名" * (lengths[i % 3] - PREFIX), "code": "1234"})
        for i in range(count)
    ]


def charged(entries: Sequence[object]) -> int:
    return sum(entry.fee for entry in entries)  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_the_cap_is_never_exceeded_with_four_in_flight_and_a_higher_cap_finishes(
    tmp_path: Path,
) -> None:
    items = recipients(300)  # 600 segments in all, 5 recipients (10 segments) a request
    journal = tmp_path / "job.sqlite"
    async with serve() as sandbox, sandbox.client("submail", max_connections=4) as client:
        chunks = client.sms.multisend_chunks(content=CONTENT)
        first: list[BatchOutcome] = []
        report = await BatchSender(chunks, chunk_size=5, concurrency=4, max_segments=253).send(
            items, sink=first.append, journal=journal, job_id="promo"
        )
        spent_first = charged(sandbox.ledger.entries())
        assert spent_first <= 253
        assert spent_first >= 253 - 4 * 10  # it stopped near the cap, not at the start
        assert report.stopped is not None
        assert "spend cap of 253 segments" in report.stopped
        assert "higher cap" in report.stopped
        assert not report.interrupted
        not_sent = [o for o in first if o.outcome.code == SPEND_CAP]
        assert len(not_sent) == 300 - report.sent
        assert {o.outcome.status for o in not_sent} == {OutcomeStatus.FAILED}
        assert "max_segments" in (not_sent[0].outcome.message or "")

        again = await BatchSender(chunks, chunk_size=5, concurrency=4, max_segments=253).send(
            items, journal=journal, job_id="promo"
        )
        assert charged(sandbox.ledger.entries()) == spent_first  # the same cap: nothing more
        assert again.by_code.get(SPEND_CAP) == 300 - report.sent

        final = await BatchSender(chunks, chunk_size=5, concurrency=4, max_segments=600).send(
            items, journal=journal, job_id="promo"
        )
        entries = sandbox.ledger.entries()
    assert final.complete
    assert final.sent == 300
    phones = [entry.phone for entry in entries]
    assert sorted(phones) == sorted(r.phone for r in items)  # each number once
    assert charged(entries) == 600


@pytest.mark.asyncio
async def test_a_cost_cap_is_turned_into_segments_at_the_price() -> None:
    numbers = [f"1390013{i:04d}" for i in range(250)]
    async with serve() as sandbox, sandbox.client("paasw", max_connections=4) as client:
        chunks = client.sms.send_chunks(sign="小店", content="【小店】" + "到货" * 40, kind=2)
        sender = BatchSender(
            chunks, concurrency=4, max_cost=Decimal("9.99"), price_per_segment=0.04
        )
        assert sender.config.spend_cap is not None
        assert sender.config.spend_cap.segments == 249  # floor(9.99 / 0.04)
        assert "CNY 9.99" in sender.config.spend_cap.describe()
        report = await sender.send(numbers)
        spent = charged(sandbox.ledger.entries())
    # 84 characters: 2 segments each; chunks of 125 numbers are 250 segments: none fits.
    assert spent == 0
    assert report.by_code == {SPEND_CAP: 250}
    assert "chunk 0 needs 250 more" in (report.stopped or "")


@pytest.mark.asyncio
async def test_the_smaller_of_two_caps_wins() -> None:
    numbers = [f"1390013{i:04d}" for i in range(100)]
    async with serve() as sandbox, sandbox.client("paasw") as client:
        chunks = client.sms.send_chunks(sign="小店", content="【小店】到货", kind=2)
        report = await BatchSender(
            chunks, chunk_size=10, max_segments=35, max_cost=100, price_per_segment=0.05
        ).send(numbers)
        spent = charged(sandbox.ledger.entries())
    assert spent == 30
    assert report.sent == 30


class Rendering(FakeChunkSender):
    """A fake chunk sender whose every message is ``segments`` segments long (no fee)."""

    segments_note = None
    price_per_segment = 0.05

    def __init__(self, *, segments: int = 1, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.text = "字" * (70 if segments == 1 else 67 * segments)

    def render(self, recipient: Recipient) -> str:
        return self.text


def no_fee(recipients: Sequence[Recipient]) -> list[RecipientOutcome]:
    return [RecipientOutcome(phone=r.phone, status=OutcomeStatus.SENT) for r in recipients]


def numbers(count: int) -> list[str]:
    return [f"1390000{i:04d}" for i in range(count)]


@pytest.mark.anyio
async def test_a_chunk_that_failed_not_sent_releases_its_reservation() -> None:
    async def script(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        if call.number == 0:
            raise ConnectionFailedError("busy", certainty=DeliveryCertainty.NOT_SENT)
        return no_fee(chunk)

    fake = Rendering(max_chunk_size=10, script=script)
    sender = BatchSender(
        fake,
        concurrency=1,
        max_segments=30,
        chunk_retry=ONE_ATTEMPT,
        stop_on_job_wide_error=False,
        runtime=FakeTime().runtime(),
    )
    report = await sender.send(numbers(50))
    # Chunk 0 failed (nothing spent), so chunks 1, 2 and 3 fit in 30 segments; chunk 4 not.
    assert [len(call.phones) for call in fake.calls] == [10, 10, 10, 10]
    assert report.by_code[SPEND_CAP] == 10
    assert report.sent == 30


@pytest.mark.anyio
async def test_a_resumed_job_knows_its_spend_before_sending_an_earlier_chunk(
    tmp_path: Path,
) -> None:
    """Chunk 0 failed in the first run while later ones were sent; the resumed job must
    count those before it sends chunk 0, or it would pass the cap."""
    journal = tmp_path / "job.sqlite"

    async def fail_first(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        if chunk[0].phone == "13900000000":
            raise ConnectionFailedError("busy", certainty=DeliveryCertainty.NOT_SENT)
        return no_fee(chunk)

    def sender(fake: Rendering, cap: int) -> BatchSender:
        return BatchSender(
            fake,
            concurrency=1,
            max_segments=cap,
            chunk_retry=ONE_ATTEMPT,
            stop_on_job_wide_error=False,
            runtime=FakeTime().runtime(),
        )

    first = Rendering(max_chunk_size=10, script=fail_first)
    report = await sender(first, 60).send(numbers(100), journal=journal, job_id="j")
    assert report.sent == 60  # chunks 1 to 6
    second = Rendering(max_chunk_size=10)
    report = await sender(second, 65).send(numbers(100), journal=journal, job_id="j")
    assert second.calls == []  # chunk 0 (10 segments) does not fit in 65 - 60
    assert report.by_code[SPEND_CAP] == 40
    third = Rendering(max_chunk_size=10)
    report = await sender(third, 100).send(numbers(100), journal=journal, job_id="j")
    assert [call.phones[0] for call in third.calls] == [
        "13900000000",
        "13900000070",
        "13900000080",
        "13900000090",
    ]
    assert report.complete


@pytest.mark.anyio
async def test_an_earlier_run_without_a_cap_is_counted_as_it_is_replayed(tmp_path: Path) -> None:
    journal = tmp_path / "job.sqlite"

    async def refuse_from_the_fifth(
        call: Call, chunk: Sequence[Recipient]
    ) -> Sequence[RecipientOutcome]:
        if call.number >= 4:
            raise AuthenticationError(
                provider="fake",
                code="101",
                provider_message="bad key",
                explanation="the key is wrong",
            )
        return no_fee(chunk)

    first = Rendering(max_chunk_size=10, segments=2, script=refuse_from_the_fifth)
    report = await BatchSender(first, concurrency=1).send(numbers(100), journal=journal, job_id="j")
    assert report.sent == 40  # 80 segments; no cap, so no spend recorded

    async def answer(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        return no_fee(chunk)

    resumed = Rendering(max_chunk_size=10, segments=2, script=answer)
    report = await BatchSender(resumed, concurrency=1, max_segments=100).send(
        numbers(100), journal=journal, job_id="j"
    )
    assert len(resumed.calls) == 1  # 80 replayed + 20: the next chunk would pass 100
    assert report.by_code[SPEND_CAP] == 50
    assert "100 segments are spent or reserved" in (report.stopped or "")


@pytest.mark.asyncio
async def test_a_reservation_left_by_a_stopped_run_counts_until_replaced(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path / "job.sqlite", job_id="j", settings={"x": 1})
    try:
        store = journal.spend_store()
        assert (await store.load()).total == 0
        await store.reserve(3, 12)
        await store.settle(1, 7)
        await store.settle(1, 2)
        record = await store.load()
        assert (record.total, record.reserved) == (21, {3: 12})
        await store.reserve(3, 10)  # sent again: the new reservation replaces the old
        await store.settle(3, 9)
        assert (await store.load()).total == 18
        assert await store.recorded(1)
        assert not await store.recorded(2)
    finally:
        await journal.aclose()
    assert isinstance(store, SpendStore)


def test_bad_caps_are_refused_with_what_to_do() -> None:
    fake = Rendering()
    for arguments, field in (
        ({"max_segments": 0}, "max_segments"),
        ({"max_segments": 1.5}, "max_segments"),
        ({"max_cost": -1}, "max_cost"),
        ({"max_cost": 0}, "max_cost"),
        ({"max_cost": float("nan")}, "max_cost"),
    ):
        with pytest.raises(InvalidInputError) as caught:
            BatchSender(fake, **arguments)  # type: ignore[arg-type]
        assert caught.value.field == field
        assert "Pass" in str(caught.value)
    blind = FakeChunkSender()
    with pytest.raises(ConfigurationError, match="no render method") as no_render:
        BatchSender(blind, max_segments=10)
    assert "Leave max_segments" in str(no_render.value)
    fake.price_per_segment = None  # type: ignore[assignment]
    with pytest.raises(ConfigurationError, match="price per segment"):
        BatchSender(fake, max_cost=10)
    assert spend_cap(fake, max_segments=None, max_cost=None, price_per_segment=None) is None


def test_a_cost_cap_at_a_price_of_zero_is_refused_not_dropped() -> None:
    # At a price of 0 no number of segments reaches the cap: it would limit nothing.
    with pytest.raises(ConfigurationError, match="above 0") as caught:
        BatchSender(Rendering(), max_cost=1, price_per_segment=0)
    assert "max_segments" in str(caught.value)


@pytest.mark.anyio
async def test_a_capped_job_without_a_journal_never_says_resume() -> None:
    fake = Rendering(max_chunk_size=10, segments=2)
    report = await BatchSender(fake, concurrency=1, max_segments=50).send(
        [Recipient(f"1380013{i:04d}") for i in range(100)]
    )
    assert report.stopped is not None
    assert "cannot be resumed" in report.stopped
    assert "sends to every recipient again" in report.stopped
    assert "Resume the job" not in report.stopped


def test_the_stop_error_is_a_crowdsms_error() -> None:
    assert issubclass(SpendCapReached, Exception)


@pytest.mark.anyio
async def test_a_chunk_in_flight_when_the_job_died_stays_spent_and_a_resend_adds(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "job.sqlite"
    scope = anyio.CancelScope()

    async def die_in_flight(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        scope.cancel()  # the process "dies" with chunk 0's request in flight
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    first = Rendering(max_chunk_size=10, script=die_in_flight)
    with scope:
        await BatchSender(first, concurrency=1, max_segments=30).send(
            numbers(30), journal=journal, job_id="j"
        )
    assert len(first.calls) == 1

    async def answer(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        return no_fee(chunk)

    second = Rendering(max_chunk_size=10, script=answer)
    report = await BatchSender(
        second, concurrency=1, max_segments=30, resend_unconfirmed_after=0
    ).send(numbers(30), journal=journal, job_id="j")
    # Chunk 0 may have been sent (10), its resend costs 10 more, chunk 1 another 10: chunk
    # 2 would pass 30. Replacing chunk 0's old reservation by its resend would let it pass.
    assert [call.phones[0] for call in second.calls] == ["13900000000", "13900000010"]
    assert report.by_code[SPEND_CAP] == 10
    assert report.resent == 10


@pytest.mark.anyio
async def test_a_chunk_in_flight_when_a_keyed_job_stopped_is_unknown_if_the_cap_holds_it_back(
    tmp_path: Path,
) -> None:
    """The provider has chunk 1, whose answer the first run never got; the resumed job's
    lower cap holds back its keyed resend. Its recipients are unknown, not failed: they may
    have the message, and a failed chunk invites sending it again."""
    journal = tmp_path / "job.sqlite"
    with anyio.CancelScope() as scope:

        async def interrupted_on_chunk_1(
            call: Call, chunk: Sequence[Recipient]
        ) -> Sequence[RecipientOutcome]:
            if call.number == 1:
                scope.cancel()  # Ctrl-C once the provider has it
                await anyio.sleep(1)
            return no_fee(chunk)

        first = Rendering(max_chunk_size=10, keyed=True, script=interrupted_on_chunk_1)
        await BatchSender(first, concurrency=1, max_segments=100).send(
            numbers(30), journal=journal, job_id="j"
        )
    assert scope.cancelled_caught

    second = Rendering(max_chunk_size=10, keyed=True)
    got: list[BatchOutcome] = []
    report = await BatchSender(second, concurrency=1, max_segments=15).send(
        numbers(30), sink=got.append, journal=journal, job_id="j"
    )
    assert second.calls == []
    assert report.stopped is not None
    assert "spend cap" in report.stopped
    assert [item.status for item in got[10:20]] == [OutcomeStatus.UNKNOWN] * 10
    assert [item.outcome.code for item in got[20:]] == [SPEND_CAP] * 10
    # With a cap that fits, the resend goes with the chunk's key (the provider would drop
    # it as a copy), then chunk 2.
    third = Rendering(max_chunk_size=10, keyed=True)
    report = await BatchSender(third, concurrency=1, max_segments=100).send(
        numbers(30), journal=journal, job_id="j"
    )
    assert [call.key for call in third.calls] == [first.calls[1].key, third.calls[1].key]
    assert third.calls[1].key != first.calls[1].key


def recorded_spend(journal: Path, job_id: str) -> int:
    """What the journal's spend record says the job spent or reserved, in segments."""
    with contextlib.closing(sqlite3.connect(journal)) as connection:
        (total,) = connection.execute(
            "SELECT COALESCE(SUM(spent + reserved), 0) FROM chunk_spend WHERE job_id = ?",
            (job_id,),
        ).fetchone()
    return int(total)


@pytest.mark.anyio
async def test_a_chunk_left_in_flight_is_counted_once_however_often_it_is_resent(
    tmp_path: Path,
) -> None:
    """Chunk 0 reached the provider, then Ctrl-C; a resumed keyed run's resend is refused
    before the provider acts (the chunk stays in flight); a third run's resend goes, and
    the provider drops the copy. The chunk cost its 10 segments once."""
    journal = tmp_path / "job.sqlite"
    with anyio.CancelScope() as scope:

        async def interrupted(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
            scope.cancel()
            await anyio.sleep(1)
            return no_fee(chunk)

        first = Rendering(max_chunk_size=10, keyed=True, script=interrupted)
        await BatchSender(first, max_segments=100).send(numbers(10), journal=journal, job_id="j")
    assert recorded_spend(journal, "j") == 10

    async def refused(call: Call, chunk: Sequence[Recipient]) -> Sequence[RecipientOutcome]:
        raise ConnectionFailedError("refused", certainty=DeliveryCertainty.NOT_SENT)

    second = Rendering(max_chunk_size=10, keyed=True, script=refused)
    report = await BatchSender(second, max_segments=100, chunk_retry=ONE_ATTEMPT).send(
        numbers(10), journal=journal, job_id="j"
    )
    assert report.unknown == 10
    assert recorded_spend(journal, "j") == 10
    third = Rendering(max_chunk_size=10, keyed=True)
    report = await BatchSender(third, max_segments=100).send(
        numbers(10), journal=journal, job_id="j"
    )
    assert report.sent == 10
    assert [call.key for call in third.calls] == [first.calls[0].key]
    assert recorded_spend(journal, "j") == 10
