"""Request and response shapes checked against Twilio's published OpenAPI description of the 2010 API.

``golden/twilio_openapi_messages.json`` is a verbatim extract of ``twilio_api_v2010.json`` from the npm package
``@twilio/cli-core`` (see the README next to it). Every form body the real ``twilio`` client sent to the
loopback fake must validate against the *Send a message* request schema, every path against the path
parameters, and every Message resource the fake answered against the Message schema; so the backend sends what
Twilio accepts and the fake answers what Twilio answers.

The extract holds no *List messages* operation (``GET .../Messages.json``): its query parameters and its page
envelope are not checked here. The Message resources inside a list answer are, against the same Message schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pytest

from providers.twilio import STATUS_STATES, TwilioSMSBackend
from smscore import SMSState
from tests.contracts.providers import wire_message
from tests.providers.fake_twilio import FakeTwilio, RecordedRequest

GOLDEN = Path(__file__).with_name("golden") / "twilio_openapi_messages.json"
DESCRIPTION: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
SCHEMAS: dict[str, Any] = DESCRIPTION["components"]["schemas"]

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "openapi-test-token"
SERVICE_SID = "MG" + "00112233445566778899aabbccddeeff"


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: ``nullable: true`` becomes a ``null`` alternative."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


ROOT = {"components": {"schemas": _json_schema(SCHEMAS)}}
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or re.fullmatch(r"https?://[^\s/]+(/\S*)?", value) is not None


@FORMATS.checks("phone-number")
def _is_phone_number(value: object) -> bool:
    # E.164, or an alphanumeric sender ID (Twilio takes both in From).
    return not isinstance(value, str) or re.fullmatch(r"\+[1-9][0-9]{1,14}|[A-Za-z0-9 ]{1,11}", value) is not None


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}", **ROOT}, format_checker=FORMATS)


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return SCHEMAS[ref.rsplit("/", 1)[-1]] if isinstance(ref, str) else schema


def _typed_form(form: dict[str, list[str]]) -> dict[str, Any]:
    """Form fields as the typed values the schema describes (a form carries only strings)."""
    properties = SCHEMAS["CreateMessageRequest"]["properties"]
    typed: dict[str, Any] = {}
    for name, values in form.items():
        kind = _resolve(properties.get(name, {})).get("type")
        if kind == "array":
            typed[name] = values
            continue
        (value,) = values
        if kind == "integer" and re.fullmatch(r"-?[0-9]+", value):
            typed[name] = int(value)
        elif kind == "number" and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
            typed[name] = float(value)
        elif kind == "boolean" and value in {"true", "false"}:
            typed[name] = value == "true"
        else:
            typed[name] = value
    return typed


def _path_pattern(path: str, parameters: list[dict[str, Any]]) -> re.Pattern[str]:
    regex = re.escape(path)
    for parameter in parameters:
        pattern = parameter["schema"]["pattern"].removeprefix("^").removesuffix("$")
        regex = regex.replace(re.escape("{" + parameter["name"] + "}"), f"(?:{pattern})")
    return re.compile(regex)


CREATE_PATH = _path_pattern(DESCRIPTION["paths"]["create"]["path"], DESCRIPTION["paths"]["create"]["parameters"])
FETCH_PATH = _path_pattern(DESCRIPTION["paths"]["fetch"]["path"], DESCRIPTION["paths"]["fetch"]["parameters"])


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def http(fake: FakeTwilio) -> Iterator[Any]:
    client = fake.http_client(timeout=2)
    yield client
    client.close()


def _exchange(fake: FakeTwilio, http: Any, options: dict[str, Any], texts: list[str]) -> list[RecordedRequest]:
    backend = TwilioSMSBackend.from_options(
        {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "http_client": http, **options}
    )
    outcomes = backend.publish([wire_message(text) for text in texts])
    checked = [wire_message(provider_ref=o.provider_ref) for o in outcomes]
    backend.bulk_check_sms_states(checked)
    return fake.requests


OPTION_SETS = [
    pytest.param({"from_": "+15005550006"}, id="from"),
    pytest.param({"from_": "AcmeShop"}, id="alphanumeric-sender"),
    pytest.param({"messaging_service_sid": SERVICE_SID}, id="messaging-service"),
    pytest.param(
        {
            "from_": "+15005550006",
            "messaging_service_sid": SERVICE_SID,
            "status_callback": "https://sms.example.com/twilio/status?tenant=1",
            "validity_period": 14400,
        },
        id="every-option",
    ),
]
TEXTS = ["Hello", "Kód 1234 🎉 <&> \"'", "x" * 1600]


class TestAgainstTwilioOpenAPI:
    """The wire, checked against Twilio's own description."""

    @pytest.mark.parametrize("options", OPTION_SETS)
    def test_create_requests_match_the_send_a_message_schema(
        self, fake: FakeTwilio, http: Any, options: dict[str, Any]
    ) -> None:
        """Every form body the client sent validates, uses only documented fields, and the path matches."""
        requests = _exchange(fake, http, options, TEXTS)
        creates = [r for r in requests if r.method == "POST"]
        assert len(creates) == len(TEXTS)
        known = set(SCHEMAS["CreateMessageRequest"]["properties"])
        validator = _validator("CreateMessageRequest")
        for request in creates:
            assert CREATE_PATH.fullmatch(request.path), request.path
            assert set(request.form) <= known
            validator.validate(_typed_form(request.form))
            assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"

    @pytest.mark.parametrize("options", OPTION_SETS)
    def test_answers_match_the_message_schema(self, fake: FakeTwilio, http: Any, options: dict[str, Any]) -> None:
        """Every Message resource the fake answered (create and fetch) validates, with the documented status."""
        requests = _exchange(fake, http, options, TEXTS)
        validator = _validator("api.v2010.account.message")
        answered = [r for r in requests if r.response_status in {200, 201}]
        assert {r.response_status for r in answered} == {200, 201}
        for request in answered:
            validator.validate(request.response_json)
        for request in requests:
            if request.method == "GET":
                assert FETCH_PATH.fullmatch(request.path), request.path
        assert sorted(DESCRIPTION["paths"]["create"]["response_status"]) == ["201"]

    @pytest.mark.parametrize("options", OPTION_SETS)
    def test_listed_messages_match_the_message_schema(
        self, fake: FakeTwilio, http: Any, options: dict[str, Any]
    ) -> None:
        """Creates whose answers were lost, then looked up: every list request uses the documented Messages.json
        path and every Message resource listed validates (the envelope is not in the extract)."""
        assert set(DESCRIPTION["paths"]) == {"create", "fetch"}
        backend = TwilioSMSBackend.from_options(
            {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "http_client": http, **options}
        )
        now = datetime.now(UTC)
        messages = [wire_message(text, created_at=now, changed_at=now) for text in TEXTS]
        fake.drop()
        backend.publish(messages)
        reports = backend.bulk_check_sms_states([attrs.evolve(m, state=SMSState.UNKNOWN) for m in messages])
        assert [r.provider_ref if r else None for r in reports] == list(fake.messages)
        lists = [r for r in fake.requests if r.method == "GET"]
        assert len(lists) == len(TEXTS)
        validator = _validator("api.v2010.account.message")
        for request in lists:
            assert CREATE_PATH.fullmatch(request.path), request.path
            assert request.response_status == 200
            assert request.response_json["messages"]
            for resource in request.response_json["messages"]:
                validator.validate(resource)

    def test_the_status_table_covers_the_documented_enum(self) -> None:
        """Each status of the published ``message_enum_status`` has its entry in the backend's table."""
        assert set(SCHEMAS["message_enum_status"]["enum"]) == set(STATUS_STATES)

    def test_the_schema_catches_a_wrong_request(self) -> None:
        """The check has teeth: a request without To, or with a malformed service sid, fails validation."""
        validator = _validator("CreateMessageRequest")
        assert not validator.is_valid({"Body": "hi", "From": "+15005550006"})
        assert not validator.is_valid({"To": "+420777123456", "MessagingServiceSid": "MG123"})
        assert not validator.is_valid({"To": "+420777123456", "ValidityPeriod": "soon"})
