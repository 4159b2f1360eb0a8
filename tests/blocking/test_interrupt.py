"""Ctrl-C during a blocking call on asyncio, where the calling thread runs the client's loop.

The call raises ``KeyboardInterrupt`` at once, as it did when a loop thread ran every call;
the coroutine is not interrupted halfway but goes on in the background, and ``close()``
cancels it if it is still going. A SIGINT handler other than Python's default is left alone.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest

from crowdsms._client import AsyncClientBase
from crowdsms._transport import NoSigning
from crowdsms.blocking._client import BlockingClientBase
from crowdsms.blocking._descriptors import BlockingGroup, blocking


class _AsyncOps:
    async def echo(self, text: str) -> str:
        await anyio.lowlevel.checkpoint()
        return text

    async def interrupt(self) -> str:
        """Ctrl-C, from inside the coroutine (in whichever thread runs the loop)."""
        os.kill(os.getpid(), signal.SIGINT)
        await anyio.lowlevel.checkpoint()
        return "sent"

    async def interrupt_then_hold(self, gate: threading.Event, done: threading.Event) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        await anyio.to_thread.run_sync(gate.wait)
        done.set()

    async def interrupt_then_sleep(self, ended: threading.Event) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        try:
            await anyio.sleep_forever()
        finally:
            ended.set()

    async def hold(self, started: threading.Event, gate: threading.Event) -> str:
        started.set()
        await anyio.to_thread.run_sync(gate.wait)
        return "held"


class _AsyncClient(AsyncClientBase):
    provider = "ops"

    def __init__(self) -> None:
        super().__init__(base_url="http://127.0.0.1:9", signer=NoSigning())
        self.ops = _AsyncOps()


class _Ops(BlockingGroup[_AsyncOps]):
    echo = blocking(_AsyncOps.echo)
    interrupt = blocking(_AsyncOps.interrupt)
    interrupt_then_hold = blocking(_AsyncOps.interrupt_then_hold)
    interrupt_then_sleep = blocking(_AsyncOps.interrupt_then_sleep)
    hold = blocking(_AsyncOps.hold)


class _Client(BlockingClientBase[_AsyncClient]):
    def __init__(self) -> None:
        super().__init__(_AsyncClient)
        self.ops = _Ops(self._runner, self._async.ops)


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's own SIGINT handler (raise KeyboardInterrupt), whatever was there before."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_stops_the_call_not_its_coroutine() -> None:
    gate, done = threading.Event(), threading.Event()
    with _Client() as client:
        with pytest.raises(KeyboardInterrupt):
            client.ops.interrupt_then_hold(gate, done)  # this thread was running the loop
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert not done.is_set()
        assert client.ops.echo("meanwhile") == "meanwhile"  # not held up by the one left
        gate.set()
        assert done.wait(10)  # not interrupted halfway: it went on to its end
        assert client.ops.echo("still works") == "still works"


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_while_another_thread_runs_the_loop() -> None:
    started, gate = threading.Event(), threading.Event()
    with _Client() as client, ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(client.ops.hold, started, gate)
        assert started.wait(10)  # the pool's thread runs the loop until the gate opens
        with pytest.raises(KeyboardInterrupt):
            client.ops.interrupt()  # run by the pool's thread; Ctrl-C comes here
        gate.set()
        assert other.result(timeout=10) == "held"  # the other caller never noticed
        assert client.ops.echo("still works") == "still works"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.usefixtures("default_sigint")
def test_close_cancels_a_call_left_by_ctrl_c() -> None:
    ended = threading.Event()
    client = _Client()
    with pytest.raises(KeyboardInterrupt):
        client.ops.interrupt_then_sleep(ended)
    assert not ended.is_set()  # still going, in the background
    client.close()
    assert ended.is_set()
    assert not [t for t in threading.enumerate() if t.name.startswith("_Client")]


def test_a_custom_sigint_handler_is_left_alone() -> None:
    seen: list[int] = []

    def handler(signum: int, frame: object) -> None:
        seen.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        with _Client() as client:
            assert client.ops.interrupt() == "sent"  # the handler did not raise
            assert seen == [signal.SIGINT]
            assert signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, previous)
