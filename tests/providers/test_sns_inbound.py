"""Amazon SNS HTTPS deliveries of two-way SMS: messages signed here, as SNS signs them, with a certificate these
tests make (RSA, PKCS #1 v1.5; SHA-1 for SignatureVersion 1, SHA-256 for 2), served by a fake fetcher that records
what was fetched. Through the service (and once over HTTP to the WSGI application): valid and tampered
signatures, certificate URLs outside Amazon's SNS hosts, topics not configured, subscription confirmation."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from providers._sns_inbound import SNSInbound, check_sns_url, fetch, string_to_sign
from providers.sns import SNSSMSBackend
from smscore import CallbackError, InboundQuery, InvalidSignatureError, SMSService, WebhookRequest
from smscore.testing import InMemoryMessageRepository, InMemoryTemplateRepository
from smscore.webhooks import webhook_app

TOPIC = "arn:aws:sns:eu-central-1:123456789012:sms-inbound"
CERT_URL = f"https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-{'0123456789abcdef' * 2}.pem"
SUBSCRIBE_URL = f"https://sns.eu-central-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=t0k"
URL = "https://sms.example.com/inbound/sns/"
PERSON = "+420777123456"
OURS = "+420600100200"


def make_certificate(name: str) -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)


KEY, CERTIFICATE = make_certificate("sns.amazonaws.com")
OTHER_KEY, _ = make_certificate("someone else")


def sign(message: dict[str, str], version: str = "2", key: rsa.RSAPrivateKey = KEY) -> dict[str, str]:
    """``message`` with SignatureVersion, SigningCertURL and the Signature SNS would give it."""
    message = {"SignatureVersion": version, "SigningCertURL": CERT_URL, **message}
    algorithm = hashes.SHA1() if message["SignatureVersion"] == "1" else hashes.SHA256()
    signature = key.sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
    return {**message, "Signature": base64.b64encode(signature).decode()}


def notification(body: str = "Yes", ref: str = "in-1", **fields: str) -> dict[str, str]:
    sms = {
        "originationNumber": PERSON,
        "destinationNumber": OURS,
        "messageKeyword": "KEYWORD_123456789012",
        "messageBody": body,
        "inboundMessageId": ref,
        "previousPublishedMessageId": "",
    }
    return {
        "Type": "Notification",
        "MessageId": f"msg-{ref}",
        "TopicArn": TOPIC,
        "Message": json.dumps(sms),
        "Timestamp": "2030-01-01T12:00:00.000Z",
        **fields,
    }


def confirmation(subscribe_url: str = SUBSCRIBE_URL) -> dict[str, str]:
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": "confirm-1",
        "Token": "t0k",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic...",
        "SubscribeURL": subscribe_url,
        "Timestamp": "2030-01-01T12:00:00.000Z",
    }


class FakeFetcher:
    """Serves the test certificate at CERT_URL and an answer at any SubscribeURL; records every URL fetched."""

    def __init__(self) -> None:
        self.fetched: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        return CERTIFICATE if url.endswith(".pem") else b"<ConfirmSubscriptionResponse/>"


@pytest.fixture
def fetcher() -> FakeFetcher:
    return FakeFetcher()


@pytest.fixture
def service(fetcher: FakeFetcher) -> SMSService:
    backend = SNSSMSBackend(object(), inbound=SNSInbound([TOPIC], fetcher=fetcher))
    return SMSService(
        messages=InMemoryMessageRepository(), templates=InMemoryTemplateRepository(), providers={"sns": backend}
    )


def deliver(service: SMSService, message: dict[str, Any]) -> Any:
    return service.handle_inbound("sns", WebhookRequest(URL, json.dumps(message).encode(), {}))


def stored(service: SMSService) -> int:
    return service.inbound.count(InboundQuery())


class TestNotifications:
    @pytest.mark.parametrize("version", ["1", "2"])
    def test_a_signed_notification_is_stored(self, service: SMSService, version: str) -> None:
        """SignatureVersion 1 (SHA-1) and 2 (SHA-256): the SMS with Amazon's fields, the keyword kept."""
        sms = deliver(service, sign(notification("Running late"), version))
        assert (sms.provider, sms.sender, sms.recipient, sms.content) == ("sns", PERSON, OURS, "Running late")
        assert sms.provider_ref == "in-1"
        assert sms.extra_data == {"messageKeyword": "KEYWORD_123456789012"}
        assert stored(service) == 1

    @pytest.mark.parametrize("version", ["1", "2"])
    @pytest.mark.parametrize(
        "tamper",
        ["message", "timestamp", "topic of ours", "version", "signature", "signed by another key", "no signature"],
    )
    def test_a_tampered_notification_stores_nothing(self, service: SMSService, version: str, tamper: str) -> None:
        """Any signed field changed after signing, the other version claimed, a garbled or foreign signature."""
        message = sign(notification("STOP"), version)
        if tamper == "message":
            message["Message"] = message["Message"].replace("STOP", "START")
        elif tamper == "timestamp":
            message["Timestamp"] = "2030-01-02T12:00:00.000Z"
        elif tamper == "topic of ours":
            message = {**message, "Subject": "added"}
        elif tamper == "version":
            message["SignatureVersion"] = "2" if version == "1" else "1"
        elif tamper == "signature":
            message["Signature"] = message["Signature"][:-8] + "AAAAAAA="
        elif tamper == "signed by another key":
            message = sign(notification("STOP"), version, key=OTHER_KEY)
        else:
            del message["Signature"]
        with pytest.raises(InvalidSignatureError):
            deliver(service, message)
        assert stored(service) == 0
        assert PERSON not in service.opt_outs

    @pytest.mark.parametrize(
        "url",
        [
            "http://sns.eu-central-1.amazonaws.com/SimpleNotificationService-1.pem",
            "https://sns.eu-central-1.amazonaws.com.evil.example/SimpleNotificationService-1.pem",
            "https://evil.example/sns.eu-central-1.amazonaws.com/x.pem",
            "https://sns.eu-central-1.amazonaws.com@evil.example/x.pem",
            "https://sns.eu-central-1.amazonaws.com:8443/SimpleNotificationService-1.pem",
            "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-1.pem?x=1",
            "https://sns.eu-central-1.amazonaws.com/../../etc/passwd",
            "https://sns.eu-central-1.amazonaws.com/some/other/file.pem",
            "https://s3.eu-central-1.amazonaws.com/SimpleNotificationService-1.pem",
            "https://sns.amazonaws.com/SimpleNotificationService-1.pem",
        ],
    )
    def test_a_certificate_url_outside_the_sns_pattern_is_never_fetched(
        self, service: SMSService, fetcher: FakeFetcher, url: str
    ) -> None:
        """Another scheme, host, port, user or path: refused before any fetch, nothing stored."""
        message = sign({**notification(), "SigningCertURL": url})
        with pytest.raises(InvalidSignatureError):
            deliver(service, message)
        assert fetcher.fetched == []
        assert stored(service) == 0

    def test_the_china_regions_and_their_host_are_accepted(self) -> None:
        """sns.cn-north-1.amazonaws.com.cn is an SNS host."""
        url = "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem"
        assert check_sns_url(url, "certificate") == url

    def test_a_topic_not_configured_is_refused_before_anything_is_fetched(
        self, service: SMSService, fetcher: FakeFetcher
    ) -> None:
        """SNS signs every account's messages: a validly signed message of another topic is still refused."""
        with pytest.raises(InvalidSignatureError):
            deliver(service, sign(notification(TopicArn="arn:aws:sns:eu-central-1:999999999999:theirs")))
        assert fetcher.fetched == []
        backend = SNSSMSBackend(object(), inbound=SNSInbound(fetcher=fetcher))
        with pytest.raises(InvalidSignatureError):
            backend.parse_inbound(WebhookRequest(URL, json.dumps(sign(notification())).encode()))

    def test_the_certificate_is_fetched_once_per_url(self, service: SMSService, fetcher: FakeFetcher) -> None:
        """Ten notifications signed with one certificate: one fetch."""
        for index in range(10):
            deliver(service, sign(notification(ref=f"in-{index}")))
        assert fetcher.fetched == [CERT_URL]
        assert stored(service) == 10

    def test_a_redelivered_notification_is_stored_once(self, service: SMSService) -> None:
        """SNS retries: the same inboundMessageId stores one row, and STOP opts out once."""
        message = sign(notification("STOP"))
        first = deliver(service, message)
        assert deliver(service, message) == first
        assert stored(service) == 1
        assert PERSON in service.opt_outs

    @pytest.mark.parametrize(
        "body",
        [
            b"not json",
            b"[]",
            b'{"Type": "Notification", "Message": 5}',
            b'{"Type": "Other"}',
            b"x" * 70_000,
            b"[" * 60_000,
            b"\xff\xfe",
        ],
    )
    def test_what_is_not_an_sns_message_is_a_bad_request(self, service: SMSService, body: bytes) -> None:
        """Not JSON, not an object of strings, an unknown type, a body too large: CallbackError, nothing stored."""
        with pytest.raises(CallbackError) as caught:
            service.handle_inbound("sns", WebhookRequest(URL, body))
        assert not isinstance(caught.value, InvalidSignatureError)
        assert stored(service) == 0

    def test_a_signed_notification_that_is_no_sms_is_a_bad_request(self, service: SMSService) -> None:
        """A topic message that is not Amazon's two-way SMS document: CallbackError, nothing stored."""
        with pytest.raises(CallbackError, match="not a two-way SMS") as caught:
            deliver(service, sign({**notification(), "Message": "hello"}))
        assert not isinstance(caught.value, InvalidSignatureError)


