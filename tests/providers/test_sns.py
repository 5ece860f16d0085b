"""The Amazon SNS backend against moto (in-process ``mock_aws``), reading back what moto received.

Failures are produced through botocore's own seams: ``botocore.stub.Stubber`` for SNS error answers and a
``before-send`` event handler for a read timeout after moto has taken the request. Real sockets (moto_server,
a loopback fault server) are in ``test_sns_transport.py``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import attrs
import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

import smscore
from providers.sns import (
    SNSDeliveryCheckingBackend,
    SNSSMSBackend,
    delivery_filter_patterns,
    delivery_outcome,
    error_outcome,
    exception_outcome,
    message_attributes,
)
from smscore import ConfigurationError, DeliveryChecker, Outcome, SMSState
from smscore.testing import FixedClock
from tests.contracts.providers import ProviderContract, wire_message

REGION = "eu-west-1"
#: Any JSON value, small.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)
SUCCESS_GROUP = f"sns/{REGION}/{DEFAULT_ACCOUNT_ID}/DirectPublishToPhoneNumber"
FAILURE_GROUP = SUCCESS_GROUP + "/Failure"


@pytest.fixture
def aws() -> Iterator[None]:
    """moto's in-process AWS, fresh for each test."""
    with mock_aws():
        yield


def received_sms() -> list[tuple[str, str]]:
    """(phone number, text) of every SMS moto's SNS received, in order."""
    return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())


class PublishRecorder:
    """Records the form body of every Publish request the client sends (an observer on ``before-send``)."""

    def __init__(self, client: Any) -> None:
        self.bodies: list[dict[str, list[str]]] = []
        client.meta.events.register("before-send.sns.Publish", self._record)

    def _record(self, request: Any, **kwargs: Any) -> None:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        self.bodies.append(parse_qs(body, keep_blank_values=True))

    def attributes(self, index: int = -1) -> dict[str, tuple[str, str]]:
        """The MessageAttributes of one request: name -> (DataType, StringValue)."""
        body = self.bodies[index]
        result = {}
        for key, (name,) in body.items():
            if key.startswith("MessageAttributes.entry.") and key.endswith(".Name"):
                prefix = key[: -len(".Name")]
                result[name] = (body[prefix + ".Value.DataType"][0], body[prefix + ".Value.StringValue"][0])
        return result


class MotoHarness:
    """The SNS backend and moto; failures through Stubber (error answers) and before-send (read timeout)."""

    def __init__(self, provider: SNSSMSBackend) -> None:
        self.provider = provider
        self._stubber: Stubber | None = None
        self._timeout = False
        self._hold = False
        # On the same (generic) event as moto's handler and registered after it, so it runs after moto has
        # taken the message: the answer is lost on the way back. A more specific event name would run first.
        provider.client.meta.events.register("before-send", self._after_moto)

    def _after_moto(self, request: Any, event_name: str, **kwargs: Any) -> None:
        if event_name != "before-send.sns.Publish":
            return
        if self._hold:
            self._hold = False
            # Longer than the test takes to cancel; the call still ends, as its deadline would end it.
            time.sleep(1.0)
        if self._timeout:
            raise ReadTimeoutError(endpoint_url=request.url)

    def _stub(self, code: str, message: str, status: int, times: int) -> None:
        self.peer_accepts()
        self._stubber = Stubber(self.provider.client)
        for _ in range(times):
            self._stubber.add_client_error("publish", code, message, status)
        self._stubber.activate()

    def peer_accepts(self) -> None:
        if self._stubber is not None:
            self._stubber.deactivate()
            self._stubber = None
        self._timeout = False

    def peer_rejects(self) -> None:
        self._stub("InvalidParameter", "Invalid parameter: PhoneNumber Reason: +420777123456 is not valid", 400, 1)

    def peer_fails_transiently(self) -> None:
        self._stub("Throttling", "Rate exceeded", 400, self.provider.max_attempts)

    def peer_times_out_after_receiving(self) -> None:
        self.peer_accepts()
        self._timeout = True

    def peer_holds_the_request(self) -> None:
        self.peer_accepts()
        self._hold = True

    def received(self) -> list[tuple[str, str]]:
        return received_sms()


def _backend(**options: Any) -> SNSSMSBackend:
    defaults: dict[str, Any] = {
        "aws_access_key_id": "AKIDEXAMPLE",
        "aws_secret_access_key": "sns-test-secret",
        "region": REGION,
        "max_attempts": 2,
    }
    return SNSSMSBackend.from_options({**defaults, **options})


