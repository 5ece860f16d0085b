"""The ATS XML protocol as pure functions: request documents in, answers out. No I/O here.

A send request (one ``<sms>`` per message, many per request)::

    <?xml version="1.0" encoding="UTF-8"?>
    <messages>
      <auth>
        <name>USERNAME</name>
        <password>PASSWORD</password>
      </auth>
      <sms type="text" uniq="PREFIX-42" sender="90099" recipient="+420731545945" opmid="" dlr="1" validity="60" kw="KW">
        <body order="0" billing="0">TEXT</body>
      </sms>
    </messages>

``textid="..."`` is added after ``kw`` when configured; ``opmid`` carries the ``optid`` option (the ancestor
always sent it empty). A delivery-report request holds ``<dlr uniq="PREFIX-42">PREFIX-42</dlr>`` elements instead
of ``<sms>``. The answer to both is ``<status>`` with ``<code uniq="PREFIX-42">N</code>`` per message; a
``<code>`` without ``uniq`` concerns the whole request (100 authentication failed, 701-705 unreadable XML).
Element and attribute names are matched without regard to case, as the ancestor's HTML parser did.

:data:`ATS_CODES` is the whole code table of the reference, with what each code means on a send, on a check and
for a whole request. Choices that differ from the ancestor, and why:

* 310 (uniq already used) on a send is ambiguous, not an error: it means the gateway already holds a message
  with our id, i.e. an earlier attempt did reach it. The delivery check then tells what became of it, instead
  of failing a message that was in fact sent.
* 200 (gateway database error) and 25 (state cannot be determined) on a send are ambiguous, 334 (daily limit)
  is transient; 20 (not found) on a check means "never received" for a message in UNKNOWN (it may be sent
  again) and an error otherwise.
* Codes that make no sense for a check (send errors, 1, 100, 200...) leave the checked message where it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar, Final

import attrs

from providers._gateway_wire import Answer, Code, CodeTable, Verdict, uniq_of
from providers._xml import document, element_text, escape_attribute, escape_text, local_name, parse_xml
from smscore import SMSMessage
from smscore.errors import ProviderError

__all__ = ["ATS_CODES", "DEFAULT_URL", "ATSResponseError", "ATSWire"]

#: The gateway's documented address, in its HTTPS form: credentials travel inside the body.
DEFAULT_URL: Final = "https://fik.atspraha.cz/gwfcgi/XMLServerWrapper.fcgi"


class ATSResponseError(ProviderError):
    """An ATS answer could not be read (empty, malformed, truncated, hostile or oversized)."""


_S, _SENT, _D = Verdict.SENDING, Verdict.SENT, Verdict.DELIVERED
_R, _T, _A, _N, _NF = Verdict.REJECTED, Verdict.TRANSIENT, Verdict.AMBIGUOUS, Verdict.NO_NEWS, Verdict.NOT_FOUND

#: Every ATS code: label, verdict on a send, on a delivery check, and on a whole request (no ``uniq``).
ATS_CODES: Final = CodeTable(
    "ATS",
    MappingProxyType(
        {
            0: Code("accepted, ready to be sent", _S, _S),
            1: Code("unspecified error", _R, _N),
            20: Code("not found", _A, _NF),
            21: Code("not sent yet", _S, _S),
            22: Code("sent", _SENT, _SENT),
            23: Code("delivered", _D, _D),
            24: Code("not delivered", _R, _R),
            25: Code("state cannot be determined", _A, _N),
            100: Code("authentication failed", _R, _N, _R),
            200: Code("gateway database error", _A, _N, _A),
            300: Code("the request holds the same uniq twice", _R, _N, _R),
            310: Code("uniq already used: the gateway already holds this message", _A, _N),
            320: Code("keyword missing", _R, _N, _R),
            321: Code("keyword invalid", _R, _N, _R),
            330: Code("sender missing", _R, _N, _R),
            331: Code("sender invalid", _R, _N, _R),
            332: Code("MO premium rate not allowed", _R, _N, _R),
            333: Code("MT premium rate not allowed", _R, _N, _R),
            334: Code("MT premium rate daily limit reached", _T, _N, _T),
            335: Code("MT premium rate total limit reached", _R, _N, _R),
            336: Code("geographic number not allowed", _R, _N, _R),
            337: Code("MT to Slovakia not allowed", _R, _N, _R),
            338: Code("short codes not allowed", _R, _N, _R),
            339: Code("unknown sender", _R, _N, _R),
            340: Code("SMS type missing", _R, _N, _R),
            341: Code("SMS too long", _R, _N),
            342: Code("too many parts (at most 10)", _R, _N),
            343: Code("wrong number of senders or recipients", _R, _N),
            350: Code("recipient missing or in a bad format", _R, _N),
            360: Code("textid not allowed", _R, _N, _R),
            361: Code("textid in a bad format", _R, _N, _R),
            362: Code("long SMS with textid not allowed", _R, _N),
            701: Code("XML missing", _R, _N, _R),
            702: Code("XML unreadable", _R, _N, _R),
            703: Code("request not sent by HTTP POST", _R, _N, _R),
            705: Code("XML invalid", _R, _N, _R),
        }
    ),
)


def _attribute(element: Any, name: str) -> str | None:
    for key, value in element.attrib.items():
        if local_name(key) == name:
            return str(value)
    return None


@attrs.frozen(kw_only=True)
class ATSWire:
    """The account's settings and the pure request/answer functions of the ATS protocol.

    ``sender`` is the default sender (a message's own ``sender`` wins); ``keyword`` the project keyword (``kw``);
    ``opmid`` the operator id (option ``optid``). Credentials are left out of the repr.
    """

    table: ClassVar[CodeTable] = ATS_CODES

    username: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False)
    sender: str
    keyword: str
    prefix: str = ""
    validity: int = 60
    textid: str | None = None
    opmid: str = ""

    def _auth(self) -> str:
        return (
            "  <auth>\n"
            f"    <name>{escape_text(self.username)}</name>\n"
            f"    <password>{escape_text(self.password)}</password>\n"
            "  </auth>\n"
        )

    def send_request(self, messages: Sequence[SMSMessage]) -> bytes:
        """The ``<sms>`` request for ``messages`` (every one must have an id)."""
        parts = ["<messages>\n", self._auth()]
        # The account's attributes are the same on every <sms>: escaped once per request.
        fixed = [("opmid", self.opmid), ("dlr", "1"), ("validity", str(self.validity)), ("kw", self.keyword)]
        if self.textid:
            fixed.append(("textid", self.textid))
        tail = " ".join(f'{name}="{escape_attribute(value)}"' for name, value in fixed)
        for message in messages:
            uniq = escape_attribute(uniq_of(self.prefix, message))
            sender = escape_attribute(message.sender or self.sender)
            parts.append(
                f'  <sms type="text" uniq="{uniq}" sender="{sender}" recipient="{escape_attribute(message.recipient)}"'
                f" {tail}>\n"
                f'    <body order="0" billing="0">{escape_text(message.content)}</body>\n'
                "  </sms>\n"
            )
        parts.append("</messages>\n")
        return document("".join(parts))

    def check_request(self, messages: Sequence[SMSMessage]) -> bytes:
        """The ``<dlr>`` delivery-report request for ``messages``."""
        parts = ["<messages>\n", self._auth()]
        for message in messages:
            uniq = uniq_of(self.prefix, message)
            parts.append(f'  <dlr uniq="{escape_attribute(uniq)}">{escape_text(uniq)}</dlr>\n')
        parts.append("</messages>\n")
        return document("".join(parts))

    def parse_answer(self, body: bytes) -> Answer:
        """Read an ATS answer. Raises :class:`ATSResponseError` and nothing else, whatever the bytes."""
        root = parse_xml(body, error=ATSResponseError)
        entries: list[tuple[str, str]] = []
        request_codes: list[str] = []
        for element in root.iter():
            if local_name(element.tag) != "code":
                continue
            uniq = _attribute(element, "uniq")
            if uniq is None:
                request_codes.append(element_text(element))
            else:
                entries.append((uniq, element_text(element)))
        return Answer.collect(entries, self.prefix, request_codes)

    def secrets(self) -> Sequence[str]:
        """The password: it travels in every request body."""
        return (self.password,)

    def send_extra(self) -> Mapping[str, Any]:
        """The seed's ``extra_sender_data`` of a sent message: prefix, validity, keyword and textid."""
        return {"prefix": self.prefix, "validity": self.validity, "kw": self.keyword, "textid": self.textid}
