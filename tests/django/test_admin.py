"""The admin pages: messages listed and shown to staff with their related objects, sent again through the
public service, never edited; templates with a preview; each action only for staff allowed to run it."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connections
from django.test import Client

from adapters_django.admin import OutputSMSMessageAdmin
from adapters_django.admin_actions import MAX_SELECTED
from adapters_django.models import OutputSMSMessage, SMSTemplate
from adapters_django.repositories import DjangoMessageRepository
from smscore import Outcome, RelatedObject, SMSState, TemplateRenderError
from tests.contracts.repositories import make_message
from tests.django.support import install_spy
from tests.django.testapp.models import Order
from tests.django.testapp.providers import TransactionSpyProvider

pytestmark = pytest.mark.django_db

MESSAGES = "/admin/adapters_django/outputsmsmessage/"
TEMPLATES = "/admin/adapters_django/smstemplate/"
#: A sample context with every variable of the template fixture.
FULL_CONTEXT = '{"name": "Eva", "code": "1"}'

#: ``django_capture_on_commit_callbacks``: sends inside the test's transaction publish when its callbacks run.
OnCommit = Callable[..., AbstractContextManager[list[Callable[[], object]]]]


def store(**fields: Any) -> OutputSMSMessage:
    """A message stored as the repository stores it, read back as the model the admin shows."""
    stored = DjangoMessageRepository().add(make_message(**fields))
    return OutputSMSMessage.objects.get(pk=stored.id)


def staff(*codenames: str) -> Client:
    """A client logged in as staff holding only the given permissions of the message model."""
    user = User.objects.create_user(f"staff-{'-'.join(codenames) or 'none'}", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="adapters_django", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


def act(client: Client, action: str, *messages: OutputSMSMessage, follow: bool = True) -> Any:
    """Run a list action on ``messages`` as the changelist's form posts it."""
    data = {"action": action, "index": "0", "_selected_action": [str(m.pk) for m in messages]}
    return client.post(MESSAGES, data, follow=follow)


def notices(response: Any) -> list[str]:
    """The texts the messages framework showed on the page, as read: tags stripped, entities decoded."""
    return [html.unescape(re.sub(r"<[^>]+>", "", str(m))) for m in response.context["messages"]]


