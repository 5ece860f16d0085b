"""The pure half both XML gateways (ATS, SMS-operator) share: our ids on the wire, total code tables, the mapping
of answers to outcomes, and the protocol a gateway's wire object follows. No I/O here.

Our id on the wire. Both gateways key messages by an id we choose (ATS ``uniq``, SMS-operator ``SmsId``):
``<prefix>-<message id>``, or just ``<message id>`` when the prefix is empty (the ancestor sent ``-<id>``, a
negative-looking number, which is still read back, and used for the messages it sent: see :func:`uniq_of`).
:func:`parse_uniq` reads it back with ``str.removeprefix`` and accepts only the exact
form :func:`make_uniq` writes, so a prefix with digits or dashes (``app1``, ``eu-2``) can never be confused with
the id, and ``parse_uniq(make_uniq(p, i), p) == i`` for every valid prefix ``p`` and id ``i >= 0``.

Code tables are total. Every documented code has a :class:`Code` saying what it means when it answers a send
(``on_send``), a delivery check (``on_check``) and, for ATS, a whole request (``on_request``: a code without an
id). A code missing from the table is not an error: a send becomes UNKNOWN (ambiguous, resolved by a delivery
check) and a check leaves the message where it is; the raw code is kept in ``error_code`` and in
``extra_sender_data["sender_state"]`` either way.

Per message, not per request. An answer that omits a message's id makes only that message ambiguous (send) or
unanswered (check); ids we did not ask about are ignored (the backend logs them); contradicting codes for one id
make that message ambiguous. Nothing fails a whole batch except a failure of the whole request.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final, Protocol

import attrs

from providers._http import Failure, FailureKind
from providers._xml import illegal_characters
from providers.options import Checked
from smscore import Outcome, SMSMessage, SMSState
from smscore.errors import ConfigurationError

__all__ = [
    "Answer",
    "Code",
    "CodeTable",
    "GatewayWire",
    "Prefix",
    "Verdict",
    "check_outcomes",
    "check_prefix",
    "failure_outcomes",
    "make_uniq",
    "parse_uniq",
    "send_outcomes",
    "shown_code",
    "uniq_of",
]

#: Longest raw code kept verbatim in an outcome; anything longer is cut (a code is a few digits).
MAX_RAW_CODE: Final = 40
# Ids of at most this many digits are read back (a 64-bit id has 19).
_MAX_ID_DIGITS: Final = 19


# -- our id on the wire -----------------------------------------------------------------------------------


def make_uniq(prefix: str, message_id: int) -> str:
    """The id the gateway knows the message by: ``"<prefix>-<id>"``, or ``"<id>"`` when ``prefix`` is empty."""
    return f"{prefix}-{message_id}" if prefix else str(message_id)


def uniq_of(prefix: str, message: SMSMessage) -> str:
    """The id the gateway knows a stored message by: its ``provider_ref`` when that is another spelling of its
    id (django-pymess's ``-<id>`` for an empty prefix), else :func:`make_uniq`'s. Raises ``ValueError`` for a
    message without an id."""
    if message.id is None:
        raise ValueError("a message without an id cannot be put on the wire")
    ref = message.provider_ref
    if ref is not None and parse_uniq(ref, prefix) == message.id:
        return ref.strip()
    return make_uniq(prefix, message.id)


def parse_uniq(uniq: str, prefix: str) -> int | None:
    """The message id in ``uniq`` written by :func:`make_uniq` with ``prefix``; ``None`` when it is not ours.

    The prefix is removed with ``str.removeprefix`` (never ``lstrip``, which strips a set of characters and so
    eats leading digits of the id when the prefix holds digits), and the rest must be the canonical decimal
    form of an id (no sign, no leading zero, no whitespace).
    """
    uniq = uniq.strip()
    # django-pymess wrote "<prefix>-<id>" even with an empty prefix: "-<id>" is read too, so the messages it
    # sent (brought over by ``manage.py import_pymess`` with their ids) are answered for.
    head = prefix + "-"
    if prefix and not uniq.startswith(head):
        return None
    uniq = uniq.removeprefix(head)
    if not (uniq.isascii() and uniq.isdigit()) or len(uniq) > _MAX_ID_DIGITS or (len(uniq) > 1 and uniq[0] == "0"):
        return None
    return int(uniq)


def check_prefix(prefix: object, *, key: str = "uniq_prefix") -> str:
    """Validate a configured id prefix: a string (numbers are turned into one) that XML can carry unchanged.

    Raises :class:`~smscore.errors.ConfigurationError` keyed by ``key``.
    """
    if prefix is None:
        return ""
    if isinstance(prefix, int) and not isinstance(prefix, bool):
        prefix = str(prefix)
    if not isinstance(prefix, str):
        raise ConfigurationError(f"option {key!r} must be a string", key=key)
    if illegal_characters(prefix) or any(char in prefix for char in "\t\n\r"):
        raise ConfigurationError(f"option {key!r} must not contain control characters", key=key)
    if prefix != prefix.strip():
        raise ConfigurationError(f"option {key!r} must not start or end with whitespace", key=key)
    return prefix


@attrs.frozen
class Prefix(Checked):
    """The option kind of an id prefix (see :func:`check_prefix`)."""

    description = "text without control characters or surrounding whitespace"
    check = staticmethod(check_prefix)


# -- code tables --------------------------------------------------------------------------------------------


class Verdict(enum.Enum):
    """What a gateway code means for a message, before it becomes an :class:`~smscore.Outcome`."""

    SENDING = "sending"  #: accepted, delivery still to be learned
    SENT = "sent"  #: handed to the carrier
    DELIVERED = "delivered"
    REJECTED = "rejected"  #: refused or failed for good (ERROR)
    TRANSIENT = "transient"  #: not taken now, may be later (WAITING when sending)
    AMBIGUOUS = "ambiguous"  #: the gateway may hold the message (UNKNOWN when sending)
    NO_NEWS = "no news"  #: a check learnt nothing: the message stays where it is
    NOT_FOUND = "not found"  #: a check: the gateway has no message with this id


_ACCEPTED: Final = {
    Verdict.SENDING: SMSState.SENDING,
    Verdict.SENT: SMSState.SENT,
    Verdict.DELIVERED: SMSState.DELIVERED,
}


@attrs.frozen
class Code:
    """One gateway code: a label and its verdict on a send, on a check, and on a whole request."""

    label: str
    on_send: Verdict
    on_check: Verdict
    on_request: Verdict = Verdict.AMBIGUOUS


@attrs.frozen
class CodeTable:
    """A gateway's name (for reasons) and its codes."""

    name: str
    codes: Mapping[int, Code]

    def lookup(self, raw: str) -> tuple[int | None, Code | None]:
        """The integer value of ``raw`` (``None`` when it is not a plain number) and its entry, if known."""
        text = raw.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            return None, None
        number = int(text)
        return number, self.codes.get(number)


@attrs.frozen
class Answer:
    """A parsed gateway answer, by message id.

    ``codes``: the raw code answered for each of our ids; ``conflicting``: ids answered twice with different
    codes; ``foreign``: ids that are not ours (another prefix, garbage); ``request_codes``: codes that concern
    the whole request (ATS ``<code>`` without ``uniq``); ``items``: how many per-message entries there were.
    """

    codes: Mapping[int, str] = attrs.field(factory=dict)
    conflicting: frozenset[int] = frozenset()
    foreign: tuple[str, ...] = ()
    request_codes: tuple[str, ...] = ()
    items: int = 0

    @classmethod
    def collect(cls, entries: Sequence[tuple[str, str]], prefix: str, request_codes: Sequence[str] = ()) -> Answer:
        """Build an answer from ``(uniq, raw code)`` pairs in document order."""
        codes: dict[int, str] = {}
        conflicting: set[int] = set()
        foreign: list[str] = []
        for uniq, raw in entries:
            message_id = parse_uniq(uniq, prefix)
            if message_id is None:
                foreign.append(uniq)
                continue
            raw = raw.strip()
            if message_id in codes and codes[message_id] != raw:
                conflicting.add(message_id)
            codes.setdefault(message_id, raw)
        return cls(
            codes=codes,
            conflicting=frozenset(conflicting),
            foreign=tuple(foreign),
            request_codes=tuple(code.strip() for code in request_codes),
            items=len(entries),
        )


def shown_code(raw: str) -> str:
    """``raw`` as kept in an outcome: cut to :data:`MAX_RAW_CODE` characters."""
    return raw if len(raw) <= MAX_RAW_CODE else raw[:MAX_RAW_CODE] + "..."


def _sender_state(number: int | None, raw: str) -> int | str:
    return number if number is not None else shown_code(raw)


def _send_outcome(table: CodeTable, raw: str, uniq: str, extra: Mapping[str, Any]) -> Outcome:
    number, code = table.lookup(raw)
    data = {**extra, "sender_state": _sender_state(number, raw)}
    if code is None:
        return Outcome.ambiguous(
            f"{table.name} answered an unknown code {shown_code(raw)!r}; outcome unknown until a delivery check",
            provider_ref=uniq,
            error_code=shown_code(raw),
            extra_sender_data=data,
        )
    verdict = code.on_send
    if verdict in _ACCEPTED:
        return Outcome.accepted(_ACCEPTED[verdict], provider_ref=uniq, extra_sender_data=data)
    reason = f"{table.name} code {number}: {code.label}"
    common: dict[str, Any] = {"provider_ref": uniq, "error_code": str(number), "extra_sender_data": data}
    if verdict is Verdict.REJECTED:
        return Outcome.rejected(reason, **common)
    if verdict is Verdict.TRANSIENT:
        return Outcome.transient(reason, **common)
    return Outcome.ambiguous(f"{reason}; outcome unknown until a delivery check", **common)


def _request_outcome(table: CodeTable, raw: str, uniq: str, extra: Mapping[str, Any]) -> Outcome:
    number, code = table.lookup(raw)
    data = {**extra, "sender_state": _sender_state(number, raw)}
    common: dict[str, Any] = {"provider_ref": uniq, "error_code": shown_code(raw), "extra_sender_data": data}
    if code is None:
        reason = f"{table.name} answered the whole request with an unknown code {shown_code(raw)!r}"
        return Outcome.ambiguous(f"{reason}; outcome unknown until a delivery check", **common)
    reason = f"{table.name} refused the whole request: code {number}: {code.label}"
    if code.on_request is Verdict.REJECTED:
        return Outcome.rejected(reason, **common)
    if code.on_request is Verdict.TRANSIENT:
        return Outcome.transient(reason, **common)
    return Outcome.ambiguous(f"{reason}; outcome unknown until a delivery check", **common)


def send_outcomes(
    table: CodeTable, messages: Sequence[SMSMessage], answer: Answer, *, prefix: str, extra: Mapping[str, Any]
) -> list[Outcome]:
    """One outcome per message for the answer to a send request (pure).

    Each message's own code wins; a message without one takes the request-level code when there is one, else
    it is ambiguous (UNKNOWN): the gateway may hold it, and a delivery check will tell.
    """
    outcomes = []
    for message in messages:
        message_id = message.id if message.id is not None else -1
        uniq = make_uniq(prefix, message_id)
        stripped = illegal_characters(message.content)
        data = {**extra, "stripped_characters": stripped} if stripped else dict(extra)
        if message_id in answer.conflicting:
            outcome = Outcome.ambiguous(
                f"{table.name} answered contradicting codes for this message; outcome unknown until a delivery check",
                provider_ref=uniq,
                extra_sender_data=data,
            )
        elif message_id in answer.codes:
            outcome = _send_outcome(table, answer.codes[message_id], uniq, data)
        elif answer.request_codes:
            outcome = _request_outcome(table, answer.request_codes[0], uniq, data)
        else:
            hint = " (the answer held no per-message status at all; wrong credentials?)" if not answer.items else ""
            outcome = Outcome.ambiguous(
                f"{table.name} answered without a status for this message{hint}; outcome unknown until a "
                "delivery check",
                provider_ref=uniq,
                extra_sender_data=data,
            )
        outcomes.append(outcome)
    return outcomes


def _check_outcome(table: CodeTable, message: SMSMessage, raw: str, settled: bool) -> Outcome:
    number, code = table.lookup(raw)
    data = {"sender_state": _sender_state(number, raw)}
    verdict = code.on_check if code is not None else Verdict.NO_NEWS
    if verdict in _ACCEPTED:
        return Outcome.accepted(_ACCEPTED[verdict], extra_sender_data=data)
    reason = f"{table.name} code {number}: {code.label}" if code is not None else ""
    if verdict is Verdict.REJECTED:
        return Outcome.rejected(reason, error_code=str(number), extra_sender_data=data)
    if verdict is Verdict.NOT_FOUND and message.state is not SMSState.WAITING:
        if message.state is SMSState.UNKNOWN and not settled:
            # A request that timed out may still be in the gateway's hands: "not found" proves nothing yet.
            return Outcome(state=message.state, error_code=str(number), extra_sender_data=data)
        if message.state is SMSState.UNKNOWN:
            # The gateway never got it (the request that carried it failed): safe to send again.
            return Outcome.transient(
                f"{reason}: the gateway never received this message", error_code=str(number), extra_sender_data=data
            )
        return Outcome.rejected(reason, error_code=str(number), extra_sender_data=data)
    # Nothing learnt: the message stays in its state; the raw code is kept.
    return Outcome(state=message.state, error_code=shown_code(raw), extra_sender_data=data)


def check_outcomes(
    table: CodeTable,
    messages: Sequence[SMSMessage],
    answer: Answer,
    *,
    now: datetime | None = None,
    grace: timedelta = timedelta(0),
) -> list[Outcome | None]:
    """One report per message for the answer to a delivery check (pure); ``None`` where the answer says nothing
    usable about the message (omitted, contradicting, or only a request-level code).

    "Not found" sends a message in UNKNOWN back to WAITING only once it has been UNKNOWN for ``grace`` (measured
    from its ``changed_at`` to ``now``; always when ``now`` is not given): a request that timed out may still be
    processed by the gateway, and the message must not be sent twice.
    """
    reports: list[Outcome | None] = []
    for message in messages:
        message_id = message.id if message.id is not None else -1
        if message_id in answer.conflicting or message_id not in answer.codes:
            reports.append(None)
            continue
        settled = now is None or now - message.changed_at >= grace
        reports.append(_check_outcome(table, message, answer.codes[message_id], settled))
    return reports


def failure_outcomes(failure: Failure, messages: Sequence[SMSMessage], *, prefix: str) -> list[Outcome]:
    """The outcome of every message of a send request that produced no usable answer (pure)."""
    outcomes = []
    for message in messages:
        uniq = make_uniq(prefix, message.id if message.id is not None else -1)
        if failure.kind is FailureKind.TRANSIENT:
            outcomes.append(Outcome.transient(failure.reason, provider_ref=uniq))
        elif failure.kind is FailureKind.REJECTED:
            outcomes.append(Outcome.rejected(failure.reason, provider_ref=uniq))
        else:
            outcomes.append(
                Outcome.ambiguous(f"{failure.reason}; outcome unknown until a delivery check", provider_ref=uniq)
            )
    return outcomes


# -- the wire object ------------------------------------------------------------------------------------------


class GatewayWire(Protocol):
    """The pure half of a gateway: request documents and answer parsing. Implementations are frozen values."""

    table: ClassVar[CodeTable]

    @property
    def prefix(self) -> str:
        """The id prefix (see :func:`make_uniq`)."""
        ...

    def send_request(self, messages: Sequence[SMSMessage]) -> bytes:
        """The send request for ``messages`` (all with ids), as UTF-8 bytes."""
        ...

    def check_request(self, messages: Sequence[SMSMessage]) -> bytes:
        """The delivery-report request for ``messages``, as UTF-8 bytes."""
        ...

    def parse_answer(self, body: bytes) -> Answer:
        """Parse an answer; raises the gateway's :class:`~smscore.errors.ProviderError` subclass only."""
        ...

    def send_extra(self) -> Mapping[str, Any]:
        """Data stored in every sent message's ``extra_sender_data`` (never credentials)."""
        ...

    def secrets(self) -> Sequence[str]:
        """The credentials the requests carry: scrubbed from everything that leaves the backend."""
        ...
