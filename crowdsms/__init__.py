"""crowdsms: an async-first, typed SDK for SUBMAIL, SendCloud SMS, CrowdTask and paasw.

Async clients: :class:`AsyncSubmail`, :class:`AsyncSendCloud`, :class:`AsyncCrowdTask`,
:class:`AsyncPaasw`. Blocking twins with the same typed methods: :class:`Submail`,
:class:`SendCloud`, :class:`CrowdTask`, :class:`Paasw`. Errors live in
:mod:`crowdsms.errors`; each provider's package (``crowdsms.providers.submail``, ...) holds
its models, code table, signing function and webhook receivers.
"""

from __future__ import annotations

from crowdsms._client import ClientOptions
from crowdsms._loops import EventLoopBlockedError
from crowdsms._secret import Secret
from crowdsms._transport import RetryBudget, RetryPolicy, Runtime, TokenBucket
from crowdsms.errors import CrowdSMSError, DeliveryCertainty
from crowdsms.outcomes import ChunkSender, OutcomeStatus, Recipient, RecipientOutcome
from crowdsms.phones import normalize_mainland_mobile
from crowdsms.providers.crowdtask import AsyncCrowdTask, CrowdTask
from crowdsms.providers.paasw import AsyncPaasw, Paasw
from crowdsms.providers.sendcloud import AsyncSendCloud, SendCloud
from crowdsms.providers.submail import AsyncSubmail, Submail

__version__ = "0.1.0"

__all__ = [
    "AsyncCrowdTask",
    "AsyncPaasw",
    "AsyncSendCloud",
    "AsyncSubmail",
    "ChunkSender",
    "ClientOptions",
    "CrowdSMSError",
    "CrowdTask",
    "DeliveryCertainty",
    "EventLoopBlockedError",
    "OutcomeStatus",
    "Paasw",
    "Recipient",
    "RecipientOutcome",
    "RetryBudget",
    "RetryPolicy",
    "Runtime",
    "Secret",
    "SendCloud",
    "Submail",
    "TokenBucket",
    "__version__",
    "normalize_mainland_mobile",
]
