"""The seed's API: ``adapters_django.send`` and ``send_template`` and the models' behaviour, end to end through
the core and the database (outside any transaction, so each send runs as it does in a plain script)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

import adapters_django
from adapters_django.models import OutputSMSMessage, SMSTemplate
from adapters_django.template_repository import DjangoTemplateRepository
from providers.dummy import DummySMSBackend
from smscore import (
    InvalidRecipientError,
    InvalidTagError,
    Outcome,
    SMSService,
    SMSState,
    TemplateNotFoundError,
    TemplateRenderError,
)
from tests.django.testapp.models import GuardedSMSTemplate, Order, Voucher
from tests.django.testapp.providers import TransactionSpyProvider

pytestmark = pytest.mark.django_db(transaction=True)


class TestSend:
    def test_send_stores_and_returns_the_model_instance(self) -> None:
        """send returns the stored OutputSMSMessage, sent through the dummy backend by default (DEBUG)."""
        message = adapters_django.send("+420 777 123 456", "Hello")
        assert isinstance(message, OutputSMSMessage)
        assert OutputSMSMessage.objects.get() == message
        assert (message.recipient, message.content, message.state) == ("+420777123456", "Hello", "debug")
        assert message.backend == "providers.dummy.DummySMSBackend"
        assert message.provider == "default"
        assert message.sent_at is not None
        assert message.attempts == 1
        assert not message.failed

    def test_accents_are_transliterated_unless_use_accent(self) -> None:
        """PYMESS_SMS_USE_ACCENT=False (the default) transliterates; True keeps the text and sends UCS-2."""
        plain = adapters_django.send("+420777123456", "Příliš žluťoučký kůň")
        assert (plain.content, plain.encoding) == ("Prilis zlutoucky kun", "GSM-7")
        with override_settings(PYMESS_SMS_USE_ACCENT=True):
            kept = adapters_django.send("+420777123456", "Příliš žluťoučký kůň")
        assert (kept.content, kept.encoding, kept.segments) == ("Příliš žluťoučký kůň", "UCS-2", 1)

    def test_related_objects_connect_and_query_back(self) -> None:
        """Any model instances are linked; the message finds them and they find the message."""
        order = Order.objects.create(number="A-1")
        voucher = Voucher.objects.create(code="SPRING-10")
        message = adapters_django.send("+420777123456", "Shipped", related_objects=[order, voucher])
        assert [r.content_object for r in message.related_objects.all()] == [order, voucher]
        assert [r.object_id_int for r in message.related_objects.all()] == [order.pk, None]
        other = adapters_django.send("+420777123456", "Unrelated")
        assert list(OutputSMSMessage.objects.filter_related_object(order)) == [message]
        assert list(OutputSMSMessage.objects.filter_related_object(voucher)) == [message]
        assert list(OutputSMSMessage.objects.filter_related_objects(Order.objects.all())) == [message]
        assert list(OutputSMSMessage.objects.filter_related_objects(Voucher.objects.all())) == [message]
        assert list(OutputSMSMessage.objects.filter_related_objects(Order.objects.none())) == []
        assert other not in OutputSMSMessage.objects.filter_related_objects([order, voucher])

    def test_tag_and_extra_data_are_stored(self) -> None:
        """tag is stored; other keywords land in extra_data; the core's options are not extra data."""
        message = adapters_django.send("+420777123456", "Hi", tag="welcome", order_id=42, note="Žofie", priority=1)
        assert message.tag == "welcome"
        assert message.extra_data == {"order_id": 42, "note": "Žofie"}
        assert message.priority == 1
        assert adapters_django.send("+420777123456", "Hi").extra_data == {}

    def test_bad_input_raises_before_anything_is_stored(self) -> None:
        """A bad recipient or tag is a typed error and no row is written."""
        with pytest.raises(InvalidRecipientError):
            adapters_django.send("call me", "Hi")
        with pytest.raises(InvalidTagError):
            adapters_django.send("+420777123456", "Hi", tag="not a slug")
        assert not OutputSMSMessage.objects.exists()

    def test_failed_is_true_exactly_in_error(self, spy: TransactionSpyProvider) -> None:
        """A rejected message is stored in ERROR with the reason, and failed is true; an accepted one is not."""
        spy.will(Outcome.rejected("number blocked by the carrier"))
        rejected = adapters_django.send("+420777123456", "One")
        accepted = adapters_django.send("+420777123456", "Two")
        assert (rejected.state, rejected.error, rejected.failed) == ("error", "number blocked by the carrier", True)
        assert (accepted.state, accepted.failed) == ("sent", False)
        assert list(OutputSMSMessage.objects.failed()) == [rejected]

    def test_the_provider_is_called_outside_any_transaction(self, spy: TransactionSpyProvider) -> None:
        """Sending outside a transaction: stored, published with no transaction open, outcome stored."""
        adapters_django.send("+420777123456", "Hi")
        assert spy.in_transaction == [False]

    def test_an_idempotency_key_sends_once(self) -> None:
        """A second send with the same key returns the first message and stores nothing new."""
        first = adapters_django.send("+420777123456", "Your code", idempotency_key="otp-1")
        second = adapters_django.send("+420777123456", "Your code", idempotency_key="otp-1")
        assert first == second
        assert OutputSMSMessage.objects.count() == 1

    def test_the_ancestors_backend_path_is_an_alias(self, settings: Any) -> None:
        """The ancestor's dotted path selects the matching backend of this project."""
        settings.PYMESS_SMS_SENDER_BACKEND = "pymess.backend.sms.dummy.DummySMSBackend"
        assert isinstance(adapters_django.get_service().providers["default"], DummySMSBackend)
        assert adapters_django.send("+420777123456", "Hi").state == SMSState.DEBUG.value


