"""Status callbacks through the Django view, and the ``sms_state_changed`` signal.

Messages are sent through the real ``twilio`` client to the loopback fake Twilio
(:mod:`tests.providers.fake_twilio`); callbacks are signed with twilio's own ``RequestValidator``, as Twilio signs
them, and posted to ``adapters_django.urls`` (included under ``sms/`` in the test URLconf). What is asserted is the
HTTP status and the row in the database afterwards, and what signal receivers heard.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeAlias
from urllib.parse import urlencode

import httpx
import pytest
from django.db import connections, transaction
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from twilio.request_validator import RequestValidator

import adapters_django
from adapters_django.models import OutputSMSMessage
from adapters_django.signals import sms_state_changed
from adapters_django.wiring import get_service
from smscore import SMSMessage, SMSState
from tests.django.testapp.models import Order
from tests.providers.fake_twilio import FakeTwilio, LoopbackHttpClient

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "django-callback-auth-token-5e7a19"
SENDER = "+15005550006"
RECIPIENT = "+420777123456"
PATH = "/sms/status/twilio/"
LOCAL_URL = f"http://testserver{PATH}"
PUBLIC_BASE = "https://public.example/sms"
PUBLIC_URL = f"{PUBLIC_BASE}/status/twilio/"

Params: TypeAlias = Mapping[str, str] | QueryDict


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def twilio_http(fake: FakeTwilio) -> Iterator[LoopbackHttpClient]:
    client = fake.http_client(timeout=5.0)
    yield client
    client.close()


@pytest.fixture
def twilio(settings: Any, twilio_http: LoopbackHttpClient) -> None:
    """The Twilio backend, named ``twilio``, talking to the fake; no public base URL."""
    settings.PYMESS_SMS_BACKENDS = {
        "twilio": {
            "backend": "twilio",
            "config": {
                "ACCOUNT_SID": ACCOUNT_SID,
                "AUTH_TOKEN": AUTH_TOKEN,
                "FROM_": SENDER,
                "HTTP_CLIENT": twilio_http,
            },
        }
    }


@pytest.fixture
def changes() -> Iterator[list[dict[str, Any]]]:
    """Every ``sms_state_changed`` sent during the test, as the keyword arguments the receiver got."""
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    def receiver(signal: object, **kwargs: Any) -> None:
        with lock:
            seen.append(kwargs)

    sms_state_changed.connect(receiver, weak=False, dispatch_uid="tests.status_callbacks.changes")
    yield seen
    sms_state_changed.disconnect(dispatch_uid="tests.status_callbacks.changes")


def report(sid: str, status: str, **fields: str) -> dict[str, str]:
    """The form fields of a Twilio status callback."""
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": SENDER,
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": RECIPIENT,
        **fields,
    }


def signature(url: str, params: Params, token: str = AUTH_TOKEN) -> dict[str, str]:
    """The header Twilio adds: its signature of ``url`` and ``params`` with the account's auth token."""
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def post(client: Client, params: Params, headers: Mapping[str, str], path: str = PATH) -> Any:
    body = params.urlencode() if isinstance(params, QueryDict) else urlencode(params)
    return client.post(path, body, content_type="application/x-www-form-urlencoded", headers=dict(headers))


def sent(content: str = "Your code is 1234") -> OutputSMSMessage:
    """A message sent through Twilio: SENDING, with its sid."""
    message = adapters_django.send(RECIPIENT, content)
    assert (message.state, message.provider) == ("sending", "twilio")
    assert message.provider_ref
    return message


def row(message: OutputSMSMessage) -> dict[str, Any]:
    return dict(OutputSMSMessage.objects.values().get(pk=message.pk))


def moves(changes: list[dict[str, Any]], message_id: int) -> list[tuple[SMSState | None, SMSState]]:
    return [(c["old_state"], c["new_state"]) for c in changes if c["message_id"] == message_id]


SENT_THEN_DELIVERED = [(None, SMSState.WAITING), (SMSState.WAITING, SMSState.SENDING)]

DATABASES = [
    pytest.param("default", id="sqlite"),
    pytest.param(
        "postgres",
        marks=[pytest.mark.django_db(transaction=True, databases=["default", "postgres"]), pytest.mark.postgres],
        id="postgres",
    ),
]


