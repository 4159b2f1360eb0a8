"""The asyncio runner: each call runs in its caller's context, as in a task of its own.

The threads that call a blocking client run its loop themselves; what a call sees of
:mod:`contextvars` (an OpenTelemetry span, say) is still its caller's, whichever thread runs
the loop, and what it sets stays in the call.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar

import anyio

from crowdsms._client import AsyncClientBase
from crowdsms._transport import NoSigning
from crowdsms.blocking._client import BlockingClientBase
from crowdsms.blocking._descriptors import BlockingGroup, blocking

_USER: ContextVar[str] = ContextVar("user", default="nobody")
_SET_INSIDE: ContextVar[str] = ContextVar("set_inside", default="unset")


class _AsyncProbe:
    async def context(self, set_inside: str | None = None) -> tuple[str, str]:
        """The caller's value, and what a previous call may have left; then set one."""
        await anyio.lowlevel.checkpoint()
        seen = (_USER.get(), _SET_INSIDE.get())
        if set_inside is not None:
            _SET_INSIDE.set(set_inside)
        await anyio.lowlevel.checkpoint()
        return seen

    async def hold(self, started: threading.Event, gate: threading.Event) -> str:
        started.set()
        await anyio.to_thread.run_sync(gate.wait)
        return "held"


class _AsyncClient(AsyncClientBase):
    provider = "probe"

    def __init__(self) -> None:
        super().__init__(base_url="http://127.0.0.1:9", signer=NoSigning())
        self.probe = _AsyncProbe()


class _Probe(BlockingGroup[_AsyncProbe]):
    context = blocking(_AsyncProbe.context)
    hold = blocking(_AsyncProbe.hold)


class _Client(BlockingClientBase[_AsyncClient]):
    def __init__(self) -> None:
        super().__init__(_AsyncClient)
        self.probe = _Probe(self._runner, self._async.probe)


def test_each_call_runs_in_a_copy_of_its_callers_context() -> None:
    with _Client() as client:
        token = _USER.set("main")
        try:
            assert client.probe.context(set_inside="first") == ("main", "unset")
            assert _SET_INSIDE.get() == "unset"  # the call's own change stays in the call
            assert client.probe.context() == ("main", "unset")  # and is not the next call's
            _USER.set("changed")
            assert client.probe.context() == ("changed", "unset")
        finally:
            _USER.reset(token)
        seen: list[tuple[str, str]] = []

        def other() -> None:
            _USER.set("worker")
            seen.append(client.probe.context())

        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
        assert seen == [("worker", "unset")]


def test_a_call_run_by_another_thread_still_sees_its_callers_context() -> None:
    started, gate = threading.Event(), threading.Event()
    with _Client() as client:
        holder = threading.Thread(target=client.probe.hold, args=(started, gate))
        holder.start()
        assert started.wait(10)  # the holder's thread runs the loop until the gate opens
        token = _USER.set("main")
        try:
            assert client.probe.context(set_inside="x") == ("main", "unset")
        finally:
            _USER.reset(token)
            gate.set()
            holder.join()
        assert _SET_INSIDE.get() == "unset"
