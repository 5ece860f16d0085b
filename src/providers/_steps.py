"""Requests written once for both clients: a generator yields each request to make and is sent back what came of
it; :func:`drive` makes the requests with a blocking call, :func:`adrive` with a coroutine.

Every decision of a backend (what to ask, how to read the answer, which outcome it means, what to log) lives in
the generator; a driver only carries requests out and answers in. An ``Exception`` raised by a request is thrown
into the generator where it yielded, so it is handled (or not) exactly where a direct call would have raised it.
``BaseException``\\ s (``CancelledError``, ``KeyboardInterrupt``) are not caught: they leave the driver, which
closes the generator on the way out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Generator
from typing import Generic, TypeAlias, TypeVar

import attrs

__all__ = ["Steps", "adrive", "drive"]

_Q = TypeVar("_Q")
_A = TypeVar("_A")
_R = TypeVar("_R")

#: Requests to make (``_Q``), each sent back its answer (``_A``); returns what they came to (``_R``).
Steps: TypeAlias = Generator[_Q, _A, _R]


@attrs.frozen
class _Done(Generic[_R]):
    value: _R


@attrs.frozen
class _Came(Generic[_A]):
    """What one request came to: its answer, or the exception it raised."""

    answer: _A | None = None
    error: Exception | None = None


def _advance(steps: Steps[_Q, _A, _R], came: _Came[_A] | None) -> _Q | _Done[_R]:
    """The next request of ``steps`` once given what the last one came to (None: the first), or their result."""
    try:
        if came is None:
            return next(steps)
        if came.error is not None:
            return steps.throw(came.error)
        return steps.send(came.answer)  # type: ignore[arg-type]  # an answer of type _A, None included
    except StopIteration as done:
        return _Done(done.value)


def _call(send: Callable[[_Q], _A], request: _Q) -> _Came[_A]:
    try:
        return _Came(send(request))
    except Exception as exc:
        return _Came(error=exc)


async def _acall(send: Callable[[_Q], Awaitable[_A]], request: _Q) -> _Came[_A]:
    try:
        return _Came(await send(request))
    except Exception as exc:
        return _Came(error=exc)


def drive(steps: Steps[_Q, _A, _R], send: Callable[[_Q], _A]) -> _R:
    """Make the requests of ``steps`` with ``send``, one after the other; what they came to."""
    with contextlib.closing(steps):
        step = _advance(steps, None)
        while not isinstance(step, _Done):
            step = _advance(steps, _call(send, step))
        return step.value


async def adrive(steps: Steps[_Q, _A, _R], send: Callable[[_Q], Awaitable[_A]]) -> _R:
    """:func:`drive` on the event loop: ``send`` is a coroutine function."""
    with contextlib.closing(steps):
        step = _advance(steps, None)
        while not isinstance(step, _Done):
            step = _advance(steps, await _acall(send, step))
        return step.value
