"""django-pymess's SMS API from the compatibility distribution: same names, same parameters, the ancestor's
return values, smscore's models underneath."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pymess
import pytest
from django.apps import AppConfig, apps
from pymess.apps import PymessConfig, adopt_ancestor_template_model
from pymess.backend.sms import send, send_template
from pymess.models.sms import AbstractSMSTemplate, OutputSMSRelatedObject, SMSTemplate
from pymess.sender import send_sms, send_sms_template

import adapters_django
import adapters_django.models
import providers.ats
import providers.dummy
import providers.sms_operator
import providers.sns
import providers.twilio
from adapters_django.models import OutputSMSMessage
from smscore import InvalidRecipientError, Outcome, SMSState, TemplateInactiveError, TemplateNotFoundError
from tests.django.support import install_spy
from tests.django.testapp.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_distribution_is_the_one_in_this_repository() -> None:
    """``pymess`` is imported from compat/pymess, installed next to smscore, and is not django-pymess."""
    assert pymess.__file__ is not None
    assert pymess.__file__.replace("\\", "/").endswith("compat/pymess/pymess/__init__.py")
    assert pymess.__version__ == "0.1.0"


def test_the_models_are_smscore_models_not_copies() -> None:
    """The ancestor's model names are the very classes of adapters_django: one table each."""
    import pymess.models.sms as sms

    assert sms.OutputSMSMessage is adapters_django.models.OutputSMSMessage
    assert OutputSMSRelatedObject is adapters_django.models.OutputSMSRelatedObject
    assert AbstractSMSTemplate is adapters_django.models.AbstractSMSTemplate
    assert SMSTemplate is adapters_django.models.SMSTemplate
    assert {model._meta.app_label for model in (sms.OutputSMSMessage, OutputSMSRelatedObject, SMSTemplate)} == {
        "adapters_django"
    }


@pytest.mark.parametrize(
    ("module", "name", "cls"),
    [
        ("pymess.backend.sms.dummy", "DummySMSBackend", providers.dummy.DummySMSBackend),
        ("pymess.backend.sms.sns", "SNSSMSBackend", providers.sns.SNSSMSBackend),
        ("pymess.backend.sms.twilio", "TwilioSMSBackend", providers.twilio.TwilioSMSBackend),
        ("pymess.backend.sms.ats_sms_operator", "ATSSMSBackend", providers.ats.ATSSMSBackend),
        ("pymess.backend.sms.sms_operator", "SMSOperatorBackend", providers.sms_operator.SMSOperatorBackend),
    ],
)
def test_the_ancestors_backend_paths_import_smscore_providers(module: str, name: str, cls: type) -> None:
    """Every backend path a pymess settings file names imports, and is smscore's provider class."""
    assert getattr(importlib.import_module(module), name) is cls


def test_a_pymess_backend_path_in_the_settings_sends_through_that_backend(settings: Any) -> None:
    """PYMESS_SMS_BACKENDS naming the ancestor's dummy path: the message ends in DEBUG, send says not failed."""
    settings.PYMESS_SMS_BACKENDS = {"default": {"backend": "pymess.backend.sms.dummy.DummySMSBackend"}}
    assert send("+420777123456", "Hello") is False
    message = OutputSMSMessage.objects.get()
    assert message.state == SMSState.DEBUG.value
    assert message.backend == "providers.dummy.DummySMSBackend"


def test_send_returns_the_failed_flag_and_stores_what_the_ancestor_stored(settings: Any) -> None:
    """send returns False for a handed-over message; related objects, tag, priority and extra data are kept."""
    spy = install_spy(settings)
    order = Order.objects.create(number="A-1")
    failed = send("+420 777 123 456", "Příliš", related_objects=[order], tag="orders", priority=1, order_id=42)
    assert failed is False
    message = OutputSMSMessage.objects.get()
    assert message.state == SMSState.SENT.value
    assert (message.recipient, message.content, message.tag, message.priority) == (
        "+420777123456",
        "Prilis",
        "orders",
        1,
    )
    assert message.extra_data == {"order_id": 42}
    assert [r.content_object for r in message.related_objects.all()] == [order]
    assert [m.id for m in spy.published] == [message.id]


def test_send_is_failed_for_a_rejection_and_for_a_transient_failure_waiting_for_a_retry(settings: Any) -> None:
    """ERROR is failed; with batch sending (retries) on, so is WAITING after a failed attempt (ERROR_RETRY)."""
    settings.PYMESS_SMS_BATCH_SENDING = True
    spy = install_spy(settings)
    spy.will(Outcome.rejected("number blocked"), Outcome.transient("throttled"))
    assert send("+420777123456", "one", send_immediately=True) is True
    assert send("+420777123456", "two", send_immediately=True) is True
    first, second = OutputSMSMessage.objects.order_by("id")
    assert (first.state, first.error) == (SMSState.ERROR.value, "number blocked")
    assert (second.state, second.attempts) == (SMSState.WAITING.value, 1)