@pytest.mark.usefixtures("twilio")
class TestSignatures:
    def test_a_signed_report_is_applied(self, client: Client) -> None:
        """A 'delivered' report signed over the URL it was posted to moves the message to DELIVERED."""
        message = sent()
        params = report(message.provider_ref, "delivered")
        answer = post(client, params, signature(LOCAL_URL, params))
        assert answer.status_code == 200
        message.refresh_from_db()
        assert message.state == "delivered"
        assert message.extra_sender_data["twilio_status"] == "delivered"

    @pytest.mark.parametrize("tamper", ["wrong-token", "altered-parameter", "missing-header", "other-url"])
    def test_bad_signatures_are_refused_and_change_nothing(self, client: Client, tamper: str) -> None:
        """Wrong token, an altered parameter, no header, a signature for another URL: 403, the row untouched."""
        message = sent()
        before = row(message)
        params = report(message.provider_ref, "delivered")
        headers = signature(LOCAL_URL, params)
        if tamper == "wrong-token":
            headers = signature(LOCAL_URL, params, token="not-the-account-token")
        elif tamper == "altered-parameter":
            params = {**params, "MessageStatus": "failed", "SmsStatus": "failed"}
        elif tamper == "missing-header":
            headers = {}
        else:
            headers = signature("https://attacker.example/sms/status/twilio/", params)
        assert post(client, params, headers).status_code == 403
        assert row(message) == before

    def test_behind_a_proxy_the_configured_public_url_is_what_is_signed(
        self, client: Client, settings: Any, fake: FakeTwilio
    ) -> None:
        """The request reaches http://testserver/..., Twilio signed https://public.example/sms/...: it verifies,
        and that public URL is the one Twilio was given at send time."""
        settings.PYMESS_SMS_PUBLIC_BASE_URL = PUBLIC_BASE
        message = sent()
        assert fake.creates[-1].field("StatusCallback") == PUBLIC_URL
        params = report(message.provider_ref, "delivered")
        assert post(client, params, signature(LOCAL_URL, params)).status_code == 403
        assert row(message)["state"] == "sending"
        assert post(client, params, signature(PUBLIC_URL, params)).status_code == 200
        assert row(message)["state"] == "delivered"

    def test_without_a_public_url_a_proxied_request_does_not_verify(self, client: Client) -> None:
        """No PYMESS_SMS_PUBLIC_BASE_URL: the URL checked is the one the request arrived at, not the public one."""
        message = sent()
        params = report(message.provider_ref, "delivered")
        assert post(client, params, signature(PUBLIC_URL, params)).status_code == 403
        assert row(message)["state"] == "sending"

    def test_the_default_port_may_be_written_or_not(self, client: Client, settings: Any) -> None:
        """A public URL configured with :443 verifies a signature computed without the port, and vice versa."""
        settings.PYMESS_SMS_PUBLIC_BASE_URL = "https://public.example:443/sms"
        message = sent()
        params = report(message.provider_ref, "sent")
        assert post(client, params, signature(PUBLIC_URL, params)).status_code == 200
        settings.PYMESS_SMS_PUBLIC_BASE_URL = PUBLIC_BASE
        params = report(message.provider_ref, "delivered")
        signed_with_port = signature("https://public.example:443/sms/status/twilio/", params)
        assert post(client, params, signed_with_port).status_code == 200
        assert row(message)["state"] == "delivered"

    def test_every_value_of_a_repeated_field_is_signed(self, client: Client) -> None:
        """A field sent twice verifies with both values, and not when one of them is dropped on the way."""
        message = sent()
        params = QueryDict(mutable=True)
        params.update(report(message.provider_ref, "delivered"))
        params.setlist("Tag", ["alpha", "beta"])
        headers = signature(LOCAL_URL, params)
        one_dropped = params.copy()
        one_dropped.setlist("Tag", ["alpha"])
        assert post(client, one_dropped, headers).status_code == 403
        assert post(client, params, headers).status_code == 200
        assert row(message)["state"] == "delivered"


