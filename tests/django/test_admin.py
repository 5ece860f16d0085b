"""The admin pages render: messages read-only with their related objects, templates with a preview."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from adapters_django.admin import OutputSMSMessageAdmin
from adapters_django.models import OutputSMSMessage, SMSTemplate
from adapters_django.repositories import DjangoMessageRepository
from smscore import RelatedObject, SMSState
from tests.contracts.repositories import make_message
from tests.django.testapp.models import Order

pytestmark = pytest.mark.django_db

MESSAGES = "/admin/adapters_django/outputsmsmessage/"
TEMPLATES = "/admin/adapters_django/smstemplate/"
#: A sample context with every variable of the template fixture.
FULL_CONTEXT = '{"name": "Eva", "code": "1"}'


@pytest.fixture
def message() -> OutputSMSMessage:
    order = Order.objects.create(number="A-1")
    stored = DjangoMessageRepository().add(
        make_message(
            content="Your parcel is on its way",
            state=SMSState.ERROR,
            error="blocked by the carrier",
            tag="shipping",
            related_objects=(RelatedObject.of(order), RelatedObject("shop.cart", "c-1")),
            extra_data={"order_id": order.pk},
        )
    )
    return OutputSMSMessage.objects.get(pk=stored.id)


class TestMessageAdmin:
    def test_the_list_renders_with_filters_and_search(self, admin_client: Client, message: OutputSMSMessage) -> None:
        """The list shows the message; state, provider, tag and date filters and the recipient search work."""
        DjangoMessageRepository().add(
            make_message(recipient="+421900111222", state=SMSState.DELIVERED, provider="backup")
        )
        page = admin_client.get(MESSAGES)
        assert page.status_code == 200
        assert b"+420777123456" in page.content
        assert b"+421900111222" in page.content
        for query in ({"state__exact": "error"}, {"tag": "shipping"}, {"provider": "default"}, {"q": "777 123 456"}):
            filtered = admin_client.get(f"{MESSAGES}?{urlencode(query)}")
            assert filtered.status_code == 200, query
            assert b"+420777123456" in filtered.content, query
            assert b"+421900111222" not in filtered.content, query
        since = urlencode({"created_at__gte": "2000-01-01 00:00:00+00:00"})
        assert b"+420777123456" in admin_client.get(f"{MESSAGES}?{since}").content

    def test_the_list_shows_the_reported_price_and_sorts_by_it(self, admin_client: Client) -> None:
        """The price column shows the amount with its currency (empty while unknown); it sorts, and the provider
        filter narrows the list to one provider's spend."""
        repo = DjangoMessageRepository()
        repo.add(make_message(recipient="+420777000001", provider="twilio", price=Decimal("0.0079"), price_unit="USD"))
        repo.add(make_message(recipient="+420777000002", provider="sns", price=Decimal("0.00645"), price_unit="USD"))
        repo.add(make_message(recipient="+420777000003", provider="twilio"))
        column = OutputSMSMessageAdmin.list_display.index("cost")
        ascending = admin_client.get(f"{MESSAGES}?o={column}")
        assert ascending.status_code == 200
        text = ascending.content.decode()
        assert text.index("0.00645 USD") < text.index("0.0079 USD")
        text = admin_client.get(f"{MESSAGES}?o=-{column}").content.decode()
        assert text.index("0.0079 USD") < text.index("0.00645 USD")
        twilio = admin_client.get(f"{MESSAGES}?provider=twilio").content.decode()
        assert "0.0079 USD" in twilio
        assert "0.00645 USD" not in twilio

    def test_the_detail_page_shows_everything_with_related_objects(
        self, admin_client: Client, message: OutputSMSMessage
    ) -> None:
        """The detail page shows the fields and the related objects, linking to the ones with an admin page."""
        page = admin_client.get(f"{MESSAGES}{message.pk}/change/")
        assert page.status_code == 200
        text = page.content.decode()
        assert "Your parcel is on its way" in text
        assert "blocked by the carrier" in text
        order_pk = message.related_objects.all()[0].object_id
        assert f'href="/admin/testapp/order/{order_pk}/change/"' in text
        assert "shop.cart c-1" in text
        assert 'name="_save"' not in text  # view only

    def test_nothing_can_be_added_changed_or_deleted(self, admin_client: Client, message: OutputSMSMessage) -> None:
        """Add, change and delete are refused; the state changes only through the use cases."""
        assert admin_client.get(f"{MESSAGES}add/").status_code == 403
        assert admin_client.post(f"{MESSAGES}{message.pk}/change/", {"state": "delivered"}).status_code == 403
        assert admin_client.post(f"{MESSAGES}{message.pk}/delete/", {"post": "yes"}).status_code == 403
        message.refresh_from_db()
        assert message.state == "error"