class TestSNSContract(ProviderContract):
    """The provider contract, SNS on moto."""

    @pytest.fixture
    def harness(self, aws: None) -> Iterator[MotoHarness]:
        provider = _backend()
        harness = MotoHarness(provider)
        yield harness
        harness.peer_accepts()
        provider.close()


class TestPublish:
    """What reaches SNS and what the backend answers."""

    @pytest.fixture
    def backend(self, aws: None) -> Iterator[SNSSMSBackend]:
        backend = _backend(sender_id="Shop", max_price="0.50", origination_number="+15550100")
        yield backend
        backend.close()

    def test_publish_sends_the_number_the_text_and_the_configured_attributes(self, backend: SNSSMSBackend) -> None:
        """PhoneNumber, Message and every configured SMS attribute reach SNS; the MessageId comes back."""
        recorder = PublishRecorder(backend.client)
        (outcome,) = backend.publish([wire_message("Kód 1234 🎉")])
        assert outcome == Outcome.accepted(SMSState.SENT, provider_ref=outcome.provider_ref)
        assert received_sms() == [("+420777123456", "Kód 1234 🎉")]
        assert outcome.provider_ref in sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages
        assert recorder.attributes() == {
            "AWS.SNS.SMS.SenderID": ("String", "Shop"),
            "AWS.SNS.SMS.SMSType": ("String", "Transactional"),
            "AWS.SNS.SMS.MaxPrice": ("Number", "0.50"),
            "AWS.MM.SMS.OriginationNumber": ("String", "+15550100"),
        }

    def test_sms_type_is_transactional_unless_configured(self, aws: None) -> None:
        """The ancestor never set SMSType (so the account default, usually Promotional, applied)."""
        backend = _backend(sms_type="promotional")
        recorder = PublishRecorder(backend.client)
        backend.publish([wire_message()])
        backend.close()
        assert recorder.attributes() == {"AWS.SNS.SMS.SMSType": ("String", "Promotional")}

    def test_a_message_sender_id_overrides_the_configured_one(self, backend: SNSSMSBackend) -> None:
        """A message's sender that looks like a sender ID becomes AWS.SNS.SMS.SenderID."""
        recorder = PublishRecorder(backend.client)
        backend.publish([wire_message(sender="Acme-2")])
        assert recorder.attributes()["AWS.SNS.SMS.SenderID"] == ("String", "Acme-2")

    def test_a_message_sender_number_becomes_the_origination_number(self, backend: SNSSMSBackend) -> None:
        """A message's E.164 sender becomes AWS.MM.SMS.OriginationNumber."""
        recorder = PublishRecorder(backend.client)
        backend.publish([wire_message(sender="+420601000111")])
        assert recorder.attributes()["AWS.MM.SMS.OriginationNumber"] == ("String", "+420601000111")
        assert recorder.attributes()["AWS.SNS.SMS.SenderID"] == ("String", "Shop")

    def test_an_unusable_sender_is_refused_without_a_request(self, backend: SNSSMSBackend) -> None:
        """A sender that is neither a sender ID nor a number is a final error; nothing is published."""
        recorder = PublishRecorder(backend.client)
        (outcome,) = backend.publish([wire_message(sender="Shop & Co")])
        assert outcome.state is SMSState.ERROR
        assert outcome.error_code == "InvalidSender"
        assert recorder.bodies == []
        assert received_sms() == []

    def test_a_rejection_by_moto_itself_is_final(self, backend: SNSSMSBackend) -> None:
        """moto refuses a number that is not E.164 (InvalidParameter): ERROR keeping the code."""
        (outcome,) = backend.publish([wire_message(recipient="00420777")])
        assert outcome.state is SMSState.ERROR
        assert outcome.error_code == "InvalidParameter"
        assert "E164" in (outcome.error or "")

    def test_throttling_is_retried_within_the_call_up_to_max_attempts(self, aws: None) -> None:
        """Two throttled answers then success: SENT after three attempts, with waits in between."""
        waits: list[float] = []
        client = boto3.client("sns", region_name=REGION)
        backend = SNSSMSBackend(client, max_attempts=3, sleep=waits.append)
        with Stubber(client) as stubber:
            stubber.add_client_error("publish", "Throttling", "Rate exceeded", 400)
            stubber.add_client_error("publish", "InternalError", "Internal", 500)
            stubber.add_response("publish", {"MessageId": "3bd0c5a6-0000-4000-8000-000000000001"})
            (outcome,) = backend.publish([wire_message()])
        client.close()
        assert outcome.state is SMSState.SENT
        assert outcome.provider_ref == "3bd0c5a6-0000-4000-8000-000000000001"
        assert len(waits) == 2
        assert all(0 < w <= 2 for w in waits)

    def test_an_ambiguous_failure_is_never_retried(self, aws: None) -> None:
        """A read timeout after moto took the message: UNKNOWN after exactly one request (no duplicate)."""
        backend = _backend(max_attempts=5)
        harness = MotoHarness(backend)
        harness.peer_times_out_after_receiving()
        (outcome,) = backend.publish([wire_message()])
        backend.close()
        assert outcome.state is SMSState.UNKNOWN
        assert received_sms() == [("+420777123456", "Hello")]

    def test_after_an_outage_the_rest_of_the_batch_is_not_tried(self, aws: None) -> None:
        """SNS stays unavailable for the first message: the others stay WAITING without requests."""
        client = boto3.client("sns", region_name=REGION)
        backend = SNSSMSBackend(client, max_attempts=1)
        with Stubber(client) as stubber:
            stubber.add_client_error("publish", "ServiceUnavailable", "Down", 503)
            outcomes = backend.publish([wire_message(), wire_message(), wire_message()])
            stubber.assert_no_pending_responses()
        client.close()
        assert [o.state for o in outcomes] == [SMSState.WAITING] * 3
        assert all(o.error for o in outcomes)

    def test_an_unexpected_exception_affects_only_its_message(self, aws: None) -> None:
        """A bug-like exception in one publish: that message UNKNOWN, the next one still published."""
        backend = _backend()
        calls = []

        def explode_once(request: Any, **kwargs: Any) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("boom")

        backend.client.meta.events.register_first("before-send.sns.Publish", explode_once)
        first, second = backend.publish([wire_message("one"), wire_message("two")])
        backend.close()
        assert first.state is SMSState.UNKNOWN
        assert "RuntimeError" in (first.error or "")
        assert second.state is SMSState.SENT
        assert received_sms() == [("+420777123456", "two")]


