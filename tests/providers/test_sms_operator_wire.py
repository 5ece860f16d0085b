"""The SMS-operator wire code, pure: golden documents, the whole status table, and properties.

Set ``SMSCORE_REGENERATE_GOLDEN=1`` to rewrite the golden request documents after a deliberate format change.
"""

from __future__ import annotations

import contextlib
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from providers._gateway_wire import check_outcomes, send_outcomes
from providers._sms_operator_wire import SMS_OPERATOR_CODES, SMSOperatorResponseError, SMSOperatorWire
from providers._xml import strip_illegal
from smscore import SMSMessage, SMSState
from tests.contracts.providers import wire_message
from tests.providers.test_ats_wire import ids, prefixes

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("SMSCORE_REGENERATE_GOLDEN") == "1"

#: Every status of the reference table (pymess-sms fact sheet, section 4.4).
REFERENCE_CODES = [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15]

#: A send acknowledgement is not a delivery report: 0 and the "still unknown" statuses mean accepted.
SEND_STATES = {
    **dict.fromkeys([0, 11, 12, 13, 14], SMSState.SENDING),
    **dict.fromkeys([1, 2, 3, 4, 5, 6, 7, 10], SMSState.ERROR),
    15: SMSState.UNKNOWN,
}
CHECK_STATES = {
    0: SMSState.DELIVERED,
    **dict.fromkeys([1, 2, 3, 4, 5, 6, 7, 10, 15], SMSState.ERROR),
    **dict.fromkeys([11, 12, 13, 14], SMSState.SENDING),
}

WIRE = SMSOperatorWire(username="bench-user", password="bench-pass", prefix="bench")


def golden(name: str, produced: bytes | None = None) -> bytes:
    path = GOLDEN / name
    if produced is not None and REGENERATE:
        path.write_bytes(produced)
    return path.read_bytes()


def messages_with_ids(*message_ids: int, state: SMSState = SMSState.WAITING) -> list[SMSMessage]:
    return [wire_message(f"text {i}", id=i, state=state) for i in message_ids]


class TestRequests:
    """Request documents, byte for byte."""

    def test_send_request(self) -> None:
        """Several DataItems in one DataTemplate; PhoneNumberMo only for a message with its own sender."""
        messages = [
            wire_message("Kod 1234", id=151, recipient="+420731545945"),
            wire_message("Bulk text 42", id=152, recipient="+420731000001", sender="ACME"),
        ]
        body = WIRE.send_request(messages)
        assert body == golden("sms_operator_send_request.xml", body)

    def test_hostile_values_are_escaped_once(self) -> None:
        """Markup, quotes, control characters, emoji and long text survive an XML parser, less what XML cannot
        carry; credentials with markup are escaped once."""
        wire = SMSOperatorWire(username="a&b", password="<p&w>", prefix="eu-2")
        text = "Kód <b>&amp;</b> \"q\" 'a' ]]> \x00\x07\x1b 🎉 漢字\r\n" + "ž<&>" * 300
        body = wire.send_request([wire_message(text, id=9)])
        assert body == golden("sms_operator_send_hostile_request.xml", body)
        root = ET.fromstring(body)
        assert root.findtext("DataHeader/UserName") == "a&b"
        assert root.findtext("DataHeader/Password") == "<p&w>"
        assert root.findtext("DataArray/DataTemplate/DataItem/Text") == strip_illegal(text)
        assert root.findtext("DataArray/DataTemplate/DataItem/SmsId") == "eu-2-9"

    def test_status_request(self) -> None:
        """DataType SMS-Status and bare SmsId elements."""
        body = WIRE.check_request(messages_with_ids(155, 154))
        assert body == golden("sms_operator_status_request.xml", body)


