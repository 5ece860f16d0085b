"""What the synchronous and the asyncio services share: how they are put together from their parts, the parts
they expose, and the subscriptions; the use cases themselves are the flows of the other modules."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Generic, Self, TypeVar, overload

from smscore.breaker import CircuitBreaker
from smscore.clock import SystemClock
from smscore.config import SMSConfig
from smscore.errors import ConfigurationError
from smscore.events import InboundSubscriber, RefusalSubscriber, Subscriber
from smscore.guard_stores import InMemoryOptOutRepository, InMemoryRefusalCounter
from smscore.inbound_store import InMemoryInboundRepository
from smscore.ports import (
    Clock,
    InboundRepository,
    MessageRepository,
    OptOutRepository,
    RateLimiter,
    RefusalCounter,
    SMSProvider,
    TemplateRepository,
)
from smscore.service.context import Router, ServiceContext
from smscore.service.drafting import rule_router
from smscore.templates import JinjaRenderer, TemplateRenderer

__all__ = ["ServiceBase"]

T = TypeVar("T")


class _Shared(Generic[T]):
    """An attribute of the façade that is the use cases' shared dependency of the same name."""

    def __set_name__(self, owner: type[ServiceBase], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, service: None, owner: type[ServiceBase]) -> Self: ...

    @overload
    def __get__(self, service: ServiceBase, owner: type[ServiceBase]) -> T: ...

    def __get__(self, service: ServiceBase | None, owner: type[ServiceBase]) -> T | Self:
        if service is None:
            return self
        value: T = getattr(service._ctx, self._name)
        return value

    def __set__(self, service: ServiceBase, value: T) -> None:
        setattr(service._ctx, self._name, value)


class ServiceBase:
    """The parts of a service and its subscriptions (see :class:`~smscore.service.SMSService`).

    A service is built from a message repository, a template repository and named providers. ``messages`` and ``templates`` are the repositories, ``opt_outs``
    the opt-out list, ``refusals`` the totals of refused messages and ``inbound`` the SMS received (in memory
    unless given: pass the storage's ``opt_outs``, ``refusals`` and ``inbound`` to share them between processes).
    """

    #: The configuration the service runs with.
    config: _Shared[SMSConfig] = _Shared()
    #: The message repository.
    messages: _Shared[MessageRepository] = _Shared()
    #: The template repository.
    templates: _Shared[TemplateRepository] = _Shared()
    #: The providers by configured name (read-only).
    providers: _Shared[Mapping[str, SMSProvider]] = _Shared()
    #: What renders template bodies.
    renderer: _Shared[TemplateRenderer] = _Shared()
    #: Where every timestamp comes from.
    clock: _Shared[Clock] = _Shared()
    #: How many messages the guards refused, per reason and tag.
    refusals: _Shared[RefusalCounter] = _Shared()
    #: The SMS received (:meth:`handle_inbound` stores them).
    inbound: _Shared[InboundRepository] = _Shared()

    def __init__(
        self,
        *,
        messages: MessageRepository,
        templates: TemplateRepository,
        providers: Mapping[str, SMSProvider],
        config: SMSConfig | None = None,
        clock: Clock | None = None,
        router: Router | None = None,
        subscribers: Iterable[Subscriber] = (),
        renderer: TemplateRenderer | None = None,
        on_close: Callable[[], object] | None = None,
        rng: random.Random | None = None,
        rate_limiter: RateLimiter | None = None,
        sleep: Callable[[float], object] = time.sleep,
        opt_outs: OptOutRepository | None = None,
        refusals: RefusalCounter | None = None,
        refusal_subscribers: Iterable[RefusalSubscriber] = (),
        inbound: InboundRepository | None = None,
        inbound_subscribers: Iterable[InboundSubscriber] = (),
    ) -> None:
        config = config or SMSConfig()
        if not providers:
            raise ConfigurationError("at least one provider is needed", key="providers")
        default = config.default_provider
        if default not in providers:
            if len(providers) != 1:
                raise ConfigurationError(f"default provider {default!r} is not among providers", key="default_provider")
            default = next(iter(providers))
        if router is None and isinstance(config.router, Mapping):
            router = rule_router(config.router)
        if config.rate_limits and rate_limiter is None:
            raise ConfigurationError("rate_limits need a storage that provides a rate limiter", key="rate_limits")
        self._ctx = ServiceContext(
            messages=messages,
            templates=templates,
            providers=MappingProxyType(dict(providers)),
            config=config,
            clock=clock or SystemClock(),
            default=default,
            router=router,
            subscribers=list(subscribers),
            renderer=renderer or JinjaRenderer(budget=config.render_budget),
            rng=rng or random.Random(),
            rate_limiter=rate_limiter,
            sleep=sleep,
            breaker=CircuitBreaker(
                threshold=config.circuit_breaker_threshold, cooldown_seconds=config.circuit_breaker_cooldown_seconds
            ),
            opt_outs=opt_outs if opt_outs is not None else InMemoryOptOutRepository(),
            refusals=refusals if refusals is not None else InMemoryRefusalCounter(),
            refusal_subscribers=list(refusal_subscribers),
            inbound=inbound if inbound is not None else InMemoryInboundRepository(),
            inbound_subscribers=list(inbound_subscribers),
        )
        self._on_close = on_close

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` with a :class:`~smscore.events.StateChange` for every stored state change."""
        self._ctx.subscribers.append(subscriber)

    def subscribe_refusals(self, subscriber: RefusalSubscriber) -> None:
        """Call ``subscriber`` with a :class:`~smscore.events.Refusal` for every message a guard refuses."""
        self._ctx.refusal_subscribers.append(subscriber)

    def subscribe_inbound(self, subscriber: InboundSubscriber) -> None:
        """Call ``subscriber`` with an :class:`~smscore.events.InboundReceived` for every SMS received and stored."""
        self._ctx.inbound_subscribers.append(subscriber)
