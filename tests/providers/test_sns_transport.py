"""The SNS backend over real sockets: moto_server on 127.0.0.1, and a loopback fault server that answers SNS
error documents, never answers, or hangs up, so botocore's own transport raises what it raises in production.

Also the credential test: a known secret key and session token driven through every failure path, searched for
in every outcome, the backend's repr and every log record (DEBUG, botocore and urllib3 included).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import attrs
import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer
from moto.sns.models import sns_backends

import smscore
from providers.sns import SNSSMSBackend
from smscore import SMSState
from tests.contracts.providers import wire_message

REGION = "eu-west-1"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYsecretKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLEsessionTOKEN0123456789"

_ERROR_XML = """<?xml version="1.0"?>
<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>9b7d0c4e-0000-4000-8000-000000000000</RequestId>
</ErrorResponse>"""


class FaultServer:
    """A loopback HTTP server that takes SNS requests and fails in the way it is told.

    ``answer(status, code, message)`` replies with an SNS error document; ``hang()`` reads the request and
    never answers; ``hang_up()`` reads it and closes the connection. Every request is recorded.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, list[str]]]] = []
        self._mode: tuple[Any, ...] = ("answer", 503, "ServiceUnavailable", "Service Unavailable")
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                server.requests.append((dict(self.headers.items()), parse_qs(body)))
                kind, *args = server._mode
                if kind == "hang":
                    server._release.wait(timeout=10)
                    self.close_connection = True
                    return
                if kind == "hang_up":
                    self.close_connection = True
                    return
                status, code, message = args
                data = _ERROR_XML.format(
                    kind="Sender" if status < 500 else "Receiver", code=code, message=message
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"

    def answer(self, status: int, code: str, message: str) -> None:
        self._mode = ("answer", status, code, message)

    def hang(self) -> None:
        self._mode = ("hang",)

    def hang_up(self) -> None:
        self._mode = ("hang_up",)

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    server = FaultServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """moto_server on a free port of 127.0.0.1, reset when done."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    yield url
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=5).close()
    server.stop()


def _backend(endpoint_url: str, **options: Any) -> SNSSMSBackend:
    return SNSSMSBackend.from_options(
        {
            "aws_access_key_id": "AKIDEXAMPLE",
            "aws_secret_access_key": SECRET_KEY,
            "aws_session_token": SESSION_TOKEN,
            "region": REGION,
            "endpoint_url": endpoint_url,
            "connect_timeout": 0.5,
            "read_timeout": 0.5,
            "max_attempts": 1,
            **options,
        }
    )


class TestRealTransportFailures:
    """What botocore raises over real sockets becomes the right outcome."""

    @pytest.mark.parametrize(
        ("status", "code", "state"),
        [
            (400, "Throttling", SMSState.WAITING),
            (429, "ThrottledException", SMSState.WAITING),
            (500, "InternalError", SMSState.WAITING),
            (503, "ServiceUnavailable", SMSState.WAITING),
            (502, "BadGateway", SMSState.UNKNOWN),
            (504, "GatewayTimeout", SMSState.UNKNOWN),
            (400, "InvalidParameter", SMSState.ERROR),
            (403, "AuthorizationError", SMSState.ERROR),
            (403, "InvalidClientTokenId", SMSState.ERROR),
        ],
    )
    def test_error_documents(self, faults: FaultServer, status: int, code: str, state: SMSState) -> None:
        """An SNS error document, parsed by botocore, becomes the outcome its code and status mean."""
        faults.answer(status, code, "the details")
        backend = _backend(faults.url)
        (outcome,) = backend.publish([wire_message()])
        backend.close()
        assert outcome.state is state
        assert outcome.error_code == code
        assert "the details" in (outcome.error or "")
        assert len(faults.requests) == 1
        assert faults.requests[0][1]["PhoneNumber"] == ["+420777123456"]

    def test_a_read_timeout_is_ambiguous_and_not_retried(self, faults: FaultServer) -> None:
        """The request arrived, no answer in time: UNKNOWN after one request, despite max_attempts."""
        faults.hang()
        backend = _backend(faults.url, max_attempts=3)
        started = time.monotonic()
        (outcome,) = backend.publish([wire_message()])
        backend.close()
        assert outcome.state is SMSState.UNKNOWN
        assert "ReadTimeoutError" in (outcome.error or "")
        assert len(faults.requests) == 1
        assert time.monotonic() - started < 5

    def test_a_connection_closed_after_sending_is_ambiguous(self, faults: FaultServer) -> None:
        """The server read the request and hung up: UNKNOWN, one request."""
        faults.hang_up()
        backend = _backend(faults.url, max_attempts=3)
        (outcome,) = backend.publish([wire_message()])
        backend.close()
        assert outcome.state is SMSState.UNKNOWN
        assert len(faults.requests) == 1

    def test_a_refused_connection_is_transient(self) -> None:
        """Nothing listens: WAITING (nothing was sent), retried within the call."""
        backend = _backend(_closed_port_url(), max_attempts=2)
        (outcome,) = backend.publish([wire_message()])
        backend.close()
        assert outcome.state is SMSState.WAITING
        assert "EndpointConnectionError" in (outcome.error or "")


class TestMotoServer:
    """moto_server on 127.0.0.1: real HTTP to a real SNS and CloudWatch Logs emulation.

    The read timeout is generous: moto_server loads a service's backend on its first request.
    """

    def test_publish_over_http(self, moto_url: str) -> None:
        """Messages published over HTTP arrive at moto unchanged, each with its own MessageId."""
        backend = _backend(moto_url, read_timeout=10)
        messages = [wire_message(text) for text in ("Hello", "Žluťoučký kůň 🎉", "<&> \"'")]
        outcomes = backend.publish(messages)
        backend.close()
        stored = sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages
        assert [o.state for o in outcomes] == [SMSState.SENT] * 3
        assert [stored[o.provider_ref or ""] for o in outcomes] == [(m.recipient, m.content) for m in messages]

    def test_a_rejection_over_http(self, moto_url: str) -> None:
        """moto_server refuses a non-E.164 number over HTTP: a final error with SNS's code."""
        backend = _backend(moto_url, read_timeout=10)
        (outcome,) = backend.publish([wire_message(recipient="00420777123456")])
        backend.close()
        assert outcome.state is SMSState.ERROR
        assert outcome.error_code == "InvalidParameter"

    def test_delivery_check_over_http(self, moto_url: str) -> None:
        """The delivery log written to moto_server's CloudWatch Logs is found by MessageId over HTTP."""
        backend = _backend(moto_url, check_delivery=True, read_timeout=10)
        message = wire_message(sent_at=datetime.now(UTC))
        (outcome,) = backend.publish([message])
        group = f"sns/{REGION}/{DEFAULT_ACCOUNT_ID}/DirectPublishToPhoneNumber/Failure"
        logs = boto3.client(
            "logs",
            region_name=REGION,
            endpoint_url=moto_url,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key=SECRET_KEY,
        )
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        event = {
            "notification": {"messageId": outcome.provider_ref},
            "delivery": {"providerResponse": "Unknown error attempting to reach phone", "priceInUSD": 0.00581},
            "status": "FAILURE",
        }
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(event)}],
        )
        logs.close()
        (report,) = backend.bulk_check_sms_states([attrs.evolve(message, provider_ref=outcome.provider_ref)])
        backend.close()
        assert report is not None
        assert report.state is SMSState.ERROR
        assert report.error == "SNS could not deliver the message: Unknown error attempting to reach phone"


