"""Ctrl-C during a blocking call on asyncio, where the calling thread runs the client's loop.

The call's coroutine is cancelled (never interrupted halfway, shielded steps finish) and the
call raises ``KeyboardInterrupt`` once it has unwound, whatever it ended with; a second
Ctrl-C stops the wait, and ``close()`` lets the call unwind before closing the connections.
A SIGINT handler other than Python's default is left alone.
"""

from __future__ import annotations

import os
import signal
import threading
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import anyio
import anyio.lowlevel
import pytest

from crowdsms._client import AsyncClientBase
from crowdsms._transport import NoSigning
from crowdsms.blocking._client import BlockingClientBase
from crowdsms.blocking._descriptors import BlockingGroup, blocking
from crowdsms.errors import DeliveryCertainty, ProviderError
from crowdsms.failover import failover_send_blocking


class _AsyncOps:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def echo(self, text: str) -> str:
        await anyio.lowlevel.checkpoint()
        return text

    async def interrupt(self) -> str:
        """Ctrl-C, from inside the coroutine (in whichever thread runs the loop)."""
        os.kill(os.getpid(), signal.SIGINT)
        await anyio.lowlevel.checkpoint()
        return "sent"

    async def interrupt_then_sleep(self) -> None:
        """Ctrl-C, then wait; once cancelled, finish a shielded step (a journal write)."""
        os.kill(os.getpid(), signal.SIGINT)
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                for _ in range(3):
                    await anyio.lowlevel.checkpoint()
                self.events.append("unwound")

    async def interrupt_in_a_shield(self) -> str:
        """Ctrl-C inside a shielded step: the step ends as it would have."""
        with anyio.CancelScope(shield=True):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(3):
                await anyio.lowlevel.checkpoint()
            self.events.append("kept")
        await anyio.sleep_forever()
        return "never"

    async def interrupt_then_refuse(self) -> str:
        """Ctrl-C; the cancelled request then ends in an error that says "not sent"."""
        os.kill(os.getpid(), signal.SIGINT)
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            raise ProviderError(
                provider="ops",
                code="x",
                provider_message="cut off",
                explanation="the request was refused",
                certainty=DeliveryCertainty.NOT_SENT,
            ) from None
        return "never"

    async def interrupt_twice_then_linger(self, gate: threading.Event) -> None:
        """Ctrl-C; a second one while it unwinds, which then waits for ``gate``."""
        os.kill(os.getpid(), signal.SIGINT)
        try:
            await anyio.sleep_forever()
        finally:
            os.kill(os.getpid(), signal.SIGINT)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(gate.wait)
                self.events.append("unwound")

    async def hold(self, started: threading.Event, gate: threading.Event) -> str:
        started.set()
        await anyio.to_thread.run_sync(gate.wait)
        return "held"


class _AsyncClient(AsyncClientBase):
    provider = "ops"

    def __init__(self) -> None:
        super().__init__(base_url="http://127.0.0.1:9", signer=NoSigning())
        self.ops = _AsyncOps()

    async def aclose(self) -> None:
        self.ops.events.append("aclose")
        await super().aclose()


class _Ops(BlockingGroup[_AsyncOps]):
    echo = blocking(_AsyncOps.echo)
    interrupt = blocking(_AsyncOps.interrupt)
    interrupt_then_sleep = blocking(_AsyncOps.interrupt_then_sleep)
    interrupt_in_a_shield = blocking(_AsyncOps.interrupt_in_a_shield)
    interrupt_then_refuse = blocking(_AsyncOps.interrupt_then_refuse)
    interrupt_twice_then_linger = blocking(_AsyncOps.interrupt_twice_then_linger)
    hold = blocking(_AsyncOps.hold)


class _Client(BlockingClientBase[_AsyncClient]):
    def __init__(self) -> None:
        super().__init__(_AsyncClient)
        self.ops = _Ops(self._runner, self._async.ops)


def _client_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("_Client")]


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's own SIGINT handler (raise KeyboardInterrupt), whatever was there before."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_cancels_the_call_and_raises_once_it_has_unwound() -> None:
    with _Client() as client:
        events = client.async_client.ops.events
        with pytest.raises(KeyboardInterrupt):
            client.ops.interrupt_then_sleep()  # this thread was running the loop
        assert events == ["unwound"]  # cancelled, and its shielded step done, before raising
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert client.ops.echo("still works") == "still works"
        assert _client_threads() == []  # nothing was left for a helper to finish


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_does_not_cut_through_a_shielded_step() -> None:
    with _Client() as client:
        with pytest.raises(KeyboardInterrupt):
            client.ops.interrupt_in_a_shield()
        assert client.async_client.ops.events == ["kept"]


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_wins_over_a_not_sent_error_so_nothing_is_sent_twice() -> None:
    second: list[str] = []

    def other_provider() -> str:
        second.append("sent")
        return "sent"

    with _Client() as client, pytest.raises(KeyboardInterrupt):
        failover_send_blocking(
            [("ops", client.ops.interrupt_then_refuse), ("other", other_provider)]
        )
    assert second == []  # a ProviderError(NOT_SENT) would have moved on to the next one


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_while_another_thread_runs_the_loop() -> None:
    started, gate = threading.Event(), threading.Event()
    with _Client() as client, ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(client.ops.hold, started, gate)
        assert started.wait(10)  # the pool's thread runs the loop until the gate opens
        with pytest.raises(KeyboardInterrupt):
            client.ops.interrupt_then_sleep()  # run by the pool's thread; Ctrl-C comes here
        assert client.async_client.ops.events == ["unwound"]
        gate.set()
        assert other.result(timeout=10) == "held"  # the other caller never noticed
        assert client.ops.echo("still works") == "still works"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.usefixtures("default_sigint")
def test_a_second_ctrl_c_stops_waiting_and_close_lets_the_call_unwind_first() -> None:
    gate = threading.Event()
    client = _Client()
    events = client.async_client.ops.events
    with pytest.raises(KeyboardInterrupt):
        client.ops.interrupt_twice_then_linger(gate)
    assert events == []  # still unwinding, in the background
    closer = threading.Thread(target=client.close)
    closer.start()
    while not client._runner.closed:  # close() has begun
        pass
    gate.set()
    closer.join()
    # the connections were closed after the call had unwound, not under it
    assert events == ["unwound", "aclose"]
    assert _client_threads() == []


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


@pytest.mark.usefixtures("default_sigint")
def test_the_unwrapped_signal_functions_agree_with_the_public_ones() -> None:
    from crowdsms.blocking import _interrupt

    assert _interrupt._SIGNALS.getsignal(signal.SIGINT) is signal.getsignal(signal.SIGINT)
    # SIG_IGN and SIG_DFL (a process started in the background ignores SIGINT): the public
    # function turns the int into a ``signal.Handlers`` member, equal to it
    for handler in (signal.SIG_IGN, signal.SIG_DFL):
        previous = signal.signal(signal.SIGINT, handler)
        try:
            assert _interrupt._SIGNALS.getsignal(signal.SIGINT) == signal.getsignal(signal.SIGINT)
            assert _interrupt._SIGNALS.getsignal(signal.SIGINT) is not signal.default_int_handler
        finally:
            signal.signal(signal.SIGINT, previous)
    # a module without them (another implementation's) falls back to the public ones
    assert _interrupt._checked(types.ModuleType("_signal")) is signal