def fieldset(html: str, heading: str) -> str:
    """The HTML of the fieldset headed ``heading``."""
    for match in re.finditer(r"<fieldset .*?</fieldset>", html, flags=re.DOTALL):
        if f">{heading}</h2>" in match.group(0):
            return match.group(0)
    raise AssertionError(f"no fieldset {heading!r}")


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
        # The list's first column is the action checkbox; sort parameters count it.
        column = ["action_checkbox", *OutputSMSMessageAdmin.list_display].index("cost")
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

    def test_the_list_shows_the_text_cut_short_with_the_whole_of_it_on_hover(self, admin_client: Client) -> None:
        """A content column shows the start of a long text; its tooltip holds all of it."""
        long_text = "Your order A-17 has left our warehouse and reaches you tomorrow between 8 and 12 in the morning."
        store(content=long_text)
        text = admin_client.get(MESSAGES).content.decode()
        assert '<th scope="col" class="column-short_content">' in text
        assert f'<span title="{long_text}">Your order A-17 has left our warehouse and reache…</span>' in text

    @pytest.mark.parametrize(
        ("term", "field"),
        [
            ("777 123 456", "recipient"),
            ("+420777123456", "recipient"),
            ("Django", "content"),
            ("django meetup", "content"),
            ("meetup-invite", "tag"),
            ("SM9f2c", "provider_ref"),
        ],
    )
    def test_search_finds_a_message_by_each_field(self, admin_client: Client, term: str, field: str) -> None:
        """Search covers the recipient (spaces ignored), words of the text, the tag and the provider's reference."""
        store(
            recipient="+420777123456",
            content="Come to the Django meetup on Friday",
            tag="meetup-invite",
            provider_ref="SM9f2c1e",
        )
        store(recipient="+421900111222", content="Your parcel is on its way", tag="shipping", provider_ref="SMaaaa")
        page = admin_client.get(f"{MESSAGES}?{urlencode({'q': term})}").content.decode()
        assert "+420777123456" in page, field
        assert "+421900111222" not in page, field

    def test_states_are_coloured_badges_and_the_failure_shows_only_on_failed_messages(
        self, admin_client: Client
    ) -> None:
        """Each state is a badge with its own class (styled by the app's stylesheet); a failed message shows its
        reason under its badge, a delivered one no failure mark at all (no red cross)."""
        store(recipient="+420777000001", state=SMSState.DELIVERED)
        store(recipient="+420777000002", state=SMSState.ERROR, error="rejected by the carrier: blocked number")
        page = admin_client.get(MESSAGES).content.decode()
        assert '<span class="sms-state sms-state-delivered">Delivered</span>' in page
        assert '<span class="sms-state sms-state-error">Error</span>' in page
        assert "adapters_django/admin.css" in page
        assert '<div class="sms-failure">rejected by the carrier: blocked number</div>' in page
        assert page.count('class="sms-failure"') == 1
        assert "icon-no" not in page
        assert "icon-yes" not in page

    def test_the_detail_page_keeps_internals_in_a_collapsed_section(self, admin_client: Client) -> None:
        """Leases, versions, attempts, the idempotency key and the backend path are in a collapsed "Internals"
        section and nowhere else; the failure row is absent from a message that has not failed."""
        message = store(state=SMSState.DELIVERED, idempotency_key="order-17-shipped", attempts=1, version=3)
        text = admin_client.get(f"{MESSAGES}{message.pk}/change/").content.decode()
        internals = fieldset(text, "Internals")
        assert '<fieldset class="module aligned collapse"' in internals
        assert "<details><summary>" in internals  # closed until opened
        for field in ("lease_expires_at", "version", "attempts", "idempotency_key", "backend", "next_attempt_at"):
            assert f"field-{field}" in internals, field
            assert text.count(f'field-{field}"') == 1, field
        assert "order-17-shipped" in internals
        badge = text.index('<span class="sms-state sms-state-delivered">Delivered</span>')
        assert badge < text.index(fieldset(text, "Provider"))  # in the first section
        assert "sms-failure" not in text
        assert "field-last_error" not in text
        assert "icon-no" not in text

    def test_the_detail_page_of_a_failed_message_says_why(self, admin_client: Client) -> None:
        """A failed message shows its reason under its state, in the first section."""
        message = store(state=SMSState.ERROR, error="gave up after 3 attempts: 503 from the gateway")
        text = admin_client.get(f"{MESSAGES}{message.pk}/change/").content.decode()
        state = text.index('<span class="sms-state sms-state-error">Error</span>')
        reason = text.index('<div class="sms-failure">gave up after 3 attempts: 503 from the gateway</div>')
        assert state < reason < text.index(fieldset(text, "Provider"))

    def test_the_last_error_of_a_message_still_on_its_way_is_shown_plainly(self, admin_client: Client) -> None:
        """A retried message's last error is shown as such, without the failure's red."""
        message = store(state=SMSState.WAITING, attempts=1, error="503 from the gateway; retried shortly")
        text = admin_client.get(f"{MESSAGES}{message.pk}/change/").content.decode()
        assert "field-last_error" in text
        assert "503 from the gateway; retried shortly" in text
        assert "sms-failure" not in text

    def test_nothing_can_be_added_changed_or_deleted(self, admin_client: Client, message: OutputSMSMessage) -> None:
        """Add, change and delete are refused; the state changes only through the use cases."""
        assert admin_client.get(f"{MESSAGES}add/").status_code == 403
        assert admin_client.post(f"{MESSAGES}{message.pk}/change/", {"state": "delivered"}).status_code == 403
        assert admin_client.post(f"{MESSAGES}{message.pk}/delete/", {"post": "yes"}).status_code == 403
        message.refresh_from_db()
        assert message.state == "error"