def test_send_with_batch_sending_stores_waiting_and_is_not_failed(settings: Any) -> None:
    """With batch sending on, send stores WAITING (not failed); send_immediately=True publishes at once."""
    settings.PYMESS_SMS_BATCH_SENDING = True
    spy = install_spy(settings)
    assert send("+420777123456", "later") is False
    assert send("+420777123456", "now", send_immediately=True) is False
    later, now = OutputSMSMessage.objects.order_by("id")
    assert (later.state, later.attempts) == (SMSState.WAITING.value, 0)
    assert now.state == SMSState.SENT.value
    assert [m.content for m in spy.published] == ["now"]


def test_send_at_is_passed_on_and_the_message_waits_for_it(settings: Any) -> None:
    """smscore's send_at reaches the core through the ancestor's send: stored WAITING for then, not failed."""
    spy = install_spy(settings)
    due = datetime.now(UTC) + timedelta(hours=1)
    assert send("+420777123456", "later", send_at=due) is False
    stored = OutputSMSMessage.objects.get()
    assert (stored.state, stored.send_at) == (SMSState.WAITING.value, due)
    assert spy.published == []


def test_message_backend_names_the_backend(settings: Any) -> None:
    """message_backend (a name from PYMESS_SMS_BACKENDS) chooses the backend, as the ancestor's did per call."""
    settings.PYMESS_SMS_BACKENDS = {
        "default": {"backend": "dummy"},
        "other": {"backend": "tests.django.testapp.providers:TransactionSpyProvider"},
    }
    assert send("+420777123456", "x", message_backend="other") is False
    assert OutputSMSMessage.objects.get().provider == "other"
    with pytest.raises(TypeError, match="name of a backend"):
        send("+420777123456", "x", message_backend=object())
    with pytest.raises(TypeError, match="send_template"):
        send("+420777123456", "x", template=object())


def test_bad_input_raises_a_typed_error_and_stores_nothing() -> None:
    """An impossible recipient is an InvalidRecipientError (a ValueError) and no row."""
    with pytest.raises(InvalidRecipientError):
        send("not a number", "x")
    assert not OutputSMSMessage.objects.exists()


def test_send_template_returns_the_message(settings: Any) -> None:
    """send_template renders with Django's engine, unescaped, and returns the stored message."""
    install_spy(settings)
    SMSTemplate.objects.create(slug="welcome", body="Hi {{ name }} & co")
    message = send_template("+420777123456", "welcome", {"name": "Eva"}, tag="hello")
    assert message is not None
    assert (message.content, message.template_slug, message.tag) == ("Hi Eva & co", "welcome", "hello")
    assert message.state == SMSState.SENT.value


def test_send_template_of_a_missing_slug_raises_the_models_does_not_exist() -> None:
    """As before: DoesNotExist of the template model (also smscore's TemplateNotFoundError); nothing stored."""
    with pytest.raises(SMSTemplate.DoesNotExist) as info:
        send_template("+420777123456", "nope", {})
    assert isinstance(info.value, TemplateNotFoundError)
    assert not OutputSMSMessage.objects.exists()


def test_send_template_of_an_inactive_template_is_none_and_stores_nothing(settings: Any) -> None:
    """As before, an inactive template returns None and stores nothing; adapters_django.send_template raises
    TemplateInactiveError for it instead."""
    spy = install_spy(settings)
    SMSTemplate.objects.create(slug="retired", body="Bye", is_active=False)
    assert send_template("+420777123456", "retired", {}) is None
    with pytest.raises(TemplateInactiveError):
        adapters_django.send_template("+420777123456", "retired", {})
    assert not OutputSMSMessage.objects.exists()
    assert spy.published == []


def test_the_sender_aliases_are_the_helpers() -> None:
    """pymess.sender.send_sms and send_sms_template are the same functions."""
    assert send_sms is send
    assert send_sms_template is send_template


def test_the_pymess_app_entry_is_smscores_app() -> None:
    """The "pymess" INSTALLED_APPS entry resolves to adapters_django's app (one label, one set of models)."""
    config = AppConfig.create("pymess")
    assert isinstance(config, PymessConfig)
    assert (config.name, config.label) == ("adapters_django", "adapters_django")
    assert config.models_module is None  # not populated: the registry keeps the one installed app
    assert apps.get_app_config("adapters_django").models_module is adapters_django.models


@pytest.mark.parametrize(
    ("label", "expected"),
    [("pymess.SMSTemplate", "adapters_django.SMSTemplate"), ("shop.MyTemplate", "shop.MyTemplate")],
)
def test_the_ancestors_default_template_model_means_the_shipped_one(settings: Any, label: str, expected: str) -> None:
    """PYMESS_SMS_TEMPLATE_MODEL = "pymess.SMSTemplate" is read as smscore's model; a project's own stays."""
    settings.PYMESS_SMS_TEMPLATE_MODEL = label
    adopt_ancestor_template_model()
    adopted = settings.PYMESS_SMS_TEMPLATE_MODEL
    assert adopted == expected
