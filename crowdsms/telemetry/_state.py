"""What is switched on: OpenTelemetry (when installed), the hooks, or nothing.

Whether OpenTelemetry is installed is found once, when crowdsms is imported, without
importing it; it is imported the first time crowdsms has something to record. When neither
OpenTelemetry nor a hook is there, :attr:`State.active` is false and the probes in the
transport and the batch sender are shared no-op objects. When OpenTelemetry is there but
no SDK is configured (and no hook), :meth:`State.live` is false: a job decides so once,
when it starts, and its chunks and calls skip the probes as cheaply.
"""

from __future__ import annotations

import importlib.util
import logging
from importlib import metadata
from typing import TYPE_CHECKING, Any

from crowdsms.telemetry._hooks import Hook, HookSet

if TYPE_CHECKING:
    from crowdsms.telemetry._otel import Instruments

__all__ = ["OPENTELEMETRY_INSTALLED", "STATE", "State"]

logger = logging.getLogger("crowdsms.telemetry")


def _installed() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.trace") is not None
    except (ImportError, ValueError):
        return False


OPENTELEMETRY_INSTALLED = _installed()
"""Whether ``opentelemetry-api`` can be imported (found without importing it)."""


def _version() -> str:
    try:
        return metadata.version("crowdsms")
    except metadata.PackageNotFoundError:
        return "0"


class State:
    """The process's telemetry settings: hooks, OpenTelemetry on or off, its providers."""

    def __init__(self) -> None:
        self.hooks = HookSet()
        self.otel_enabled = OPENTELEMETRY_INSTALLED
        self.tracer_provider: Any = None
        self.meter_provider: Any = None
        self._instruments: Instruments | None = None
        self._configured = False
        self.active = self.otel_enabled
        """Whether anything may record: the probes are no-ops when it is false."""

    def _update(self) -> None:
        self.active = self.otel_enabled or bool(self.hooks.hooks)

    def instruments(self) -> Instruments | None:
        """The OpenTelemetry instruments, created (and OpenTelemetry imported) on first use."""
        if not self.otel_enabled:
            return None
        if self._instruments is None:
            try:
                from crowdsms.telemetry._otel import Instruments
            except ImportError as exc:  # installed but broken: carry on without it
                logger.warning("telemetry: OpenTelemetry could not be imported (%s)", exc)
                self.otel_enabled = False
                self._update()
                return None
            self._instruments = Instruments(
                version=_version(),
                tracer_provider=self.tracer_provider,
                meter_provider=self.meter_provider,
            )
        return self._instruments

    def otel(self) -> Instruments | None:
        """The instruments, if OpenTelemetry is on and an SDK is configured to record them.

        With the global providers still OpenTelemetry's proxies (no SDK configured), spans
        would not record and instruments would do nothing: ``None``, so that the probes
        skip the work. Once a provider is configured it stays so (OpenTelemetry sets the
        global ones once), and the answer is remembered.
        """
        if self._configured:
            return self._instruments
        instruments = self.instruments()
        if instruments is None or not instruments.configured():
            return None
        self._configured = True
        return instruments

    def live(self) -> bool:
        """Whether a call or a job starting now is recorded by anything."""
        return bool(self.hooks.hooks) or self.otel() is not None

    def use_opentelemetry(
        self, enabled: bool, *, tracer_provider: Any, meter_provider: Any
    ) -> None:
        """Switch OpenTelemetry on (with these providers, or the global ones) or off."""
        self.otel_enabled = enabled
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self._instruments = None
        self._configured = False
        self._update()

    def add(self, hook: Hook) -> None:
        """Start calling ``hook``."""
        self.hooks = HookSet.of((*self.hooks.hooks, hook))
        self._update()

    def remove(self, hook: Hook) -> None:
        """Stop calling ``hook``, if it is registered."""
        self.hooks = HookSet.of(tuple(h for h in self.hooks.hooks if h is not hook))
        self._update()


STATE = State()
"""The one state of the process."""
