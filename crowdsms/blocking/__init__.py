"""Blocking twins of the async clients, for code that is not async.

Each blocking client runs its async twin on one event loop in a background thread that lives
as long as the client, and has the same typed endpoint methods, returning plain values.
"""

from __future__ import annotations

from crowdsms.blocking._runner import EventLoopBlockedError
from crowdsms.blocking.crowdtask import CrowdTask
from crowdsms.blocking.paasw import Paasw
from crowdsms.blocking.sendcloud import SendCloud
from crowdsms.blocking.submail import Submail

__all__ = ["CrowdTask", "EventLoopBlockedError", "Paasw", "SendCloud", "Submail"]
