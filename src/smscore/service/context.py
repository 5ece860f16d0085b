"""The dependencies every use case of the service shares, and the state that outlives one call (the breaker)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

import attrs

from smscore import ports
from smscore.breaker import CircuitBreaker
from smscore.config import SMSConfig
from smscore.events import InboundSubscriber, RefusalSubscriber, Subscriber
from smscore.message import SMSMessage
from smscore.ports import Clock, MessageRepository, RateLimiter, SMSProvider, TemplateRepository
from smscore.templates import TemplateRenderer

__all__ = ["Router", "ServiceContext", "backend_path"]

#: Chooses the provider name for a drafted message (None: the default provider).
Router = Callable[[SMSMessage], "str | None"]


@attrs.define(slots=True, eq=False)
class ServiceContext:
    """What the use cases work with: repositories, providers, configuration, time and the subscribers (of state
    changes, of refusals and of inbound SMS).

    ``default`` is the name of the provider used when nothing else chooses one. ``sleep`` pauses the synchronous
    service (the asyncio one pauses with ``asyncio.sleep``). Mutable on purpose:
    :class:`~smscore.service.SMSService` lets its clock be replaced and subscribers be added.
    """

    messages: MessageRepository
    templates: TemplateRepository
    providers: Mapping[str, SMSProvider]
    config: SMSConfig
    clock: Clock
    default: str
    router: Router | None
    subscribers: list[Subscriber]
    renderer: TemplateRenderer
    rng: random.Random
    rate_limiter: RateLimiter | None
    sleep: Callable[[float], object]
    breaker: CircuitBreaker
    opt_outs: ports.OptOutRepository
    refusals: ports.RefusalCounter
    refusal_subscribers: list[RefusalSubscriber]
    inbound: ports.InboundRepository
    inbound_subscribers: list[InboundSubscriber]
    #: Provider requests made at the same time by one publishing step: 1 for the synchronous service, whose
    #: requests follow one another, ``max_in_flight`` for the asyncio one.
    in_flight: int = 1
    #: ``messages`` where it checks the opt-out list ``opt_outs`` as it stores (see
    #: :class:`~smscore.ports.OptOutScreening`), else None, remembered with the pair it was found for:
    #: ``(messages, opt_outs, answer)``. Kept because finding out costs more than a send's other decisions.
    screening: tuple[object, object, ports.OptOutScreening | None] | None = None


def backend_path(provider: SMSProvider) -> str:
    """The dotted path of ``provider``'s class, as stored in a message's ``backend``."""
    cls = type(provider)
    return f"{cls.__module__}.{cls.__qualname__}"
