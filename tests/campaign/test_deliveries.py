"""The campaign store's delivery reports, replies and opt-outs, on a real Redis."""

from __future__ import annotations

import time

import attrs
import pytest
import redis.asyncio

from crowdsms.campaign import RedisDeliveryStore, connect
from crowdsms.campaign._redis import Durability
from crowdsms.deliveries import (
    InboundReply,
    OptOutWords,
    ProviderReport,
    ReportKind,
    ReportRecorder,
    chunk_reference,
)
from crowdsms.errors import InvalidInputError
from crowdsms.webhooks import DeliveryEvent, DeliveryOutcome, PushState, ReplyEvent
from tests.webhooks.pushes import (
    check_a_captured_push_is_not_handled_again,
    live_submail_push,
    post_to_new_app,
)

WORDS = OptOutWords()


def report(
    phone: str,
    *,
    at: float,
    kind: ReportKind = ReportKind.DELIVERED,
    provider: str = "p1",
    reference: str | None = None,
    message_id: str | None = None,
) -> ProviderReport:
    return ProviderReport(
        provider=provider,
        kind=kind,
        phone=phone,
        message_id=message_id or f"id-{phone}",
        reference=reference,
        received_at=at,
    )


@pytest.fixture
def store(redis: redis.asyncio.Redis) -> RedisDeliveryStore:
    return RedisDeliveryStore(redis, Durability.FSYNC_ALWAYS)


@pytest.mark.asyncio
async def test_a_report_received_twice_is_stored_once(store: RedisDeliveryStore) -> None:
    now = time.time()
    first = report("13800000001", at=now, kind=ReportKind.UNDELIVERED)
    first = attrs.evolve(first, code="UNDELIV")
    result = await store.record([first, report("13800000002", at=now)], words=WORDS)
    assert (result.reports, result.replies, result.opted_out) == (2, 0, ())
    again = await store.record([first], words=WORDS)
    assert again.reports == 0
    stored = await store.reports(since=now - 1)
    assert sorted(stored, key=lambda r: r.phone or "") == [first, report("13800000002", at=now)]


