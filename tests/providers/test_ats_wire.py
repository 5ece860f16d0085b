"""The ATS wire code, pure: golden request documents, golden answers, the whole code table, and properties.

Golden files live in ``tests/providers/golden/``. Request documents are compared byte for byte; set
``SMSCORE_REGENERATE_GOLDEN=1`` to rewrite them after a deliberate format change (and review the diff).
"""

from __future__ import annotations

import contextlib
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from providers._ats_wire import ATS_CODES, ATSResponseError, ATSWire
from providers._gateway_wire import (
    Verdict,
    check_outcomes,
    check_prefix,
    make_uniq,
    parse_uniq,
    send_outcomes,
)
from providers._xml import strip_illegal
from smscore import Outcome, SMSMessage, SMSState
from smscore.errors import ConfigurationError
from tests.contracts.providers import wire_message

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("SMSCORE_REGENERATE_GOLDEN") == "1"

#: Every code of the reference table (pymess-sms fact sheet, section 4.3).
REFERENCE_CODES = [
    *(0, 1, 20, 21, 22, 23, 24, 25, 100, 200, 300, 310, 320, 321),
    *range(330, 344),
    *(350, 360, 361, 362, 701, 702, 703, 705),
]

#: What each code does to a message on a send.
SEND_STATES = {
    **dict.fromkeys([0, 21], SMSState.SENDING),
    22: SMSState.SENT,
    23: SMSState.DELIVERED,
    **dict.fromkeys([20, 25, 200, 310], SMSState.UNKNOWN),
    334: SMSState.WAITING,
    **dict.fromkeys([1, 24, 100, 300, 320, 321, 330, 331, 332, 333, 335, 336, 337, 338, 339], SMSState.ERROR),
    **dict.fromkeys([340, 341, 342, 343, 350, 360, 361, 362, 701, 702, 703, 705], SMSState.ERROR),
}

#: What each code does to a SENDING message on a delivery check (``None``: stays SENDING, raw code kept).
CHECK_STATES = {
    0: SMSState.SENDING,
    21: SMSState.SENDING,
    22: SMSState.SENT,
    23: SMSState.DELIVERED,
    24: SMSState.ERROR,
    20: SMSState.ERROR,
}

WIRE = ATSWire(
    username="bench-user",
    password="bench-pass",
    sender="90099",
    keyword="BENCHKW",
    prefix="bench",
    validity=60,
)


def golden(name: str, produced: bytes | None = None) -> bytes:
    """The golden file ``name`` (rewritten from ``produced`` when regenerating)."""
    path = GOLDEN / name
    if produced is not None and REGENERATE:
        path.write_bytes(produced)
    return path.read_bytes()


def messages_with_ids(*ids: int, state: SMSState = SMSState.WAITING) -> list[SMSMessage]:
    return [wire_message(f"text {i}", id=i, state=state) for i in ids]


HOSTILE_TEXT = (
    "Kód 1234 <b>&amp;</b> \"quoted\" 'single' & ]]> příliš žluťoučký kůň\r\n"
    "tab\there, nul\x00 bell\x07 esc\x1b del\x7f, emoji 🎉👍🏽, 漢字, Кириллица, € [~]"
)


