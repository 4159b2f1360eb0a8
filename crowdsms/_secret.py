"""A wrapper that keeps keys, secrets and tokens out of reprs, logs and error messages."""

from __future__ import annotations

from typing import Final

__all__ = ["Secret"]

_MASK: Final = "********"


class Secret:
    """A credential whose value only leaves through :meth:`reveal`.

    ``repr()``, ``str()`` and formatting show a mask, so a secret cannot leak through a log
    record, an exception message or a debugger's variable view by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """Return the secret's value, for signing only."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled; pass credentials explicitly")