@pytest.mark.usefixtures("twilio")
class TestAnswers:
    def test_the_url_is_named(self) -> None:
        """The include's URL is reversible by name."""
        assert reverse("smscore:status_callback", kwargs={"provider": "twilio"}) == PATH

    @pytest.mark.parametrize("method", ["get", "put", "delete"])
    def test_only_post_is_allowed(self, client: Client, method: str) -> None:
        """Any other method answers 405."""
        assert getattr(client, method)(PATH).status_code == 405

    def test_no_csrf_token_is_needed(self) -> None:
        """Providers send no CSRF token: the view is exempt, the signature protects it."""
        message = sent()
        params = report(message.provider_ref, "delivered")
        assert post(Client(enforce_csrf_checks=True), params, signature(LOCAL_URL, params)).status_code == 200

    def test_a_backend_without_callbacks_or_unknown_is_a_bad_request(self, client: Client) -> None:
        """A name that is not a configured backend taking callbacks answers 400."""
        params = report("SM1", "delivered")
        url = "http://testserver/sms/status/nope/"
        assert post(client, params, signature(url, params), path="/sms/status/nope/").status_code == 400

    def test_a_signed_request_that_is_not_a_report_is_a_bad_request(self, client: Client) -> None:
        """Signed, but without MessageStatus: 400, nothing changed."""
        message = sent()
        before = row(message)
        params = {"AccountSid": ACCOUNT_SID, "MessageSid": message.provider_ref}
        assert post(client, params, signature(LOCAL_URL, params)).status_code == 400
        assert row(message) == before

    def test_a_report_for_an_unknown_message_is_accepted_and_ignored(self, client: Client) -> None:
        """A verified report for a sid we never stored answers 200 (nothing to retry) and changes nothing."""
        message = sent()
        before = row(message)
        params = report("SM" + "f" * 32, "delivered")
        assert post(client, params, signature(LOCAL_URL, params)).status_code == 200
        assert row(message) == before
        assert OutputSMSMessage.objects.count() == 1

    def test_a_body_over_64_kib_is_refused(self, client: Client) -> None:
        """A body larger than 64 KiB is refused with 413 before it is read."""
        message = sent()
        before = row(message)
        params = report(message.provider_ref, "delivered", Padding="x" * (64 * 1024))
        assert post(client, params, signature(LOCAL_URL, params)).status_code == 413
        assert row(message) == before


@pytest.mark.usefixtures("twilio")
class TestLateAndRepeatedReports:
    def test_late_and_repeated_reports_never_downgrade(self, client: Client, changes: list[dict[str, Any]]) -> None:
        """delivered, then a late 'sent', 'delivered' again and a late 'failed': DELIVERED, moved once."""
        message = sent()
        for status in ("delivered", "sent", "delivered", "failed"):
            params = report(message.provider_ref, status)
            assert post(client, params, signature(LOCAL_URL, params)).status_code == 200
        message.refresh_from_db()
        assert (message.state, message.error) == ("delivered", None)
        assert moves(changes, message.pk) == [*SENT_THEN_DELIVERED, (SMSState.SENDING, SMSState.DELIVERED)]

    def test_reports_in_order_walk_the_transition_table(self, client: Client, changes: list[dict[str, Any]]) -> None:
        """sent, then delivered: SENDING -> SENT -> DELIVERED."""
        message = sent()
        for status in ("sent", "delivered"):
            params = report(message.provider_ref, status)
            assert post(client, params, signature(LOCAL_URL, params)).status_code == 200
        assert row(message)["state"] == "delivered"
        assert moves(changes, message.pk) == [
            *SENT_THEN_DELIVERED,
            (SMSState.SENDING, SMSState.SENT),
            (SMSState.SENT, SMSState.DELIVERED),
        ]

    def test_undelivered_is_an_error_with_twilios_code(self, client: Client) -> None:
        """'undelivered' with ErrorCode 30003 makes the message ERROR, the code in the error."""
        message = sent()
        params = report(message.provider_ref, "undelivered", ErrorCode="30003")
        assert post(client, params, signature(LOCAL_URL, params)).status_code == 200
        message.refresh_from_db()
        assert message.failed
        assert "30003" in (message.error or "")