class TestRequests:
    """Request documents, byte for byte."""

    def test_send_request(self) -> None:
        """Several messages in one request, attributes in the documented order, one declared UTF-8 document."""
        messages = [
            wire_message("Kod 1234", id=151, recipient="+420731545945"),
            wire_message("Bulk text 42", id=152, recipient="+420731000001", sender="ACME"),
            wire_message("Bulk text 42", id=153, recipient="+420731000002"),
        ]
        body = WIRE.send_request(messages)
        assert body == golden("ats_send_request.xml", body)

    def test_send_request_with_optional_attributes(self) -> None:
        """``opmid`` carries the optid option; ``textid`` is added after ``kw`` when set."""
        wire = ATSWire(username="u", password="p", sender="90099", keyword="KW", prefix="", textid="T1", opmid="OP7")
        body = wire.send_request([wire_message("hello", id=7)])
        assert body == golden("ats_send_request_optional.xml", body)
        sms = ET.fromstring(body).find("sms")
        assert sms is not None
        assert list(sms.attrib) == ["type", "uniq", "sender", "recipient", "opmid", "dlr", "validity", "kw", "textid"]
        assert sms.get("uniq") == "7"

    def test_hostile_values_are_escaped_once(self) -> None:
        """Markup, quotes, control characters, emoji and very long text: escaped exactly once, the illegal
        characters removed, everything else arriving unchanged after an XML parser reads it."""
        wire = ATSWire(
            username='user&"co"',
            password="p<a>s's&\"",
            sender='90"099',
            keyword="K&W<>",
            prefix="eu-2",
            textid="a\tb\nc",
        )
        long_text = "Long " + "ž🎉<&>" * 400
        messages = [wire_message(HOSTILE_TEXT, id=1), wire_message(long_text, id=22, sender="x\ny")]
        body = wire.send_request(messages)
        assert body == golden("ats_send_hostile_request.xml", body)
        assert b"&amp;amp;" in body  # the literal "&amp;" of the text, escaped once
        assert b"&amp;amp;amp;" not in body
        root = ET.fromstring(body)
        assert root.findtext("auth/name") == 'user&"co"'
        assert root.findtext("auth/password") == "p<a>s's&\""
        first, second = root.findall("sms")
        assert first.findtext("body") == strip_illegal(HOSTILE_TEXT)
        assert first.get("sender") == '90"099'
        assert first.get("kw") == "K&W<>"
        assert first.get("textid") == "a\tb\nc"
        assert first.get("uniq") == "eu-2-1"
        assert second.findtext("body") == long_text
        assert second.get("sender") == "x\ny"

    def test_dlr_request(self) -> None:
        """One ``<dlr uniq=..>`` per message, repeating the uniq as text."""
        body = WIRE.check_request(messages_with_ids(155, 154, 153))
        assert body == golden("ats_dlr_request.xml", body)

    def test_a_message_without_id_cannot_be_written(self) -> None:
        """The backend filters them out; the wire code refuses them outright."""
        with pytest.raises(ValueError, match="without an id"):
            WIRE.send_request([wire_message(id=None)])


