"""The blocking facade's core: one event loop per client, typed twins, clear misuse errors.

On asyncio (the default) the calling thread runs the client's loop for its call; on trio a
background thread runs it. Most tests run on both.
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
import sniffio

from crowdsms._client import AsyncClientBase
from crowdsms._transport import NoSigning
from crowdsms.blocking._client import BlockingClientBase
from crowdsms.blocking._descriptors import BlockingGroup, blocking, passthrough
from crowdsms.blocking._runner import Backend, BlockingRunner, EventLoopBlockedError
from crowdsms.errors import CrowdSMSError

BACKENDS = pytest.mark.parametrize("backend", ["asyncio", "trio"])


def _loop_id() -> int:
    """The running event loop, whichever library runs it."""
    if sniffio.current_async_library() == "asyncio":
        return id(asyncio.get_running_loop())
    import trio

    return id(trio.lowlevel.current_trio_token())


class _AsyncEcho:
    """An async endpoint group that records which thread and loop ran each call."""

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.loops: set[int] = set()
        self.closed = False

    async def echo(self, *, text: str, times: int = 1) -> str:
        await anyio.lowlevel.checkpoint()
        self.threads.add(threading.get_ident())
        self.loops.add(_loop_id())
        return text * times

    async def fail(self) -> None:
        raise CrowdSMSError("boom", action="nothing")

    def label(self, prefix: str) -> str:
        return f"{prefix}{len(self.loops)}"

    async def hold(self, started: threading.Event, gate: threading.Event) -> str:
        """Say it started, then wait (off the loop) until ``gate`` is set."""
        started.set()
        await anyio.to_thread.run_sync(gate.wait)
        self.threads.add(threading.get_ident())
        return "held"


class _AsyncEchoClient(AsyncClientBase):
    provider = "echo"

    def __init__(self) -> None:
        super().__init__(base_url="http://127.0.0.1:9", signer=NoSigning())
        self.echo = _AsyncEcho()
        self.created_on = threading.get_ident()
        self.created_in = _loop_id()
        self.closed_on: int | None = None
        self.closed_in: int | None = None

    async def aclose(self) -> None:
        self.closed_on = threading.get_ident()
        self.closed_in = _loop_id()
        await super().aclose()


class _Echo(BlockingGroup[_AsyncEcho]):
    echo = blocking(_AsyncEcho.echo)
    fail = blocking(_AsyncEcho.fail)
    hold = blocking(_AsyncEcho.hold)
    label = passthrough(_AsyncEcho.label)


class _EchoClient(BlockingClientBase[_AsyncEchoClient]):
    def __init__(self, backend: Backend = "asyncio") -> None:
        super().__init__(_AsyncEchoClient, backend=backend)
        self.echo = _Echo(self._runner, self._async.echo)


@BACKENDS
def test_calls_return_plain_values_and_errors_propagate(backend: Backend) -> None:
    with _EchoClient(backend) as client:
        assert client.echo.echo(text="ab", times=3) == "ababab"
        with pytest.raises(CrowdSMSError, match="boom"):
            client.echo.fail()


def test_twins_are_made_once_per_group_with_the_async_methods_names() -> None:
    with _EchoClient() as client, _EchoClient() as other:
        echo, label = client.echo.echo, client.echo.label
        assert client.echo.echo is echo  # later reads find it in the group's __dict__
        assert client.echo.label is label
        assert other.echo.echo is not echo  # each group its own, bound to its client
        assert (echo.__name__, echo.__wrapped__) == ("echo", _AsyncEcho.echo)
        assert isinstance(_Echo.echo, blocking)  # read from the class: the descriptor
        assert echo(text="a") == "a"
        assert label("n") == "n1"
        assert other.echo.label("n") == "n0"


@BACKENDS
def test_async_client_lives_on_one_loop_and_is_closed_on_it(backend: Backend) -> None:
    client = _EchoClient(backend)
    client.echo.echo(text="x")
    worker = threading.Thread(target=client.echo.echo, kwargs={"text": "y"})
    worker.start()
    worker.join()
    inner = client.async_client
    assert inner.echo.loops == {inner.created_in}
    client.close()
    assert inner.closed_in == inner.created_in
    client.close()  # idempotent
    with pytest.raises(CrowdSMSError, match="closed"):
        client.echo.echo(text="x")


def test_on_asyncio_each_caller_runs_the_loop_itself() -> None:
    before = {t.ident for t in threading.enumerate()}
    with _EchoClient() as client:
        assert {t.ident for t in threading.enumerate()} <= before  # no loop thread
        client.echo.echo(text="x")
        worker = threading.Thread(target=client.echo.echo, kwargs={"text": "y"})
        worker.start()
        worker.join()
        inner = client.async_client
        # no hand-over: the client was made, and each call ran, in the calling thread
        assert inner.created_on == threading.get_ident()
        assert inner.echo.threads == {threading.get_ident(), worker.ident}
        assert len(inner.echo.loops) == 1


def test_on_trio_a_background_thread_runs_the_loop() -> None:
    with _EchoClient("trio") as client:
        client.echo.echo(text="x")
        inner = client.async_client
        assert inner.created_on != threading.get_ident()
        assert inner.echo.threads == {inner.created_on}
    assert inner.closed_on == inner.created_on


@BACKENDS
def test_32_threads_share_one_client_one_loop(backend: Backend) -> None:
    before = threading.active_count()
    with _EchoClient(backend) as client, ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda i: client.echo.echo(text=str(i)), range(320)))
        inner = client.async_client
        assert results == [str(i) for i in range(320)]
        assert inner.echo.loops == {inner.created_in}
    pool.shutdown(wait=True)
    # the client's threads (a loop thread, a helper) are gone after close()
    assert threading.active_count() <= before


@BACKENDS
def test_no_thread_left_after_close(backend: Backend) -> None:
    before = {t.ident for t in threading.enumerate()}
    client = _EchoClient(backend)
    during = {t.ident for t in threading.enumerate()}
    assert len(during - before) == (1 if backend == "trio" else 0)  # trio: one loop thread
    client.close()
    after = {t.ident for t in threading.enumerate()}
    assert after <= before


def _client_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("_EchoClient")]


def test_a_helper_runs_the_loop_for_calls_left_when_its_runner_returns() -> None:
    client = _EchoClient()
    first_started, first_gate = threading.Event(), threading.Event()
    second_started, second_gate = threading.Event(), threading.Event()
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(client.echo.hold, first_started, first_gate)
        assert first_started.wait(10)  # the first caller's thread now runs the loop
        second = pool.submit(client.echo.hold, second_started, second_gate)
        assert second_started.wait(10)  # started by the first caller's thread
        first_gate.set()
        assert first.result(timeout=10) == "held"  # returns, though the second goes on
        second_gate.set()
        assert second.result(timeout=10) == "held"
        (helper,) = _client_threads()
        assert helper.name == "_EchoClient event loop"
        assert helper.ident in client.async_client.echo.threads  # it ran the second's end
    client.close()
    assert _client_threads() == []


def test_called_from_a_loop_callback_gives_a_clear_error() -> None:
    client = _EchoClient()
    errors: list[BaseException] = []

    def callback() -> None:  # runs on another loop, outside any task
        try:
            client.echo.echo(text="x")
        except BaseException as error:
            errors.append(error)

    other = asyncio.new_event_loop()
    try:
        other.call_soon(callback)
        other.call_soon(other.stop)
        other.run_forever()
    finally:
        other.close()
        client.close()
    assert len(errors) == 1
    assert isinstance(errors[0], EventLoopBlockedError)
    assert "running asyncio event loop" in str(errors[0])


@pytest.mark.asyncio
async def test_close_inside_a_running_loop_still_closes() -> None:
    client = await anyio.to_thread.run_sync(_EchoClient)
    await anyio.to_thread.run_sync(lambda: client.echo.echo(text="x"))
    inner = client.async_client
    client.close()  # blocks this loop meanwhile, as a blocking close always did
    assert client._runner.closed
    assert inner.closed_in == inner.created_in
    assert _client_threads() == []


@pytest.mark.asyncio
async def test_called_inside_a_running_loop_gives_a_clear_error() -> None:
    client = await anyio.to_thread.run_sync(_EchoClient)
    try:
        with pytest.raises(EventLoopBlockedError, match=r"Async_EchoClient") as info:
            client.echo.echo(text="x")
        assert "await" in str(info.value)
        # the advice works: the same call from a worker thread succeeds
        assert await anyio.to_thread.run_sync(lambda: client.echo.echo(text="ok")) == "ok"
    finally:
        await anyio.to_thread.run_sync(client.close)


@BACKENDS
def test_runner_refuses_after_close_and_runs_final_once(backend: Backend) -> None:
    runner = BlockingRunner(name="Echo", backend=backend)
    calls: list[int] = []

    async def final() -> None:
        calls.append(1)

    runner.close(final)
    runner.close(final)
    assert calls == [1]
    assert runner.closed


def test_mypy_sees_the_blocking_signatures(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(
            """
            from crowdsms.blocking._descriptors import BlockingGroup, blocking

            class AsyncEcho:
                async def echo(self, *, text: str, times: int = 1) -> str:
                    return text * times

            class Echo(BlockingGroup[AsyncEcho]):
                echo = blocking(AsyncEcho.echo)

            def use(group: Echo) -> None:
                reveal_type(group.echo)
                reveal_type(group.echo(text="a"))
                group.echo(text=1)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(probe)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    out = result.stdout
    assert 'Revealed type is "def (*, text: str, times: int =) -> str"' in out, out
    assert 'Revealed type is "str"' in out, out
    assert 'Argument "text" has incompatible type "int"; expected "str"' in out, out
    assert "Found 1 error" in out, out


