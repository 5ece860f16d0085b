"""The SMS-operator XML protocol as pure functions: request documents in, answers out. No I/O here.

A send request (one ``<DataItem>`` per message, many per request)::

    <?xml version="1.0" encoding="UTF-8"?>
    <SmsServices>
      <DataHeader>
        <DataType>SMS</DataType>
        <UserName>USERNAME</UserName>
        <Password>PASSWORD</Password>
      </DataHeader>
      <DataArray>
        <DataTemplate>
          <DataItem>
            <MobileTerminate>+420731545945</MobileTerminate>
            <Text>TEXT</Text>
            <SmsId>PREFIX-42</SmsId>
          </DataItem>
        </DataTemplate>
      </DataArray>
    </SmsServices>

A message with its own ``sender`` also gets ``<PhoneNumberMo>SENDER</PhoneNumberMo>`` after ``<SmsId>``. A
status request has ``<DataType>SMS-Status</DataType>`` and bare ``<SmsId>PREFIX-42</SmsId>`` elements in
``<DataArray>``. The answer to both holds a ``<DataItem>`` per message with ``<SmsId>`` and ``<Status>``;
names are matched without regard to case. The protocol has no request-level error code: an answer without any
``DataItem`` (wrong credentials, for instance) leaves every message of a send ambiguous.

:data:`SMS_OPERATOR_CODES` is total over the documented statuses. The statuses describe delivery, so on a
*send* they are read as an acknowledgement, not as a delivery report (the ancestor read status 0 on a send as
"delivered"): 0 and the "still unknown" statuses 11-14 mean accepted (SENDING), the failures 1-7 and 10 are
errors, and 15 (not found) is ambiguous. On a delivery check 0 is DELIVERED, 15 sends a message in UNKNOWN
back to WAITING (never received) and is an error otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar, Final

import attrs

from providers._gateway_wire import Answer, Code, CodeTable, Verdict, uniq_of
from providers._xml import document, element_text, escape_text, local_name, parse_xml
from smscore import SMSMessage
from smscore.errors import ProviderError

__all__ = ["DEFAULT_URL", "SMS_OPERATOR_CODES", "SMSOperatorResponseError", "SMSOperatorWire"]

#: The gateway's documented address.
DEFAULT_URL: Final = "https://www.sms-operator.cz/webservices/webservice.aspx"


class SMSOperatorResponseError(ProviderError):
    """An SMS-operator answer could not be read (empty, malformed, truncated, hostile or oversized)."""


_S, _D, _R, _A, _NF = Verdict.SENDING, Verdict.DELIVERED, Verdict.REJECTED, Verdict.AMBIGUOUS, Verdict.NOT_FOUND

#: Every SMS-operator status: label, verdict on a send acknowledgement, on a delivery check.
SMS_OPERATOR_CODES: Final = CodeTable(
    "SMS-operator",
    MappingProxyType(
        {
            0: Code("delivered", _S, _D),
            1: Code("not delivered", _R, _R),
            2: Code("number does not exist", _R, _R),
            3: Code("timed out before reaching the operator", _R, _R),
            4: Code("wrong number format", _R, _R),
            5: Code("other error", _R, _R),
            6: Code("event error", _R, _R),
            7: Code("text too long", _R, _R),
            10: Code("partly delivered", _R, _R),
            11: Code("state unknown yet", _S, _S),
            12: Code("partly delivered, partly unknown", _S, _S),
            13: Code("partly not delivered, partly unknown", _S, _S),
            14: Code("partly delivered, partly not delivered, partly unknown", _S, _S),
            15: Code("not found", _A, _NF),
        }
    ),
)


def _child_text(item: Any, name: str) -> str | None:
    for child in item:
        if local_name(child.tag) == name:
            return element_text(child)
    return None


@attrs.frozen(kw_only=True)
class SMSOperatorWire:
    """The account's settings and the pure request/answer functions of the SMS-operator protocol.

    Credentials are left out of the repr.
    """

    table: ClassVar[CodeTable] = SMS_OPERATOR_CODES

    username: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False)
    prefix: str = ""

    def _header(self, data_type: str) -> str:
        return (
            "<SmsServices>\n"
            "  <DataHeader>\n"
            f"    <DataType>{data_type}</DataType>\n"
            f"    <UserName>{escape_text(self.username)}</UserName>\n"
            f"    <Password>{escape_text(self.password)}</Password>\n"
            "  </DataHeader>\n"
        )

    def send_request(self, messages: Sequence[SMSMessage]) -> bytes:
        """The ``SMS`` request for ``messages`` (every one must have an id)."""
        parts = [self._header("SMS"), "  <DataArray>\n", "    <DataTemplate>\n"]
        for message in messages:
            parts.append(
                "      <DataItem>\n"
                f"        <MobileTerminate>{escape_text(message.recipient)}</MobileTerminate>\n"
                f"        <Text>{escape_text(message.content)}</Text>\n"
                f"        <SmsId>{escape_text(uniq_of(self.prefix, message))}</SmsId>\n"
            )
            if message.sender:
                parts.append(f"        <PhoneNumberMo>{escape_text(message.sender)}</PhoneNumberMo>\n")
            parts.append("      </DataItem>\n")
        parts.append("    </DataTemplate>\n  </DataArray>\n</SmsServices>\n")
        return document("".join(parts))

    def check_request(self, messages: Sequence[SMSMessage]) -> bytes:
        """The ``SMS-Status`` request for ``messages``."""
        parts = [self._header("SMS-Status"), "  <DataArray>\n"]
        for message in messages:
            parts.append(f"    <SmsId>{escape_text(uniq_of(self.prefix, message))}</SmsId>\n")
        parts.append("  </DataArray>\n</SmsServices>\n")
        return document("".join(parts))

    def parse_answer(self, body: bytes) -> Answer:
        """Read an SMS-operator answer. Raises :class:`SMSOperatorResponseError` and nothing else.

        A ``DataItem`` without ``SmsId`` is ignored; one without ``Status`` counts as an unknown (empty) code.
        """
        root = parse_xml(body, error=SMSOperatorResponseError)
        entries: list[tuple[str, str]] = []
        for item in root.iter():
            if local_name(item.tag) != "dataitem":
                continue
            uniq = _child_text(item, "smsid")
            if uniq is None:
                continue
            entries.append((uniq, _child_text(item, "status") or ""))
        return Answer.collect(entries, self.prefix)

    def secrets(self) -> Sequence[str]:
        """The password: it travels in every request body."""
        return (self.password,)

    def send_extra(self) -> Mapping[str, Any]:
        """The seed's ``extra_sender_data`` of a sent message: the prefix."""
        return {"prefix": self.prefix}