@pytest.mark.usefixtures("twilio")
class TestStateChangedSignal:
    def test_every_transition_is_sent_once_in_order(self, client: Client, changes: list[dict[str, Any]]) -> None:
        """created -> WAITING, WAITING -> SENDING, SENDING -> DELIVERED, each once, with every argument."""
        message = sent()
        params = report(message.provider_ref, "delivered")
        post(client, params, signature(LOCAL_URL, params))
        assert moves(changes, message.pk) == [*SENT_THEN_DELIVERED, (SMSState.SENDING, SMSState.DELIVERED)]
        for change in changes:
            assert set(change) == {"sender", "message_id", "old_state", "new_state", "provider", "error", "at"}
            assert change["sender"] is OutputSMSMessage
            assert (change["provider"], change["error"]) == ("twilio", None)
            assert change["at"].tzinfo is not None
        assert [c["at"] for c in changes] == sorted(c["at"] for c in changes)

    def test_inside_a_transaction_receivers_run_with_it(self, changes: list[dict[str, Any]]) -> None:
        """A send inside atomic signals the new message inside the transaction (as post_save would); the send
        after the commit signals WAITING -> SENDING."""
        with transaction.atomic():
            message = adapters_django.send(RECIPIENT, "Paid")
            assert moves(changes, message.pk) == [(None, SMSState.WAITING)]
        assert moves(changes, message.pk) == SENT_THEN_DELIVERED

    def test_a_receivers_work_rolls_back_with_the_change(self, settings: Any) -> None:
        """A receiver's database work commits or rolls back with the change; its on_commit work runs only after
        a commit."""
        after_commit: list[int] = []

        def receiver(message_id: int, **kwargs: Any) -> None:
            Order.objects.create(number=f"sms-{message_id}")
            transaction.on_commit(lambda: after_commit.append(message_id))

        sms_state_changed.connect(receiver, weak=False, dispatch_uid="tests.status_callbacks.orders")
        try:

            def pay() -> None:
                with transaction.atomic():
                    adapters_django.send(RECIPIENT, "Paid")
                    raise RuntimeError("the order failed later")

            with pytest.raises(RuntimeError):
                pay()
            assert (Order.objects.count(), after_commit) == (0, [])
            assert not OutputSMSMessage.objects.exists()
            with transaction.atomic():
                message = adapters_django.send(RECIPIENT, "Paid")
            assert Order.objects.count() == 2  # the new message, and its send after the commit
            assert after_commit == [message.pk, message.pk]
        finally:
            sms_state_changed.disconnect(dispatch_uid="tests.status_callbacks.orders")

    def test_a_failing_receiver_is_logged_and_sending_goes_on(
        self, client: Client, changes: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
    ) -> None:
        """A receiver that raises is logged with the message and the move; sending, callbacks and the other
        receivers carry on, and no secret reaches the log."""

        def broken(**kwargs: Any) -> None:
            raise ValueError("the receiver's own bug")

        sms_state_changed.connect(broken, weak=False, dispatch_uid="tests.status_callbacks.broken")
        try:
            with caplog.at_level(logging.ERROR):
                message = sent()
                params = report(message.provider_ref, "delivered")
                headers = signature(LOCAL_URL, params)
                assert post(client, params, headers).status_code == 200
        finally:
            sms_state_changed.disconnect(dispatch_uid="tests.status_callbacks.broken")
        assert row(message)["state"] == "delivered"
        assert moves(changes, message.pk) == [*SENT_THEN_DELIVERED, (SMSState.SENDING, SMSState.DELIVERED)]
        ours = [r.getMessage() for r in caplog.records if r.name == "adapters_django.signals"]
        assert ours == [
            f"sms_state_changed receiver {broken.__qualname__} failed for SMS message {message.pk} ({move}): ValueError"
            for move in ("new -> WAITING", "WAITING -> SENDING", "SENDING -> DELIVERED")
        ]
        assert AUTH_TOKEN not in caplog.text
        assert headers["X-Twilio-Signature"] not in caplog.text

    @pytest.mark.parametrize("alias", DATABASES)
    def test_a_receivers_failed_query_inside_a_transaction_breaks_nothing(
        self, alias: str, settings: Any, changes: list[dict[str, Any]]
    ) -> None:
        """A receiver whose query fails (which aborts a PostgreSQL transaction), inside the caller's transaction and
        after it: its work is undone each time, the caller's transaction commits, the message is sent."""
        settings.PYMESS_SMS_DATABASE = alias

        def broken_query(message_id: int, **kwargs: Any) -> None:
            Order.objects.using(alias).create(number=f"sms-{message_id}")
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT no_such_column FROM no_such_table")

        sms_state_changed.connect(broken_query, weak=False, dispatch_uid="tests.status_callbacks.query")
        try:
            with transaction.atomic(using=alias):
                order = Order.objects.using(alias).create(number="A-1")
                message = adapters_django.send(RECIPIENT, "Paid", related_objects=[order])
        finally:
            sms_state_changed.disconnect(dispatch_uid="tests.status_callbacks.query")
        assert list(Order.objects.using(alias).values_list("number", flat=True)) == ["A-1"]
        assert OutputSMSMessage.objects.using(alias).get(pk=message.pk).state == "sending"
        assert moves(changes, message.pk) == SENT_THEN_DELIVERED


# -- many callbacks at once, over a live server, on PostgreSQL ------------------------------------------------

LIVE = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases=["postgres"])]


@pytest.fixture
def live_twilio(live_server: Any, settings: Any, postgres: str, twilio: None) -> str:
    """Messages on PostgreSQL, Twilio told to call back the live server; returns the server's URL."""
    settings.PYMESS_SMS_DATABASE = postgres
    settings.PYMESS_SMS_PUBLIC_BASE_URL = f"{live_server.url}/sms"
    return str(live_server.url)