class TestCodeTable:
    """Every code of the reference table has a meaning; unknown codes have a defined one."""

    def test_the_table_is_total_over_the_reference(self) -> None:
        """Each reference code is in the table, and the table holds nothing else."""
        assert sorted(ATS_CODES.codes) == sorted(REFERENCE_CODES)
        assert set(SEND_STATES) == set(REFERENCE_CODES)

    def test_every_code_on_a_send(self) -> None:
        """The golden answer holding every code gives each message its documented state, keeping the code."""
        ids = [1000 + code for code in REFERENCE_CODES]
        answer = WIRE.parse_answer(golden("ats_response_every_code.xml"))
        outcomes = send_outcomes(ATS_CODES, messages_with_ids(*ids), answer, prefix="bench", extra={})
        for code, outcome in zip(REFERENCE_CODES, outcomes, strict=True):
            assert outcome.state is SEND_STATES[code], code
            assert outcome.provider_ref == f"bench-{1000 + code}"
            assert outcome.extra_sender_data["sender_state"] == code
            if outcome.state not in {SMSState.SENDING, SMSState.SENT, SMSState.DELIVERED}:
                assert outcome.error_code == str(code)
                assert outcome.error
                assert ATS_CODES.codes[code].label in outcome.error

    @pytest.mark.parametrize("state", [SMSState.SENDING, SMSState.SENT, SMSState.UNKNOWN])
    def test_every_code_on_a_check(self, state: SMSState) -> None:
        """Delivery codes move the message; the others leave it where it is with the raw code kept."""
        ids = [1000 + code for code in REFERENCE_CODES]
        answer = WIRE.parse_answer(golden("ats_response_every_code.xml"))
        reports = check_outcomes(ATS_CODES, messages_with_ids(*ids, state=state), answer)
        for code, report in zip(REFERENCE_CODES, reports, strict=True):
            assert report is not None
            expected = CHECK_STATES.get(code, state)
            if code == 20 and state is SMSState.UNKNOWN:
                expected = SMSState.WAITING
            assert report.state is expected, code
            assert report.extra_sender_data["sender_state"] == code
            if expected is state:
                assert report.error_code == str(code) or code in {0, 21, 22, 23}

    @pytest.mark.parametrize("code", REFERENCE_CODES)
    def test_every_code_has_a_verdict_for_each_use(self, code: int) -> None:
        """No code maps to nothing: a send, a check and a whole request all have a verdict."""
        entry = ATS_CODES.codes[code]
        assert isinstance(entry.on_send, Verdict)
        assert isinstance(entry.on_check, Verdict)
        assert isinstance(entry.on_request, Verdict)
        assert entry.label

    def test_unknown_codes(self) -> None:
        """Codes outside the table (704, 999, garbage, empty) make a send UNKNOWN and leave a check where it
        is, keeping the raw code; a padded known code is still known."""
        answer = WIRE.parse_answer(golden("ats_response_unknown_codes.xml"))
        raws = ["704", "999", "-1", "abc", "", "23"]
        sent = send_outcomes(ATS_CODES, messages_with_ids(1, 2, 3, 4, 5, 6), answer, prefix="bench", extra={})
        assert [o.state for o in sent] == [SMSState.UNKNOWN] * 5 + [SMSState.DELIVERED]
        assert [o.error_code for o in sent[:5]] == raws[:5]
        assert [o.extra_sender_data["sender_state"] for o in sent] == [704, 999, "-1", "abc", "", 23]
        checked = check_outcomes(ATS_CODES, messages_with_ids(1, 2, 3, 4, 5, state=SMSState.SENDING), answer)
        assert [(r.state, r.error_code) for r in checked if r] == [(SMSState.SENDING, raw) for raw in raws[:5]]


