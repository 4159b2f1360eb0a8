"""Delivery reports, replies and opt-outs in the campaign store: one store for every campaign.

One webhook app (or one pull) records the reports of every campaign of a namespace
(``prefix``), so :class:`RedisDeliveryStore` is not per campaign: a campaign finds its own
reports by their chunk reference, message id or number (see :mod:`crowdsms.deliveries`)::

    store = await RedisDeliveryStore.connect("redis://127.0.0.1:6379/1")
    app = WebhookApp(**receivers, on_event=ReportRecorder(store), replay=store)

Reports are kept for ``retention`` (30 days by default; older ones are removed as new ones
arrive), deduplicated by :attr:`~crowdsms.deliveries.ProviderReport.key`, so a push received
twice is stored once. Opt-outs are kept until :meth:`RedisDeliveryStore.opt_in`. Every write
is durable the way claims are (see :func:`~crowdsms.campaign.durability`): a report pulled
from a provider's queue is gone there once pulled.

Keys, all with the cluster hash tag ``{deliveries}`` (the scripts that write several of them
run on one node), below ``{prefix}:{deliveries}:``:

- ``report``: a hash, report key -> the report (JSON); ``report:at:<provider>``: a sorted
  set of the provider's report keys by received time; ``report:loose:<provider>``: those
  carrying no crowdsms reference; ``report:job:<job hash>``: those whose reference names that
  job (expiring ``retention`` after its latest report);
- ``reply``: a hash, reply key -> the reply (JSON); ``reply:at``: replies by received time;
- ``opt_out``: a hash, phone -> when it was put on the list (Unix seconds: when the store
  recorded the reply, or ``opt_out`` was called; the reply keeps the provider's time);
- ``providers``: the providers whose reports are stored;
- ``push:<provider>:<signature hash>``: the webhook app's replay memory (the store is a
  :class:`~crowdsms.webhooks.ReplayStore`): ``handling:<owner>`` while a request handles the
  push (expiring with its lease), then ``handled`` (expiring ``replay_keep`` later).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

import redis.asyncio

from crowdsms.campaign._redis import Durability, LuaScript, call, connect, durability
from crowdsms.deliveries._optout import OptOutWords
from crowdsms.deliveries._reference import job_hash, parse_reference
from crowdsms.deliveries._reports import InboundReply, ProviderReport, ReportKind, report_phone
from crowdsms.deliveries._store import RecordResult
from crowdsms.errors import CrowdSMSError, InvalidInputError, excerpt
from crowdsms.webhooks._replay import PushState, ReplayKey

__all__ = ["DEFAULT_REPORT_RETENTION", "RedisDeliveryStore"]

DEFAULT_REPORT_RETENTION = 30 * 86400.0
"""Seconds reports and replies are kept (30 days): longer than any resend window."""

_PAGE = 2000
"""Records read per round trip."""
_TRIM = 500
"""Expired records removed per write, at most (as records arrive, old ones go)."""
_WRITE_BATCH = 500
"""Records written per script call."""

# KEYS[1] report hash, [2] reply hash, [3] reply:at, [4] opt_out, [5] providers, [6] meta,
# then the sorted sets the records name by index.
# ARGV[1] retention (s, 0 = keep), ARGV[2] trim limit, ARGV[3] job-set lifetime (ms, 0 = keep),
# ARGV[4] when the opt-outs are recorded (the client's clock, as opt_out's and a campaign's
# creation), ARGV[5] number of reports, then per report: key, JSON, received_at, provider,
#   at-index, loose-index (0: none), job-index (0: none);
# then the number of replies, then per reply: key, JSON, received_at, phone, stop (1/0).
# Returns {new reports, new replies, phone opted out, ...}.
_RECORD = LuaScript(
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local retention = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local lifetime = tonumber(ARGV[3])
local recorded = ARGV[4]
local i = 5
local reports, replies, opted = 0, 0, {}
local touched = {}
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
    local key, body, at = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    local provider = ARGV[i + 3]
    local zat, zloose, zjob = tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
    i = i + 7
    if redis.call('HSETNX', KEYS[1], key, body) == 1 then
        reports = reports + 1
        redis.call('ZADD', KEYS[zat], at, key)
        redis.call('SADD', KEYS[5], provider)
        touched[zat] = zloose
        if zloose > 0 then redis.call('ZADD', KEYS[zloose], at, key) end
        if zjob > 0 then
            redis.call('ZADD', KEYS[zjob], at, key)
            if lifetime > 0 then redis.call('PEXPIRE', KEYS[zjob], lifetime) end
        end
    end
end
local m = tonumber(ARGV[i]); i = i + 1
for _ = 1, m do
    local key, body, at, phone, stop = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
    i = i + 5
    if redis.call('HSETNX', KEYS[2], key, body) == 1 then
        replies = replies + 1
        redis.call('ZADD', KEYS[3], at, key)
        if stop == '1' then
            redis.call('HSETNX', KEYS[4], phone, recorded)
            table.insert(opted, phone)
        end
    end
end
if retention > 0 then
    local cutoff = '(' .. string.format('%.6f', now - retention)
    for zat, zloose in pairs(touched) do
        local old = redis.call('ZRANGEBYSCORE', KEYS[zat], '-inf', cutoff, 'LIMIT', 0, limit)
        if #old > 0 then
            redis.call('HDEL', KEYS[1], unpack(old))
            redis.call('ZREM', KEYS[zat], unpack(old))
        end
        if zloose > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[zloose], '-inf', cutoff) end
    end
    if m > 0 then
        local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', cutoff, 'LIMIT', 0, limit)
        if #old > 0 then
            redis.call('HDEL', KEYS[2], unpack(old))
            redis.call('ZREM', KEYS[3], unpack(old))
        end
    end
end
-- always write, so that a WAITAOF after a repeated call covers the first call's writes
redis.call('HSET', KEYS[6], 'written', string.format('%.6f', now))
local answer = {reports, replies}
for _, phone in ipairs(opted) do table.insert(answer, phone) end
return answer
"""
)

