"""The contenders: crowdsms's batch sender and hand-written loops sending the same requests.

Each contender is a coroutine function ``(base_url, recipients, concurrency) -> sent``: it
creates its clients, sends every recipient in 50-recipient ``sms/multisend`` requests with
``concurrency`` requests in flight, checks every answer, closes its clients and returns how
many recipients the sandbox accepted. Setting up and closing the clients is part of the job
(and of the time measured): it is what a user's job pays too.

The hand-written loops run a fixed pool of ``concurrency`` workers taking chunks from one
shared iterator, which is how one writes it without spawning a task per request.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence

import httpx

from benchmarks._submail import (
    CONTENT,
    JSON_HEADERS,
    PATH,
    BenchmarkError,
    ConnectionLostError,
    chunked,
    count_sent,
    json_body,
    unexpiring_form_fields,
)
from crowdsms.batch import BatchReport, BatchSender
from crowdsms.errors import ConnectionFailedError, RequestTimeoutError
from crowdsms.outcomes import OutcomeStatus, Recipient
from crowdsms.providers.submail import AsyncSubmail
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

__all__ = [
    "CONTENDERS",
    "Contender",
    "aiohttp_loop",
    "best_httpx",
    "client_httpx",
    "crowdsms_aiohttp",
    "crowdsms_batch",
    "crowdsms_chunks",
    "naive_httpx",
]

Contender = Callable[[str, Sequence[Recipient], int], Awaitable[int]]

_TIMEOUT = httpx.Timeout(60.0)
_tls: list[ssl.SSLContext] = []


def _shared_tls() -> ssl.SSLContext:
    """One TLS context for the process: building one loads the CA bundle (about 30 ms)."""
    if not _tls:
        _tls.append(ssl.create_default_context())
    return _tls[0]


async def _workers(
    concurrency: int,
    chunks: Iterator[Sequence[Recipient]],
    send: Callable[[int, Sequence[Recipient]], Awaitable[int]],
) -> int:
    """Run ``concurrency`` workers (numbered) over the shared ``chunks``; total sent."""
    totals = [0] * concurrency

    async def worker(number: int) -> None:
        for chunk in chunks:
            totals[number] += await send(number, chunk)

    try:
        await asyncio.gather(*(worker(number) for number in range(concurrency)))
    except (httpx.TransportError, OSError, ConnectionFailedError, RequestTimeoutError) as exc:
        raise ConnectionLostError(f"{type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.startswith("aiohttp"):
            raise ConnectionLostError(f"{type(exc).__name__}: {exc}") from exc
        raise
    return sum(totals)


def _check_report(report: BatchReport, expected: int, what: str) -> int:
    if report.sent == expected:
        return report.sent
    if report.unknown or report.failed:  # the transport gave up on a lost connection
        raise ConnectionLostError(f"{what}: {report}; codes {dict(report.by_code)}")
    raise BenchmarkError(f"{what}: {report}")


async def crowdsms_batch(base_url: str, recipients: Sequence[Recipient], concurrency: int) -> int:
    """crowdsms: ``AsyncSubmail`` and ``BatchSender`` as the docs show, over the httpx lanes.

    The httpx lanes are the default transport wherever aiohttp cannot run (trio, or without
    the ``aiohttp`` extra); :func:`crowdsms_aiohttp` measures the default on asyncio with it.
    """
    async with AsyncSubmail(
        app_id=SUBMAIL_APPID,
        app_key=SUBMAIL_APPKEY,
        base_url=base_url,
        max_connections=concurrency,
        http_backend="httpx",
    ) as client:
        sender = BatchSender(client.sms.multisend_chunks(content=CONTENT), concurrency=concurrency)
        report = await sender.send(recipients)
    return _check_report(report, len(recipients), "crowdsms")


async def crowdsms_chunks(base_url: str, recipients: Sequence[Recipient], concurrency: int) -> int:
    """crowdsms's chunk sender without the batch sender: hand-written workers call it.

    Splits crowdsms's cost between the client and provider layers (this) and the batch
    sender's work on top (validation, deduplication, ordering, counting).
    """
    async with AsyncSubmail(
        app_id=SUBMAIL_APPID,
        app_key=SUBMAIL_APPKEY,
        base_url=base_url,
        max_connections=concurrency,
        http_backend="httpx",
    ) as client:
        chunk_sender = client.sms.multisend_chunks(content=CONTENT)

        async def send(_: int, chunk: Sequence[Recipient]) -> int:
            outcomes = await chunk_sender.send_chunk(chunk)
            return sum(1 for outcome in outcomes if outcome.status is OutcomeStatus.SENT)

        return await _workers(concurrency, chunked(recipients), send)


async def crowdsms_aiohttp(base_url: str, recipients: Sequence[Recipient], concurrency: int) -> int:
    """crowdsms over its aiohttp lanes: the default on asyncio with ``crowdsms[aiohttp]``."""
    async with AsyncSubmail(
        app_id=SUBMAIL_APPID,
        app_key=SUBMAIL_APPKEY,
        base_url=base_url,
        max_connections=concurrency,
        http_backend="aiohttp",
    ) as client:
        sender = BatchSender(client.sms.multisend_chunks(content=CONTENT), concurrency=concurrency)
        report = await sender.send(recipients)
    return _check_report(report, len(recipients), "crowdsms over aiohttp")


async def naive_httpx(base_url: str, recipients: Sequence[Recipient], concurrency: int) -> int:
    """(a) One shared ``httpx.AsyncClient`` (``max_connections`` = concurrency), form bodies.

    Signed with the app key alone (:func:`unexpiring_form_fields`): its requests can wait
    in the shared pool for longer than a signed timestamp stays valid.
    """
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    url = f"{base_url}/{PATH}"
    async with httpx.AsyncClient(limits=limits, timeout=_TIMEOUT) as client:

        async def send(_: int, chunk: Sequence[Recipient]) -> int:
            response = await client.post(url, data=unexpiring_form_fields(chunk))
            response.raise_for_status()
            return count_sent(response.json(), len(chunk))

        return await _workers(concurrency, chunked(recipients), send)


async def client_httpx(base_url: str, recipients: Sequence[Recipient], concurrency: int) -> int:
    """One single-connection ``httpx.AsyncClient`` per worker, JSON body (httpx at its fastest)."""
    context = _shared_tls()  # unused on http://, but httpx would build one per client
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(limits=limits, timeout=_TIMEOUT, verify=context, trust_env=False)
        for _ in range(concurrency)
    ]
    url = f"{base_url}/{PATH}"

    async def send(number: int, chunk: Sequence[Recipient]) -> int:
        body = json_body(chunk, now=time.time())
        response = await clients[number].post(url, content=body, headers=JSON_HEADERS)
        response.raise_for_status()
        return count_sent(json.loads(response.content), len(chunk))

    try:
        return await _workers(concurrency, chunked(recipients), send)
    finally:
        for client in clients:
            await client.aclose()


async def best_httpx(base_url: str, recipients: Sequence[Recipient], concurrency: int) -> int:
    """(b) One single-connection ``httpx.AsyncHTTPTransport`` per worker, JSON body.

    The fastest httpx loop we could write: no shared pool (whose cost grows with the number
    of connections), no ``AsyncClient`` layer (hooks, cookies, redirects, auth), one TLS
    context, proxies not read, bodies encoded once as compact UTF-8 JSON.
    """
    context = _shared_tls()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    lanes = [
        httpx.AsyncHTTPTransport(limits=limits, verify=context, trust_env=False)
        for _ in range(concurrency)
    ]
    url = httpx.URL(f"{base_url}/{PATH}")
    extensions = {"timeout": _TIMEOUT.as_dict()}

    async def send(number: int, chunk: Sequence[Recipient]) -> int:
        request = httpx.Request(
            "POST",
            url,
            headers=JSON_HEADERS,
            content=json_body(chunk, now=time.time()),
            extensions=extensions,
        )
        response = await lanes[number].handle_async_request(request)
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        if response.status_code != 200:
            raise BenchmarkError(f"HTTP {response.status_code}: {content[:200]!r}")
        return count_sent(json.loads(content), len(chunk))

    try:
        return await _workers(concurrency, chunked(recipients), send)
    finally:
        for lane in lanes:
            await lane.aclose()


async def aiohttp_loop(base_url: str, recipients: Sequence[Recipient], concurrency: int) -> int:
    """(c) Raw aiohttp: one ``ClientSession`` (``limit`` = concurrency), JSON body."""
    import aiohttp

    url = f"{base_url}/{PATH}"
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def send(_: int, chunk: Sequence[Recipient]) -> int:
            body = json_body(chunk, now=time.time())
            async with session.post(url, data=body, headers=JSON_HEADERS) as response:
                content = await response.read()
                if response.status != 200:
                    raise BenchmarkError(f"HTTP {response.status}: {content[:200]!r}")
            return count_sent(json.loads(content), len(chunk))

        return await _workers(concurrency, chunked(recipients), send)


CONTENDERS: dict[str, Contender] = {
    "crowdsms": crowdsms_batch,
    "chunks": crowdsms_chunks,
    "naive": naive_httpx,
    "best": best_httpx,
    "aiohttp": aiohttp_loop,
    "client": client_httpx,
    "crowdsms_aiohttp": crowdsms_aiohttp,
}
