"""How many requests per second the sandbox answers on loopback (faults off, no latency).

The sandbox runs in its own process (``python -m crowdsms.sandbox --port 0``) so that the
load generator does not share its CPU time. The load generator is a minimal keep-alive
HTTP/1.1 client on raw asyncio streams (far cheaper than httpx), with a fixed number of
connections each sending its share of a bounded number of requests. Requests are signed in
the client with hashlib, as the providers' rules say. Every answer is checked (status 200
and a success body), so a fast wrong answer cannot pass for speed.

Run: ``python benchmarks/sandbox_rate.py [--requests 4000] [--connections 16]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import queue
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable

from crowdsms.sandbox.emulators.paasw import PAASW_APP_ID, PAASW_SECRET
from crowdsms.sandbox.emulators.sendcloud import SENDCLOUD_SMS_KEY, SENDCLOUD_SMS_USER
from crowdsms.sandbox.emulators.submail import SUBMAIL_APPID, SUBMAIL_APPKEY

Builder = Callable[[], bytes]


def _post(path: str, fields: dict[str, str]) -> bytes:
    body = urllib.parse.urlencode(fields).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: sandbox\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _post_json(path: str, data: dict[str, object]) -> bytes:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: sandbox\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def timestamp_request() -> bytes:
    return b"GET /submail/service/timestamp HTTP/1.1\r\nHost: sandbox\r\n\r\n"


def multisend_request(recipients: int, *, as_json: bool = False) -> Builder:
    """Each request goes to new numbers, as in a large job (no warm per-number caches)."""
    numbers = itertools.count(13_800_000_000)
    content = "【沙箱】@var(name)您好，您的验证码是@var(code)，10分钟内有效。"

    def build() -> bytes:
        items = [
            {"to": str(number), "vars": {"name": f"客户{number % 1000}", "code": "4321"}}
            for number in itertools.islice(numbers, recipients)
        ]
        params = {
            "appid": SUBMAIL_APPID,
            "timestamp": str(int(time.time())),
            "sign_type": "md5",
            "sign_version": "2",
        }
        signed = "&".join(f"{key}={params[key]}" for key in sorted(params))
        text = f"{SUBMAIL_APPID}{SUBMAIL_APPKEY}{signed}{SUBMAIL_APPID}{SUBMAIL_APPKEY}"
        params["signature"] = hashlib.md5(text.encode()).hexdigest()
        if as_json:
            fields = {**params, "content": content, "multi": items}
            return _post_json("/submail/sms/multisend", fields)
        multi = json.dumps(items)
        return _post("/submail/sms/multisend", {**params, "content": content, "multi": multi})

    return build


def sendcloud_request() -> bytes:
    params = {
        "smsUser": SENDCLOUD_SMS_USER,
        "templateId": "1",
        "phone": "13800138000",
        "vars": '{"%code%":"4321"}',
        "timestamp": str(int(time.time() * 1000)),
    }
    signed = "&".join(f"{key}={params[key]}" for key in sorted(params))
    text = f"{SENDCLOUD_SMS_KEY}&{signed}&{SENDCLOUD_SMS_KEY}"
    params["signature"] = hashlib.md5(text.encode()).hexdigest()
    return _post("/sendcloud/smsapi/send", params)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bytes:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length)
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
    return body


async def _paasw_token(host: str, port: int) -> str:
    reader, writer = await asyncio.open_connection(host, port)
    query = urllib.parse.urlencode({"appId": PAASW_APP_ID, "secret": PAASW_SECRET})
    request = f"GET /paasw/api/token?{query} HTTP/1.1\r\nHost: sandbox\r\n\r\n".encode()
    body = await _exchange(reader, writer, request)
    writer.close()
    return str(json.loads(body)["token"])


def paasw_request(token: str) -> Builder:
    fields = {
        "token": token,
        "phoneNumbers": ",".join(f"139{i:08d}" for i in range(10)),
        "sign": "沙箱",
        "content": "【沙箱】您的验证码是4321。",
        "kind": "1",
    }
    request = _post("/paasw/sms/send", fields)
    return lambda: request


def _check(body: bytes) -> None:
    if b'"error"' in body or b'"result":false' in body:
        raise RuntimeError(f"the sandbox refused a benchmark request: {body[:200]!r}")


async def load(host: str, port: int, build: Builder, requests: int, connections: int) -> float:
    """Send ``requests`` requests over ``connections`` connections; return requests/second."""
    per_connection = [
        requests // connections + (i < requests % connections) for i in range(connections)
    ]

    async def worker(count: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for _ in range(count):
                _check(await _exchange(reader, writer, build()))
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(count) for count in per_connection))
    return requests / (time.perf_counter() - started)


def _start_sandbox() -> tuple[subprocess.Popen[str], str, int]:
    command = [sys.executable, "-m", "crowdsms.sandbox", "--port", "0", "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    url = lines.get(timeout=30).split()[-1]
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    return process, str(host), int(port or 80)


async def main(requests: int, connections: int) -> None:
    process, host, port = _start_sandbox()
    try:
        token = await _paasw_token(host, port)
        scenarios: list[tuple[str, Builder]] = [
            ("SUBMAIL service/timestamp (GET, unsigned)", timestamp_request),
            ("SendCloud send, 1 recipient (md5 signed)", sendcloud_request),
            ("paasw sms/send, 10 numbers (token)", paasw_request(token)),
            ("SUBMAIL sms/multisend, 50 recipients, form body", multisend_request(50)),
            (
                "SUBMAIL sms/multisend, 50 recipients, JSON body",
                multisend_request(50, as_json=True),
            ),
        ]
        await load(host, port, timestamp_request, min(requests, 500), connections)  # warm up
        print(f"sandbox request rate: {requests} requests per scenario, {connections} connections")
        for name, build in scenarios:
            rate = await load(host, port, build, requests, connections)
            print(f"  {name:<52} {rate:8.0f} requests/s")
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stdout is not None:
            process.stdout.close()


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--requests", type=int, default=4000)
    cli.add_argument("--connections", type=int, default=16)
    arguments = cli.parse_args()
    asyncio.run(main(arguments.requests, arguments.connections))