class TestAnswers:
    """Golden answers: request-level codes, omitted and added ids, broken and hostile documents."""

    @pytest.mark.parametrize(
        ("name", "state", "reason"),
        [
            ("ats_response_auth_failed.xml", SMSState.ERROR, "code 100: authentication failed"),
            ("ats_response_xml_invalid.xml", SMSState.ERROR, "code 705: XML invalid"),
            ("ats_response_db_error.xml", SMSState.UNKNOWN, "code 200: gateway database error"),
        ],
    )
    def test_request_level_codes(self, name: str, state: SMSState, reason: str) -> None:
        """A code without uniq applies to every message of a send and to none of a check."""
        answer = WIRE.parse_answer(golden(name))
        outcomes = send_outcomes(ATS_CODES, messages_with_ids(1, 2), answer, prefix="bench", extra={})
        assert [o.state for o in outcomes] == [state, state]
        assert all(reason in (o.error or "") for o in outcomes)
        assert check_outcomes(ATS_CODES, messages_with_ids(1, 2), answer) == [None, None]

    def test_omitted_and_added_ids(self) -> None:
        """Omitted: that message alone is UNKNOWN (send) or unanswered (check). Added: ignored."""
        answer = WIRE.parse_answer(golden("ats_response_omits_and_adds_ids.xml"))
        assert answer.foreign == ("other-1", "bench1", "bench-01", "bench- 3", "garbage")
        messages = messages_with_ids(1, 2, 3)
        outcomes = send_outcomes(ATS_CODES, messages, answer, prefix="bench", extra={})
        assert [o.state for o in outcomes] == [SMSState.SENDING, SMSState.UNKNOWN, SMSState.ERROR]
        reports = check_outcomes(ATS_CODES, messages_with_ids(1, 2, 3, state=SMSState.SENDING), answer)
        assert [r.state if r else None for r in reports] == [SMSState.SENDING, None, SMSState.SENDING]

    def test_contradicting_codes_make_that_message_ambiguous(self) -> None:
        """One id answered twice with different codes: UNKNOWN for a send, nothing for a check."""
        answer = WIRE.parse_answer(golden("ats_response_contradicting.xml"))
        outcomes = send_outcomes(ATS_CODES, messages_with_ids(1, 2), answer, prefix="bench", extra={})
        assert [o.state for o in outcomes] == [SMSState.UNKNOWN, SMSState.SENDING]
        assert check_outcomes(ATS_CODES, messages_with_ids(1, 2), answer)[0] is None

    def test_an_answer_without_codes(self) -> None:
        """No ``<code>`` at all: every message of a send is UNKNOWN, with a hint."""
        answer = WIRE.parse_answer(b"<status><d/></status>")
        (outcome,) = send_outcomes(ATS_CODES, messages_with_ids(1), answer, prefix="bench", extra={})
        assert outcome.state is SMSState.UNKNOWN
        assert "no per-message status at all" in (outcome.error or "")

    def test_names_are_matched_without_case_or_namespace(self) -> None:
        """``<STATUS>``, ``<a:Code UNIQ=..>``: still read."""
        answer = WIRE.parse_answer(golden("ats_response_case_and_namespace.xml"))
        assert answer.codes == {1: "0", 2: "23"}

    def test_other_encodings_are_read(self) -> None:
        """An answer declared windows-1250 is decoded as such."""
        answer = WIRE.parse_answer(golden("ats_response_windows1250.xml"))
        assert answer.codes == {1: "0"}

    @pytest.mark.parametrize(
        ("name", "problem"),
        [
            ("ats_response_truncated.xml", "not well-formed"),
            ("ats_response_malformed.xml", "not well-formed"),
            ("ats_response_billion_laughs.xml", "DOCTYPE"),
            ("ats_response_external_entity.xml", "DOCTYPE"),
            ("ats_response_utf16_doctype.xml", "DOCTYPE"),
            ("ats_response_html.html", "not well-formed"),
        ],
    )
    def test_unusable_documents_raise_the_typed_error(self, name: str, problem: str) -> None:
        """Truncated, malformed and hostile documents raise ATSResponseError, naming the problem."""
        with pytest.raises(ATSResponseError, match=problem):
            WIRE.parse_answer(golden(name))


# -- properties ---------------------------------------------------------------------------------------------

PREFIX_EXAMPLES = ["", "app1", "x1", "eu-2", "1", "-", "1-2-3", "app-", "12602", "pym ess", "ž🎉"]


def _valid(prefix: str) -> bool:
    try:
        return check_prefix(prefix) == prefix
    except ConfigurationError:
        return False


prefixes = st.one_of(
    st.sampled_from(PREFIX_EXAMPLES),
    st.text(alphabet="0123456789-abcx", max_size=12),
    st.text(max_size=20).filter(_valid),
)
ids = st.integers(min_value=0, max_value=2**63 - 1)