class TestSendAgain:
    @pytest.fixture
    def failed(self) -> OutputSMSMessage:
        order = Order.objects.create(number="A-17")
        return store(
            content="Your parcel is on its way",
            state=SMSState.ERROR,
            error="blocked by the carrier",
            tag="shipping",
            sender="SHOP",
            priority=1,
            related_objects=(RelatedObject.of(order), RelatedObject("shop.cart", "c-1")),
            extra_data={"order_id": order.pk},
        )

    def test_a_failed_message_is_sent_again_as_a_new_linked_message(
        self,
        admin_client: Client,
        failed: OutputSMSMessage,
        spy: TransactionSpyProvider,
        django_capture_on_commit_callbacks: OnCommit,
    ) -> None:
        """The copy has the recipient, text, sender, priority, tag, extra data and related objects of the original,
        plus the original itself as a related object; it reaches the provider through the public service; the
        original is untouched; the page says what happened."""
        before = OutputSMSMessage.objects.values().get(pk=failed.pk)
        with django_capture_on_commit_callbacks(execute=True):
            page = act(admin_client, "send_again", failed)
        copy = OutputSMSMessage.objects.exclude(pk=failed.pk).get()
        assert (copy.recipient, copy.content, copy.sender, copy.priority, copy.tag, copy.extra_data) == (
            "+420777123456",
            "Your parcel is on its way",
            "SHOP",
            1,
            "shipping",
            failed.extra_data,
        )
        links = {(r.content_type.app_label, r.content_type.model, r.object_id) for r in copy.related_objects.all()}
        order_pk = str(failed.extra_data["order_id"])
        assert links == {
            ("testapp", "order", order_pk),
            ("shop", "cart", "c-1"),
            ("adapters_django", "outputsmsmessage", str(failed.pk)),
        }
        assert list(OutputSMSMessage.objects.filter_related_object(failed)) == [copy]
        assert [m.id for m in spy.published] == [copy.pk]
        assert copy.state == "sent"
        assert OutputSMSMessage.objects.values().get(pk=failed.pk) == before
        assert notices(page) == [f"1 message sent again: #{failed.pk} → #{copy.pk} (Waiting)."]
        assert [m.level_tag for m in page.context["messages"]] == ["success"]
        assert f'<a href="{MESSAGES}{copy.pk}/change/">#{copy.pk}</a> (Waiting)' in page.content.decode()

    def test_the_original_links_to_its_copies(
        self, admin_client: Client, failed: OutputSMSMessage, spy: TransactionSpyProvider
    ) -> None:
        """The original's page lists the messages sent from it; the copy's related objects link back."""
        act(admin_client, "send_again", failed)
        copy = OutputSMSMessage.objects.exclude(pk=failed.pk).get()
        original_page = admin_client.get(f"{MESSAGES}{failed.pk}/change/").content.decode()
        assert f'<a href="{MESSAGES}{copy.pk}/change/">#{copy.pk}</a>' in fieldset(original_page, "Application data")
        copy_page = admin_client.get(f"{MESSAGES}{copy.pk}/change/").content.decode()
        assert f'href="{MESSAGES}{failed.pk}/change/"' in copy_page

    @pytest.mark.parametrize("state", [SMSState.WAITING, SMSState.SENDING, SMSState.UNKNOWN])
    def test_a_message_on_its_way_is_refused(
        self, admin_client: Client, state: SMSState, spy: TransactionSpyProvider
    ) -> None:
        """A message that may still arrive is not copied; the reason is given; it stays as it was."""
        pending = store(state=state)
        page = act(admin_client, "send_again", pending)
        assert OutputSMSMessage.objects.count() == 1
        assert spy.published == []
        label = state.name.capitalize()
        assert notices(page) == [
            "No message sent again; 1 message refused.",
            f"#{pending.pk} refused: still on its way ({label}): wait for its outcome",
        ]
        pending.refresh_from_db()
        assert pending.state == state.value

    def test_what_the_service_refuses_is_reported_and_the_rest_sent(
        self, admin_client: Client, settings: Any, django_capture_on_commit_callbacks: OnCommit
    ) -> None:
        """The copies go through the service's validation: a text too long for today's limit is refused with the
        service's reason, a message on its way is refused, the good one is sent; one notice says all three."""
        settings.PYMESS_SMS_CONFIG = {"max_segments": 1}
        spy = install_spy(settings)
        good = store(content="Short", state=SMSState.DELIVERED)
        long = store(content="x" * 200, segments=2, state=SMSState.ERROR)
        pending = store(state=SMSState.SENDING)
        with django_capture_on_commit_callbacks(execute=True):
            page = act(admin_client, "send_again", good, long, pending)
        copy = OutputSMSMessage.objects.exclude(pk__in=[good.pk, long.pk, pending.pk]).get()
        assert copy.content == "Short"
        assert len(spy.published) == 1
        assert notices(page) == [
            f"1 message sent again: #{good.pk} → #{copy.pk} (Waiting); 2 messages refused.",
            f"#{long.pk} refused: content takes 2 SMS parts in GSM-7; the limit is 1",
            f"#{pending.pk} refused: still on its way (Sending): wait for its outcome",
        ]
        assert [m.level_tag for m in page.context["messages"]] == ["warning"] * 3
        text = page.content.decode()
        assert f'<a href="{MESSAGES}{pending.pk}/change/">#{pending.pk}</a> refused: still on its way' in text

    def test_a_selection_larger_than_the_limit_sends_nothing(
        self, admin_client: Client, spy: TransactionSpyProvider
    ) -> None:
        """More than MAX_SELECTED messages at once is refused as a whole: each copy may call a provider."""
        DjangoMessageRepository().add_many([make_message(state=SMSState.ERROR) for _ in range(MAX_SELECTED + 1)])
        selected = list(OutputSMSMessage.objects.all())
        page = act(admin_client, "send_again", *selected)
        assert OutputSMSMessage.objects.count() == MAX_SELECTED + 1
        assert notices(page) == [f"Select at most {MAX_SELECTED} messages to send again; nothing was done."]