class TestOptions:
    """Building from configuration options."""

    def test_without_credentials_the_default_chain_applies(self, aws: None) -> None:
        """No keys in the options: boto3's default chain (moto's environment here) signs the request."""
        backend = SNSSMSBackend.from_options({"region": REGION})
        (outcome,) = backend.publish([wire_message()])
        backend.close()
        assert outcome.state is SMSState.SENT

    @pytest.mark.parametrize(
        ("options", "key"),
        [
            ({"sms_type": "Marketing"}, "sms_type"),
            ({"sender_id": "Shop & Co"}, "sender_id"),
            ({"sender_id": "123456"}, "sender_id"),
            ({"max_price": "-1"}, "max_price"),
            ({"max_price": "cheap"}, "max_price"),
            ({"aws_access_key_id": "AKID"}, "aws_secret_access_key"),
            ({"aws_secret_access_key": "x"}, "aws_access_key_id"),
            ({"read_timeout": 0}, "read_timeout"),
            ({"max_attempts": 0}, "max_attempts"),
            ({"check_delivery": "perhaps"}, "check_delivery"),
            ({"sms_tipe": "Transactional"}, "sms_tipe"),
            ({"region": "not a region!"}, "region"),
        ],
    )
    def test_a_bad_option_is_a_configuration_error_naming_it(self, options: dict[str, Any], key: str) -> None:
        """Each wrong option is refused at build time, keyed by its name."""
        with pytest.raises(ConfigurationError) as caught:
            SNSSMSBackend.from_options({"region": REGION, **options})
        assert caught.value.key == key

    def test_a_missing_region_is_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With no region anywhere, the error names the option."""
        monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
        monkeypatch.delenv("AWS_REGION", raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        with pytest.raises(ConfigurationError) as caught:
            SNSSMSBackend.from_options({})
        assert caught.value.key == "region"

    def test_aws_region_is_an_alias_of_region(self, aws: None) -> None:
        """``aws_region`` (the seed's spelling) chooses the region too."""
        backend = SNSSMSBackend.from_options({"aws_region": "us-east-1"})
        (outcome,) = backend.publish([wire_message()])
        backend.close()
        assert outcome.state is SMSState.SENT
        assert list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values()) == [("+420777123456", "Hello")]

    def test_build_service_names_the_full_key(self) -> None:
        """Through the composition root, the key is ``providers.NAME.options.OPTION``."""
        with pytest.raises(ConfigurationError) as caught:
            smscore.build_service({"provider": "sns", "provider_options": {"region": REGION, "sms_type": "x"}})
        assert caught.value.key == "providers.default.options.sms_type"

    def test_without_delivery_checks_the_backend_is_no_delivery_checker(self, aws: None) -> None:
        """Only a backend that reads delivery logs is a DeliveryChecker, so the service scans nothing for it."""
        plain, checking = _backend(), _backend(check_delivery=True)
        try:
            assert not isinstance(plain, DeliveryChecker)
            assert isinstance(checking, DeliveryChecker)
            assert isinstance(checking, SNSDeliveryCheckingBackend)
            assert type(plain) is SNSSMSBackend
        finally:
            plain.close()
            checking.close()

    def test_repr_shows_settings_and_no_credentials(self, aws: None) -> None:
        """The repr names settings, never keys or secrets."""
        backend = _backend(aws_session_token="session-token-value", sender_id="Shop")
        text = repr(backend)
        backend.close()
        assert "Shop" in text
        assert "sns-test-secret" not in text
        assert "session-token-value" not in text
        assert "AKIDEXAMPLE" not in text