# KEYS[1] sorted set, KEYS[2] hash; ARGV[1] min score, ARGV[2] offset, ARGV[3] count.
# Returns {key, score, value or false, ...} of one page.
_PAGE_READ = LuaScript(
    """
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'WITHSCORES',
    'LIMIT', tonumber(ARGV[2]), tonumber(ARGV[3]))
local answer = {}
if #rows == 0 then return answer end
local keys = {}
for j = 1, #rows, 2 do table.insert(keys, rows[j]) end
local values = redis.call('HMGET', KEYS[2], unpack(keys))
for j = 1, #keys do
    table.insert(answer, keys[j])
    table.insert(answer, rows[2 * j])
    table.insert(answer, values[j])
end
return answer
"""
)

# KEYS[1] opt_out, KEYS[2] meta; ARGV[1] when, ARGV[2..] phones. Returns how many were added.
_OPT_OUT = LuaScript(
    """
local added = 0
for j = 2, #ARGV do added = added + redis.call('HSETNX', KEYS[1], ARGV[j], ARGV[1]) end
redis.call('HSET', KEYS[2], 'written', ARGV[1])
return added
"""
)

# KEYS[1] opt_out, KEYS[2] meta; ARGV[1] when, ARGV[2..] phones. Returns how many were removed.
_OPT_IN = LuaScript(
    """
local removed = 0
for j = 2, #ARGV do removed = removed + redis.call('HDEL', KEYS[1], ARGV[j]) end
redis.call('HSET', KEYS[2], 'written', ARGV[1])
return removed
"""
)


# KEYS[1] the push's key; ARGV[1] owner, ARGV[2] lease (ms).
# Returns 0 claimed (new, or already this owner's), 1 another owner's, 2 handled.
_CLAIM_PUSH = LuaScript(
    """
local held = redis.call('GET', KEYS[1])
if held == 'handled' then return 2 end
if held and held ~= 'handling:' .. ARGV[1] then return 1 end
redis.call('SET', KEYS[1], 'handling:' .. ARGV[1], 'PX', ARGV[2])
return 0
"""
)

# KEYS[1] the push's key; ARGV[1] keep (ms).
_COMPLETE_PUSH = LuaScript(
    """
redis.call('SET', KEYS[1], 'handled', 'PX', ARGV[1])
return 1
"""
)

