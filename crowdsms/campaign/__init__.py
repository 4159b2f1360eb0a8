"""Campaigns across processes and machines: shared claims and one shared rate limit, in Redis.

A campaign is a batch job run by many workers at once (processes, machines, later Celery
tasks). Two guarantees must hold across all of them, and Redis keeps them:

* every chunk is sent at most once: a worker claims a chunk before sending it
  (:class:`ClaimStore`), durably, and only the claim's holder can finish it;
* the provider's rate limit is one limit for everyone (:class:`SharedRateLimiter`): permits
  are paced on the Redis server's clock, and a 429 seen by one worker slows every worker.

Delivery reports of every campaign of a store are kept in it (:class:`RedisDeliveryStore`,
fed by a :class:`~crowdsms.webhooks.WebhookApp` with a
:class:`~crowdsms.deliveries.ReportRecorder`): :meth:`Campaign.reconcile` confirms the
recipients whose answer was lost, a resume with ``resend_unconfirmed_after`` sends the still
unconfirmed again (at-least-once, only when asked), and numbers that replied "stop" are
skipped by the campaigns created after.

::

    from crowdsms.campaign import ClaimStore, SharedRateLimiter, connect, durability

    redis = connect("redis://127.0.0.1:6379/0")
    store = ClaimStore(redis, "2024-05-promo", await durability(redis))
    limiter = SharedRateLimiter(redis, "crowdsms:rate:<provider>:<account>", rate=20, burst=4)

:func:`durability` refuses a server that acknowledges writes before they are on disk (a claim
lost in a crash means a chunk sent twice) unless ``allow_volatile=True``. On a server with
replicas (:func:`connected_replicas`), a campaign's claims wait until every replica has
them (``WAIT``), so that a replica promoted when the server fails holds every claim acted
on. Needs the ``campaign`` extra (``pip install 'crowdsms[campaign]'``, which brings
redis-py) and runs on asyncio.
"""

from __future__ import annotations

try:
    import redis.asyncio  # noqa: F401 (checked here so that a missing extra is one line)
except ImportError as error:  # pragma: no cover - depends on the environment
    from crowdsms.errors import ConfigurationError

    raise ConfigurationError(
        "crowdsms.campaign needs redis-py, part of the campaign extra",
        received=str(error),
        action="Install it with: pip install 'crowdsms[campaign]'",
    ) from error

from crowdsms.campaign._campaign import Campaign, CampaignNotFoundError, CampaignStatus
from crowdsms.campaign._claims import ClaimCounts, Claimed, ClaimResult, ClaimStore, Done, Held
from crowdsms.campaign._codec import decode_outcomes, encode_outcomes
from crowdsms.campaign._deliveries import DEFAULT_REPORT_RETENTION, RedisDeliveryStore
from crowdsms.campaign._journal import ClaimJournal
from crowdsms.campaign._limiter import Permit, SharedRateLimiter
from crowdsms.campaign._plan import CampaignPlan, ShardPlan, plan_input
from crowdsms.campaign._redis import (
    WAITAOF_TIMEOUT,
    Durability,
    LuaScript,
    ReplicasBehindError,
    connect,
    connected_replicas,
    durability,
    make_durable,
)

__all__ = [
    "DEFAULT_REPORT_RETENTION",
    "WAITAOF_TIMEOUT",
    "Campaign",
    "CampaignNotFoundError",
    "CampaignPlan",
    "CampaignStatus",
    "ClaimCounts",
    "ClaimJournal",
    "ClaimResult",
    "ClaimStore",
    "Claimed",
    "Done",
    "Durability",
    "Held",
    "LuaScript",
    "Permit",
    "RedisDeliveryStore",
    "ReplicasBehindError",
    "ShardPlan",
    "SharedRateLimiter",
    "connect",
    "connected_replicas",
    "decode_outcomes",
    "durability",
    "encode_outcomes",
    "make_durable",
    "plan_input",
]
