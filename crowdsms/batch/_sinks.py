"""Where outcomes go as they are known, so that a million results are never held at once.

A sink receives the outcomes of one block at a time (at most a few chunks' worth), in input
order. :class:`CallbackSink` calls a function (sync or async) per outcome; :class:`JsonlSink`
and :class:`CsvSink` write one line per outcome. File writes run in a worker thread (one per
block, not per outcome) so that a slow disk does not stall the event loop; each block is
flushed, so the file holds every outcome emitted so far if the job stops.

A resumed job emits every outcome again (re-emitting those recorded in the journal), so the
output of the resumed run is complete on its own: the file sinks truncate by default.
"""

from __future__ import annotations

import csv
import inspect
import json
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import IO, Protocol, runtime_checkable

import anyio
import anyio.to_thread

from crowdsms.batch._report import BatchOutcome

__all__ = ["CallbackSink", "CsvSink", "JsonlSink", "OutcomeCallback", "OutcomeSink"]

OutcomeCallback = Callable[[BatchOutcome], "Awaitable[None] | None"]
"""A function called with each outcome; it may be a coroutine function."""

FIELDS = (
    "position",
    "input_phone",
    "phone",
    "status",
    "message_id",
    "fee",
    "code",
    "message",
    "retryable",
    "confirmed",
    "delivery",
    "delivery_code",
    "provider",
)


@runtime_checkable
class OutcomeSink(Protocol):
    """Receives a job's outcomes in input order. The job calls ``open``, ``write``s, ``close``."""

    async def open(self) -> None:
        """Prepare to receive outcomes (open a file...). Called once, before any write."""
        ...

    async def write(self, outcomes: Sequence[BatchOutcome]) -> None:
        """Take the next outcomes, in input order."""
        ...

    async def close(self) -> None:
        """Release resources. Called once, also when the job fails or is cancelled."""
        ...


class CallbackSink:
    """Calls ``callback(outcome)`` for each outcome; awaits it if it returns an awaitable."""

    def __init__(self, callback: OutcomeCallback) -> None:
        self._callback = callback

    async def open(self) -> None:
        """Nothing to prepare."""

    async def write(self, outcomes: Sequence[BatchOutcome]) -> None:
        """Call the callback once per outcome."""
        for outcome in outcomes:
            result = self._callback(outcome)
            if inspect.isawaitable(result):
                await result

    async def close(self) -> None:
        """Nothing to release."""


class _FileSink:
    """A text file written one block at a time in a worker thread."""

    def __init__(
        self, path: str | os.PathLike[str], *, append: bool = False, encoding: str = "utf-8"
    ) -> None:
        self.path = path
        self._append = append
        self._encoding = encoding
        self._file: IO[str] | None = None
        self._limiter = anyio.CapacityLimiter(1)

    def _opened(self, file: IO[str]) -> None:
        """Hook for subclasses, run in the worker thread after opening."""

    def _lines(self, outcomes: Sequence[BatchOutcome]) -> None:
        raise NotImplementedError

    async def open(self) -> None:
        """Open (truncate, unless ``append``) the file."""
        mode = "a" if self._append else "w"

        def work() -> IO[str]:
            file = open(self.path, mode, encoding=self._encoding, newline="")  # noqa: SIM115
            try:
                self._opened(file)
            except BaseException:
                file.close()
                raise
            return file

        with anyio.CancelScope(shield=True):
            self._file = await anyio.to_thread.run_sync(work, limiter=self._limiter)

    async def write(self, outcomes: Sequence[BatchOutcome]) -> None:
        """Write one line per outcome and flush."""
        await anyio.to_thread.run_sync(self._lines, outcomes, limiter=self._limiter)

    async def close(self) -> None:
        """Flush and close the file."""
        file, self._file = self._file, None
        if file is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(file.close, limiter=self._limiter)


class JsonlSink(_FileSink):
    """Writes each outcome as one JSON object per line (UTF-8, keys as in ``to_dict``)."""

    def _lines(self, outcomes: Sequence[BatchOutcome]) -> None:
        assert self._file is not None
        self._file.write(
            "".join(
                json.dumps(item.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
                for item in outcomes
            )
        )
        self._file.flush()


class CsvSink(_FileSink):
    """Writes outcomes as CSV rows under a header line (the fields of ``to_dict``)."""

    def _opened(self, file: IO[str]) -> None:
        if not self._append or file.tell() == 0:
            csv.writer(file).writerow(FIELDS)

    def _lines(self, outcomes: Sequence[BatchOutcome]) -> None:
        assert self._file is not None
        writer = csv.writer(self._file)
        for item in outcomes:
            row = item.to_dict()
            writer.writerow(["" if row[name] is None else row[name] for name in FIELDS])
        self._file.flush()