def _put_events(logs: Any, group: str, events: list[dict[str, Any]]) -> None:
    with contextlib.suppress(ClientError):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=f"stream-{len(events)}-{time.monotonic_ns()}")
    now = int(time.time() * 1000)
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][-1]["logStreamName"]
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": json.dumps(event)} for i, event in enumerate(events)],
    )


def _delivery_event(message_id: str, status: str, **delivery: Any) -> dict[str, Any]:
    """An SNS SMS delivery-status log event, in the JSON shape SNS writes."""
    return {
        "notification": {"messageId": message_id, "timestamp": "2030-01-01 00:00:01.000"},
        "delivery": {
            "mnc": 1,
            "numberOfMessageParts": 1,
            "destination": "+420777123456",
            "priceInUSD": 0.04,
            "smsType": "Transactional",
            "mcc": 230,
            "providerResponse": "Message has been accepted by phone carrier",
            "dwellTimeMs": 520,
            "dwellTimeMsUntilDeviceAck": 1200,
            **delivery,
        },
        "status": status,
    }


class TestDeliveryCheck:
    """Delivery reports read from the SNS delivery status logs in moto's CloudWatch Logs."""

    @pytest.fixture
    def logs(self, aws: None) -> Iterator[Any]:
        client = boto3.client("logs", region_name=REGION)
        yield client
        client.close()

    def _sent(self, backend: SNSSMSBackend, *texts: str) -> list[smscore.SMSMessage]:
        messages = [wire_message(text, sent_at=datetime.now(UTC)) for text in texts]
        outcomes = backend.publish(messages)
        return [
            attrs.evolve(m, state=o.state, provider_ref=o.provider_ref) for m, o in zip(messages, outcomes, strict=True)
        ]

    def test_success_failure_and_silence(self, logs: Any) -> None:
        """SUCCESS -> DELIVERED with price and parts; FAILURE -> ERROR with the reason; no entry -> None."""
        backend = _backend(check_delivery=True, account_id=DEFAULT_ACCOUNT_ID)
        delivered, failed, silent = self._sent(backend, "one", "two", "three")
        _put_events(logs, SUCCESS_GROUP, [_delivery_event(delivered.provider_ref or "", "SUCCESS", priceInUSD=0.00645)])
        _put_events(
            logs,
            FAILURE_GROUP,
            [_delivery_event(failed.provider_ref or "", "FAILURE", providerResponse="Phone is currently opted out")],
        )
        reports = backend.bulk_check_sms_states([delivered, failed, silent, wire_message()])
        backend.close()
        assert reports[0] == Outcome.accepted(
            SMSState.DELIVERED,
            provider_ref=delivered.provider_ref,
            price=Decimal("0.00645"),
            price_unit="USD",
            segments=1,
            extra_sender_data={
                "sns_delivery_status": "SUCCESS",
                "sns_provider_response": "Message has been accepted by phone carrier",
            },
        )
        assert reports[1] is not None
        assert reports[1].state is SMSState.ERROR
        assert reports[1].error == "SNS could not deliver the message: Phone is currently opted out"
        assert reports[2] is None
        assert reports[3] is None

    def test_missing_log_groups_mean_no_news(self, logs: Any) -> None:
        """Before SNS has logged anything the groups do not exist: every report is None, nothing raises."""
        backend = _backend(delivery_status_log_group=SUCCESS_GROUP)
        messages = self._sent(backend, "one")
        assert backend.bulk_check_sms_states(messages) == [None]
        backend.close()

    def test_the_account_is_asked_from_sts_when_not_configured(self, logs: Any) -> None:
        """``check_delivery`` alone: the log group's account comes from STS at the first check."""
        backend = _backend(check_delivery=True)
        (message,) = self._sent(backend, "one")
        _put_events(logs, SUCCESS_GROUP, [_delivery_event(message.provider_ref or "", "SUCCESS")])
        (report,) = backend.bulk_check_sms_states([message])
        backend.close()
        assert report is not None
        assert report.state is SMSState.DELIVERED

    def test_events_of_other_messages_are_ignored(self, logs: Any) -> None:
        """Whatever the logs return, only events naming the asked ids are used (moto ignores JSON patterns)."""
        backend = _backend(check_delivery=True, account_id=DEFAULT_ACCOUNT_ID)
        (message,) = self._sent(backend, "one")
        _put_events(
            logs,
            SUCCESS_GROUP,
            [_delivery_event("someone-else", "SUCCESS"), {"not": "an sns event"}, _delivery_event("x", "FAILURE")],
        )
        assert backend.bulk_check_sms_states([message]) == [None]
        backend.close()

    def test_the_latest_event_wins(self, logs: Any) -> None:
        """An id logged twice is reported by its latest event."""
        backend = _backend(check_delivery=True, account_id=DEFAULT_ACCOUNT_ID)
        (message,) = self._sent(backend, "one")
        ref = message.provider_ref or ""
        _put_events(logs, FAILURE_GROUP, [_delivery_event(ref, "FAILURE")])
        _put_events(logs, SUCCESS_GROUP, [_delivery_event(ref, "SUCCESS")])
        (report,) = backend.bulk_check_sms_states([message])
        backend.close()
        assert report is not None
        assert report.state is SMSState.DELIVERED

    def test_check_delivery_through_the_service(self, aws: None) -> None:
        """End to end: send through build_service, log the delivery, check_delivery makes it DELIVERED."""
        clock = FixedClock(datetime.now(UTC))
        service = smscore.build_service(
            {
                "provider": "sns",
                "provider_options": {"region": REGION, "check_delivery": True, "account_id": DEFAULT_ACCOUNT_ID},
            },
            clock=clock,
        )
        with service:
            message = service.send("+420 777 123 456", "Your code is 1234")
            assert message.state is SMSState.SENT
            logs = boto3.client("logs", region_name=REGION)
            _put_events(logs, SUCCESS_GROUP, [_delivery_event(message.provider_ref or "", "SUCCESS", priceInUSD=0.05)])
            logs.close()
            clock.advance(minutes=5)
            report = service.check_delivery()
            stored = service.messages.get(message.id or 0)
        assert report.changed == 1
        assert stored.state is SMSState.DELIVERED
        assert stored.price == Decimal("0.05")
        assert stored.price_unit == "USD"


