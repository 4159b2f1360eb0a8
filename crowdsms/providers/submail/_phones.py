"""Recipients' numbers, normalized fast enough for jobs of millions (the batch sender).

:func:`crowdsms.phones.normalize_mainland_mobile` judges a number with libphonenumber's data,
which costs about 40 us per number: twice what all the rest of a multisend request costs per
recipient. Large jobs give numbers in the wire form already (11 ASCII digits ``1[3-9]...``),
and for that form libphonenumber's verdict depends on the first five digits only: its
mainland mobile pattern is ``1(?:610\\d|740[0-5])\\d{6}|1(?:[38]\\d|4[57]|[59][0-35-9]|
6[25-7]|7[0-35-8])\\d{8}``, and no other pattern of its CN data (landlines, toll-free,
shared-cost numbers) matches 11 digits starting with ``1[3-9]``. The SUBMAIL tests check
that premise against the installed libphonenumber for every prefix.

So the first number accepted with a given five-digit prefix goes through the library, and
later numbers in the wire form with the same prefix are accepted at once. Only acceptance is
remembered (at most 70,000 prefixes): every other number, in another spelling or invalid,
takes the library's path and gets its error message.
"""

from __future__ import annotations

import re
from typing import Final

from crowdsms.phones import normalize_mainland_mobile

__all__ = ["is_known_mobile", "normalize_phone"]

_WIRE: Final = re.compile(r"1[3-9][0-9]{9}")
_PREFIX: Final = 5
_accepted_prefixes: set[str] = set()


def is_known_mobile(raw: object) -> bool:
    """Whether ``raw`` is an 11-digit wire-form number with a prefix already accepted."""
    # An accepted prefix is five ASCII digits "1[3-9]...", so the rest must be ASCII digits.
    return (
        type(raw) is str
        and len(raw) == 11
        and raw[:_PREFIX] in _accepted_prefixes
        and raw.isascii()
        and raw.isdigit()
    )


def normalize_phone(raw: object, *, field: str, position: int | None = None) -> str:
    """:func:`~crowdsms.phones.normalize_mainland_mobile`, fast for known wire-form prefixes."""
    if is_known_mobile(raw):
        assert isinstance(raw, str)
        return raw
    phone = normalize_mainland_mobile(raw, field=field, position=position)
    if phone == raw and _WIRE.fullmatch(phone) is not None:
        _accepted_prefixes.add(phone[:_PREFIX])
    return phone
