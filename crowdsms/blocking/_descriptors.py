"""Typed blocking twins of async endpoint methods, without writing each method twice.

``blocking(AsyncSms.multisend)`` is a descriptor. Read from a :class:`BlockingGroup`
instance it returns a plain function with exactly the async method's parameters (through
``ParamSpec``) that returns the awaited result type, so mypy and IDEs see the real
signature. Calling it runs the async method on the client's event loop.

The function is made on the first read and kept in the instance's ``__dict__``, which later
reads find before the descriptor: ``client.sms.send(...)`` costs a dictionary look-up, not
a new wrapper each time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, TypeVar, overload

from typing_extensions import ParamSpec, Self

from crowdsms.blocking._runner import BlockingRunner

__all__ = ["BlockingGroup", "blocking", "passthrough"]

G = TypeVar("G")
P = ParamSpec("P")
T = TypeVar("T")


class BlockingGroup(Generic[G]):
    """The blocking twin of one async endpoint group (``client.sms`` and so on)."""

    def __init__(self, runner: BlockingRunner, group: G) -> None:
        self._runner = runner
        self._group = group

    def __repr__(self) -> str:
        return f"<blocking {type(self._group).__name__}>"


class blocking(Generic[G, P, T]):
    """Declare the blocking twin of an async endpoint method."""

    def __init__(self, method: Callable[Concatenate[G, P], Coroutine[Any, Any, T]]) -> None:
        self._method = method
        self._attribute = method.__name__
        functools.update_wrapper(self, method)  # type: ignore[arg-type]

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._attribute = name

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, instance: BlockingGroup[G], owner: type[Any]) -> Callable[P, T]: ...

    def __get__(self, instance: BlockingGroup[G] | None, owner: type[Any]) -> Self | Callable[P, T]:
        if instance is None:
            return self
        method = self._method
        group = instance._group
        run = instance._runner.call

        @functools.wraps(method)
        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            return run(functools.partial(method, group, *args, **kwargs))

        instance.__dict__[self._attribute] = call
        return call


class passthrough(Generic[G, P, T]):
    """Expose a plain (non-async) method of the async group unchanged, e.g. a chunk factory."""

    def __init__(self, method: Callable[Concatenate[G, P], T]) -> None:
        self._method = method
        self._attribute = method.__name__
        functools.update_wrapper(self, method)  # type: ignore[arg-type]

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._attribute = name

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, instance: BlockingGroup[G], owner: type[Any]) -> Callable[P, T]: ...

    def __get__(self, instance: BlockingGroup[G] | None, owner: type[Any]) -> Self | Callable[P, T]:
        if instance is None:
            return self
        bound = functools.partial(self._method, instance._group)
        instance.__dict__[self._attribute] = bound
        return bound
