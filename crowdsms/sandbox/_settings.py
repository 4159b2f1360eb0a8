"""The sandbox's settings: what every emulator shares, and each provider's own settings.

Every default is deterministic, and each emulator's default credentials are public
constants, so tests and examples can sign requests without configuration. Every guess about
a provider that its documents leave open is a setting of its emulator, with a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from crowdsms._suggest import did_you_mean
from crowdsms.sandbox._faults import FaultSettings

__all__ = ["SandboxSettings"]


def _with_defaults(given: Mapping[str, Any]) -> Mapping[str, Any]:
    from crowdsms.sandbox.emulators import emulator_classes

    classes = emulator_classes()
    unknown = set(given) - set(classes)
    if unknown:
        name = sorted(unknown)[0]
        raise ValueError(
            f"the sandbox has no provider {name!r}{did_you_mean(name, classes)}; "
            f"it has {', '.join(classes)}"
        )
    settings = {}
    for name, cls in classes.items():
        value = given.get(name)
        if value is None:
            value = cls.settings_class()
        elif not isinstance(value, cls.settings_class):
            raise TypeError(
                f"the {name} settings must be a {cls.settings_class.__name__}, "
                f"not {type(value).__name__}"
            )
        settings[name] = value
    return settings


@attrs.frozen(kw_only=True)
class SandboxSettings:
    """Everything the sandbox can be configured with; every field has a default.

    ``clock_offset`` and ``faults`` are the starting values: change them at runtime through
    :class:`~crowdsms.sandbox.Sandbox` or the ``/_sandbox`` admin endpoints.
    """

    providers: Mapping[str, Any] = attrs.field(factory=dict, converter=_with_defaults)
    """Provider name -> its emulator's settings; providers left out get the defaults."""
    initial_balance: int = 1_000_000
    """Starting balance of every account, in SMS segments."""
    clock_offset: float = 0.0
    """Seconds the sandbox's clock starts ahead of the wall clock."""
    latency: float = 0.0
    """Seconds every provider request waits before it is handled."""
    faults: FaultSettings = attrs.field(factory=FaultSettings)
    """Starting fault probabilities and seed."""
    seed: int = 0
    """Seed of ids, tokens and delivery outcomes."""
    delivery_failure_rate: float = 0.0
    """Fraction of sent messages whose delivery report says they failed."""
    blocked_numbers: frozenset[str] = attrs.field(factory=frozenset, converter=frozenset)
    """Numbers every provider refuses, each in its own way (a code, a failed item)."""
    strict_phone_format: bool = True
    """Accept only the 11-digit form of a number (what the SDK must send), not ``+86 ...``."""
    segment_length: int = 70
    """The most characters of a message billed as one SMS segment."""
    long_segment_length: int = 67
    """Characters per billed segment of a longer message (each part of a concatenated SMS
    carries a header): 71 to 134 characters are 2 segments, 135 are 3."""
    webhooks: Mapping[str, str] = attrs.field(factory=dict)
    """provider -> URL that delivery reports (and replies, unless ``reply_webhooks``) go to."""
    reply_webhooks: Mapping[str, str] = attrs.field(factory=dict)
    """provider -> URL that replies go to (providers that push replies)."""
    webhook_attempts: int = 3
    """Attempts per push before it is given up."""
    webhook_retry_delay: float = 0.2
    """Seconds before the second attempt of a push; doubled for each further attempt."""
    webhook_timeout: float = 5.0
    """Seconds one push attempt may take."""
    webhook_delay: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    """Seconds a delivery report push waits before its first attempt (as a carrier's report
    comes later than the send's answer). Other pushes (request events, replies) are not
    delayed, and a delayed push holds back no other push."""

    def provider(self, name: str) -> Any:
        """The settings of provider ``name``'s emulator."""
        try:
            return self.providers[name]
        except KeyError:
            raise KeyError(
                f"the sandbox has no provider {name!r}{did_you_mean(name, self.providers)}"
            ) from None