@BACKENDS
def test_close_while_threads_are_calling_never_hangs_a_caller(backend: Backend) -> None:
    client = _EchoClient(backend)
    outcomes: list[str] = []
    lock = threading.Lock()

    def hammer() -> None:
        while True:  # call until the client is closed under us
            try:
                result = client.echo.echo(text="x")
            except CrowdSMSError as error:
                with lock:
                    outcomes.append(str(error))
                return
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=hammer) for _ in range(16)]
    for thread in threads:
        thread.start()
    while True:  # let the callers get going before closing under them
        with lock:
            if len(outcomes) >= 200:
                break
    client.close()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)  # nobody is stuck in a call
    errors = [outcome for outcome in outcomes if outcome != "x"]
    assert len(errors) == 16  # every caller was told, none hung
    assert all("is closed" in error for error in errors)


class _AsyncCallbacks:
    async def run(self, callback: Callable[[], object]) -> object:
        """Call ``callback`` on the loop, as a batch job calls its sink and progress."""
        await anyio.lowlevel.checkpoint()
        return callback()


class _CallbackClient(BlockingClientBase[_AsyncEchoClient]):
    def __init__(self) -> None:
        super().__init__(_AsyncEchoClient)
        self.callbacks = _Callbacks(self._runner, _AsyncCallbacks())


