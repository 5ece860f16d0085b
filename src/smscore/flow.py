"""Flows: the use cases written once as generators that yield the I/O they need, and the synchronous driver.

A use case of :mod:`smscore.service` decides (what to validate, which transition, retry or not, which provider
next) and, where it needs the outside world, yields an effect and receives its result: a repository call
(:class:`Call`), a provider's publish or delivery check (:class:`Publish`, :class:`Check`), another blocking call of
a provider (:class:`Blocking`), a pause (:class:`Sleep`), or sub-flows that may run at the same time
(:class:`Concurrently`). :func:`run` performs them in the calling thread for :class:`~smscore.service.SMSService`;
:mod:`smscore.service.async_driver` awaits them for :class:`~smscore.service.AsyncSMSService`. The two services
share every decision and differ only in how they wait (the sans-I/O habit of h11).

A failed effect is thrown into the flow where it was yielded, so a use case handles errors with ``try``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any, ParamSpec, Protocol, TypeAlias, TypeVar, cast

import attrs

from smscore.message import SMSMessage
from smscore.outcome import Outcome
from smscore.ports import DeliveryChecker, SMSProvider

__all__ = [
    "Blocking",
    "Call",
    "Check",
    "Concurrently",
    "Driver",
    "Effect",
    "Flow",
    "Publish",
    "Sleep",
    "blocking",
    "call",
    "check",
    "concurrently",
    "publish_on",
    "run",
    "sleep",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")


@attrs.frozen
class Call:
    """A call of a storage's repository or rate limiter: ``fn(*args, **kwargs)``."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@attrs.frozen
class Publish:
    """``provider`` publishing ``messages``: a list of outcomes, one per message."""

    provider: SMSProvider
    messages: Sequence[SMSMessage]


@attrs.frozen
class Check:
    """``provider`` asked about ``messages``: a list of outcomes or None, one per message."""

    provider: DeliveryChecker
    messages: Sequence[SMSMessage]


@attrs.frozen
class Blocking:
    """Any other call that may wait on the network (a provider verifying a webhook, reading its opt-out list)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]


@attrs.frozen
class Sleep:
    """A pause of ``seconds``."""

    seconds: float


@attrs.frozen
class Concurrently:
    """Sub-flows that may run at the same time; their results, in order. The synchronous driver runs them one
    after the other; the asyncio one runs up to ``max_in_flight`` of them at once."""

    flows: Sequence[Flow[Any]]


#: What a flow may yield.
Effect: TypeAlias = Call | Publish | Check | Blocking | Sleep | Concurrently
#: A use case: yields effects, receives their results, returns its own.
Flow: TypeAlias = Generator[Effect, Any, _T]


class Driver(Protocol):
    """Runs a flow to its result: a service's way of waiting for I/O."""

    def __call__(self, flow: Flow[_T], /) -> _T: ...


def call(fn: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> Flow[_R]:
    """``yield from call(ctx.messages.get, 7)``: a repository (or rate limiter) call, typed like the method."""
    return cast(_R, (yield Call(fn, args, kwargs)))


def publish_on(provider: SMSProvider, messages: Sequence[SMSMessage]) -> Flow[list[Outcome]]:
    """``provider``'s outcomes for ``messages`` (what its ``publish`` or ``apublish`` returned)."""
    return cast("list[Outcome]", (yield Publish(provider, messages)))


def check(provider: DeliveryChecker, messages: Sequence[SMSMessage]) -> Flow[list[Outcome | None]]:
    """``provider``'s delivery reports for ``messages``."""
    return cast("list[Outcome | None]", (yield Check(provider, messages)))


def blocking(fn: Callable[..., _R], *args: Any) -> Flow[_R]:
    """``fn(*args)``, a provider call that may wait on the network."""
    return cast(_R, (yield Blocking(fn, args)))


def sleep(seconds: float) -> Flow[None]:
    """Pause for ``seconds``."""
    yield Sleep(seconds)


def concurrently(flows: Sequence[Flow[_T]]) -> Flow[list[_T]]:
    """The results of ``flows``, in order (run at the same time by the asyncio driver)."""
    if len(flows) == 1:
        return [(yield from flows[0])]
    return cast("list[_T]", (yield Concurrently(flows)))


def run(flow: Flow[_T], pause: Callable[[float], object]) -> _T:
    """Drive ``flow`` to its result in the calling thread; ``pause`` performs :class:`Sleep`."""
    result: Any = None
    failure: BaseException | None = None
    while True:
        try:
            effect = flow.send(result) if failure is None else flow.throw(failure)
        except StopIteration as stop:
            return cast(_T, stop.value)
        failure = None
        try:
            result = _perform(effect, pause)
        except Exception as exc:
            result, failure = None, exc


def _perform(effect: Effect, pause: Callable[[float], object]) -> Any:
    if isinstance(effect, Call):
        return effect.fn(*effect.args, **effect.kwargs)
    if isinstance(effect, Publish):
        return effect.provider.publish(effect.messages)
    if isinstance(effect, Check):
        return effect.provider.bulk_check_sms_states(effect.messages)
    if isinstance(effect, Blocking):
        return effect.fn(*effect.args)
    if isinstance(effect, Sleep):
        pause(effect.seconds)
        return None
    return [run(sub, pause) for sub in effect.flows]