class TestProperties:
    """Parsers never raise anything but the typed error; ids survive the trip there and back."""

    @given(st.binary(max_size=4096))
    @example(b"")
    @example(b"<")
    @example(b"\xff\xfe<\x00")
    @example(b'<?xml version="1.0" encoding="utf-7"?><a/>')
    @example(b'<?xml version="1.0" encoding="nonsense"?><a/>')
    @example(b"<status><code uniq='x'>1</code></status>" * 3)
    def test_arbitrary_bytes_raise_only_the_typed_error(self, body: bytes) -> None:
        """Whatever the bytes: an answer, or ATSResponseError."""
        with contextlib.suppress(ATSResponseError):
            WIRE.parse_answer(body)

    @given(st.text(alphabet="<>/=\"'&;!?[]-: codeuniqstatusDOCTYPEENTITY0123456789bench\n\x00é", max_size=300))
    def test_xml_like_text_raises_only_the_typed_error(self, text: str) -> None:
        """Text close to real answers (in UTF-8 and UTF-16): an answer, or ATSResponseError."""
        for body in (text.encode("utf-8"), text.encode("utf-16")):
            with contextlib.suppress(ATSResponseError):
                WIRE.parse_answer(body)

    @given(st.integers(min_value=0, max_value=200), st.binary(max_size=8))
    def test_damaged_answers_raise_only_the_typed_error(self, cut: int, noise: bytes) -> None:
        """A real answer cut short or with bytes spliced in: an answer, or ATSResponseError."""
        body = golden("ats_response_every_code.xml")
        for damaged in (body[:cut], body[:cut] + noise + body[cut:]):
            with contextlib.suppress(ATSResponseError):
                WIRE.parse_answer(damaged)

    @given(prefixes, ids)
    @example("app1", 123)
    @example("x1", 12602)
    @example("", 0)
    def test_uniq_round_trip(self, prefix: str, message_id: int) -> None:
        """``parse_uniq(make_uniq(p, i), p) == i`` for every valid prefix, digits and dashes included."""
        assert parse_uniq(make_uniq(prefix, message_id), prefix) == message_id

    @given(prefixes, st.lists(ids, min_size=1, max_size=15, unique=True))
    def test_ids_round_trip_through_the_documents(self, prefix: str, message_ids: list[int]) -> None:
        """Build a request, let a gateway answer each uniq it read, parse the answer: the same ids come back."""
        wire = ATSWire(username="u", password="p", sender="1", keyword="K", prefix=prefix)
        request = ET.fromstring(wire.send_request(messages_with_ids(*message_ids)))
        uniqs = [sms.get("uniq", "") for sms in request.findall("sms")]
        answer_body = "<status>" + "".join(f"<code uniq={quoteattr(u)}>0</code>" for u in uniqs) + "</status>"
        answer = wire.parse_answer(answer_body.encode())
        assert answer.codes == dict.fromkeys(message_ids, "0")
        assert answer.foreign == ()
        dlr = ET.fromstring(wire.check_request(messages_with_ids(*message_ids)))
        assert [d.get("uniq") for d in dlr.findall("dlr")] == uniqs
        assert [d.text for d in dlr.findall("dlr")] == uniqs

    @given(st.text(max_size=500), st.text(max_size=30))
    def test_any_text_survives_escaping(self, content: str, sender: str) -> None:
        """After an XML parser reads the request, the body and attributes equal what was given, less the
        characters XML cannot carry."""
        wire = ATSWire(username="u", password="p", sender="1", keyword="K", prefix="p")
        message = wire_message(content or "x", id=1, sender=sender or None)
        sms = ET.fromstring(wire.send_request([message])).find("sms")
        assert sms is not None
        assert (sms.findtext("body") or "") == strip_illegal(content or "x")
        assert sms.get("sender") == strip_illegal(sender or "1")

    @given(st.sampled_from(REFERENCE_CODES), ids, st.sampled_from(list(SMSState)))
    def test_every_answer_gives_an_outcome(self, code: int, message_id: int, state: SMSState) -> None:
        """Mapping never fails: a send always gets an Outcome, a check an Outcome or None."""
        body = f"<status><code uniq={quoteattr(make_uniq('p', message_id))}>{escape(str(code))}</code></status>"
        answer = ATSWire(username="u", password="p", sender="1", keyword="K", prefix="p").parse_answer(body.encode())
        message = wire_message(id=message_id, state=state)
        (sent,) = send_outcomes(ATS_CODES, [message], answer, prefix="p", extra={})
        (checked,) = check_outcomes(ATS_CODES, [message], answer)
        assert isinstance(sent, Outcome)
        assert checked is None or isinstance(checked, Outcome)
