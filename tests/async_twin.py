"""The asyncio twin of a service, driven from synchronous tests: the suites written for ``SMSService`` run against
``AsyncSMSService`` through it, so both services are held to the same assertions.

``twin(service)`` builds an ``AsyncSMSService`` from the parts of ``service`` (repositories, providers, clock,
subscribers, the fake ``sleep``) and returns an object with the synchronous service's interface whose use-case
methods run the coroutines to completion on the twin's own event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from smscore.service import AsyncSMSService, SMSService

__all__ = ["BlockingTwin", "async_twin", "both_services", "flavoured", "twin", "under_test"]


class _Loops:
    """One event loop per calling thread (tests call a service from several threads at once), closed together."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[asyncio.Runner] = []
        self._lock = threading.Lock()

    def run(self, coroutine: Any) -> Any:
        runner = getattr(self._local, "runner", None)
        if runner is None:
            runner = self._local.runner = asyncio.Runner()
            with self._lock:
                self._all.append(runner)
        return runner.run(coroutine)

    def close(self) -> None:
        for runner in self._all:
            runner.close()


class _Blocking:
    """Runs the coroutine methods of ``target`` to completion on ``loops``; everything else passes through."""

    def __init__(self, target: Any, loops: _Loops) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_runner", loops)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            loops: _Loops = self._runner

            def blocking(*args: Any, **kwargs: Any) -> Any:
                return loops.run(value(*args, **kwargs))

            return blocking
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)


class BlockingTwin(_Blocking):
    """An ``AsyncSMSService`` with the synchronous service's interface (``close`` awaits ``aclose``)."""

    @property
    def opt_outs(self) -> Any:
        return _BlockingList(self._target.opt_outs, self._runner)

    def close(self) -> None:
        self._runner.run(self._target.aclose())
        self._runner.close()

    def __enter__(self) -> BlockingTwin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _BlockingList(_Blocking):
    def __contains__(self, recipient: object) -> bool:
        return bool(self.contains(recipient))


def twin(service: SMSService) -> BlockingTwin:
    """``service`` rebuilt as an ``AsyncSMSService`` on the same parts, driven blocking."""
    return BlockingTwin(async_twin(service), _Loops())


def async_twin(service: SMSService) -> AsyncSMSService:
    """``service`` rebuilt as an ``AsyncSMSService`` on the same parts (repositories, providers, clock, subscribers,
    its ``sleep`` awaited)."""
    ctx = service._ctx
    pause: Callable[[float], object] = ctx.sleep

    async def sleep(seconds: float) -> None:
        pause(seconds)

    return AsyncSMSService(
        messages=ctx.messages,
        templates=ctx.templates,
        providers=ctx.providers,
        config=ctx.config,
        clock=ctx.clock,
        router=ctx.router,
        subscribers=ctx.subscribers,
        renderer=ctx.renderer,
        rng=ctx.rng,
        rate_limiter=ctx.rate_limiter,
        opt_outs=ctx.opt_outs,
        refusals=ctx.refusals,
        refusal_subscribers=ctx.refusal_subscribers,
        inbound=ctx.inbound,
        inbound_subscribers=ctx.inbound_subscribers,
        sleep=sleep,
    )


@pytest.fixture(params=["sync", "async"])
def flavoured(request: pytest.FixtureRequest) -> Iterator[Callable[[SMSService], Any]]:
    """Turns a built ``SMSService`` into the one under test: itself, or its asyncio twin (closed at the end)."""
    made: list[BlockingTwin] = []

    def flavour(service: SMSService) -> Any:
        if request.param == "sync":
            return service
        made.append(twin(service))
        return made[-1]

    yield flavour
    for each in made:
        each.close()


_FLAVOURS: list[Callable[[SMSService], Any]] = []


@pytest.fixture
def both_services(flavoured: Callable[[SMSService], Any]) -> Iterator[None]:
    """``pytestmark = pytest.mark.usefixtures("both_services")``: each test of a module that builds its services
    with :func:`under_test` runs against ``SMSService`` and against its asyncio twin."""
    _FLAVOURS.append(flavoured)
    yield
    _FLAVOURS.pop()


def under_test(service: SMSService) -> Any:
    """``service``, or its asyncio twin in the ``async`` run of a test using ``both_services``."""
    return _FLAVOURS[-1](service) if _FLAVOURS else service
