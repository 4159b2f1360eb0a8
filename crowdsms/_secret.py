"""A wrapper that keeps keys, secrets and tokens out of reprs, logs and error messages."""

from __future__ import annotations

from typing import Final

from crowdsms.errors import ConfigurationError

__all__ = ["Secret", "require_secret"]

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


def require_secret(value: object, *, name: str, action: str) -> Secret:
    """``value`` (a str or :class:`Secret`) as a non-empty :class:`Secret`.

    Anything else raises :class:`~crowdsms.errors.ConfigurationError` naming the setting
    ``name`` (its value is never echoed); ``action`` says where to find the right one.
    """
    secret = Secret(value) if isinstance(value, str) else value
    if not isinstance(secret, Secret):
        raise ConfigurationError(
            f"{name} must be a str or a crowdsms Secret, not {type(value).__name__}",
            action=action,
        )
    if not secret.reveal().strip():
        raise ConfigurationError(f"{name} is empty", action=action)
    return secret
