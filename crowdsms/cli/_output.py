"""The ``--output`` file of ``crowdsms send``: replaced only once the job has outcomes.

A batch sink opens (and truncates) its file when the job starts. Run again with the same
``--output``, a command that then stops before anything was sent (a row that cannot be
decoded, a refused resume) would leave the earlier run's outcomes file empty. The file is
opened at the first outcome instead, or at the end of a job that had none.
"""

from __future__ import annotations

from collections.abc import Sequence

from crowdsms.batch import BatchOutcome
from crowdsms.batch._sinks import OutcomeSink

__all__ = ["DeferredSink"]


class DeferredSink:
    """``sink``, opened at the first write; :meth:`finish` opens it for a job that wrote
    nothing (so the file says so), and nothing opens it for a job that failed first."""

    def __init__(self, sink: OutcomeSink) -> None:
        self._sink = sink
        self._opened = False

    async def open(self) -> None:
        """Nothing yet: the file is opened at the first outcome."""

    async def write(self, outcomes: Sequence[BatchOutcome]) -> None:
        """Open the file at the first outcomes, then write them."""
        if not self._opened:
            await self._sink.open()
            self._opened = True
        await self._sink.write(outcomes)

    async def close(self) -> None:
        """Close the file, if it was opened."""
        if self._opened:
            await self._sink.close()

    async def finish(self) -> None:
        """After a job that ended normally: write the (empty) file if no outcome opened it."""
        if not self._opened:
            await self._sink.open()
            await self._sink.close()
