"""Failover without double sends: the next provider gets only what provably was not sent.

Other SDKs move to the next gateway after a timeout, and so send some messages twice: a
timed-out request may well have been processed. crowdsms knows, for every failure, whether
the provider may have acted on it (:class:`~crowdsms.errors.DeliveryCertainty`), and for
every refusal what it is about (each provider's code table), so failover here moves on only
when that is safe and useful::

    from crowdsms.failover import FailoverChunkSender, failover_send

    sender = FailoverChunkSender([("primary", chunks_1), ("backup", chunks_2)])
    report = await BatchSender(sender).send(recipients, journal="job.sqlite", job_id="promo")

    result = await failover_send([("primary", lambda: a.sms.send(...)),
                                  ("backup", lambda: b.sms.send(...))])
    result.provider, result.value

The rules (see :mod:`crowdsms.failover._rules` for the code families):

- ``NOT_SENT`` failures of a whole request (a refused connection, 503 or 429 answers after
  the client's own retries, a refusal about the provider itself: credentials, signature,
  balance, its template, its clock) go to the next provider.
- ``UNKNOWN`` failures (the request may have been processed: a read timeout, a connection
  lost while waiting for the answer) never do: the recipients stay ``unknown``, naming the
  provider, to be settled with its delivery reports.
- Per-recipient refusals go on only when the provider's code table says they are about the
  provider's side (its balance, its template under review); an invalid, blocklisted or
  unsubscribed number, or a per-number limit, stays ``failed``: another provider would (or
  should) refuse it too. Errors raised before any request (``InvalidInputError``) never go
  on.
- A refusal every further request would meet (``job_wide``: credentials, signature,
  balance, a message refused as a whole) stops using that provider for the rest of the job
  (:class:`FailoverCircuit`), so a batch does not hammer it.

Every outcome says which provider answered for it: :attr:`RecipientOutcome.provider
<crowdsms.outcomes.RecipientOutcome.provider>`. :class:`MessageOptions` (each provider's
message definition, for :meth:`FailoverChunkSender.from_registry`) is re-exported here.
"""

from __future__ import annotations

from crowdsms.failover._chunks import INVALID_FOR_PROVIDER, WRONG_OUTCOME_COUNT, FailoverChunkSender
from crowdsms.failover._circuit import FailoverCircuit
from crowdsms.failover._routes import FailoverRoute, RouteLike
from crowdsms.failover._rules import (
    ACCOUNT_SIDE,
    PROVIDER_SIDE,
    error_fails_over,
    error_opens_circuit,
    refusal_fails_over,
    refusal_opens_circuit,
)
from crowdsms.failover._single import (
    FailoverError,
    FailoverResult,
    failover_send,
    failover_send_blocking,
)
from crowdsms.providers._spec import MessageOptions

__all__ = [
    "ACCOUNT_SIDE",
    "INVALID_FOR_PROVIDER",
    "PROVIDER_SIDE",
    "WRONG_OUTCOME_COUNT",
    "FailoverChunkSender",
    "FailoverCircuit",
    "FailoverError",
    "FailoverResult",
    "FailoverRoute",
    "MessageOptions",
    "RouteLike",
    "error_fails_over",
    "error_opens_circuit",
    "failover_send",
    "failover_send_blocking",
    "refusal_fails_over",
    "refusal_opens_circuit",
]
