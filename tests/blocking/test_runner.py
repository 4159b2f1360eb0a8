"""The blocking facade's core: one loop thread per client, typed twins, clear misuse errors."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from crowdsms._client import AsyncClientBase
from crowdsms._transport import NoSigning
from crowdsms.blocking._client import BlockingClientBase
from crowdsms.blocking._descriptors import BlockingGroup, blocking, passthrough
from crowdsms.blocking._runner import BlockingRunner, EventLoopBlockedError
from crowdsms.errors import CrowdSMSError


class _AsyncEcho:
    """An async endpoint group that records which thread and loop ran each call."""

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.loops: set[int] = set()
        self.closed = False

    async def echo(self, *, text: str, times: int = 1) -> str:
        await anyio.lowlevel.checkpoint()
        self.threads.add(threading.get_ident())
        self.loops.add(id(asyncio.get_running_loop()))
        return text * times

    async def fail(self) -> None:
        raise CrowdSMSError("boom", action="nothing")

    def label(self, prefix: str) -> str:
        return f"{prefix}{len(self.loops)}"


class _AsyncEchoClient(AsyncClientBase):
    provider = "echo"

    def __init__(self) -> None:
        super().__init__(base_url="http://127.0.0.1:9", signer=NoSigning())
        self.echo = _AsyncEcho()
        self.created_on = threading.get_ident()
        self.closed_on: int | None = None

    async def aclose(self) -> None:
        self.closed_on = threading.get_ident()
        await super().aclose()


class _Echo(BlockingGroup[_AsyncEcho]):
    echo = blocking(_AsyncEcho.echo)
    fail = blocking(_AsyncEcho.fail)
    label = passthrough(_AsyncEcho.label)


class _EchoClient(BlockingClientBase[_AsyncEchoClient]):
    def __init__(self) -> None:
        super().__init__(_AsyncEchoClient)
        self.echo = _Echo(self._runner, self._async.echo)


def test_calls_return_plain_values_and_errors_propagate() -> None:
    with _EchoClient() as client:
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


def test_async_client_lives_on_the_loop_thread_and_is_closed_there() -> None:
    client = _EchoClient()
    caller = threading.get_ident()
    client.echo.echo(text="x")
    inner = client.async_client
    assert inner.created_on != caller
    assert inner.echo.threads == {inner.created_on}
    client.close()
    assert inner.closed_on == inner.created_on
    client.close()  # idempotent
    with pytest.raises(CrowdSMSError, match="closed"):
        client.echo.echo(text="x")


def test_32_threads_share_one_client_one_loop_one_thread() -> None:
    before = threading.active_count()
    with _EchoClient() as client, ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(lambda i: client.echo.echo(text=str(i)), range(320)))
        inner = client.async_client
        assert results == [str(i) for i in range(320)]
        assert len(inner.echo.threads) == 1
        assert len(inner.echo.loops) == 1
    pool.shutdown(wait=True)
    # the client's loop thread is gone after close(): nothing left behind
    assert threading.active_count() <= before


def test_no_thread_left_after_close() -> None:
    before = {t.ident for t in threading.enumerate()}
    client = _EchoClient()
    during = {t.ident for t in threading.enumerate()}
    assert len(during - before) == 1  # exactly one loop thread per client
    client.close()
    after = {t.ident for t in threading.enumerate()}
    assert after <= before


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


def test_runner_refuses_after_close_and_runs_final_once() -> None:
    runner = BlockingRunner(name="Echo")
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


def test_close_while_threads_are_calling_never_hangs_a_caller() -> None:
    client = _EchoClient()
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