def send_through_twilio(fake: FakeTwilio, count: int, workers: int = 8) -> dict[str, tuple[int, str]]:
    """Send ``count`` messages through Twilio from ``workers`` threads at once (as a project's web workers share
    the one service and its Twilio client); {sid: (message id, status callback URL Twilio was given)}."""
    recipients = [f"+4207770{i:05d}" for i in range(count)]

    def send_chunk(chunk: list[str]) -> list[SMSMessage]:
        try:
            return get_service().send_many(chunk, "Your parcel is on its way")
        finally:
            connections.close_all()  # this thread's own database connections

    with ThreadPoolExecutor(workers) as pool:
        messages = [
            m for chunk in pool.map(send_chunk, [recipients[i::workers] for i in range(workers)]) for m in chunk
        ]
    assert len(messages) == count
    assert {m.state for m in messages} == {SMSState.SENDING}
    callback_of = {r.response_json["sid"]: r.field("StatusCallback") for r in fake.creates}
    return {m.provider_ref or "": (m.id or 0, callback_of[m.provider_ref] or "") for m in messages}


def post_concurrently(jobs: list[tuple[str, dict[str, str]]], workers: int = 16) -> list[int]:
    """POST every (url, form) with a pool of ``workers`` threads sharing one keep-alive client; the statuses."""
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    with httpx.Client(limits=limits, timeout=30.0) as client, ThreadPoolExecutor(workers) as pool:

        def one(job: tuple[str, dict[str, str]]) -> int:
            url, params = job
            return client.post(url, data=params, headers=signature(url, params)).status_code

        return list(pool.map(one, jobs))


@pytest.mark.slow
class TestConcurrentCallbacks:
    pytestmark = LIVE

    def test_1000_callbacks_posted_at_once_are_all_applied(
        self, live_twilio: str, fake: FakeTwilio, changes: list[dict[str, Any]]
    ) -> None:
        """1,000 messages, one signed 'delivered' callback each to the URL Twilio was given, posted by 16 threads:
        every one answered 200, every message DELIVERED, every receiver told each move exactly once and in order."""
        sent_messages = send_through_twilio(fake, 1000)
        assert {url for _, url in sent_messages.values()} == {f"{live_twilio}/sms/status/twilio/"}
        jobs = [(url, report(sid, "delivered")) for sid, (_, url) in sent_messages.items()]
        random.Random(8).shuffle(jobs)
        started = time.perf_counter()
        statuses = post_concurrently(jobs)
        elapsed = time.perf_counter() - started
        print(f"\n1000 status callbacks over the live server in {elapsed:.1f} s ({1000 / elapsed:.0f}/s)")
        assert statuses == [200] * 1000
        rows = OutputSMSMessage.objects.using("postgres")
        assert rows.filter(state="delivered").count() == 1000
        assert not rows.exclude(state="delivered").exists()
        expected = [*SENT_THEN_DELIVERED, (SMSState.SENDING, SMSState.DELIVERED)]
        by_message: dict[int, list[tuple[SMSState | None, SMSState]]] = {}
        for change in changes:
            by_message.setdefault(change["message_id"], []).append((change["old_state"], change["new_state"]))
        assert by_message == {message_id: expected for message_id, _ in sent_messages.values()}

    def test_racing_reports_for_one_message_end_delivered(
        self, live_twilio: str, fake: FakeTwilio, changes: list[dict[str, Any]]
    ) -> None:
        """sent, delivered, delivered again and a late sent for each of 100 messages, all racing: DELIVERED, and
        DELIVERED reached exactly once per message along a path of the transition table."""
        sent_messages = send_through_twilio(fake, 100)
        jobs = [
            (url, report(sid, status))
            for sid, (_, url) in sent_messages.items()
            for status in ("sent", "delivered", "delivered", "sent")
        ]
        random.Random(9).shuffle(jobs)
        assert post_concurrently(jobs) == [200] * 400
        assert OutputSMSMessage.objects.using("postgres").filter(state="delivered").count() == 100
        for message_id, _ in sent_messages.values():
            assert moves(changes, message_id) in (
                [*SENT_THEN_DELIVERED, (SMSState.SENDING, SMSState.DELIVERED)],
                [*SENT_THEN_DELIVERED, (SMSState.SENDING, SMSState.SENT), (SMSState.SENT, SMSState.DELIVERED)],
            )
