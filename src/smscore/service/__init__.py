"""The use cases: the only place that orders the steps of sending and checking, behind the ``SMSService`` façade.

Sending validates and prepares everything first, so bad input raises before anything is stored; stores the
message WAITING; unless the outbox is on, calls the provider outside any transaction; turns its answer into a
transition and stores it with compare-and-set; returns the stored message.

=================  ==========================================================================================
module             what lives in it
=================  ==========================================================================================
``base``           what both services share: their parts and subscriptions
``facade``         :class:`SMSService`, one method per use case, each running its module's flow
``async_facade``   :class:`AsyncSMSService`: the same methods as coroutines, on the same flows
``async_driver``   how the asyncio service awaits a flow's I/O (storage runner, provider roles, threads)
``context``        the dependencies the use cases share (repositories, providers, configuration, clock, breaker)
``drafting``       caller input to a validated message, routing
``sending``        ``send``, ``send_template``, ``send_many``, idempotency
``guarding``       refusing recipients (allowed countries, opt-outs, recipient limits), counting refusals
``opt_outs``       ``service.opt_outs``: the opt-out list, its imports and provider syncs
``publishing``     the provider call, failover, circuit breaker, rate slots, retries, the send deadline
``recording``      storing what a step changed (compare-and-set) and telling the subscribers
``outbox``         claims, ``publish_waiting``, lease recovery
``delivery``       delivery checks and the idle timeout
``callbacks``      status reports pushed by providers
``inbound``        SMS received through providers' webhooks: stored once, keywords, subscribers
``retention``      purging finished messages
=================  ==========================================================================================
"""

from typing import TYPE_CHECKING, Any

from smscore.service.context import Router
from smscore.service.delivery import DeliveryCheckReport, SelectedCheckReport
from smscore.service.drafting import RESERVED_KEYWORDS
from smscore.service.facade import SMSService
from smscore.service.guarding import RefusedItem, SentBatch
from smscore.service.opt_outs import OptOutImport, OptOutList
from smscore.service.outbox import OutboxReport, ProviderFailures

if TYPE_CHECKING:
    from smscore.service.async_facade import AsyncOptOutList, AsyncSMSService

__all__ = [
    "RESERVED_KEYWORDS",
    "AsyncOptOutList",
    "AsyncSMSService",
    "DeliveryCheckReport",
    "OptOutImport",
    "OptOutList",
    "OutboxReport",
    "ProviderFailures",
    "RefusedItem",
    "Router",
    "SMSService",
    "SelectedCheckReport",
    "SentBatch",
]


def __getattr__(name: str) -> Any:
    # The asyncio service loads asyncio: only for those who use it.
    if name in ("AsyncSMSService", "AsyncOptOutList"):
        from smscore.service import async_facade

        return getattr(async_facade, name)
    raise AttributeError(f"module 'smscore.service' has no attribute {name!r}")
