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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from smscore import errors
from smscore.errors import *  # noqa: F403 - every error is public at the top level, by errors.__all__

if TYPE_CHECKING:
    from smscore.bootstrap import build_service
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

__all__ = [
    "FINAL_STATES",
    "TRANSITIONS",
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
    "build_service",
    "load_config",
]
__all__ += errors.__all__

#: The module each lazily exported name comes from: the same imports as the ``TYPE_CHECKING`` block above, which
#: type checkers and the API reference read (a test keeps the two equal).
_LAZY: Final[dict[str, tuple[str, ...]]] = {
    "smscore.bootstrap": ("build_service",),
    "smscore.config": ("ProviderConfig", "SMSConfig", "load_config"),
    "smscore.events": ("InboundReceived", "Refusal", "StateChange"),
    "smscore.guards": ("OptOut", "RecipientLimit"),
    "smscore.inbound": ("InboundQuery", "InboundReport", "InboundSMS", "WebhookRequest"),
    "smscore.message": ("RelatedObject", "SMSMessage"),
    "smscore.outcome": ("Outcome",),
    "smscore.ports": (
        "CallbackReport",
        "Clock",
        "DeliveryChecker",
        "InboundReceiver",
        "InboundRepository",
        "MessageRepository",
        "OptOutRepository",
        "OptOutSource",
        "RefusalCounter",
        "SMSProvider",
        "StatusCallbackReceiver",
        "Storage",
        "TemplateRepository",
    ),
    "smscore.query": ("MessageQuery",),
    "smscore.service": (
        "DeliveryCheckReport",
        "OptOutImport",
        "OptOutList",
        "OutboxReport",
        "RefusedItem",
        "SelectedCheckReport",
        "SentBatch",
        "SMSService",
    ),
    "smscore.states": ("FINAL_STATES", "TRANSITIONS", "SMSState"),
    "smscore.templates": ("SMSTemplate",),
}
_ORIGIN: Final[dict[str, str]] = {name: module for module, names in _LAZY.items() for name in names}


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
