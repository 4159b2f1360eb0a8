"""Delivery reports close the loop: confirm ``unknown`` recipients, count deliveries, opt-outs.

A send whose answer was lost leaves its recipients ``unknown``: the provider may have sent
them. The provider's reports say what really happened. This package keeps them and joins
them with what a job sent:

- :class:`ReportRecorder` stores every report and reply the webhook app receives (or a
  pull returns) in a :class:`DeliveryStore`: the job's SQLite journal
  (:class:`SQLiteDeliveryStore`, safe to write from another process while the job runs) or
  a campaign's shared store.
- :class:`Matcher` ties reports to recipients (by the chunk reference a request carried, by
  message id, or by number within the job's time window for a request whose answer was
  lost); an ``unknown`` recipient with a report becomes ``sent`` and ``confirmed``, and every
  sent recipient gets a :class:`~crowdsms.outcomes.Delivery` state.
- :class:`OptOutWords` recognizes replies that mean "stop" (``T``, ``TD``, ``退订``, ``R``);
  their numbers go on the store's suppression list, which later jobs skip (``opted_out``).

``crowdsms.batch.reconcile`` (and ``crowdsms reconcile JOB``) runs it for a journal's job.
"""

from crowdsms.deliveries._match import CLOCK_MARGIN, CONFIRMED_MESSAGE, Matcher
from crowdsms.deliveries._optout import DEFAULT_OPT_OUT_WORDS, OptOutWords
from crowdsms.deliveries._pull import PullEvents, UnreadablePulledError, pull_into
from crowdsms.deliveries._recorder import ReportRecorder
from crowdsms.deliveries._reference import (
    ChunkReference,
    chunk_reference,
    job_hash,
    parse_reference,
)
from crowdsms.deliveries._reports import (
    InboundReply,
    ProviderReport,
    ReportKind,
    record_of,
    report_phone,
)
from crowdsms.deliveries._store import DeliveryStore, RecordResult, SQLiteDeliveryStore
from crowdsms.deliveries._summary import DeliverySummary
from crowdsms.outcomes import Delivery, DeliveryState

__all__ = [
    "CLOCK_MARGIN",
    "CONFIRMED_MESSAGE",
    "DEFAULT_OPT_OUT_WORDS",
    "ChunkReference",
    "Delivery",
    "DeliveryState",
    "DeliveryStore",
    "DeliverySummary",
    "InboundReply",
    "Matcher",
    "OptOutWords",
    "ProviderReport",
    "PullEvents",
    "RecordResult",
    "ReportKind",
    "ReportRecorder",
    "SQLiteDeliveryStore",
    "UnreadablePulledError",
    "chunk_reference",
    "job_hash",
    "parse_reference",
    "pull_into",
    "record_of",
    "report_phone",
]