class TestCodeTable:
    """Every documented status has a meaning on a send and on a check."""

    def test_the_table_is_total_over_the_reference(self) -> None:
        assert sorted(SMS_OPERATOR_CODES.codes) == REFERENCE_CODES

    def test_every_status_on_a_send(self) -> None:
        """The acknowledgement of every status gives the documented state; 0 is never DELIVERED on a send."""
        answer = WIRE.parse_answer(golden("sms_operator_response_every_code.xml"))
        message_ids = [1000 + code for code in REFERENCE_CODES]
        outcomes = send_outcomes(SMS_OPERATOR_CODES, messages_with_ids(*message_ids), answer, prefix="bench", extra={})
        for code, outcome in zip(REFERENCE_CODES, outcomes, strict=True):
            assert outcome.state is SEND_STATES[code], code
            assert outcome.extra_sender_data["sender_state"] == code
            assert outcome.provider_ref == f"bench-{1000 + code}"

    def test_every_status_on_a_check(self) -> None:
        """A status check moves a SENDING message as the table says."""
        answer = WIRE.parse_answer(golden("sms_operator_response_every_code.xml"))
        message_ids = [1000 + code for code in REFERENCE_CODES]
        reports = check_outcomes(SMS_OPERATOR_CODES, messages_with_ids(*message_ids, state=SMSState.SENDING), answer)
        for code, report in zip(REFERENCE_CODES, reports, strict=True):
            assert report is not None
            assert report.state is CHECK_STATES[code], code
            if report.state is SMSState.ERROR:
                assert report.error_code == str(code)
                assert SMS_OPERATOR_CODES.codes[code].label in (report.error or "")

    def test_unknown_and_missing_statuses(self) -> None:
        """An unknown, garbage, empty or missing status: UNKNOWN on a send and no change on a check, the raw
        value kept; an item without SmsId is ignored."""
        answer = WIRE.parse_answer(golden("sms_operator_response_unknown_codes.xml"))
        outcomes = send_outcomes(SMS_OPERATOR_CODES, messages_with_ids(1, 2, 3, 4), answer, prefix="bench", extra={})
        assert [o.state for o in outcomes] == [SMSState.UNKNOWN] * 4
        assert [o.error_code for o in outcomes] == ["8", "x", "", ""]
        reports = check_outcomes(SMS_OPERATOR_CODES, messages_with_ids(1, 2, 3, 4, state=SMSState.SENDING), answer)
        assert [r.state if r else None for r in reports] == [SMSState.SENDING] * 4


class TestAnswers:
    """Golden answers: omitted and added ids, case, broken and hostile documents."""

    def test_omitted_and_added_ids(self) -> None:
        """Omitted: that message alone is UNKNOWN. Added (another prefix, a padded id): ignored."""
        answer = WIRE.parse_answer(golden("sms_operator_response_omits_and_adds_ids.xml"))
        assert answer.foreign == ("other-1", "bench-007")
        outcomes = send_outcomes(SMS_OPERATOR_CODES, messages_with_ids(1, 2), answer, prefix="bench", extra={})
        assert [o.state for o in outcomes] == [SMSState.SENDING, SMSState.UNKNOWN]

    def test_names_are_matched_without_case(self) -> None:
        """``<DATAITEM><smsid>``: still read."""
        assert WIRE.parse_answer(golden("sms_operator_response_case.xml")).codes == {1: "0", 2: "11"}

    @pytest.mark.parametrize(
        "name",
        [
            "sms_operator_response_truncated.xml",
            "sms_operator_response_malformed.xml",
            "sms_operator_response_billion_laughs.xml",
        ],
    )
    def test_unusable_documents_raise_the_typed_error(self, name: str) -> None:
        with pytest.raises(SMSOperatorResponseError):
            WIRE.parse_answer(golden(name))


class TestProperties:
    """The parser never raises anything but the typed error; ids survive the trip there and back."""

    @given(st.binary(max_size=4096))
    @example(b"<SmsServices><DataItem><SmsId>bench-1</SmsId></DataItem></SmsServices>")
    @example(b"<DataItem><SmsId/><Status/></DataItem>")
    def test_arbitrary_bytes_raise_only_the_typed_error(self, body: bytes) -> None:
        with contextlib.suppress(SMSOperatorResponseError):
            WIRE.parse_answer(body)

    @given(st.text(alphabet="<>/=\"'&;![]- DataItemSmsIdStatus0123456789bench\n", max_size=300))
    def test_xml_like_text_raises_only_the_typed_error(self, text: str) -> None:
        with contextlib.suppress(SMSOperatorResponseError):
            WIRE.parse_answer(text.encode())

    @given(prefixes, st.lists(ids, min_size=1, max_size=15, unique=True))
    def test_ids_round_trip_through_the_documents(self, prefix: str, message_ids: list[int]) -> None:
        """Build a request, answer each SmsId the service read, parse the answer: the same ids come back."""
        wire = SMSOperatorWire(username="u", password="p", prefix=prefix)
        request = ET.fromstring(wire.send_request(messages_with_ids(*message_ids)))
        sms_ids = [item.findtext("SmsId") or "" for item in request.iterfind("DataArray/DataTemplate/DataItem")]
        items = "".join(f"<DataItem><SmsId>{escape(i)}</SmsId><Status>0</Status></DataItem>" for i in sms_ids)
        answer = wire.parse_answer(f"<SmsServices><DataArray>{items}</DataArray></SmsServices>".encode())
        assert answer.codes == dict.fromkeys(message_ids, "0")
        status = ET.fromstring(wire.check_request(messages_with_ids(*message_ids)))
        assert [e.text for e in status.iterfind("DataArray/SmsId")] == sms_ids
