"""Serving: in a background thread for synchronous code, and from the command line."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading

import httpx
import pytest

from crowdsms.sandbox import FaultKind, SandboxSettings, serve, serve_in_thread


def test_serve_in_thread_works_from_synchronous_code():
    with serve_in_thread(SandboxSettings(clock_offset=50)) as sandbox:
        with httpx.Client(base_url=sandbox.url, timeout=10) as client:
            served = client.get("/sendcloud/smsapi/timestamp/get").json()
            assert served["statusCode"] == 200
            sandbox.force_fault(FaultKind.REJECT, provider="paasw")
            assert client.get("/paasw/api/token").status_code == 503
            sandbox.set_clock_offset(0)
            assert sandbox.clock.offset == 0
            reply = sandbox.add_reply("paasw", "13800138000", "hi", sign="s")
            assert reply.sequence_id > 0
            assert len(sandbox.ledger) == 0
        url = sandbox.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_sandbox/health", timeout=2)


@pytest.mark.asyncio
async def test_serve_stops_the_server_on_exit():
    async with serve() as sandbox:
        url = sandbox.url
        async with httpx.AsyncClient() as client:
            assert (await client.get(url + "/_sandbox/health")).status_code == 200
    with pytest.raises(RuntimeError, match="not being served"):
        _ = sandbox.url
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url + "/_sandbox/health")


def _first_line(stream, lines: queue.Queue[str]) -> None:
    lines.put(stream.readline())


def test_python_m_crowdsms_sandbox_serves_until_interrupted():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "crowdsms.sandbox", "--port", "0", "--log-level", "warning"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_first_line, args=(process.stdout, lines), daemon=True).start()
        first = lines.get(timeout=30)
        assert first.startswith("crowdsms sandbox listening on http://127.0.0.1:")
        url = first.split()[-1]
        assert httpx.get(url + "/_sandbox/health", timeout=5).json() == {"status": "ok"}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
