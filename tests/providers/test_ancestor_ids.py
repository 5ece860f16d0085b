"""The XML gateways still answer for messages django-pymess sent: with an empty prefix it wrote our id as
``-<id>``, which is read back and, kept in a message's ``provider_ref``, is what a delivery check asks about."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers._ats_wire import ATSWire
from providers._gateway_wire import make_uniq, parse_uniq, uniq_of
from providers._sms_operator_wire import SMSOperatorWire
from smscore import SMSMessage, SMSState

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def sent(message_id: int, ref: str | None) -> SMSMessage:
    return SMSMessage(
        id=message_id,
        recipient="+420777123456",
        content="x",
        created_at=T0,
        changed_at=T0,
        state=SMSState.SENDING,
        provider_ref=ref,
    )


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_the_ancestors_form_with_an_empty_prefix_reads_back(message_id: int) -> None:
    """``-<id>`` (django-pymess, empty prefix) and ``<id>`` (ours) both name the id; nothing else does."""
    assert parse_uniq(f"-{message_id}", "") == message_id
    assert parse_uniq(make_uniq("", message_id), "") == message_id
    assert parse_uniq(f"--{message_id}", "") is None
    assert parse_uniq(f"-{message_id}", "shop") is None


@pytest.mark.parametrize(
    ("prefix", "ref", "expected"),
    [
        ("", "-42", "-42"),  # sent by django-pymess: asked about as it was sent
        ("", None, "42"),
        ("", "42", "42"),
        ("", "-43", "42"),  # a reference naming another message is not ours to use
        ("shop", "shop-42", "shop-42"),
        ("shop", "-42", "shop-42"),
    ],
)
def test_uniq_of_uses_the_reference_the_message_was_sent_with(prefix: str, ref: str | None, expected: str) -> None:
    """A message is asked about by the reference it was sent with when that names it, else by make_uniq."""
    assert uniq_of(prefix, sent(42, ref)) == expected


def test_an_ats_delivery_check_of_an_ancestor_message_round_trips() -> None:
    """The <dlr> request carries ``-42``; the gateway's answer for ``-42`` is the message's."""
    wire = ATSWire(username="u", password="p", sender="1", keyword="K", prefix="")
    request = wire.check_request([sent(42, "-42"), sent(43, "43")])
    assert b'<dlr uniq="-42">-42</dlr>' in request
    assert b'<dlr uniq="43">43</dlr>' in request
    answer = wire.parse_answer(b'<status><code uniq="-42">23</code><code uniq="43">22</code></status>')
    assert answer.codes == {42: "23", 43: "22"}
    assert answer.foreign == ()


def test_an_sms_operator_status_check_of_an_ancestor_message_round_trips() -> None:
    """The SMS-Status request carries ``-42``; the answer for ``-42`` is the message's."""
    wire = SMSOperatorWire(username="u", password="p", prefix="")
    assert b"<SmsId>-42</SmsId>" in wire.check_request([sent(42, "-42")])
    body = (
        b"<SmsServices><DataArray><DataItem><SmsId>-42</SmsId><Status>0</Status></DataItem></DataArray></SmsServices>"
    )
    assert wire.parse_answer(body).codes == {42: "0"}