def _forms_of(secret: str) -> list[str]:
    return [secret, base64.b64encode(secret.encode()).decode(), secret.replace("/", "%2F")]


class TestCredentialsNeverLeak:
    """A known secret key and session token, every failure path: no outcome, repr or log record holds them."""

    @pytest.fixture
    def debug_logs(self, caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
        caplog.set_level(logging.DEBUG)
        for name in ("botocore", "urllib3", "providers", "smscore"):
            caplog.set_level(logging.DEBUG, logger=name)
        return caplog

    def _assert_clean(self, texts: list[str], caplog: pytest.LogCaptureFixture) -> None:
        records = [r.getMessage() for r in caplog.records] + [caplog.text]
        assert any(r.name.startswith("botocore") for r in caplog.records), "botocore DEBUG logs were not captured"
        for secret in (SECRET_KEY, SESSION_TOKEN):
            for form in _forms_of(secret):
                for text in texts + records:
                    assert form not in text

    @pytest.mark.parametrize(
        "mode",
        ["throttle", "server_error", "bad_gateway", "invalid", "auth", "hang", "hang_up", "refused", "bad_sender"],
    )
    def test_every_failure_path(self, faults: FaultServer, debug_logs: pytest.LogCaptureFixture, mode: str) -> None:
        """Each failure's outcome, the repr and the DEBUG logs are free of the secret key and session token."""
        url = faults.url
        answers = {
            "throttle": (400, "Throttling", "Rate exceeded"),
            "server_error": (500, "InternalError", "Internal"),
            "bad_gateway": (502, "BadGateway", "Bad gateway"),
            "invalid": (400, "InvalidParameter", "Invalid parameter: PhoneNumber"),
            "auth": (403, "InvalidClientTokenId", "The security token included in the request is invalid"),
        }
        if mode in answers:
            faults.answer(*answers[mode])
        elif mode == "hang":
            faults.hang()
        elif mode == "hang_up":
            faults.hang_up()
        elif mode == "refused":
            url = _closed_port_url()
        backend = _backend(url)
        message = wire_message(sender="Shop & Co" if mode == "bad_sender" else None)
        (outcome,) = backend.publish([message])
        texts = [
            repr(outcome),
            str(outcome.error),
            str(outcome.error_code),
            json.dumps(dict(outcome.extra_sender_data)),
        ]
        texts.append(repr(backend))
        backend.close()
        assert outcome.state is not SMSState.SENT
        if faults.requests:
            # The session token really went over the wire, so its absence from the logs means something.
            assert faults.requests[0][0].get("X-Amz-Security-Token") == SESSION_TOKEN
        self._assert_clean(texts, debug_logs)

    def test_through_the_service(self, faults: FaultServer, debug_logs: pytest.LogCaptureFixture) -> None:
        """Stored messages (error, extra_sender_data) after failures through build_service hold no secret."""
        faults.answer(403, "AuthorizationError", "not authorized")
        options = {
            "aws_access_key_id": "AKIDEXAMPLE",
            "aws_secret_access_key": SECRET_KEY,
            "aws_session_token": SESSION_TOKEN,
            "region": REGION,
            "endpoint_url": faults.url,
            "read_timeout": 0.5,
        }
        service = smscore.build_service({"provider": "sns", "provider_options": options})
        with service:
            rejected = service.send("+420777123456", "hi")
            faults.hang()
            ambiguous = service.send("+420777123456", "hi")
            texts = [repr(service.config), repr(service.providers["default"])]
            for message in (rejected, ambiguous):
                stored = service.messages.get(message.id or 0)
                texts += [repr(stored), json.dumps(dict(stored.extra_sender_data)), str(stored.error)]
        assert rejected.state is SMSState.ERROR
        assert ambiguous.state is SMSState.UNKNOWN
        self._assert_clean(texts, debug_logs)
