"""Inbound SMS through the Django view, the ``sms_received`` signal and the admin page.

Twilio's incoming-message webhooks are signed with twilio's own ``RequestValidator`` and posted to
``adapters_django.urls`` (under ``sms/`` in the test URLconf); replies go out through the real ``twilio`` client
to the loopback fake Twilio. What is asserted is the HTTP answer, the rows afterwards and what receivers heard.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse
from twilio.request_validator import RequestValidator

from adapters_django.models import InputSMSMessage, OutputSMSMessage, SMSOptOut
from adapters_django.signals import sms_received
from adapters_django.wiring import get_service
from smscore import InboundSMS
from smscore.inbound import REPLY_TAG
from tests.django.test_status_callbacks import (  # noqa: F401  (fixtures)
    ACCOUNT_SID,
    AUTH_TOKEN,
    SENDER,
    fake,
    twilio,
    twilio_http,
)

pytestmark = pytest.mark.django_db(transaction=True)

PERSON = "+420777123456"
PATH = "/sms/inbound/twilio/"
LOCAL_URL = f"http://testserver{PATH}"
PUBLIC_BASE = "https://public.example/sms"


def incoming(sid: str, body: str, sender: str = PERSON) -> dict[str, str]:
    """The form fields of a Twilio incoming-message webhook."""
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": sender,
        "FromCountry": "CZ",
        "MessageSid": sid,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": SENDER,
    }


def signed(url: str, params: Mapping[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def post(client: Client, params: Mapping[str, str], headers: Mapping[str, str]) -> Any:
    return client.post(PATH, urlencode(params), content_type="application/x-www-form-urlencoded", headers=headers)


@pytest.fixture
def heard() -> Iterator[list[dict[str, Any]]]:
    """Every ``sms_received`` sent during the test, as the keyword arguments the receiver got."""
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    def receiver(signal: object, **kwargs: Any) -> None:
        with lock:
            seen.append(kwargs)

    sms_received.connect(receiver, weak=False, dispatch_uid="tests.inbound.heard")
    yield seen
    sms_received.disconnect(dispatch_uid="tests.inbound.heard")


@pytest.mark.usefixtures("twilio")
class TestTheView:
    def test_a_signed_message_is_stored_and_the_signal_sent(self, client: Client, heard: list[dict[str, Any]]) -> None:
        """200 with empty TwiML; one InputSMSMessage row; sms_received with the stored SMS and no keyword."""
        params = incoming("SM" + "1" * 32, "See you at 10")
        answer = post(client, params, signed(LOCAL_URL, params))
        assert answer.status_code == 200
        assert answer["Content-Type"] == "text/xml"
        assert b"<Response/>" in answer.content
        row = InputSMSMessage.objects.get()
        assert (row.provider, row.sender, row.recipient, row.content) == ("twilio", PERSON, SENDER, "See you at 10")
        assert row.extra_data["FromCountry"] == "CZ"
        [event] = heard
        assert isinstance(event["inbound"], InboundSMS)
        assert event["inbound_id"] == row.pk
        assert event["keyword"] is None

    @pytest.mark.parametrize("tamper", ["no signature", "other token", "changed body"])
    def test_a_forged_message_is_refused_and_nothing_stored(self, client: Client, tamper: str) -> None:
        """403 and no row, whatever is wrong with the signature."""
        params = incoming("SM" + "2" * 32, "STOP")
        headers = {
            "no signature": {},
            "other token": signed(LOCAL_URL, params, token="not-the-token"),
            "changed body": signed(LOCAL_URL, {**params, "Body": "hello"}),
        }[tamper]
        assert post(client, params, headers).status_code == 403
        assert not InputSMSMessage.objects.exists()
        assert not SMSOptOut.objects.exists()

    def test_a_replayed_message_is_stored_once(self, client: Client, heard: list[dict[str, Any]]) -> None:
        """The same signed request three times: 200 each time, one row, one signal."""
        params = incoming("SM" + "3" * 32, "Yes")
        for _ in range(3):
            assert post(client, params, signed(LOCAL_URL, params)).status_code == 200
        assert InputSMSMessage.objects.count() == 1
        assert len(heard) == 1

    def test_behind_a_proxy_the_public_url_is_what_is_signed(self, client: Client, settings: Any) -> None:
        """With PYMESS_SMS_PUBLIC_BASE_URL, Twilio's signature over the public URL verifies on any local host."""
        settings.PYMESS_SMS_PUBLIC_BASE_URL = PUBLIC_BASE
        params = incoming("SM" + "4" * 32, "hello")
        assert post(client, params, signed(LOCAL_URL, params)).status_code == 403
        assert post(client, params, signed(f"{PUBLIC_BASE}/inbound/twilio/", params)).status_code == 200
        assert InputSMSMessage.objects.count() == 1

    def test_the_url_is_named_and_only_post_is_allowed(self, client: Client) -> None:
        """reverse("smscore:inbound") is the path; GET is 405; a backend that receives nothing is a 400."""
        assert reverse("smscore:inbound", kwargs={"provider": "twilio"}) == PATH
        assert client.get(PATH).status_code == 405
        assert client.post("/sms/inbound/nope/", {}).status_code == 400

    def test_stop_opts_out_and_the_confirmation_goes_out_once(
        self, client: Client, settings: Any, heard: list[dict[str, Any]]
    ) -> None:
        """STOP (any case, spaces): the opt-out row (source inbound), the tagged confirmation sent through Twilio,
        the keyword in the signal; a HELP afterwards is not answered (the number opted out)."""
        settings.PYMESS_SMS_INBOUND_KEYWORDS = {"stop": {"reply": "Unsubscribed."}, "help": {"reply": "Help text"}}
        for sid, body in (("SM" + "5" * 32, "  stop "), ("SM" + "6" * 32, "HELP")):
            params = incoming(sid, body)
            assert post(client, params, signed(LOCAL_URL, params)).status_code == 200
        assert SMSOptOut.objects.get().source == "inbound"
        [reply] = OutputSMSMessage.objects.filter(tag=REPLY_TAG)
        assert (reply.recipient, reply.content, reply.state) == (PERSON, "Unsubscribed.", "sending")
        assert [event["keyword"] for event in heard] == ["stop", "help"]

    def test_a_reply_is_linked_to_the_message_it_answers(self, client: Client) -> None:
        """A message sent to the person through Twilio, then their answer: reply_to is that message's id."""
        sent = get_service().send(PERSON, "Reply YES to confirm", provider="twilio")
        params = incoming("SM" + "7" * 32, "yes please")
        assert post(client, params, signed(LOCAL_URL, params)).status_code == 200
        assert InputSMSMessage.objects.get().reply_to == sent.id


