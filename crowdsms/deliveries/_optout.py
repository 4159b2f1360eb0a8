"""Replies that mean "stop sending to me" (退订).

Chinese marketing messages end with a hint such as "回T退订" or "拒收请回复R", and
recipients answer with one of a few words. A reply opts out when, after normalizing
(Unicode NFKC, so full-width ``Ｔ`` is ``T``; case folded; spaces and punctuation around it
removed), it is exactly one of the words. A longer text that merely contains a word
("T恤多少钱") does not opt out: a false opt-out silently loses a customer.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import attrs

__all__ = ["DEFAULT_OPT_OUT_WORDS", "OptOutWords"]

DEFAULT_OPT_OUT_WORDS: tuple[str, ...] = ("T", "TD", "退订", "R")
"""The replies that opt out by default."""

_STRIP = " \t\r\n\u3000.,!?;:'\"()[]{}<>。，！？；：、“”‘’（）【】《》…-—~"


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip(_STRIP).casefold()


def _words(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError("opt-out words must be a list of texts, not one text")
    return tuple(value)


@attrs.frozen
class OptOutWords:
    """The words whose reply opts a number out; ``OptOutWords(("T", "TD"))`` to choose."""

    words: tuple[str, ...] = attrs.field(default=DEFAULT_OPT_OUT_WORDS, converter=_words)
    _normalized: frozenset[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        normalized = frozenset(_normalize(word) for word in self.words)
        if "" in normalized or not normalized:
            raise ValueError("opt-out words must be non-empty texts")
        object.__setattr__(self, "_normalized", normalized)

    def means_stop(self, reply: str) -> bool:
        """Whether ``reply`` opts its sender out."""
        return _normalize(reply) in self._normalized

    @classmethod
    def of(cls, words: Iterable[str] | None) -> OptOutWords:
        """The defaults for ``None``, else ``words``."""
        return cls() if words is None else cls(tuple(words))