class TestEndToEnd:
    """The backend chosen by configuration, through the service."""

    def test_send_through_build_service(self, aws: None) -> None:
        """``{"provider": "sns"}``: the message reaches moto and is stored SENT with the MessageId."""
        service = smscore.build_service({"provider": "sns", "provider_options": {"region": REGION}})
        with service:
            message = service.send("+420 777 123 456", "Příliš žluťoučký kůň")
        assert message.state is SMSState.SENT
        assert message.provider_ref in sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages
        assert received_sms() == [("+420777123456", "Prilis zlutoucky kun")]
        assert message.backend == "providers.sns.SNSSMSBackend"


class TestTranslation:
    """The pure translation functions."""

    @pytest.mark.parametrize(
        ("code", "status", "state"),
        [
            ("Throttling", 400, SMSState.WAITING),
            ("ThrottlingException", 400, SMSState.WAITING),
            ("Throttled", 429, SMSState.WAITING),
            ("KMSThrottling", 400, SMSState.WAITING),
            ("InternalError", 500, SMSState.WAITING),
            ("ServiceUnavailable", 503, SMSState.WAITING),
            (None, 503, SMSState.WAITING),
            ("BadGateway", 502, SMSState.UNKNOWN),
            (None, 504, SMSState.UNKNOWN),
            ("InvalidParameter", 400, SMSState.ERROR),
            ("InvalidParameterValue", 400, SMSState.ERROR),
            ("AuthorizationError", 403, SMSState.ERROR),
            ("InvalidClientTokenId", 403, SMSState.ERROR),
            ("SignatureDoesNotMatch", 403, SMSState.ERROR),
            ("OptedOut", 400, SMSState.ERROR),
            ("KMSDisabled", 400, SMSState.ERROR),
            ("SomethingNew", 418, SMSState.ERROR),
        ],
    )
    def test_error_answers(self, code: str | None, status: int, state: SMSState) -> None:
        """Throttling and 5xx are transient, 502/504 ambiguous, everything else final; the code is kept."""
        outcome = error_outcome(code, status, "details")
        assert outcome.state is state
        assert outcome.error_code == code
        assert outcome.error

    @given(code=st.one_of(st.none(), st.text()), status=st.one_of(st.none(), st.integers()), text=st.text())
    def test_error_mapping_is_total(self, code: str | None, status: int | None, text: str) -> None:
        """Any code, HTTP status and text give a non-accepted outcome with a reason, never an exception."""
        outcome = error_outcome(code, status, text)
        assert outcome.state in {SMSState.WAITING, SMSState.UNKNOWN, SMSState.ERROR}
        assert outcome.error
        assert outcome.error_code == (code or None)

    @given(
        response=st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda inner: st.dictionaries(
                st.sampled_from(["Error", "Code", "Message", "ResponseMetadata", "HTTPStatusCode"]) | st.text(),
                inner,
                max_size=4,
            ),
            max_leaves=10,
        )
    )
    def test_client_error_translation_is_total(self, response: Any) -> None:
        """A ClientError carrying any response structure still becomes an outcome."""
        exc = ClientError({}, "Publish")
        exc.response = response
        outcome = exception_outcome(exc)
        assert outcome.state in {SMSState.WAITING, SMSState.UNKNOWN, SMSState.ERROR}

    def test_delivery_patterns_fit_the_cloudwatch_limit(self) -> None:
        """Ids are packed into JSON filter patterns of at most 1024 characters, each id exactly once."""
        ids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(100)]
        patterns = delivery_filter_patterns(ids + ids[:3] + ['bad"id'])
        assert all(len(p) <= 1024 for p in patterns)
        assert all(p.startswith("{ $.notification.messageId = ") and p.endswith(" }") for p in patterns)
        found = [i for p in patterns for i in ids if f'"{i}"' in p]
        assert found == ids
        assert len(patterns) == 8

    @given(
        st.fixed_dictionaries(
            {},
            optional={
                "notification": JSON | st.fixed_dictionaries({}, optional={"messageId": JSON}),
                "delivery": JSON
                | st.fixed_dictionaries(
                    {}, optional=dict.fromkeys(("priceInUSD", "numberOfMessageParts", "providerResponse"), JSON)
                ),
                "status": JSON | st.sampled_from(["SUCCESS", "FAILURE"]),
            },
        )
    )
    def test_delivery_event_translation_is_total(self, event: dict[str, Any]) -> None:
        """Any JSON-like mapping gives a report, never an exception."""
        assert isinstance(delivery_outcome(event), Outcome)

    def test_unknown_delivery_status_keeps_the_raw_status(self) -> None:
        """A status other than SUCCESS/FAILURE is ambiguous and keeps the raw status."""
        outcome = delivery_outcome({"notification": {"messageId": "m"}, "status": "PENDING"})
        assert outcome.state is SMSState.UNKNOWN
        assert outcome.extra_sender_data["sns_delivery_status"] == "PENDING"

    def test_message_attributes_only_when_set(self) -> None:
        """Nothing configured, no attributes."""
        assert message_attributes() == {}


def test_sent_at_bounds_the_log_search(aws: None) -> None:
    """The log search starts shortly before the oldest message was sent (never at the epoch)."""
    backend = _backend(check_delivery=True, account_id=DEFAULT_ACCOUNT_ID)
    seen: list[dict[str, Any]] = []
    backend.logs_client.meta.events.register(
        "before-send.logs.FilterLogEvents", lambda request, **kw: seen.append(json.loads(request.body))
    )
    sent_at = datetime.now(UTC) - timedelta(hours=1)
    backend.bulk_check_sms_states([wire_message(sent_at=sent_at, provider_ref="abc")])
    backend.close()
    assert {body["logGroupName"] for body in seen} == {SUCCESS_GROUP, FAILURE_GROUP}
    start = seen[0]["startTime"]
    assert (sent_at - timedelta(minutes=10)).timestamp() * 1000 == pytest.approx(start, abs=1000)
    assert seen[0]["filterPattern"] == '{ $.notification.messageId = "abc" }'
