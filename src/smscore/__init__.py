"""smscore: send SMS, keep a durable record of every message and its delivery state.

>>> import smscore
>>> service = smscore.build_service({"storage": "memory", "provider": "dummy"})
>>> message = service.send("+420 777 123 456", "Příliš žluťoučký kůň", tag="welcome", order_id=42)
>>> message.state, message.content, message.recipient
(<SMSState.DEBUG: 'debug'>, 'Prilis zlutoucky kun', '+420777123456')

The core is framework-agnostic: storage (``memory``, ``sqlalchemy``, ``django``) and providers (``dummy``,
``sns``, ``twilio``, ``ats``, ``sms-operator``) are chosen by configuration and plugged in through the ports in
:mod:`smscore.ports`.

``import smscore`` loads only the errors: every other public name (and every submodule, ``smscore.ports``) is
imported when it is first used, so a program that needs one part does not pay for the others.
"""

import importlib
from typing import TYPE_CHECKING, Any, Final

from smscore import errors
from smscore.errors import *  # noqa: F403 - every error is public at the top level, by errors.__all__

if TYPE_CHECKING:
    from smscore.async_ports import AsyncDeliveryChecker, AsyncPublisher, AsyncStorage, BlockingRunner
    from smscore.bootstrap import build_async_service, build_service
    from smscore.config import ProviderConfig, SMSConfig, load_config
    from smscore.events import InboundReceived, Refusal, StateChange
    from smscore.guards import OptOut, RecipientLimit
    from smscore.inbound import InboundQuery, InboundReport, InboundSMS, WebhookRequest
    from smscore.message import RelatedObject, SMSMessage
    from smscore.outcome import Outcome
    from smscore.ports import (
        CallbackReport,
        Clock,
        DeliveryChecker,
        InboundReceiver,
        InboundRepository,
        MessageRepository,
        OptOutRepository,
        OptOutScreening,
        OptOutSource,
        RefusalCounter,
        SMSProvider,
        StatusCallbackReceiver,
        Storage,
        TemplateRepository,
    )
    from smscore.query import MessageQuery
    from smscore.service import (
        AsyncSMSService,
        DeliveryCheckReport,
        OptOutImport,
        OptOutList,
        OutboxReport,
        RefusedItem,
        SelectedCheckReport,
        SentBatch,
        SMSService,
    )
    from smscore.states import FINAL_STATES, TRANSITIONS, SMSState
    from smscore.templates import SMSTemplate

__all__ = [
    "FINAL_STATES",
    "TRANSITIONS",
    "AsyncDeliveryChecker",
    "AsyncPublisher",
    "AsyncSMSService",
    "AsyncStorage",
    "BlockingRunner",
    "CallbackReport",
    "Clock",
    "DeliveryCheckReport",
    "DeliveryChecker",
    "InboundQuery",
    "InboundReceived",
    "InboundReceiver",
    "InboundReport",
    "InboundRepository",
    "InboundSMS",
    "MessageQuery",
    "MessageRepository",
    "OptOut",
    "OptOutImport",
    "OptOutList",
    "OptOutRepository",
    "OptOutScreening",
    "OptOutSource",
    "OutboxReport",
    "Outcome",
    "ProviderConfig",
    "RecipientLimit",
    "Refusal",
    "RefusalCounter",
    "RefusedItem",
    "RelatedObject",
    "SMSConfig",
    "SMSMessage",
    "SMSProvider",
    "SMSService",
    "SMSState",
    "SMSTemplate",
    "SelectedCheckReport",
    "SentBatch",
    "StateChange",
    "StatusCallbackReceiver",
    "Storage",
    "TemplateRepository",
    "WebhookRequest",
    "build_async_service",
    "build_service",
    "load_config",
]
__all__ += errors.__all__

#: Where each lazily exported name comes from: the imports of the ``TYPE_CHECKING`` block above, which type
#: checkers and the API reference read (a test keeps the two equal).
_ORIGIN: Final[dict[str, str]] = {
    "FINAL_STATES": "smscore.states",
    "TRANSITIONS": "smscore.states",
    "AsyncDeliveryChecker": "smscore.async_ports",
    "AsyncPublisher": "smscore.async_ports",
    "AsyncSMSService": "smscore.service",
    "AsyncStorage": "smscore.async_ports",
    "BlockingRunner": "smscore.async_ports",
    "CallbackReport": "smscore.ports",
    "Clock": "smscore.ports",
    "DeliveryCheckReport": "smscore.service",
    "DeliveryChecker": "smscore.ports",
    "InboundQuery": "smscore.inbound",
    "InboundReceived": "smscore.events",
    "InboundReceiver": "smscore.ports",
    "InboundReport": "smscore.inbound",
    "InboundRepository": "smscore.ports",
    "InboundSMS": "smscore.inbound",
    "MessageQuery": "smscore.query",
    "MessageRepository": "smscore.ports",
    "OptOut": "smscore.guards",
    "OptOutImport": "smscore.service",
    "OptOutList": "smscore.service",
    "OptOutRepository": "smscore.ports",
    "OptOutScreening": "smscore.ports",
    "OptOutSource": "smscore.ports",
    "OutboxReport": "smscore.service",
    "Outcome": "smscore.outcome",
    "ProviderConfig": "smscore.config",
    "RecipientLimit": "smscore.guards",
    "Refusal": "smscore.events",
    "RefusalCounter": "smscore.ports",
    "RefusedItem": "smscore.service",
    "RelatedObject": "smscore.message",
    "SMSConfig": "smscore.config",
    "SMSMessage": "smscore.message",
    "SMSProvider": "smscore.ports",
    "SMSService": "smscore.service",
    "SMSState": "smscore.states",
    "SMSTemplate": "smscore.templates",
    "SelectedCheckReport": "smscore.service",
    "SentBatch": "smscore.service",
    "StateChange": "smscore.events",
    "StatusCallbackReceiver": "smscore.ports",
    "Storage": "smscore.ports",
    "TemplateRepository": "smscore.ports",
    "WebhookRequest": "smscore.inbound",
    "build_async_service": "smscore.bootstrap",
    "build_service": "smscore.bootstrap",
    "load_config": "smscore.config",
}


def __getattr__(name: str) -> Any:
    """Import a public name, or a submodule (``smscore.ports``), on its first use (PEP 562)."""
    origin = _ORIGIN.get(name)
    if origin is not None:
        value = getattr(importlib.import_module(origin), name)
    elif name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    else:
        try:
            value = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value  # later uses are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