@pytest.mark.asyncio
async def test_reports_are_read_by_received_time_and_provider(store: RedisDeliveryStore) -> None:
    base = float(int(time.time()) - 100)  # within the retention
    # 4,500 reports: more than two pages, many of them received in the same instant
    reports = [report(f"138{i:08d}", at=base + i // 1000) for i in range(4500)]
    reports.append(report("13900000000", at=base + 2, provider="p2"))
    result = await store.record(reports, words=WORDS)
    assert result.reports == 4501
    mine = await store.reports(since=base + 2, provider="p1")
    assert sorted(r.phone or "" for r in mine) == [f"138{i:08d}" for i in range(2000, 4500)]
    assert [r.received_at for r in mine] == sorted(r.received_at for r in mine)
    every = await store.reports(since=base)
    assert len(every) == 4501
    assert [r.received_at for r in every] == sorted(r.received_at for r in every)
    assert await store.providers() == ["p1", "p2"]
    assert await store.reports(since=base + 10) == []


@pytest.mark.asyncio
async def test_a_jobs_reports_are_its_referenced_ones_and_those_without_reference(
    store: RedisDeliveryStore,
) -> None:
    now = time.time()
    mine = report("13800000001", at=now, reference=chunk_reference("promo/0", 3))
    other = report("13800000002", at=now, reference=chunk_reference("promo/1", 3))
    loose = report("13800000003", at=now)
    await store.record([mine, other, loose], words=WORDS)
    found = await store.job_reports("promo/0", since=now - 1, provider="p1")
    assert sorted(r.phone or "" for r in found) == ["13800000001", "13800000003"]
    assert await store.job_reports("promo/0", since=now - 1, provider="p2") == []
    assert len(await store.reports(since=now - 1)) == 3


@pytest.mark.asyncio
async def test_reports_older_than_the_retention_go_as_new_ones_arrive(
    redis: redis.asyncio.Redis,
) -> None:
    keeping = RedisDeliveryStore(redis, Durability.FSYNC_ALWAYS, retention=None)
    store = RedisDeliveryStore(redis, Durability.FSYNC_ALWAYS, retention=3600)
    now = time.time()
    old = [
        report(f"138{i:08d}", at=now - 7200, reference=chunk_reference("j", 0)) for i in range(3)
    ]
    await keeping.record(old, words=WORDS)
    assert len(await store.reports(since=0)) == 3
    await store.record([report("13900000000", at=now)], words=WORDS)
    assert [r.phone for r in await store.reports(since=0)] == ["13900000000"]
    assert await store.job_reports("j", since=0) == [report("13900000000", at=now)]
    assert await redis.hlen("crowdsms:{deliveries}:report") == 1
    with pytest.raises(InvalidInputError, match="retention"):
        RedisDeliveryStore(redis, Durability.FSYNC_ALWAYS, retention=0)


@pytest.mark.asyncio
async def test_a_stop_reply_opts_its_number_out_once(store: RedisDeliveryStore) -> None:
    now = time.time()
    stop = InboundReply(provider="p1", phone="13800000001", content=" 退订 ", received_at=now)
    chat = InboundReply(provider="p1", phone="13800000002", content="T恤多少钱", received_at=now)
    result = await store.record([stop, chat], words=WORDS)
    assert (result.replies, result.opted_out) == (2, ("13800000001",))
    assert (await store.record([stop], words=WORDS)).opted_out == ()
    assert sorted(await store.replies(since=now - 1), key=lambda r: r.phone) == [stop, chat]
    assert await store.opted_out() == {"13800000001"}
    assert await store.opted_out(before=now - 1) == frozenset()
    assert await store.opted_out(before=time.time()) == {"13800000001"}


@pytest.mark.asyncio
async def test_an_opt_out_counts_from_when_the_store_recorded_it_not_from_the_replys_date(
    store: RedisDeliveryStore,
) -> None:
    began = time.time()
    # Dated before it was recorded (a pull after a crash, a late push), and a year ahead (a
    # provider's clock or parsing error).
    late = InboundReply(provider="p1", phone="13800000001", content="T", received_at=began - 60)
    ahead = InboundReply(
        provider="p1", phone="13800000002", content="TD", received_at=began + 365 * 86400
    )
    await store.record([late, ahead], words=WORDS)
    recorded = time.time()
    assert await store.opted_out(before=began - 0.001) == frozenset()
    assert await store.opted_out(before=recorded) == {"13800000001", "13800000002"}
    times = await store.opt_out_times()
    assert all(began <= at <= recorded for at in times.values())
    # The replies keep the provider's dates.
    assert sorted(await store.replies(since=0), key=lambda r: r.phone) == [late, ahead]


@pytest.mark.asyncio
async def test_numbers_opted_out_by_hand_keep_their_first_time_until_opted_in(
    store: RedisDeliveryStore,
) -> None:
    before = time.time()
    await store.opt_out(["+86 138 0000 0001", "13800000002"])
    times = await store.opt_out_times()
    assert set(times) == {"13800000001", "13800000002"}
    assert all(before <= at <= time.time() for at in times.values())
    await store.opt_out(["13800000001"])
    assert (await store.opt_out_times())["13800000001"] == times["13800000001"]
    assert await store.opt_in(["13800000001", "13800000009"]) == 1
    assert await store.opted_out() == {"13800000002"}
    with pytest.raises(TypeError):
        await store.opt_out("13800000001")


@pytest.mark.asyncio
async def test_the_recorder_stores_webhook_events_in_the_shared_store(redis_url: str) -> None:
    store = await RedisDeliveryStore.connect(redis_url)
    try:
        recorder = ReportRecorder(store)
        await recorder(
            DeliveryEvent(
                provider="p1",
                kind="report",
                message_id="m1",
                phone="13800000001",
                outcome=DeliveryOutcome.DELIVERED,
            )
        )
        await recorder(ReplyEvent(provider="p1", kind="mo", phone="13800000002", content="TD"))
        [stored] = await store.reports(since=0)
        assert (stored.phone, stored.kind, stored.message_id) == (
            "13800000001",
            ReportKind.DELIVERED,
            "m1",
        )
        assert await store.opted_out() == {"13800000002"}
    finally:
        await store.aclose()
    # every campaign of the namespace sees them (another client, same prefix); not others
    client = connect(redis_url)
    try:
        assert await RedisDeliveryStore(client, Durability.VOLATILE).opted_out() == {"13800000002"}
        elsewhere = RedisDeliveryStore(client, Durability.VOLATILE, prefix="elsewhere")
        assert await elsewhere.opted_out() == frozenset()
    finally:
        await client.aclose()


# -- the webhook app's replay memory --------------------------------------------------------

PUSH_KEY = "submail:0f1e2d3c"


@pytest.mark.asyncio
async def test_push_keys_are_claimed_released_and_kept(
    store: RedisDeliveryStore, redis: redis.asyncio.Redis
) -> None:
    stored = f"crowdsms:{{deliveries}}:push:{PUSH_KEY}"
    assert await store.claim_push(PUSH_KEY, owner="a", lease=300) is PushState.NEW
    assert 299_000 < await redis.pttl(stored) <= 300_000  # a dead request's claim runs out
    assert await store.claim_push(PUSH_KEY, owner="b", lease=300) is PushState.HANDLING
    assert await store.claim_push(PUSH_KEY, owner="a", lease=300) is PushState.NEW  # sent twice
    await store.release_push(PUSH_KEY, owner="b")  # not b's claim: kept
    assert await store.claim_push(PUSH_KEY, owner="b", lease=300) is PushState.HANDLING
    await store.release_push(PUSH_KEY, owner="a")
    assert await store.claim_push(PUSH_KEY, owner="b", lease=300) is PushState.NEW
    await store.complete_push(PUSH_KEY, keep=7 * 86400)
    await store.release_push(PUSH_KEY, owner="b")  # too late: it was handled
    assert await store.claim_push(PUSH_KEY, owner="c", lease=300) is PushState.HANDLED
    assert 7 * 86400_000 - 1000 < await redis.pttl(stored) <= 7 * 86400_000


@pytest.mark.asyncio
async def test_a_push_claim_is_extended_only_by_its_owner_and_handled_is_readable(
    store: RedisDeliveryStore, redis: redis.asyncio.Redis
) -> None:
    stored = f"crowdsms:{{deliveries}}:push:{PUSH_KEY}"
    assert await store.push_handled(PUSH_KEY) is False
    assert await store.claim_push(PUSH_KEY, owner="a", lease=5) is PushState.NEW
    assert await store.extend_push(PUSH_KEY, owner="b", lease=300) is False  # not b's
    assert await redis.pttl(stored) <= 5000
    assert await store.extend_push(PUSH_KEY, owner="a", lease=300) is True
    assert 299_000 < await redis.pttl(stored) <= 300_000
    assert await store.push_handled(PUSH_KEY) is False  # being handled is not handled
    await store.complete_push(PUSH_KEY, keep=3600)
    assert await store.extend_push(PUSH_KEY, owner="a", lease=300) is False  # handled
    assert 3_599_000 < await redis.pttl(stored) <= 3_600_000
    assert await store.push_handled(PUSH_KEY) is True
    await redis.delete(stored)  # expired, or evicted
    assert await store.extend_push(PUSH_KEY, owner="a", lease=300) is False  # not revived
    assert await redis.exists(stored) == 0


@pytest.mark.asyncio
async def test_a_server_that_evicts_keys_is_warned_about(
    redis_url: str, redis: redis.asyncio.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await redis.config_set("maxmemory-policy", "volatile-lru")
    try:
        store = await RedisDeliveryStore.connect(redis_url)
        await store.aclose()
    finally:
        await redis.config_set("maxmemory-policy", "noeviction")
    warned = [r for r in caplog.records if r.name == "crowdsms.campaign"]
    assert [r.levelname for r in warned] == ["WARNING"]
    assert "volatile-lru" in warned[0].getMessage()
    assert "noeviction" in warned[0].getMessage()
    caplog.clear()
    store = await RedisDeliveryStore.connect(redis_url)  # noeviction: nothing to say
    await store.aclose()
    assert not [r for r in caplog.records if r.name == "crowdsms.campaign"]


@pytest.mark.asyncio
async def test_a_captured_push_is_not_handled_again_by_another_worker(redis_url: str) -> None:
    first = await RedisDeliveryStore.connect(redis_url)
    try:
        assert (await post_to_new_app(first, live_submail_push("tok-1"))).status_code == 200
    finally:
        await first.aclose()  # the process stops
    worker = await RedisDeliveryStore.connect(redis_url)
    try:
        await check_a_captured_push_is_not_handled_again(worker, worker)
    finally:
        await worker.aclose()