class TestCheckDeliveryNow:
    def test_the_selected_messages_are_asked_and_the_page_says_what_changed(
        self, admin_client: Client, spy: TransactionSpyProvider
    ) -> None:
        """Of four selected messages, the two in flight are asked: one is delivered, one unchanged; the final
        and the unsent ones are not asked, each with its reason; a message not selected is not asked."""
        delivered_now = store(state=SMSState.SENDING, provider_ref="a")
        still_sending = store(state=SMSState.SENDING, provider_ref="b")
        final = store(state=SMSState.DELIVERED)
        unsent = store(state=SMSState.WAITING)
        not_selected = store(state=SMSState.SENDING, provider_ref="c")
        for message in (delivered_now, not_selected):
            spy.report(message.pk, Outcome.accepted(SMSState.DELIVERED))
        page = act(admin_client, "check_delivery_now", delivered_now, still_sending, final, unsent)
        assert sorted(m.id for m in spy.checked) == [delivered_now.pk, still_sending.pk]
        states = dict(OutputSMSMessage.objects.values_list("pk", "state"))
        assert states == {
            delivered_now.pk: "delivered",
            still_sending.pk: "sending",
            final.pk: "delivered",
            unsent.pk: "waiting",
            not_selected.pk: "sending",
        }
        assert notices(page) == [
            f"1 message changed: #{delivered_now.pk} Sending → Delivered; 1 message unchanged; 2 messages not asked.",
            f"#{final.pk} not asked: already final (Delivered)",
            f"#{unsent.pk} not asked: not sent yet",
        ]

    def test_a_provider_that_cannot_be_reached_is_reported(self, admin_client: Client, settings: Any) -> None:
        """A failing delivery check changes nothing and says so."""
        settings.PYMESS_SMS_BACKENDS = {"default": {"backend": "tests.django.testapp.providers:BrokenCheckProvider"}}
        message = store(state=SMSState.SENDING)
        page = act(admin_client, "check_delivery_now", message)
        assert notices(page) == [
            "No message changed; 1 message not asked.",
            f"#{message.pk} not asked: provider 'default' could not be asked; try again later",
        ]
        message.refresh_from_db()
        assert message.state == "sending"

    def test_a_selection_larger_than_the_limit_is_refused(
        self, admin_client: Client, spy: TransactionSpyProvider
    ) -> None:
        """More than MAX_SELECTED messages at once: nothing is asked."""
        DjangoMessageRepository().add_many([make_message(state=SMSState.SENDING) for _ in range(MAX_SELECTED + 1)])
        page = act(admin_client, "check_delivery_now", *OutputSMSMessage.objects.all())
        assert spy.checked == []
        assert notices(page) == [f"Select at most {MAX_SELECTED} messages to check; nothing was done."]


