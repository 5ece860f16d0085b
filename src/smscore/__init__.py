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

from smscore.bootstrap import build_service
from smscore.config import ProviderConfig, SMSConfig, load_config
from smscore.errors import (
    CallbackError,
    ConcurrentUpdateError,
    ConfigurationError,
    DuplicateIdempotencyKeyError,
    InvalidContentError,
    InvalidExtraDataError,
    InvalidMessageError,
    InvalidRecipientError,
    InvalidSignatureError,
    InvalidStateTransitionError,
    InvalidTagError,
    MessageNotFoundError,
    OutcomeNotStoredError,
    ProviderError,
    RecipientNotAllowedError,
    RecipientOptedOutError,
    RecipientRateLimitedError,
    RecipientRefusedError,
    SMSError,
    StorageError,
    TemplateError,
    TemplateInactiveError,
    TemplateNotFoundError,
    TemplateRenderError,
)
from smscore.events import Refusal, StateChange
from smscore.guards import OptOut, RecipientLimit
from smscore.message import RelatedObject, SMSMessage
from smscore.outcome import Outcome
from smscore.ports import (
    CallbackReport,
    Clock,
    DeliveryChecker,
    MessageRepository,
    OptOutRepository,
    OptOutSource,
    RefusalCounter,
    SMSProvider,
    StatusCallbackReceiver,
    Storage,
    TemplateRepository,
)
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

__all__ = [
    "FINAL_STATES",
    "TRANSITIONS",
    "CallbackError",
    "CallbackReport",
    "Clock",
    "ConcurrentUpdateError",
    "ConfigurationError",
    "DeliveryCheckReport",
    "DeliveryChecker",
    "DuplicateIdempotencyKeyError",
    "InvalidContentError",
    "InvalidExtraDataError",
    "InvalidMessageError",
    "InvalidRecipientError",
    "InvalidSignatureError",
    "InvalidStateTransitionError",
    "InvalidTagError",
    "MessageNotFoundError",
    "MessageRepository",
    "OptOut",
    "OptOutImport",
    "OptOutList",
    "OptOutRepository",
    "OptOutSource",
    "OutboxReport",
    "Outcome",
    "OutcomeNotStoredError",
    "ProviderConfig",
    "ProviderError",
    "RecipientLimit",
    "RecipientNotAllowedError",
    "RecipientOptedOutError",
    "RecipientRateLimitedError",
    "RecipientRefusedError",
    "Refusal",
    "RefusalCounter",
    "RefusedItem",
    "RelatedObject",
    "SMSConfig",
    "SMSError",
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
    "StorageError",
    "TemplateError",
    "TemplateInactiveError",
    "TemplateNotFoundError",
    "TemplateRenderError",
    "TemplateRepository",
    "build_service",
    "load_config",
]
