"""The batch sender: millions of recipients, bounded memory, one outcome each, resumable.

::

    from crowdsms.batch import BatchSender, JsonlSink, read_recipients_csv

    chunk_sender = ...  # a ChunkSender, from a provider client's endpoint group
    recipients = read_recipients_csv("contacts.csv", phone_column="mobile", var_columns=["name"])
    report = await BatchSender(chunk_sender, rate=200).send(
        recipients, sink=JsonlSink("outcomes.jsonl"), journal="job.sqlite", job_id="2024-05-promo"
    )
    print(report)

    async with BatchSender(chunk_sender) as sender:      # or iterate the outcomes
        async for outcome in sender.stream(recipients):
            ...

How a job runs:

1. Recipients are read lazily from any iterable or async iterable (or a CSV file with
   :func:`read_recipients_csv`, which detects UTF-8 or GB18030 with :func:`detect_encoding`
   unless given an encoding). Each is validated and normalized by the chunk sender; an
   invalid one is ``skipped`` with code ``"invalid"``, a repeated number ``skipped`` with code
   ``"duplicate"`` (the first occurrence is sent), and a number that replied "stop" (on the
   journal's suppression list) ``skipped`` with code ``"opted_out"``. With a
   ``number_limiter`` (:mod:`crowdsms.limits`), a number that reached a per-number limit is
   ``skipped`` with code ``"number_limited"`` just before its chunk is sent.
2. The rest are cut into chunks of the provider's size and sent by a fixed pool of workers
   under a concurrency limit and an optional recipients-per-second rate, slowing down after a
   429 and recovering gradually (:mod:`crowdsms.batch._control`).
3. Every recipient ends with exactly one :class:`BatchOutcome` (``sent``, ``failed``,
   ``unknown`` or ``skipped``), delivered in input order to a sink, a callback or an async
   iterator, and counted in the :class:`BatchReport`. ``unknown`` means the request may have
   been processed: :func:`reconcile` applies the provider's delivery reports (recorded in
   the journal by the webhook app, or pulled) and turns those the provider had into
   ``sent`` (confirmed); see :mod:`crowdsms.deliveries`.

Memory stays proportional to the concurrency, not to the size of the job; the only part that
grows is the set of numbers seen, kept at about 9.5 bytes per distinct mainland number.

Before sending: :meth:`BatchSender.preview` (and :func:`preview_batch`) reads the whole input
and screens and chunks it as a job would, without a request, and returns a :class:`Preview`:
counts, requests, SMS segments and the estimated cost. ``BatchSender(max_segments=...,
max_cost=...)`` caps what a job may spend: it stops before a chunk that could pass the cap
(code ``"spend_cap"``), and a resumed job keeps its budget (see :mod:`crowdsms.batch._budget`).

Resuming: with ``journal=path`` and ``job_id=...``, each chunk is recorded (SQLite, committed
at each step) as pending, then started just before its request, then done with its outcomes.
Running the same job again with the same input re-emits the outcomes of done chunks, sends the
chunks that never started, and reports the chunks that were in flight as ``unknown`` (code
``"interrupted"``), or resends them with the same idempotency key when the provider supports
one (the key the journal records for the chunk's last request; if that resend cannot go, they
stay ``unknown``). A journal recorded for a different input or chunk size is refused with
:class:`JournalMismatchError`. A resumed job first applies the reports its journal holds;
with ``resend_unconfirmed_after`` it sends again the recipients still ``unknown`` that long
after their send (at-least-once, never by default).

A job that cannot go on once it has started (a row that cannot be decoded, a journal that
does not match the input further on, a sink that fails) stops like an interrupted one: no new
chunks, requests in flight finish and are journaled, and every chunk read so far has its
outcomes. Then it raises the error, which carries the job's report (:func:`report_of`); with
a journal, running the job again once the cause is fixed resumes it.
"""

from __future__ import annotations

from crowdsms.batch._budget import SPEND_CAP, SpendCapReached
from crowdsms.batch._chunking import idempotency_key
from crowdsms.batch._control import SharedPace
from crowdsms.batch._dispatch import DEFAULT_CHUNK_RETRY, WRONG_OUTCOME_COUNT
from crowdsms.batch._input import (
    DETECT_PREFIX_BYTES,
    SHORT_ROW,
    RecipientSource,
    ShortRows,
    detect_encoding,
    read_csv_header,
    read_recipients_csv,
)
from crowdsms.batch._job import ProgressCallback
from crowdsms.batch._journal import (
    ChunkReleasedError,
    ChunkTakenError,
    JobJournal,
    JournalBusyError,
    JournalError,
    JournalMismatchError,
    JournalStorageError,
    journal_has_job,
)
from crowdsms.batch._limited import NUMBER_LIMITED
from crowdsms.batch._preview import BalanceUnit, LongMessage, Preview
from crowdsms.batch._reconcile import JobNotFoundError, reconcile
from crowdsms.batch._report import BatchOutcome, BatchProgress, BatchReport, report_of
from crowdsms.batch._screen import SKIPPED_DUPLICATE, SKIPPED_INVALID, SKIPPED_OPTED_OUT
from crowdsms.batch._sender import (
    DEFAULT_CONCURRENCY,
    BatchOptions,
    BatchSender,
    BlockingRunner,
    OutcomeStream,
    preview_batch,
    run_batch_blocking,
    send_batch,
)
from crowdsms.batch._sinks import CallbackSink, CsvSink, JsonlSink, OutcomeCallback, OutcomeSink
from crowdsms.batch._stop import INTERRUPTED, NOT_SENT
from crowdsms.batch._window import SendWindow

__all__ = [
    "DEFAULT_CHUNK_RETRY",
    "DEFAULT_CONCURRENCY",
    "DETECT_PREFIX_BYTES",
    "INTERRUPTED",
    "NOT_SENT",
    "NUMBER_LIMITED",
    "SHORT_ROW",
    "SKIPPED_DUPLICATE",
    "SKIPPED_INVALID",
    "SKIPPED_OPTED_OUT",
    "SPEND_CAP",
    "WRONG_OUTCOME_COUNT",
    "BalanceUnit",
    "BatchOptions",
    "BatchOutcome",
    "BatchProgress",
    "BatchReport",
    "BatchSender",
    "BlockingRunner",
    "CallbackSink",
    "ChunkReleasedError",
    "ChunkTakenError",
    "CsvSink",
    "JobJournal",
    "JobNotFoundError",
    "JournalBusyError",
    "JournalError",
    "JournalMismatchError",
    "JournalStorageError",
    "JsonlSink",
    "LongMessage",
    "OutcomeCallback",
    "OutcomeSink",
    "OutcomeStream",
    "Preview",
    "ProgressCallback",
    "RecipientSource",
    "SendWindow",
    "SharedPace",
    "ShortRows",
    "SpendCapReached",
    "detect_encoding",
    "idempotency_key",
    "journal_has_job",
    "preview_batch",
    "read_csv_header",
    "read_recipients_csv",
    "reconcile",
    "report_of",
    "run_batch_blocking",
    "send_batch",
]