class TestTemplateAdmin:
    @pytest.fixture
    def template(self) -> SMSTemplate:
        return SMSTemplate.objects.create(slug="otp", body="Kód pro {{ name }}: {{ code }} & více")

    def preview(self, client: Client, template: SMSTemplate, **query: Any) -> str:
        page = client.get(f"{TEMPLATES}{template.pk}/preview/?{urlencode(query)}")
        assert page.status_code == 200
        return str(page.content.decode())

    def test_the_list_and_the_change_page_render_with_a_preview_link(
        self, admin_client: Client, template: SMSTemplate
    ) -> None:
        """Templates are listed and editable, with a link to their preview."""
        assert b"otp" in admin_client.get(TEMPLATES).content
        page = admin_client.get(f"{TEMPLATES}{template.pk}/change/")
        assert page.status_code == 200
        assert f'href="{TEMPLATES}{template.pk}/preview/"'.encode() in page.content

    def test_the_preview_renders_the_sample_context_with_encoding_and_segments(
        self, admin_client: Client, template: SMSTemplate
    ) -> None:
        """With accents off the rendered text is transliterated to GSM-7, unescaped, in one part."""
        text = self.preview(admin_client, template, context='{"name": "Žofie", "code": "1234"}')
        assert '<pre class="sms-preview">Kod pro Zofie: 1234 &amp; vice</pre>' in text  # & escaped once, by HTML
        assert '<td class="sms-encoding">GSM-7</td>' in text
        assert '<td class="sms-segments">1</td>' in text

    def test_the_preview_follows_use_accent_and_counts_parts(
        self, admin_client: Client, template: SMSTemplate, settings: Any
    ) -> None:
        """With accents kept the text is UCS-2, and a long one takes several parts."""
        settings.PYMESS_SMS_USE_ACCENT = True
        text = self.preview(admin_client, template, context='{"name": "' + "Ž" * 100 + '", "code": "1"}')
        assert '<td class="sms-encoding">UCS-2</td>' in text
        assert '<td class="sms-segments">2</td>' in text

    def test_the_preview_asks_can_send_about_a_recipient(self, admin_client: Client, template: SMSTemplate) -> None:
        """A recipient typed in is normalised and handed to can_send."""
        text = self.preview(admin_client, template, context=FULL_CONTEXT, recipient="+420 777 123 456")
        assert '<td class="sms-can-send">yes</td>' in text

    @pytest.mark.parametrize(
        ("query", "error"),
        [
            ({"context": "{not json"}, "not valid JSON"),
            ({"context": "[1, 2]"}, "must be a JSON object"),
            ({"context": FULL_CONTEXT, "recipient": "call me"}, "is not a phone number"),
        ],
    )
    def test_the_preview_reports_bad_input(
        self, admin_client: Client, template: SMSTemplate, query: dict[str, str], error: str
    ) -> None:
        """Bad JSON or a bad recipient is shown on the form, not a server error."""
        assert error in self.preview(admin_client, template, **query)

    def test_the_preview_reports_a_broken_template(self, admin_client: Client) -> None:
        """A body Django cannot parse is reported on the page."""
        broken = SMSTemplate.objects.create(slug="broken", body="{% if %}")
        assert "The template cannot be rendered" in self.preview(admin_client, broken, context="{}")

    def test_the_preview_of_a_missing_template_is_not_found(self, admin_client: Client) -> None:
        """An unknown id is a 404."""
        assert admin_client.get(f"{TEMPLATES}987654/preview/").status_code == 404

    def test_the_preview_needs_admin_access(self, client: Client, template: SMSTemplate) -> None:
        """Anonymous visitors are sent to the login page."""
        assert client.get(f"{TEMPLATES}{template.pk}/preview/").status_code == 302
