"""Small rules every provider emulator shares: valid numbers and SMS segments.

A message of up to 70 characters is one segment; a longer one is billed per 67 characters
(``SandboxSettings.segment_length`` and ``long_segment_length``).

Numbers are judged by :func:`crowdsms.phones.normalize_mainland_mobile` (libphonenumber's
data), which costs tens of microseconds per new number: too slow for a benchmark of a million
distinct recipients. For the 11-digit wire form, libphonenumber's mainland mobile pattern
(``1(?:610\\d|740[0-5])\\d{6}|1(?:[38]\\d|4[57]|...)\\d{8}``) looks at no more than the first
five digits, so the verdict is computed once per five-digit prefix (at most 7,000 of them)
and then reused; other spellings (``+86 ...``) go through the library each time, cached.
"""

from __future__ import annotations

import functools
import math
import re

from crowdsms.errors import InvalidInputError
from crowdsms.phones import normalize_mainland_mobile

__all__ = ["segments", "valid_number"]

_WIRE = re.compile(r"1[3-9]\d{9}")


@functools.lru_cache(maxsize=1 << 14)
def _normalized(raw: str) -> str | None:
    try:
        return normalize_mainland_mobile(raw)
    except InvalidInputError:
        return None


@functools.cache
def _prefix_is_mobile(prefix: str) -> bool:
    sample = prefix + "0" * (11 - len(prefix))
    return _normalized(sample) == sample


def valid_number(raw: object, *, strict: bool) -> str | None:
    """The 11-digit number ``raw`` stands for, or ``None`` if a provider would refuse it.

    With ``strict``, only the 11-digit wire form is accepted (``+86 138 ...`` is refused),
    because that is what the providers' examples send and what the SDK must send.
    """
    if not isinstance(raw, str):
        return None
    if len(raw) == 11 and _WIRE.fullmatch(raw):
        return raw if _prefix_is_mobile(raw[:5]) else None
    if strict or len(raw) > 40:
        return None
    return _normalized(raw)


def segments(text: str, length: int, long_length: int) -> int:
    """How many billed SMS segments ``text`` takes.

    One when it has at most ``length`` characters (code points, the signature included);
    a longer message is concatenated, ``long_length`` characters a part (each part carries a
    header), so it takes ``ceil(characters / long_length)``.
    """
    characters = len(text)
    if characters <= length:
        return 1
    return math.ceil(characters / long_length)
