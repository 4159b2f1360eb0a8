"""How many billed SMS segments a message takes.

Mainland China's SMS providers bill a message of at most 70 characters as one segment. A
longer message is sent as a concatenated SMS whose parts each carry a header, so each part
holds 67 characters and the message is billed ``ceil(length / 67)`` segments: 71 characters
are 2 segments, 134 are 2, 135 are 3.

Every character counts, the 【signature】 and its brackets included, and a character is a
Python character (a Unicode code point), as the providers count: a Chinese character, a
letter and an emoji are one each. Nothing is counted in bytes or in UTF-16 units.

::

    from crowdsms.segments import count_segments

    count_segments("【小店】您的验证码是 1234")   # 1
    count_segments("【小店】" + "长" * 80)        # 84 characters: 2
"""

from __future__ import annotations

from typing import Final

from crowdsms.errors import InvalidInputError

__all__ = ["MULTIPART_SEGMENT_CHARS", "SINGLE_SEGMENT_CHARS", "count_segments"]

SINGLE_SEGMENT_CHARS: Final = 70
"""The most characters a message billed as one segment may have."""
MULTIPART_SEGMENT_CHARS: Final = 67
"""Characters per segment of a longer (concatenated) message."""


def _check_length(value: object, name: str, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(
            "must be a whole number of characters >= 1",
            field=name,
            received=repr(value)[:40],
            action=f"Pass e.g. {name}={default}, or leave it out",
        )
    return value


def count_segments(
    text: str, *, single: int = SINGLE_SEGMENT_CHARS, multi: int = MULTIPART_SEGMENT_CHARS
) -> int:
    """The segments ``text`` is billed as: 1 up to ``single`` characters, else
    ``ceil(len(text) / multi)``.

    Characters are Python characters (code points), the signature included. An empty text
    is one segment (providers refuse empty messages; nothing cheaper exists). Raises
    :class:`~crowdsms.errors.InvalidInputError` for a text that is not a ``str`` or lengths
    that are not whole numbers >= 1 (``multi`` may not exceed ``single``).
    """
    if not isinstance(text, str):
        raise InvalidInputError(
            f"must be the message text as a str, not {type(text).__name__}",
            field="text",
            received=repr(text)[:40],
            action="Pass the final message, variables filled in and signature included",
        )
    if single is not SINGLE_SEGMENT_CHARS or multi is not MULTIPART_SEGMENT_CHARS:
        # the defaults (the same int objects) skip the checks: a preview counts every message
        _check_length(single, "single", SINGLE_SEGMENT_CHARS)
        _check_length(multi, "multi", MULTIPART_SEGMENT_CHARS)
        if multi > single:
            raise InvalidInputError(
                f"multi ({multi}) must not exceed single ({single}): a part of a long message "
                "holds fewer characters than a one-segment message",
                field="multi",
                received=repr(multi),
                action=f"Pass multi <= {single}, e.g. the defaults single=70, multi=67",
            )
    length = len(text)
    if length <= single:
        return 1
    return -(-length // multi)