class _Callbacks(BlockingGroup[_AsyncCallbacks]):
    run = blocking(_AsyncCallbacks.run)


def test_close_from_a_callback_on_the_clients_loop_is_refused_not_hung() -> None:
    errors: list[BaseException] = []

    def callback() -> None:
        try:
            client.close()  # would wait for the very call it runs in
        except CrowdSMSError as error:
            errors.append(error)

    client = _CallbackClient()
    worker = threading.Thread(target=client.callbacks.run, args=(callback,), daemon=True)
    worker.start()
    worker.join(timeout=30)  # a deadlock detector, not a timing assertion
    assert not worker.is_alive(), "close() from inside a call hung"
    assert len(errors) == 1
    assert "from inside one of its own calls" in str(errors[0])
    assert not client._runner.closed  # still usable, and closed normally afterwards
    client.close()
    assert client._runner.closed


@BACKENDS
def test_a_client_used_as_a_context_manager_leaves_no_resource_warning(backend: Backend) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with _EchoClient(backend) as client:
            client.echo.echo(text="x")
        del client
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_an_unclosed_client_is_reported_by_a_resource_warning() -> None:
    client = _EchoClient()
    client.echo.echo(text="x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del client
        gc.collect()
    messages = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert any("unclosed event loop" in message for message in messages), messages
