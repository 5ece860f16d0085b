"""No provider logs a credential: a transport that fails with the secret in its exception text (a proxy echoing
the URL with the password, an SDK quoting the request) leaves no trace of it in any log record, traceback or
outcome. Every logger is captured at DEBUG, and each record is formatted whole, exception text included."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
from twilio.http import HttpClient

from providers.ats import ATSSMSBackend
from providers.sns import SNSSMSBackend
from providers.twilio import TwilioSMSBackend
from smscore import Outcome, SMSState
from tests.contracts.providers import wire_message

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "tw-auth-token-0123456789abcdef"
SECRET = "aws-secret-KEY/0123456789"
PASSWORD = "ats-pass-word-42"

#: Exceptions a transport may raise, each quoting the secret ``{}``.
FAILURES: list[Callable[[str], Exception]] = [
    lambda secret: RuntimeError(f"proxy refused https://user:{secret}@gateway.example/"),
    lambda secret: ValueError(f"unexpected answer to a request signed with {secret}"),
    lambda secret: requests.exceptions.ConnectionError(f"connection aborted while sending {secret}"),
    lambda secret: httpx.ReadError(f"connection reset after {secret}"),
]
FAILURE_IDS = ["runtime", "value", "requests", "httpx"]


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("providers", "twilio", "botocore", "httpx", "httpcore", "urllib3", "smscore"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _assert_never_shown(secret: str, caplog: pytest.LogCaptureFixture, outcomes: list[Outcome | None]) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        assert secret not in formatter.format(record)  # the message and any traceback
        assert secret not in (record.exc_text or "")
    assert secret not in caplog.text
    for outcome in outcomes:
        assert secret not in repr(outcome)


class _FailingTwilioHttp(HttpClient):  # type: ignore[misc]  # twilio ships no type information
    """twilio's HTTP seam, failing every request with ``error``."""

    def __init__(self, error: Exception) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), False, 1.0)
        self.error = error

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


@pytest.mark.parametrize("failure", FAILURES, ids=FAILURE_IDS)
def test_twilio_never_logs_the_auth_token(
    every_log: pytest.LogCaptureFixture, failure: Callable[[str], Exception]
) -> None:
    """A Twilio transport failing with the auth token in its text: UNKNOWN, and the token is nowhere."""
    backend = TwilioSMSBackend.from_options(
        {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from_": "+15005550006",
            "http_client": _FailingTwilioHttp(failure(AUTH_TOKEN)),
        }
    )
    (outcome,) = backend.publish([wire_message()])
    assert outcome.state in {SMSState.UNKNOWN, SMSState.WAITING}
    checked = wire_message(state=SMSState.SENDING, provider_ref="SM" + "2" * 32)
    with pytest.raises(Exception, match="Twilio delivery check failed"):
        backend.bulk_check_sms_states([checked])
    assert every_log.records, "the failures were logged"
    _assert_never_shown(AUTH_TOKEN, every_log, [outcome])


class _FailingSNSClient:
    """A boto3 SNS client whose calls fail with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def publish(self, **params: Any) -> Any:
        raise self.error


@pytest.mark.parametrize("failure", FAILURES, ids=FAILURE_IDS)
def test_sns_never_logs_the_secret_key(
    every_log: pytest.LogCaptureFixture, failure: Callable[[str], Exception]
) -> None:
    """An SNS client failing with the secret key in its text: UNKNOWN, and the key is nowhere."""
    backend = SNSSMSBackend(_FailingSNSClient(failure(SECRET)), secrets=[SECRET], max_attempts=1)
    try:
        (outcome,) = backend.publish([wire_message()])
    finally:
        backend.close()
    assert outcome.state is SMSState.UNKNOWN
    assert every_log.records, "the failure was logged"
    _assert_never_shown(SECRET, every_log, [outcome])


@pytest.mark.parametrize("failure", FAILURES, ids=FAILURE_IDS)
def test_ats_never_logs_the_password(every_log: pytest.LogCaptureFixture, failure: Callable[[str], Exception]) -> None:
    """An HTTP transport failing with the ATS password in its text: the password is nowhere."""

    def fail(request: httpx.Request) -> httpx.Response:
        raise failure(PASSWORD)

    client = httpx.Client(transport=httpx.MockTransport(fail))
    with ATSSMSBackend(
        client, username="u", password=PASSWORD, project_keyword="KW", output_sender_number="90099"
    ) as backend:
        (outcome,) = backend.publish([wire_message()])
    assert outcome.state is SMSState.UNKNOWN
    assert every_log.records, "the failure was logged"
    _assert_never_shown(PASSWORD, every_log, [outcome])
