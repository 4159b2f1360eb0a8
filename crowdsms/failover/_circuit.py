"""The providers a failover sender has stopped using for the rest of a job, and why."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType

from crowdsms.errors import CrowdSMSError

__all__ = ["FailoverCircuit"]

logger = logging.getLogger("crowdsms.failover")


class FailoverCircuit:
    """Which providers are no longer tried, each with the error that stopped it.

    A provider's circuit opens after a refusal every further request would meet too (refused
    credentials or signature, an exhausted balance, a message the provider refuses as a
    whole: see :mod:`crowdsms.failover`), so a job does not keep sending it requests that
    can only be refused. It stays open until :meth:`close` (or :meth:`close_all`): make a
    new failover sender, or close it, for a new job once the cause is fixed.

    One circuit belongs to one failover sender (or is shared by the
    :func:`~crowdsms.failover.failover_send` calls given it); it is meant for one event
    loop and is not thread-safe.
    """

    def __init__(self) -> None:
        self._open: dict[str, CrowdSMSError] = {}

    def __repr__(self) -> str:
        return f"<FailoverCircuit open={sorted(self._open)!r}>"

    @property
    def opened(self) -> Mapping[str, CrowdSMSError]:
        """Provider name -> the error that stopped it (read-only, live)."""
        return MappingProxyType(self._open)

    def is_open(self, name: str) -> bool:
        """Whether provider ``name`` is no longer tried."""
        return name in self._open

    def open(self, name: str, error: CrowdSMSError) -> None:
        """Stop trying provider ``name`` because of ``error`` (the first error is kept)."""
        if name in self._open:
            return
        self._open[name] = error
        logger.warning(
            "failover: %s refused in a way every further request would be (%s); it is not "
            "tried again",
            name,
            error,
        )

    def close(self, name: str) -> None:
        """Try provider ``name`` again (nothing happens if it was not stopped)."""
        self._open.pop(name, None)

    def close_all(self) -> None:
        """Try every provider again."""
        self._open.clear()