@pytest.mark.usefixtures("twilio")
class TestTheSignal:
    def test_a_failing_receiver_is_logged_and_the_message_kept(
        self, client: Client, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A receiver that writes then raises: 200, the SMS stored, the receiver's write rolled back, logged."""

        def broken(signal: object, **kwargs: Any) -> None:
            SMSOptOut.objects.create(recipient="+420777999999", source="receiver")
            raise RuntimeError("receiver bug")

        sms_received.connect(broken, weak=False, dispatch_uid="tests.inbound.broken")
        try:
            params = incoming("SM" + "8" * 32, "hello")
            with caplog.at_level(logging.ERROR):
                assert post(client, params, signed(LOCAL_URL, params)).status_code == 200
        finally:
            sms_received.disconnect(dispatch_uid="tests.inbound.broken")
        assert InputSMSMessage.objects.count() == 1
        assert not SMSOptOut.objects.exists()
        assert "sms_received receiver" in caplog.text


@pytest.mark.usefixtures("twilio")
def test_the_admin_page_lists_messages_read_only_with_a_link_to_the_answered_one(admin_client: Client) -> None:
    """The list and the detail page show the SMS; the detail links the message answered; nothing can be added."""
    sent = get_service().send(PERSON, "Reply YES to confirm", provider="twilio")
    row = InputSMSMessage.objects.create(
        provider="twilio",
        sender=PERSON,
        recipient=SENDER,
        content="YES",
        received_at=sent.created_at,
        provider_ref="SM9",
        reply_to=sent.id,
    )
    listing = admin_client.get(reverse("admin:adapters_django_inputsmsmessage_changelist"))
    assert listing.status_code == 200
    assert b"YES" in listing.content
    detail = admin_client.get(reverse("admin:adapters_django_inputsmsmessage_change", args=[row.pk]))
    message_url = reverse("admin:adapters_django_outputsmsmessage_change", args=[sent.id])
    assert message_url.encode() in detail.content
    assert admin_client.get(reverse("admin:adapters_django_inputsmsmessage_add")).status_code == 403


# -- many webhooks at once, over a live server, on PostgreSQL --------------------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.usefixtures("twilio")
@pytest.mark.django_db(transaction=True, databases=["postgres"])
def test_1000_webhooks_posted_at_once_are_each_stored_exactly_once(
    live_server: Any, settings: Any, postgres: str, heard: list[dict[str, Any]]
) -> None:
    """1,000 signed incoming messages, each posted twice (a provider's retry), shuffled, by 16 threads sharing
    keep-alive connections: every answer 200, exactly 1,000 rows, each reference once, one signal each."""
    settings.PYMESS_SMS_DATABASE = postgres
    settings.PYMESS_SMS_PUBLIC_BASE_URL = f"{live_server.url}/sms"
    url = f"{live_server.url}{PATH}"
    forms = [incoming(f"SM{i:032x}", f"Answer {i}", sender=f"+4207770{i:05d}") for i in range(1000)]
    jobs = [form for form in forms for _ in range(2)]
    random.Random(18).shuffle(jobs)
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    started = time.perf_counter()
    with httpx.Client(limits=limits, timeout=30.0) as http, ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda form: http.post(url, data=form, headers=signed(url, form)).status_code, jobs))
    elapsed = time.perf_counter() - started
    print(f"\n2000 inbound webhooks (1000 distinct) over the live server in {elapsed:.1f} s ({2000 / elapsed:.0f}/s)")
    connections.close_all()
    assert statuses == [200] * 2000
    rows = InputSMSMessage.objects.using(postgres)
    assert rows.count() == 1000
    assert set(rows.values_list("provider_ref", flat=True)) == {form["MessageSid"] for form in forms}
    assert sorted(event["inbound"].provider_ref for event in heard) == sorted(form["MessageSid"] for form in forms)
