"""`reconcile`: apply the reports a journal file holds (and pulls) to one job's recipients.

The job may be running: the webhook app records reports into the same file, and
``reconcile`` changes only chunks that are ``done`` (with a compare-and-set, so a chunk the
job rewrites meanwhile is left to the job). Chunks being sent are counted ``in_flight``, but
for the recipients per-number limits kept out of their requests, which are ``skipped``. If
the job is not running (its lock is free), chunks it left ``started`` when it stopped are
counted with the reports applied in memory; the journal keeps them ``started`` so that a
resumed job handles them as usual (resending them under the same idempotency key where the
provider has one).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from typing import IO

import anyio
import anyio.to_thread

from crowdsms.batch._journal import (
    JournalBusyError,
    JournalError,
    _lock,
    decode_kept_out,
    decode_outcomes,
    encode_outcomes,
    journal_has_job,
    prepare_journal,
)
from crowdsms.batch._stop import INTERRUPTED
from crowdsms.deliveries._match import CLOCK_MARGIN, Matcher
from crowdsms.deliveries._optout import OptOutWords
from crowdsms.deliveries._pull import PullEvents, pull_into
from crowdsms.deliveries._store import SQLiteDeliveryStore, load_reports
from crowdsms.deliveries._summary import DeliverySummary
from crowdsms.outcomes import OutcomeStatus, RecipientOutcome

__all__ = ["JobNotFoundError", "reconcile"]

_INTERRUPTED_MESSAGE = (
    "chunk {index} was being sent when its job stopped; no report confirms it yet"
)


class JobNotFoundError(JournalError):
    """The journal has no job of that id."""


@contextlib.contextmanager
def _job_lock(path: str) -> Iterator[IO[bytes] | bool | None]:
    """The job's lock if it is free (the job is not running), else ``False``."""
    try:
        lock = _lock(path)
    except JournalBusyError:
        yield False
        return
    try:
        yield lock
    finally:
        if lock is not None:
            lock.close()


def _reconcile(path: str, job_id: str, provider: str | None, pulled: int) -> DeliverySummary:
    with (
        contextlib.closing(
            sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        ) as connection,
        _job_lock(path) as lock,
    ):
        prepare_journal(connection)
        running = lock is False
        row = connection.execute("SELECT created FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            known = [r[0] for r in connection.execute("SELECT job_id FROM jobs LIMIT 20")]
            raise JobNotFoundError(
                f"the journal has no job {job_id!r}",
                received=f"{path!r}; its jobs: {', '.join(known) or 'none'}",
                action="Pass the job id the job was sent with (--job-id), and its journal",
            )
        reports = load_reports(connection, since=float(row[0]) - CLOCK_MARGIN, provider=provider)
        matcher = Matcher.of(job_id, reports, started=float(row[0]) or None)
        outcomes: list[RecipientOutcome] = []
        in_flight = 0
        rows = connection.execute(
            "SELECT idx, state, outcomes, phones, started_at, resends, kept_out, sent_at "
            "FROM chunks "
            "WHERE job_id = ? "
            "ORDER BY idx",
            (job_id,),
        ).fetchall()
        for index, state, text, phones, started_at, resends, kept, sent_at in rows:
            if state == "pending":
                continue
            if state == "started":
                kept_out = (
                    decode_kept_out(kept, started_at=started_at, sent_at=sent_at) if kept else None
                ) or {}
                if running:  # those limits kept out of its request are settled: skipped
                    in_flight += len(_phones(phones)) - len(kept_out)
                    outcomes += [kept_out[offset] for offset in sorted(kept_out)]
                    continue
                interrupted = [
                    RecipientOutcome(
                        phone=phone,
                        status=OutcomeStatus.UNKNOWN,
                        code=INTERRUPTED,
                        message=_INTERRUPTED_MESSAGE.format(index=index),
                    )
                    for phone in _phones(phones)
                ]
                for offset, outcome in kept_out.items():  # never in its request
                    interrupted[offset] = outcome
                outcomes += matcher.apply(index, started_at, interrupted, resent=resends > 0)
                continue
            recorded = decode_outcomes(text)
            settled = matcher.apply(index, started_at, recorded, resent=resends > 0)
            if settled != recorded:
                connection.execute(
                    "UPDATE chunks SET outcomes = ? WHERE job_id = ? AND idx = ? "
                    "AND state = 'done' AND outcomes = ?",
                    (encode_outcomes(settled), job_id, index, text),
                )
            outcomes += settled
        matched = len(matcher.matched)
        return DeliverySummary.count(
            job_id,
            outcomes,
            in_flight=in_flight,
            reports=matched,
            unmatched_reports=sum(1 for report in reports if report.key not in matcher.matched),
            pulled=pulled,
        )


def _phones(text: str) -> list[str]:
    return [str(phone) for phone in json.loads(text)]


async def reconcile(
    journal: str | os.PathLike[str],
    job_id: str,
    *,
    provider: str | None = None,
    pull: PullEvents | None = None,
    sign: str | None = None,
    opt_out_words: OptOutWords | None = None,
) -> DeliverySummary:
    """Apply the delivery reports in ``journal`` to job ``job_id``; return its summary.

    With ``pull`` (e.g. ``client.reports.pull_events`` where a provider queues reports), queued
    reports and replies (to ``sign``) are pulled first and stored in the journal before they are
    applied (a pull removes them at the provider). ``provider`` limits the reports applied to
    that provider's. ``unknown`` recipients with a report become ``sent`` (confirmed), and every
    sent recipient gets its delivery state; the journal keeps the result, so a resumed job,
    ``crowdsms reconcile`` and the job's outcomes agree. Safe while the job runs.
    """
    path = os.fspath(journal)
    if not await anyio.Path(path).is_file():
        raise JournalError(
            "the journal file does not exist",
            received=repr(path),
            action="Pass the --journal file the job was sent with",
        )
    # Read-only first: a file that is no journal (a text file, another database) gets a
    # clear error and is left as it was, never given the journal's tables.
    await anyio.to_thread.run_sync(journal_has_job, path, job_id)
    pulled = 0
    if pull is not None:
        store = await SQLiteDeliveryStore.open(path)
        try:
            pulled = await pull_into(pull, store, sign=sign, words=opt_out_words)
        finally:
            await store.aclose()
    with anyio.CancelScope(shield=True):
        summary = await anyio.to_thread.run_sync(_reconcile, path, job_id, provider, pulled)
    return summary  # noqa: RET504 (mypy: a cancel scope may swallow the return)