class TestSendTemplate:
    def test_send_template_renders_with_django_without_escaping(self) -> None:
        """The body is rendered by Django's engine, nothing HTML-escaped; slug and template are stored."""
        template = SMSTemplate.objects.create(slug="greeting", body="Hi {{ name }}, {{ count|add:1 }} items & more")
        message = adapters_django.send_template("+420777123456", "greeting", {"name": "Tom & Jerry's", "count": 2})
        assert message is not None
        assert message.content == "Hi Tom & Jerry's, 3 items & more"
        assert (message.template_slug, message.template) == ("greeting", template)
        assert list(template.output_sms_messages.all()) == [message]

    def test_send_template_passes_related_objects_and_tag(self) -> None:
        """related_objects and tag travel with a template send too."""
        SMSTemplate.objects.create(slug="shipped", body="Order {{ number }} shipped")
        order = Order.objects.create(number="A-7")
        message = adapters_django.send_template(
            "+420777123456", "shipped", {"number": order.number}, related_objects=[order], tag="shipping"
        )
        assert message is not None
        assert message.content == "Order A-7 shipped"
        assert message.tag == "shipping"
        assert [r.content_object for r in message.related_objects.all()] == [order]

    def test_a_missing_slug_raises_both_kinds_of_not_found(self) -> None:
        """No template with the slug: the model's DoesNotExist, which is also the core's TemplateNotFoundError."""
        with pytest.raises(SMSTemplate.DoesNotExist) as info:
            adapters_django.send_template("+420777123456", "nope", {})
        assert isinstance(info.value, TemplateNotFoundError)
        assert not OutputSMSMessage.objects.exists()

    def test_a_broken_body_raises_a_render_error(self) -> None:
        """A body Django cannot parse is a TemplateRenderError and nothing is stored."""
        SMSTemplate.objects.create(slug="broken", body="{% if %}")
        with pytest.raises(TemplateRenderError):
            adapters_django.send_template("+420777123456", "broken", {})
        assert not OutputSMSMessage.objects.exists()

    def test_model_send_uses_the_instance_in_memory(self) -> None:
        """template.send renders the instance as the caller holds it, unsaved changes included."""
        template = SMSTemplate.objects.create(slug="otp", body="Code {{ code }}")
        template.body = "Your code: {{ code }}"
        message = template.send("+420777123456", {"code": "1234"})
        assert message is not None
        assert message.content == "Your code: 1234"


class TestOwnTemplateModel:
    """A project's subclass of AbstractSMSTemplate: its overrides apply on every path."""

    def make(self, **fields: Any) -> GuardedSMSTemplate:
        return GuardedSMSTemplate.objects.create(
            slug="news", body="hello {{ name }}", signature="-- ACME", blocked_recipients=["+420777000111"], **fields
        )

    def test_send_returns_none_and_stores_nothing_when_can_send_refuses(self) -> None:
        """can_send saying no makes send return None, and no message is stored."""
        template = self.make()
        assert template.send("+420 777 000 111", {"name": "Eve"}) is None
        assert template.send("+420777123456", {"name": "Eve", "opted_out": True}) is None
        assert not OutputSMSMessage.objects.exists()

    def test_get_body_and_render_body_overrides_apply(self) -> None:
        """The overridden get_body and render_body shape the content."""
        message = self.make().send("+420777123456", {"name": "Eve"})
        assert message is not None
        assert message.content == "HELLO Eve -- ACME"

    def test_the_cores_send_template_honours_the_model(self, service: SMSService) -> None:
        """The core's send_template over a repository of the model calls the model's can_send and render_body."""
        self.make()
        core = SMSService(
            messages=service.messages,
            templates=DjangoTemplateRepository(GuardedSMSTemplate),
            providers=service.providers,
        )
        assert core.send_template("+420777000111", "news", {"name": "Eve"}) is None
        sent = core.send_template("+420777123456", "news", {"name": "Eve"})
        assert sent is not None
        assert sent.content == "HELLO Eve -- ACME"
        assert OutputSMSMessage.objects.get().template_slug == "news"
