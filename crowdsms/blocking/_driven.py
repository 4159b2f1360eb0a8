"""The client's asyncio event loop, run by the threads that call the client.

A blocking call runs the client's one event loop in the calling thread until its coroutine
is done: nothing is handed to another thread and no thread sleeps until another wakes it,
which is most of what a call through a loop thread costs. The loop is the same for every
call and every thread, so the async client's connections, clock offset and retry budget are
shared by all of them. Each call's coroutine runs in a task of its own, made in the
caller's thread, so it sees the caller's context variables (an OpenTelemetry span, say).

One thread runs the loop at a time. A call made while another thread runs it hands its
coroutine to that thread (``call_soon_threadsafe``) and waits for the result. A thread that
runs the loop stops as soon as its own call is done; if other coroutines are still going
on, a helper thread (started the first time this happens, stopped by ``close``) runs the
loop until they are done.

Ctrl-C during a call cancels the call's coroutine; the caller waits for it to unwind (the
batch job's shielded journal writes, say), then raises ``KeyboardInterrupt``, whatever the
coroutine's outcome. Nothing goes on sending after Ctrl-C, and a request that may have
reached the provider is never reported as "not sent" (which would invite sending it again):
a batch job's journal keeps its chunk as started, which a resumed job reports as
``unknown``. A second Ctrl-C stops the wait; the coroutine then unwinds in the background
(the helper runs it) and ``close`` waits for it, before it closes the connections.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, cast

from anyio import CancelScope

from crowdsms.blocking._guards import closed_error, loop_runs_here, refuse_running_loop
from crowdsms.blocking._interrupt import SigintGuard
from crowdsms.errors import CrowdSMSError

__all__ = ["DrivenLoop"]

T = TypeVar("T")


class _Call(Generic[T]):
    """One call: its coroutine function, its task, then its outcome; a waiting caller's wake-up."""

    __slots__ = (
        "cancelled",
        "done",
        "error",
        "func",
        "interrupted",
        "leading",
        "scope",
        "task",
        "value",
        "waiting",
        "wake",
    )

    def __init__(self, func: Callable[[], Awaitable[T]], *, leading: bool) -> None:
        self.func = func
        self.task: asyncio.Task[None] | None = None
        self.value: T | None = None
        self.error: BaseException | None = None
        self.scope: CancelScope | None = None  # what cancels it, once its coroutine has begun
        self.done = False
        self.cancelled = False  # its caller was interrupted: cancel it, or never start it
        self.interrupted = False  # its caller was interrupted: raise that, whatever the outcome
        self.leading = leading  # its caller runs the loop for it: stop the loop when done
        self.wake: threading.Lock | None = None  # held until the outcome is in (waiting callers)
        self.waiting = False  # a caller waits on ``wake`` (the loop runs in another thread)