@pytest.mark.django_db(transaction=True)
def test_actions_run_outside_the_request_transaction(
    admin_client: Client, spy: TransactionSpyProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ATOMIC_REQUESTS on, the list's actions still run outside any transaction: "send again" calls the
    provider at once, and its notice gives the copy's real state."""
    monkeypatch.setitem(connections["default"].settings_dict, "ATOMIC_REQUESTS", True)
    failed = store(state=SMSState.ERROR)
    page = act(admin_client, "send_again", failed)
    copy = OutputSMSMessage.objects.exclude(pk=failed.pk).get()
    assert spy.in_transaction == [False]
    assert copy.state == "sent"
    assert notices(page) == [f"1 message sent again: #{failed.pk} → #{copy.pk} (Sent)."]


class TestActionPermissions:
    @pytest.fixture
    def failed(self) -> OutputSMSMessage:
        return store(state=SMSState.ERROR, error="blocked")

    def test_view_only_staff_see_no_actions(self, failed: OutputSMSMessage) -> None:
        """Staff allowed only to view get the list without the action menu or the selection boxes."""
        page = staff("view_outputsmsmessage").get(MESSAGES)
        assert page.status_code == 200
        text = page.content.decode()
        assert "+420777123456" in text
        assert 'name="action"' not in text
        assert "action-checkbox" not in text

    def test_view_only_staff_cannot_post_an_action(self, failed: OutputSMSMessage) -> None:
        """Posting the action form anyway does nothing: no copy, the original unchanged."""
        before = OutputSMSMessage.objects.values().get(pk=failed.pk)
        response = act(staff("view_outputsmsmessage"), "send_again", failed, follow=False)
        assert response.status_code == 200
        assert OutputSMSMessage.objects.count() == 1
        assert OutputSMSMessage.objects.values().get(pk=failed.pk) == before

    def test_staff_who_may_add_messages_may_send_again(
        self, failed: OutputSMSMessage, spy: TransactionSpyProvider
    ) -> None:
        """The model's add permission is what "send again" asks for."""
        client = staff("view_outputsmsmessage", "add_outputsmsmessage")
        assert '<option value="send_again">' in client.get(MESSAGES).content.decode()
        act(client, "send_again", failed)
        assert OutputSMSMessage.objects.count() == 2

    def test_each_action_needs_its_own_permission(self) -> None:
        """Send again comes with the add permission, check delivery now with the change permission."""
        adder = staff("view_outputsmsmessage", "add_outputsmsmessage").get(MESSAGES).content.decode()
        changer = staff("view_outputsmsmessage", "change_outputsmsmessage").get(MESSAGES).content.decode()
        assert '<option value="send_again">' in adder
        assert '<option value="check_delivery_now">' not in adder
        assert '<option value="check_delivery_now">' in changer
        assert '<option value="send_again">' not in changer

    def test_view_only_staff_cannot_post_a_delivery_check(self, spy: TransactionSpyProvider) -> None:
        """Posting "check delivery now" as view-only staff asks no provider."""
        message = store(state=SMSState.SENDING)
        spy.report(message.pk, Outcome.accepted(SMSState.DELIVERED))
        act(staff("view_outputsmsmessage"), "check_delivery_now", message, follow=False)
        assert spy.checked == []
        message.refresh_from_db()
        assert message.state == "sending"


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
        """A body Django cannot parse is reported in the page's error box, with Django's reason."""
        broken = SMSTemplate.objects.create(slug="broken", body="{% if %}")
        text = self.preview(admin_client, broken, context="{}")
        assert '<div class="errornote sms-preview-problem">' in text
        assert "<strong>The template cannot be rendered</strong>" in text
        assert "<pre>Unexpected end of expression in if tag.</pre>" in text
        assert 'class="sms-preview"' not in text

    def test_the_preview_shows_a_render_error_naming_what_is_missing(
        self, admin_client: Client, template: SMSTemplate, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A template model whose render_body refuses (a TemplateRenderError, as for undefined variables) gets
        the error's own words in the error box instead of a text with gaps."""

        def refuse(self: SMSTemplate, context_data: Any) -> str:
            missing = sorted({"name", "code"} - set(context_data))
            raise TemplateRenderError(f"template {self.slug!r} uses undefined variables: {', '.join(missing)}")

        monkeypatch.setattr(SMSTemplate, "render_body", refuse)
        text = self.preview(admin_client, template, context='{"name": "Eva"}')
        assert "<strong>The template cannot be rendered</strong>" in text
        assert "<pre>template &#x27;otp&#x27; uses undefined variables: code</pre>" in text
        assert 'class="sms-preview"' not in text

    def test_the_preview_of_a_missing_template_is_not_found(self, admin_client: Client) -> None:
        """An unknown id is a 404."""
        assert admin_client.get(f"{TEMPLATES}987654/preview/").status_code == 404

    def test_the_preview_needs_admin_access(self, client: Client, template: SMSTemplate) -> None:
        """Anonymous visitors are sent to the login page."""
        assert client.get(f"{TEMPLATES}{template.pk}/preview/").status_code == 302


OPT_OUTS = "/admin/adapters_django/smsoptout/"


class TestOptOutAdmin:
    def test_the_list_loads_and_finds_a_number_typed_with_spaces(self, admin_client: Client) -> None:
        """The list shows each number with its source and reason; a spaced search finds it."""
        from adapters_django.models import SMSOptOut

        SMSOptOut.objects.create(recipient="+420777123456", reason="replied STOP", source="sns")
        SMSOptOut.objects.create(recipient="+420777000000", source="cli")
        page = admin_client.get(OPT_OUTS)
        assert page.status_code == 200
        assert "+420777123456" in page.content.decode()
        assert "replied STOP" in page.content.decode()
        found = admin_client.get(OPT_OUTS, {"q": "777 123 456"}).content.decode()
        assert "+420777123456" in found
        assert "+420777000000" not in found

    def test_staff_add_a_national_number_which_is_stored_in_e164(self, admin_client: Client, settings: Any) -> None:
        """The add form reads the number as sending does; the entry's source is admin; sending to it is refused."""
        import adapters_django
        from adapters_django.models import SMSOptOut
        from adapters_django.wiring import reset_service
        from smscore import RecipientOptedOutError

        settings.PYMESS_SMS_DEFAULT_REGION = "CZ"
        reset_service()
        assert admin_client.get(f"{OPT_OUTS}add/").status_code == 200
        response = admin_client.post(f"{OPT_OUTS}add/", {"recipient": "777 123 456", "reason": "asked by phone"})
        assert response.status_code == 302, response.content.decode()
        entry = SMSOptOut.objects.get()
        assert (entry.recipient, entry.reason, entry.source) == ("+420777123456", "asked by phone", "admin")
        with pytest.raises(RecipientOptedOutError):
            adapters_django.send("+420777123456", "Spring sale")
        assert not OutputSMSMessage.objects.exists()
        reset_service()

    def test_a_bad_or_listed_number_is_refused_by_the_form(self, admin_client: Client) -> None:
        """The form names the problem; nothing is stored twice."""
        from adapters_django.models import SMSOptOut

        SMSOptOut.objects.create(recipient="+420777123456")
        bad = admin_client.post(f"{OPT_OUTS}add/", {"recipient": "call me"})
        assert "is not a phone number" in html.unescape(bad.content.decode())
        again = admin_client.post(f"{OPT_OUTS}add/", {"recipient": "+420 777 123 456"})
        assert "is already opted out" in again.content.decode()
        assert SMSOptOut.objects.count() == 1

    def test_an_entry_page_shows_the_record_read_only(self, admin_client: Client) -> None:
        """An entry is a record: its page loads and offers no field to change."""
        from adapters_django.models import SMSOptOut

        entry = SMSOptOut.objects.create(recipient="+420777123456", reason="STOP")
        page = admin_client.get(f"{OPT_OUTS}{entry.pk}/change/")
        assert page.status_code == 200
        assert 'name="recipient"' not in page.content.decode()
