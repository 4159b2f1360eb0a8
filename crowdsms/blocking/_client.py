"""The lifecycle shared by every blocking client."""

from __future__ import annotations

import os
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Generic, TypeVar

from typing_extensions import Self, Unpack

from crowdsms._client import AsyncClientBase
from crowdsms.blocking._runner import DEFAULT_BACKEND, Backend, BlockingRunner
from crowdsms.outcomes import ChunkSender

if TYPE_CHECKING:
    from crowdsms.batch import BatchOptions, BatchReport, OutcomeCallback, OutcomeSink, Preview
    from crowdsms.batch._input import RecipientSource
    from crowdsms.deliveries import DeliverySummary

__all__ = ["BlockingClientBase"]

C = TypeVar("C", bound=AsyncClientBase)


class BlockingClientBase(Generic[C]):
    """Owns an event loop and the async client that lives on it.

    The async client is created with the loop running and closed on it by :meth:`close`,
    which then closes the loop (and stops the threads it may have started). Use the client
    as a context manager or call :meth:`close` when done. One blocking client may be shared
    by any number of threads.
    """

    def __init__(self, make_async: Callable[[], C], *, backend: Backend = DEFAULT_BACKEND) -> None:
        name = type(self).__name__
        self._runner = BlockingRunner(backend=backend, name=name)
        try:
            self._async: C = self._runner.call_sync(make_async)
        except BaseException:
            self._runner.close()
            raise

    @property
    def async_client(self) -> C:
        """The async client underneath (for code that runs on its loop)."""
        return self._async

    @property
    def base_url(self) -> str:
        """The provider's base URL this client talks to."""
        return self._async.base_url

    @property
    def clock_offset(self) -> float:
        """Seconds added to this machine's clock when signing."""
        return self._async.clock_offset

    def measure_clock(self) -> float:
        """Measure the offset from the provider's clock now, and return it in seconds."""
        return self._runner.call(self._async.measure_clock)

    def send_batch(
        self,
        chunk_sender: ChunkSender,
        recipients: RecipientSource,
        *,
        sink: OutcomeSink | OutcomeCallback | None = None,
        journal: str | os.PathLike[str] | None = None,
        job_id: str | None = None,
        **options: Unpack[BatchOptions],
    ) -> BatchReport:
        """Run a batch job on this client's event loop and return its report.

        ``chunk_sender`` comes from this client (``client.sms.multisend_chunks(...)`` and so
        on); the arguments are those of :func:`crowdsms.batch.send_batch`.
        """
        from crowdsms.batch import run_batch_blocking

        return run_batch_blocking(
            chunk_sender,
            recipients,
            sink=sink,
            journal=journal,
            job_id=job_id,
            runner=self._runner.call,
            **options,
        )

    def preview_batch(
        self,
        chunk_sender: ChunkSender,
        recipients: RecipientSource,
        *,
        journal: str | os.PathLike[str] | None = None,
        job_id: str | None = None,
        longest: int = 5,
        **options: Unpack[BatchOptions],
    ) -> Preview:
        """What :meth:`send_batch` would do, without sending anything (on the client's loop).

        The arguments are those of :func:`crowdsms.batch.preview_batch`.
        """
        from crowdsms.batch import preview_batch

        async def job() -> Preview:
            return await preview_batch(
                chunk_sender,
                recipients,
                journal=journal,
                job_id=job_id,
                longest=longest,
                **options,
            )

        return self._runner.call(job)

    def reconcile(
        self, journal: str | os.PathLike[str], job_id: str, *, sign: str | None = None
    ) -> DeliverySummary:
        """Apply the delivery reports in ``journal`` to job ``job_id``; return its summary.

        Where this provider keeps reports for pulling (its ``reports`` group has
        ``pull_events``), they are pulled with this client and stored first (replies to
        ``sign``); see :func:`crowdsms.batch.reconcile`.
        """
        from crowdsms.batch import reconcile

        provider = self._async.provider
        pull = getattr(getattr(self._async, "reports", None), "pull_events", None)

        async def job() -> DeliverySummary:
            return await reconcile(journal, job_id, provider=provider, pull=pull, sign=sign)

        return self._runner.call(job)

    def close(self) -> None:
        """Close the connections, then the event loop. Safe to call more than once."""
        self._runner.close(self._async.aclose)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} base_url={self.base_url!r} http={self._async.http_backend!r}>"
        )