class DrivenLoop:
    """Runs coroutines on one asyncio loop in the calling threads and returns their results."""

    def __init__(self, *, name: str) -> None:
        self._name = name
        self._loop = asyncio.new_event_loop()
        self._guard = SigintGuard(self._loop)
        self._scope_class: type[CancelScope] | None = None
        self._mutex = threading.Lock()
        self._changed = threading.Condition(self._mutex)  # for close(): calls, the loop's runner
        self._running = False  # a thread runs the loop, or is about to
        self._unfinished = 0  # coroutines started or queued, not finished
        self._active = 0  # calls whose callers have not returned
        self._closed = False
        self._closing = threading.Lock()
        self._tasks: dict[asyncio.Task[None], _Call[Any]] = {}  # only touched by the runner
        self._drained: asyncio.Future[None] | None = None  # what the helper runs the loop for
        self._helper: threading.Thread | None = None
        self._helper_go = threading.Lock()  # released to hand the loop to the helper
        self._helper_go.acquire()
        self._helper_exit = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._closed

    def call(self, func: Callable[[], Awaitable[T]], *, check_closed: bool = True) -> T:
        """Run the coroutine function ``func`` on the loop and return its result.

        If no other thread is running the loop, this one runs it until ``func``'s coroutine
        is done (the coroutine stops it); otherwise the coroutine goes to that thread.

        If the caller is interrupted (Ctrl-C, or another exception a signal handler raises),
        the coroutine is cancelled and the caller waits for it to unwind (a shielded journal
        write, say) before the interruption is raised, whatever the coroutine's outcome; a
        second Ctrl-C stops the wait, leaving the rest to :meth:`close`.
        """
        if loop_runs_here():
            refuse_running_loop(self._name)
        guard = self._guard
        guarded = guard.install()
        try:
            with self._mutex:
                if check_closed and self._closed:
                    raise closed_error(self._name)
                self._active += 1
                self._unfinished += 1
                call = _Call(func, leading=not self._running)
                if call.leading:
                    self._running = True
                else:
                    self._queue(call)
            if call.leading:
                self._lead(call, guard if guarded else None)
            else:
                self._follow(call, guard if guarded else None)
        finally:
            if guarded:
                guard.restore()
        error = call.error
        if error is not None:
            call.error = None  # the traceback refers to the call: no cycle left behind
        if call.interrupted or (guarded and guard.interrupts):
            # Never the call's own outcome: an error its cancellation caused could say "not
            # sent" of a request that may have reached the provider, inviting a resend.
            raise KeyboardInterrupt
        if error is not None:
            raise error
        return cast(T, call.value)

    def call_sync(self, func: Callable[[], T]) -> T:
        """Run the plain function ``func`` with the loop running and return its result."""

        async def run() -> T:
            return func()

        return self.call(run)

    def _lead(self, call: _Call[T], guard: SigintGuard | None) -> None:
        """Run the loop in this thread until ``call`` is done (its coroutine stops the loop)."""
        loop = self._loop
        try:
            call.task = loop.create_task(self._run(call))
            if guard is None:
                while not call.done:
                    loop.run_forever()
            else:
                guard.driving = True
                while not call.done:
                    if guard.interrupts:  # Ctrl-C: cancel the call, let it unwind
                        call.interrupted = True
                        if guard.interrupts > 1:
                            break  # a second one: stop waiting
                        if not call.cancelled:
                            call.cancelled = True
                            loop.call_soon(self._cancel, call)  # on the loop, as anyio needs
                    loop.run_forever()
                if guard.interrupts:  # it came as the call ended: still raised
                    call.interrupted = True
        except BaseException:
            # Raised out of the loop (by a signal handler other than the guard, say): the
            # call is cancelled, and left to the helper to unwind.
            if not call.done:
                call.cancelled = True
                loop.call_soon_threadsafe(self._cancel, call)
            raise
        finally:
            if guard is not None:
                guard.driving = False
            with self._mutex:
                self._active -= 1
                if call.done:
                    self._unfinished -= 1
                else:  # its caller stopped waiting: the helper runs it to its end
                    call.leading = False
                    if call.task is not None:
                        self._tasks[call.task] = call
                    else:
                        self._unfinished -= 1
                if self._unfinished or self._closed:
                    self._release()
                else:
                    self._running = False

    def _queue(self, call: _Call[T]) -> None:
        """Have the thread running the loop start ``call`` (under the mutex)."""
        call.wake = wake = threading.Lock()
        wake.acquire()
        call.waiting = True
        self._loop.call_soon_threadsafe(self._start, call)

    def _start(self, call: _Call[T]) -> None:
        call.task = task = self._loop.create_task(self._run(call))
        self._tasks[task] = call

    def _follow(self, call: _Call[T], guard: SigintGuard | None) -> None:
        """Wait for ``call``, which the thread running the loop runs."""
        wake = call.wake
        assert wake is not None
        try:
            if guard is not None:
                guard.restore()  # waiting for a lock: Ctrl-C raises there, as it always did
                if guard.interrupts:
                    raise KeyboardInterrupt
            wake.acquire()
        except BaseException:
            # Interrupted: cancel the call, and wait for it to unwind (again, interruptibly).
            call.cancelled = True
            self._loop.call_soon_threadsafe(self._cancel, call)
            try:
                with self._mutex:
                    done = call.done  # then ``wake`` is released, or needs no waiting for
                if not done:
                    wake.acquire()
            except BaseException:
                with self._mutex:
                    call.waiting = False  # the call goes on to its end; its result is dropped
                raise
            raise
        finally:
            with self._mutex:
                self._active -= 1
                if self._closed:
                    self._changed.notify_all()

    def _cancel(self, call: _Call[Any]) -> None:
        """Cancel ``call`` (on the loop).

        Through an anyio cancel scope, not ``Task.cancel``, which on asyncio would cut
        through the shielded scopes inside (a batch job's journal writes).
        """
        call.cancelled = True
        if call.scope is not None and not call.done:
            call.scope.cancel()

    async def _run(self, call: _Call[T]) -> None:
        scope_class = self._scope_class
        if scope_class is None:
            # The loop's own kind of anyio cancel scope: made directly, it skips the look-up
            # of the running library that ``CancelScope()`` makes each time (3 us of 6).
            scope_class = self._scope_class = type(CancelScope())
        call.scope = scope = scope_class()
        if call.cancelled:  # interrupted before it began
            scope.cancel()
        try:
            with scope:
                call.value = await call.func()
        except BaseException as error:  # re-raised in the caller's thread
            call.error = error
        call.done = True
        if call.leading:
            self._loop.stop()  # back to the caller, which counts it finished
        else:
            self._finish(call)

    def _finish(self, call: _Call[T]) -> None:
        """A call its caller does not run the loop for has ended (on the loop)."""
        if call.task is not None:
            self._tasks.pop(call.task, None)
        with self._mutex:
            self._unfinished -= 1
            if call.waiting:
                call.waiting = False
                cast(threading.Lock, call.wake).release()
            drained = self._drained
            if not self._unfinished and drained is not None and not drained.done():
                drained.set_result(None)

    def _release(self) -> None:
        """This thread stops running the loop: the helper takes over if coroutines remain.

        Called under the mutex.
        """
        if self._closed:
            self._changed.notify_all()
        if not self._unfinished:
            self._running = False
            return
        if self._helper is None:
            self._helper = threading.Thread(
                target=self._help, name=f"{self._name} event loop", daemon=True
            )
            self._helper.start()
        self._helper_go.release()

    def _help(self) -> None:
        while True:
            self._helper_go.acquire()
            if self._helper_exit:
                return
            self._drain()

    def _drain(self) -> None:
        """Run the loop until no coroutine is left (in the helper thread)."""
        loop = self._loop
        while True:
            with self._mutex:
                if not self._unfinished:
                    self._running = False
                    self._drained = None
                    if self._closed:
                        self._changed.notify_all()
                    return
                drained = self._drained = loop.create_future()
            try:
                loop.run_until_complete(drained)
            except BaseException as error:  # a callback's; the calls still need the loop
                context: dict[str, Any] = {"message": "error running the loop", "exception": error}
                loop.call_exception_handler(context)

    def close(self, final: Callable[[], Awaitable[None]] | None = None) -> None:
        """Wait for the calls in flight, run ``final`` on the loop, then close the loop.

        Calls whose callers stopped waiting (a second Ctrl-C) are cancelled first, so that
        they unwind before ``final`` closes the connections under them.
        """
        if asyncio._get_running_loop() is self._loop:
            raise CrowdSMSError(
                f"close() was called on the {self._name} client from inside one of its own "
                "calls (a batch's sink or progress callback, say), which it would wait for "
                "forever",
                action="Close the client after the call returns (use it as a context manager)",
            )
        if not loop_runs_here():
            self._close(final)
            return
        # This thread runs another event loop, so it cannot run the client's: close from
        # another thread, this one waiting meanwhile as a blocking close always did.
        errors: list[BaseException] = []

        def close() -> None:
            try:
                self._close(final)
            except BaseException as error:
                errors.append(error)

        thread = threading.Thread(target=close, name=f"{self._name} close")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]

    def _close(self, final: Callable[[], Awaitable[None]] | None) -> None:
        with self._closing:
            with self._mutex:  # no new calls; wait for those in flight to finish
                if self._closed:
                    return
                self._closed = True
                while self._active:
                    self._changed.wait()
            try:
                try:
                    self.call(self._cancel_abandoned, check_closed=False)
                finally:
                    if final is not None:
                        self.call(final, check_closed=False)
            finally:
                self._shutdown()

    async def _cancel_abandoned(self) -> None:
        """Cancel the calls whose callers stopped waiting, and wait for them to end."""
        current = asyncio.current_task()
        abandoned = [(task, call) for task, call in self._tasks.items() if task is not current]
        for _, call in abandoned:
            self._cancel(call)
        await asyncio.gather(*(task for task, _ in abandoned), return_exceptions=True)

    def _shutdown(self) -> None:
        loop = self._loop
        try:
            self.call(_cancel_remaining, check_closed=False)
            self.call(loop.shutdown_asyncgens, check_closed=False)
            self.call(loop.shutdown_default_executor, check_closed=False)
        finally:
            with self._mutex:
                while self._running:
                    self._changed.wait()
                self._helper_exit = True
                helper = self._helper
                if helper is not None:
                    self._helper_go.release()
            if helper is not None:
                helper.join()
            loop.close()


async def _cancel_remaining() -> None:
    """Cancel every other task on the loop (what ``final`` left) and wait for them to end."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
