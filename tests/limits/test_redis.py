"""The shared per-number limiter on a real Redis: one process, and four processes at once.

Time passes by *ageing* the recorded sends (their scores move back in the server's clock),
never by sleeping.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio

from crowdsms.errors import InvalidInputError
from crowdsms.limits import NumberLimitedError, NumberLimits, RedisNumberLimiter

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("number_worker.py")
PHONE = "13800138000"


async def age(client: redis.asyncio.Redis, key: str, seconds: float) -> None:
    """Make every send recorded at ``key`` ``seconds`` older."""
    members = await client.zrange(key, 0, -1, withscores=True)
    await client.zadd(key, {member: score - seconds * 1e6 for member, score in members})


@pytest.mark.asyncio
async def test_windows_on_the_servers_clock(redis: redis.asyncio.Redis) -> None:
    limiter = RedisNumberLimiter(redis, NumberLimits.of([(1, 60), (3, 3600)]), prefix="t")
    key = limiter.key(PHONE)
    first = await limiter.acquire("+86 138 0013 8000")
    seconds, micros = await redis.time()
    assert first.phone == PHONE
    assert abs(first.at - (seconds + micros / 1e6)) < 5
    with pytest.raises(NumberLimitedError) as caught:
        await limiter.acquire(PHONE)
    assert caught.value.window == "1 per minute"
    assert 55 < caught.value.retry_after <= 60
    assert await redis.zcard(key) == 1  # the refused attempt recorded nothing
    await age(redis, key, 60)
    await limiter.acquire(PHONE)
    await age(redis, key, 60)
    await limiter.acquire(PHONE)
    await age(redis, key, 60)
    with pytest.raises(NumberLimitedError) as caught:  # 3 in the hour
        await limiter.acquire(PHONE)
    assert caught.value.window == "3 per hour"
    assert 3600 - 180 - 5 < caught.value.retry_after <= 3600 - 180
    await age(redis, key, 3600 - 180)
    await limiter.acquire(PHONE)
    assert await redis.zcard(key) == 3  # the send that left every window was dropped


@pytest.mark.asyncio
async def test_keys_expire_after_the_longest_window(redis: redis.asyncio.Redis) -> None:
    limiter = RedisNumberLimiter(redis)  # the default rule: a day
    await limiter.acquire(PHONE)
    ttl = await redis.pttl(limiter.key(PHONE))
    assert 86_400_000 < ttl <= 86_401_000
    assert limiter.key(PHONE) == "crowdsms:numbers:13800138000"


@pytest.mark.asyncio
async def test_acquire_many_release_and_reset(redis: redis.asyncio.Redis) -> None:
    limiter = RedisNumberLimiter(redis, NumberLimits.of([(1, 60)]), prefix="many")
    await limiter.acquire("13900139000")
    admission = await limiter.acquire_many([PHONE, "13900139000", "13700137000"])
    assert list(admission.allowed) == [PHONE, "13700137000"]
    assert list(admission.refused) == ["13900139000"]
    assert admission.refused["13900139000"].retry_after > 50
    await limiter.release_many(admission.allowed.values())
    again = await limiter.acquire_many([PHONE, "13700137000"])
    assert list(again.allowed) == [PHONE, "13700137000"]
    await limiter.release(again.allowed[PHONE])
    await limiter.acquire(PHONE)
    await limiter.reset("13900139000")
    await limiter.acquire("13900139000")
    assert (await limiter.acquire_many([])).allowed == {}
    with pytest.raises(InvalidInputError, match="appears twice"):
        await limiter.acquire_many([PHONE, PHONE])


@pytest.mark.asyncio
async def test_prefixes_count_apart(redis: redis.asyncio.Redis) -> None:
    one = RedisNumberLimiter(redis, NumberLimits.of([(1, 60)]), prefix="account-1")
    two = RedisNumberLimiter(redis, NumberLimits.of([(1, 60)]), prefix="account-2")
    await one.acquire(PHONE)
    await two.acquire(PHONE)
    with pytest.raises(NumberLimitedError):
        await one.acquire(PHONE)


@pytest.mark.asyncio
async def test_a_forgotten_script_is_loaded_again(redis: redis.asyncio.Redis) -> None:
    limiter = RedisNumberLimiter(redis, NumberLimits.of([(2, 60)]), prefix="flush")
    await limiter.acquire(PHONE)
    await redis.script_flush()  # as after a restart
    admission = await limiter.acquire_many([PHONE, "13900139000"])
    assert list(admission.allowed) == [PHONE, "13900139000"]
    await redis.script_flush()
    with pytest.raises(NumberLimitedError):
        await limiter.acquire(PHONE)
    assert await redis.zcard(limiter.key(PHONE)) == 2


@pytest.mark.asyncio
async def test_the_script_run_twice_for_one_token_records_one_send(
    redis: redis.asyncio.Redis,
) -> None:
    limiter = RedisNumberLimiter(redis, NumberLimits.of([(1, 60)]), prefix="twice")
    (first,) = await limiter._pipelined([PHONE], ["token-1"])
    (second,) = await limiter._pipelined([PHONE], ["token-1"])  # a retried connection
    assert int(first[0]) == int(second[0]) == 1
    assert float(first[1]) == float(second[1])
    assert await redis.zcard(limiter.key(PHONE)) == 1


@pytest.mark.asyncio
async def test_50_concurrent_callers_for_one_number(redis: redis.asyncio.Redis) -> None:
    limiter = RedisNumberLimiter(redis, NumberLimits.of([(4, 60), (6, 3600)]), prefix="c50")

    async def one() -> bool:
        try:
            await limiter.acquire(PHONE)
        except NumberLimitedError:
            return False
        return True

    results = await asyncio.gather(*(one() for _ in range(50)))
    assert results.count(True) == 4
    await age(redis, limiter.key(PHONE), 60)
    results = await asyncio.gather(*(one() for _ in range(50)))
    assert results.count(True) == 2  # 4 more a minute, but only 6 an hour


def worker(*args: object) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_limits_hold_across_four_processes(redis_url: str) -> None:
    callers = [13, 17, 21, 25]  # 76 attempts for one number, at once
    processes = [worker(redis_url, "procs", "5/m,8/h", PHONE, n) for n in callers]
    try:
        for process in processes:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line == "ready", process.stderr.read() if process.stderr else line
        for process in processes:  # start them together
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        results = [process.communicate(timeout=60) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, (_, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr
    counts = [json.loads(stdout) for stdout, _ in results]
    assert sum(count["allowed"] for count in counts) == 5
    assert sum(count["refused"] for count in counts) == sum(callers) - 5
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.zcard(f"procs:{PHONE}") == 5
    finally:
        client.close()


@pytest.mark.asyncio
async def test_bad_settings_get_a_clear_error(redis: redis.asyncio.Redis) -> None:
    with pytest.raises(InvalidInputError, match="prefix"):
        RedisNumberLimiter(redis, prefix="")
    with pytest.raises(InvalidInputError, match="limits must be NumberLimits"):
        RedisNumberLimiter(redis, "1/m")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="phone"):
        await RedisNumberLimiter(redis).acquire("not a number")


@pytest.mark.asyncio
async def test_asking_again_under_the_same_key_counts_once(redis: redis.asyncio.Redis) -> None:
    limiter = RedisNumberLimiter(redis, NumberLimits.of([(2, 60)]), prefix="keyed")
    first = await limiter.acquire_many([PHONE, "13900139000"], key="chunk-7")
    again = await limiter.acquire_many([PHONE, "13900139000"], key="chunk-7")
    assert again.allowed == first.allowed  # the same permits, with their first time
    await limiter.acquire(PHONE, key="chunk-8")
    with pytest.raises(NumberLimitedError):
        await limiter.acquire(PHONE, key="chunk-9")
    assert await limiter.acquire(PHONE, key="chunk-7") == first.allowed[PHONE]
    assert await redis.zcard(limiter.key(PHONE)) == 2
    await limiter.release(first.allowed[PHONE])
    assert (await limiter.acquire(PHONE, key="chunk-9")).token == "chunk-9"
    await age(redis, limiter.key("13900139000"), 60)  # left every window: a new send
    renewed = await limiter.acquire("13900139000", key="chunk-7")
    score = await redis.zscore(limiter.key("13900139000"), "chunk-7")
    assert renewed.at == score / 1e6  # recorded anew, not the aged send's time
    assert renewed.at > first.allowed["13900139000"].at
    assert await redis.zcard(limiter.key("13900139000")) == 1
    with pytest.raises(InvalidInputError, match="key"):
        await limiter.acquire_many([PHONE], key="")