class TestSubscriptionConfirmation:
    def test_a_signed_confirmation_visits_the_subscribe_url(self, service: SMSService, fetcher: FakeFetcher) -> None:
        """The SubscribeURL is fetched once (after the certificate); nothing is stored; None is returned."""
        assert deliver(service, sign(confirmation())) is None
        assert fetcher.fetched == [CERT_URL, SUBSCRIBE_URL]
        assert stored(service) == 0

    @pytest.mark.parametrize(
        "url", ["https://evil.example/?Action=ConfirmSubscription", "http://sns.eu-central-1.amazonaws.com/?x=1"]
    )
    def test_a_subscribe_url_outside_the_sns_pattern_is_not_visited(
        self, service: SMSService, fetcher: FakeFetcher, url: str
    ) -> None:
        """Signed, but pointing elsewhere: refused, only the certificate fetched."""
        with pytest.raises(InvalidSignatureError):
            deliver(service, sign(confirmation(url)))
        assert SUBSCRIBE_URL not in fetcher.fetched
        assert url not in fetcher.fetched

    def test_a_tampered_confirmation_is_not_visited(self, service: SMSService, fetcher: FakeFetcher) -> None:
        """A SubscribeURL changed after signing: refused, not visited."""
        message = sign(confirmation())
        message["SubscribeURL"] = SUBSCRIBE_URL.replace("t0k", "other")
        with pytest.raises(InvalidSignatureError):
            deliver(service, message)
        assert fetcher.fetched == [CERT_URL]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log in the test output."""


def test_over_http_valid_and_tampered_deliveries(service: SMSService) -> None:
    """Posted to the WSGI application on a loopback port as SNS posts them (text/plain JSON): 200 and stored;
    tampered: 403 and nothing more."""
    server = make_server("127.0.0.1", 0, webhook_app(service), handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/inbound/sns/"
        headers = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"}
        good = sign(notification("hello", ref="in-http"))
        assert httpx.post(url, content=json.dumps(good), headers=headers).status_code == 200
        bad = {**sign(notification("hello", ref="in-other")), "Timestamp": "2031-01-01T00:00:00.000Z"}
        assert httpx.post(url, content=json.dumps(bad), headers=headers).status_code == 403
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert [sms.provider_ref for sms in service.inbound.find(InboundQuery())] == ["in-http"]


class TestTheDefaultFetcher:
    @pytest.fixture
    def origin(self) -> Iterator[str]:
        """A loopback HTTP server: /big answers 100 KiB, /moved redirects elsewhere, /small answers 3 bytes."""

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                    self.end_headers()
                    return
                body = b"x" * 100_000 if self.path == "/big" else b"pem"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()
        server.server_close()

    def test_it_reads_within_bounds_and_follows_no_redirect(self, origin: str) -> None:
        """A small answer is returned; a large one and a redirect fail."""
        assert fetch(f"{origin}/small") == b"pem"
        with pytest.raises(ValueError, match="larger"):
            fetch(f"{origin}/big")
        with pytest.raises(urllib.error.HTTPError, match="302"):
            fetch(f"{origin}/moved")