# KEYS[1] the push's key; ARGV[1] owner. Deletes the key only if this owner holds it.
_RELEASE_PUSH = LuaScript(
    """
if redis.call('GET', KEYS[1]) == 'handling:' .. ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""
)

# KEYS[1] the push's key; ARGV[1] owner, ARGV[2] lease (ms). Extends the claim only if this
# owner still holds it (an expired key is gone); 1 extended, 0 not held.
_EXTEND_PUSH = LuaScript(
    """
if redis.call('GET', KEYS[1]) == 'handling:' .. ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
return 0
"""
)

_PUSH_STATES = {0: PushState.NEW, 1: PushState.HANDLING, 2: PushState.HANDLED}


def _milliseconds(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _score(value: float) -> str:
    return repr(float(value))


def _encode_report(report: ProviderReport) -> str:
    row = [
        report.provider,
        report.kind.value,
        report.phone,
        report.message_id,
        report.reference,
        report.code,
        report.occurred_at,
        report.received_at,
    ]
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)


def _optional_float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _decode_report(text: str) -> ProviderReport:
    try:
        provider, kind, phone, message_id, reference, code, occurred_at, received_at = json.loads(
            text
        )
        return ProviderReport(
            provider=str(provider),
            kind=ReportKind(kind),
            phone=_optional_text(phone),
            message_id=_optional_text(message_id),
            reference=_optional_text(reference),
            code=_optional_text(code),
            occurred_at=_optional_float(occurred_at),
            received_at=float(received_at),
        )
    except (ValueError, TypeError) as error:
        raise _corrupt(text, "report") from error


def _encode_reply(reply: InboundReply, stop: bool) -> str:
    row = [reply.provider, reply.phone, reply.content, reply.received_at, int(stop)]
    return json.dumps(row, ensure_ascii=False, separators=(",", ":"))


def _decode_reply(text: str) -> InboundReply:
    try:
        provider, phone, content, received_at, _ = json.loads(text)
        return InboundReply(
            provider=str(provider),
            phone=str(phone),
            content=str(content),
            received_at=float(received_at),
        )
    except (ValueError, TypeError) as error:
        raise _corrupt(text, "reply") from error


def _corrupt(text: str, what: str) -> CrowdSMSError:
    return CrowdSMSError(
        f"a {what} stored in Redis cannot be read",
        received=excerpt(text),
        action=(
            "It was written by another program or a newer crowdsms; read it with the "
            "crowdsms version that wrote it"
        ),
    )


def _phones(phones: Iterable[str]) -> list[str]:
    if isinstance(phones, str):
        raise TypeError("phones must be a list of numbers, not one number")
    found = []
    for phone in phones:
        normalized = report_phone(phone)
        if normalized is not None:
            found.append(normalized)
    return found


class RedisDeliveryStore:
    """The delivery reports, replies and opt-outs of every campaign of one store.

    ``durability`` comes from :func:`~crowdsms.campaign.durability` for this server (writes
    return once on disk); ``retention`` (seconds, ``None`` to keep everything) is how long
    reports and replies are kept; ``prefix`` starts every key (the campaigns' prefix). The
    client is the caller's unless the store was made by :meth:`connect`.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        durability: Durability,
        *,
        prefix: str = "crowdsms",
        retention: float | None = DEFAULT_REPORT_RETENTION,
        owns_client: bool = False,
    ) -> None:
        if retention is not None and not (isinstance(retention, (int, float)) and retention > 0):
            raise InvalidInputError(
                "must be above 0 seconds, or None to keep every report",
                field="retention",
                received=repr(retention),
            )
        self._redis = redis
        self.durability = Durability(durability)
        self.retention = retention
        self._owns_client = owns_client
        self._base = f"{prefix}:{{deliveries}}"

    def __repr__(self) -> str:
        return f"RedisDeliveryStore({self._base!r})"

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        allow_volatile: bool = False,
        prefix: str = "crowdsms",
        retention: float | None = DEFAULT_REPORT_RETENTION,
    ) -> RedisDeliveryStore:
        """A store on a new client of ``url``, whose durability is checked; ``aclose`` it."""
        client = connect(url)
        try:
            mode = await durability(client, allow_volatile=allow_volatile)
        except BaseException:
            await client.aclose()
            raise
        return cls(client, mode, prefix=prefix, retention=retention, owns_client=True)

    # -- keys -------------------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return ":".join((self._base, *parts))

    def _reports_at(self, provider: str) -> str:
        return self._key("report", "at", provider)

    def _loose(self, provider: str) -> str:
        return self._key("report", "loose", provider)

    def _job(self, job_id: str) -> str:
        return self._key("report", "job", job_hash(job_id))

    # -- writing ----------------------------------------------------------------------------

    async def record(
        self, records: Sequence[ProviderReport | InboundReply], *, words: OptOutWords
    ) -> RecordResult:
        """Store ``records`` (each once); a reply that is one of ``words`` opts its number out."""
        reports = replies = 0
        opted: list[str] = []
        for start in range(0, len(records), _WRITE_BATCH):
            answer = await self._record(records[start : start + _WRITE_BATCH], words)
            reports += int(answer[0])
            replies += int(answer[1])
            opted += [_text(phone) for phone in answer[2:]]
        return RecordResult(reports=reports, replies=replies, opted_out=tuple(opted))

    async def _record(
        self, records: Sequence[ProviderReport | InboundReply], words: OptOutWords
    ) -> list[Any]:
        keys = [
            self._key("report"),
            self._key("reply"),
            self._key("reply", "at"),
            self._key("opt_out"),
            self._key("providers"),
            self._key("meta"),
        ]

        def slot(key: str) -> int:
            if key not in keys:
                keys.append(key)
            return keys.index(key) + 1

        report_args: list[str | int] = []
        reply_args: list[str | int] = []
        count_reports = count_replies = 0
        for record in records:
            if isinstance(record, ProviderReport):
                reference = parse_reference(record.reference)
                loose = 0 if reference is not None else slot(self._loose(record.provider))
                job = 0
                if reference is not None:
                    job = slot(self._key("report", "job", reference.job))
                report_args += [
                    record.key,
                    _encode_report(record),
                    _score(record.received_at),
                    record.provider,
                    slot(self._reports_at(record.provider)),
                    loose,
                    job,
                ]
                count_reports += 1
            else:
                stop = words.means_stop(record.content)
                reply_args += [
                    record.key,
                    _encode_reply(record, stop),
                    _score(record.received_at),
                    record.phone,
                    1 if stop else 0,
                ]
                count_replies += 1
        retention = 0 if self.retention is None else self.retention
        args: list[str | int] = [
            repr(float(retention)),
            _TRIM,
            0 if self.retention is None else math.ceil(self.retention * 1000),
            repr(time.time()),
            count_reports,
            *report_args,
            count_replies,
            *reply_args,
        ]
        answer: list[Any] = await _RECORD.run(self._redis, keys, args, durability=self.durability)
        return answer

    async def opt_out(self, phones: Iterable[str], *, reason: str = "added by hand") -> None:
        """Add ``phones`` to the suppression list (numbers already on it keep their time).

        ``reason`` is not kept: the list holds each number and when it opted out.
        """
        wanted = _phones(phones)
        if wanted:
            keys = [self._key("opt_out"), self._key("meta")]
            args = [repr(time.time()), *wanted]
            await _OPT_OUT.run(self._redis, keys, args, durability=self.durability)

    async def opt_in(self, phones: Iterable[str]) -> int:
        """Remove ``phones`` from the suppression list; how many were on it."""
        wanted = _phones(phones)
        if not wanted:
            return 0
        keys = [self._key("opt_out"), self._key("meta")]
        args = [repr(time.time()), *wanted]
        removed = await _OPT_IN.run(self._redis, keys, args, durability=self.durability)
        return int(removed)

    # -- the webhook app's replay memory (crowdsms.webhooks.ReplayStore) --------------------

    async def claim_push(self, key: ReplayKey, *, owner: str, lease: float) -> PushState:
        """Claim ``key`` for ``lease`` seconds if it is not claimed or handled; say which."""
        answer = await _CLAIM_PUSH.run(
            self._redis,
            [self._key("push", key)],
            [owner, _milliseconds(lease)],
            durability=self.durability,
        )
        return _PUSH_STATES[int(answer)]

    async def complete_push(self, key: ReplayKey, *, keep: float) -> None:
        """Mark ``key`` handled for ``keep`` seconds (durable before it returns)."""
        await _COMPLETE_PUSH.run(
            self._redis,
            [self._key("push", key)],
            [_milliseconds(keep)],
            durability=self.durability,
        )

    async def release_push(self, key: ReplayKey, *, owner: str) -> None:
        """Drop ``owner``'s claim on ``key``, so that the provider's retry is handled."""
        await _RELEASE_PUSH.run(self._redis, [self._key("push", key)], [owner])

    async def extend_push(self, key: ReplayKey, *, owner: str, lease: float) -> bool:
        """Make ``owner``'s live claim on ``key`` last ``lease`` seconds from now; False when
        ``owner`` no longer holds it."""
        answer = await _EXTEND_PUSH.run(
            self._redis,
            [self._key("push", key)],
            [owner, _milliseconds(lease)],
            durability=self.durability,
        )
        return int(answer) == 1

    async def push_handled(self, key: ReplayKey) -> bool:
        """Whether ``key`` is marked handled (and still kept)."""
        return _text(await call(self._redis, "GET", self._key("push", key))) == "handled"

    # -- reading ----------------------------------------------------------------------------

    async def _read(self, zset: str, hash_key: str, since: float) -> list[tuple[float, str]]:
        """``(received time, stored JSON)`` of the records in ``zset`` since ``since``."""
        found: list[tuple[float, str]] = []
        start, skip = _score(since), 0
        while True:
            rows: list[Any] = await _PAGE_READ.run(
                self._redis, [zset, hash_key], [start, skip, _PAGE]
            )
            page = [(rows[j], float(rows[j + 1]), rows[j + 2]) for j in range(0, len(rows), 3)]
            found += [(at, _text(value)) for _, at, value in page if value is not None]
            if len(page) < _PAGE:
                return found
            last = page[-1][1]
            if _score(last) == start:
                skip += len(page)
            else:
                start, skip = _score(last), sum(1 for _, at, _ in page if at == last)

    async def providers(self) -> list[str]:
        """The providers whose reports the store holds."""
        return sorted(
            _text(name) for name in await call(self._redis, "SMEMBERS", self._key("providers"))
        )

    async def reports(self, *, since: float, provider: str | None = None) -> list[ProviderReport]:
        """The reports received since ``since`` (Unix seconds), of ``provider`` if given."""
        providers = [provider] if provider is not None else await self.providers()
        rows: list[tuple[float, str]] = []
        for name in providers:
            rows += await self._read(self._reports_at(name), self._key("report"), since)
        rows.sort(key=lambda row: row[0])
        return [_decode_report(text) for _, text in rows]

    async def job_reports(
        self, job_id: str, *, since: float, provider: str | None = None
    ) -> list[ProviderReport]:
        """The reports since ``since`` that may concern job ``job_id``: those whose reference
        names it and those that carry no reference (of ``provider`` if given).

        What :class:`~crowdsms.deliveries.Matcher` needs of a job, without the reports of
        every other campaign's chunks.
        """
        providers = [provider] if provider is not None else await self.providers()
        report_hash = self._key("report")
        rows = await self._read(self._job(job_id), report_hash, since)
        for name in providers:
            rows += await self._read(self._loose(name), report_hash, since)
        rows.sort(key=lambda row: row[0])
        reports = [_decode_report(text) for _, text in rows]
        if provider is not None:
            reports = [report for report in reports if report.provider == provider]
        return reports

    async def replies(self, *, since: float = 0.0) -> list[InboundReply]:
        """The replies received since ``since``, oldest first."""
        rows = await self._read(self._key("reply", "at"), self._key("reply"), since)
        rows.sort(key=lambda row: row[0])
        return [_decode_reply(text) for _, text in rows]

    async def opt_out_times(self) -> dict[str, float]:
        """Every number on the suppression list, and when it was put on it (Unix seconds).

        That is when the store recorded the reply (the time the provider gives it stays the
        reply's: :meth:`replies`): a reply dated earlier but recorded later counts from when
        it was recorded, and one the provider's clock dates ahead counts at once. Numbers an
        earlier crowdsms put on the list have the reply's own time.
        """
        found: dict[str, float] = {}
        cursor: Any = 0
        while True:
            cursor, page = await self._redis.hscan(self._key("opt_out"), cursor, count=5000)
            assert isinstance(page, dict)
            for phone, at in page.items():
                found[_text(phone)] = float(_text(at))
            if int(cursor) == 0:
                return found

    async def opted_out(self, *, before: float | None = None) -> frozenset[str]:
        """The numbers opted out (with ``before``, those recorded at or before it)."""
        times = await self.opt_out_times()
        if before is None:
            return frozenset(times)
        return frozenset(phone for phone, at in times.items() if at <= before)

    async def aclose(self) -> None:
        """Close the client if the store made it (:meth:`connect`); else nothing."""
        if self._owns_client:
            await self._redis.aclose()
