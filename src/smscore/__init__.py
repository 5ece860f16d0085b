"""smscore: send SMS, keep a durable record of every message and its delivery state.

>>> import smscore
>>> service = smscore.build_service({"storage": "memory", "provider": "dummy"})
>>> message = service.send("+420 777 123 456", "Příliš žluťoučký kůň", tag="welcome", order_id=42)
>>> message.state, message.content, message.recipient
(<SMSState.DEBUG: 'debug'>, 'Prilis zlutoucky kun', '+420777123456')

The core is framework-agnostic: storage (``memory``, ``sqlalchemy``, ``django``) and providers (``dummy``,
``sns``, ``twilio``, ``ats``, ``sms-operator``) are chosen by configuration and plugged in through the ports in
:mod:`smscore.ports`.
"""

from typing import TYPE_CHECKING, Any

from smscore import errors
from smscore.async_ports import AsyncDeliveryChecker, AsyncPublisher, AsyncStorage, BlockingRunner
from smscore.bootstrap import build_async_service, build_service
from smscore.config import ProviderConfig, SMSConfig, load_config
from smscore.errors import *  # noqa: F403 - every error is public at the top level, by errors.__all__
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
    OptOutSource,
    RefusalCounter,
    SMSProvider,
    StatusCallbackReceiver,
    Storage,
    TemplateRepository,
)
from smscore.query import MessageQuery
from smscore.service import (
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

if TYPE_CHECKING:
    from smscore.service.async_facade import AsyncSMSService

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


def __getattr__(name: str) -> Any:
    # The asyncio service loads asyncio: only for those who use it.
    if name == "AsyncSMSService":
        from smscore.service.async_facade import AsyncSMSService

        return AsyncSMSService
    raise AttributeError(f"module 'smscore' has no attribute {name!r}")
