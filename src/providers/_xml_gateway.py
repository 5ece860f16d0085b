"""What the two XML gateways (ATS, SMS-operator) share: our ids on the wire, total code tables, the mapping of
answers to outcomes, and the backend glue around a pure wire object.

Our id on the wire. Both gateways key messages by an id we choose (ATS ``uniq``, SMS-operator ``SmsId``):
``<prefix>-<message id>``, or just ``<message id>`` when the prefix is empty (the ancestor sent ``-<id>``, a
negative-looking number). :func:`parse_uniq` reads it back with ``str.removeprefix`` and accepts only the exact
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
import logging
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, Protocol, Self

import attrs
import httpx

from providers._http import Failure, FailureKind, Redactor, build_client, check_url, post_xml, safe_url
from providers._xml import MAX_RESPONSE_BYTES, illegal_characters
from providers.base import SMSBackend, without_secrets
from smscore import Outcome, SMSMessage, SMSState
from smscore.errors import ConfigurationError, ProviderError

__all__ = [
    "Answer",
    "Code",
    "CodeTable",
    "GatewayWire",
    "Verdict",
    "XMLGatewayBackend",
    "check_outcomes",
    "check_prefix",
    "failure_outcomes",
    "make_uniq",
    "parse_uniq",
    "send_outcomes",
]

#: Longest raw code kept verbatim in an outcome; anything longer is cut (a code is a few digits).
MAX_RAW_CODE: Final = 40
# Ids of at most this many digits are read back (a 64-bit id has 19).
_MAX_ID_DIGITS: Final = 19


# -- our id on the wire -----------------------------------------------------------------------------------


def make_uniq(prefix: str, message_id: int) -> str:
    """The id the gateway knows the message by: ``"<prefix>-<id>"``, or ``"<id>"`` when ``prefix`` is empty."""
    return f"{prefix}-{message_id}" if prefix else str(message_id)


def parse_uniq(uniq: str, prefix: str) -> int | None:
    """The message id in ``uniq`` written by :func:`make_uniq` with ``prefix``; ``None`` when it is not ours.

    The prefix is removed with ``str.removeprefix`` (never ``lstrip``, which strips a set of characters and so
    eats leading digits of the id when the prefix holds digits), and the rest must be the canonical decimal
    form of an id (no sign, no leading zero, no whitespace).
    """
    uniq = uniq.strip()
    if prefix:
        head = prefix + "-"
        if not uniq.startswith(head):
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


def _raw(raw: str) -> str:
    return raw if len(raw) <= MAX_RAW_CODE else raw[:MAX_RAW_CODE] + "..."


def _sender_state(number: int | None, raw: str) -> int | str:
    return number if number is not None else _raw(raw)


def _send_outcome(table: CodeTable, raw: str, uniq: str, extra: Mapping[str, Any]) -> Outcome:
    number, code = table.lookup(raw)
    data = {**extra, "sender_state": _sender_state(number, raw)}
    if code is None:
        return Outcome.ambiguous(
            f"{table.name} answered an unknown code {_raw(raw)!r}; outcome unknown until a delivery check",
            provider_ref=uniq,
            error_code=_raw(raw),
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
    common: dict[str, Any] = {"provider_ref": uniq, "error_code": _raw(raw), "extra_sender_data": data}
    if code is None:
        reason = f"{table.name} answered the whole request with an unknown code {_raw(raw)!r}"
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
    return Outcome(state=message.state, error_code=_raw(raw), extra_sender_data=data)


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


# -- the backend glue ---------------------------------------------------------------------------------------


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


def _chunks(items: Sequence[int], size: int) -> list[Sequence[int]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


class XMLGatewayBackend(SMSBackend):
    """The I/O half shared by the ATS and SMS-operator backends: chunking, one POST per chunk through a shared
    ``httpx.Client``, answers mapped through the wire and the code table, secrets scrubbed from everything that
    leaves. ``publish`` and ``bulk_check_sms_states`` never raise."""

    can_check_by_our_id = True
    log: ClassVar[logging.Logger] = logging.getLogger(__name__)

    def __init__(
        self,
        client: httpx.Client,
        *,
        wire: GatewayWire,
        url: str,
        max_batch_size: int,
        secrets: Sequence[str],
        not_found_grace: float = 60.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if not_found_grace < 0:
            raise ValueError("not_found_grace must not be negative")
        self._not_found_grace = timedelta(seconds=not_found_grace)
        self._client = client
        self._wire = wire
        self._url = url
        # What logs and the repr may show of the URL (no credentials, no query); computed once.
        self._shown_url = safe_url(url)
        self._max_batch_size = max_batch_size
        self._max_response_bytes = max_response_bytes
        self._redact = Redactor(secrets)

    @property
    def max_batch_size(self) -> int:  # type: ignore[override]  # a class constant in the base, per instance here
        """Most messages in one request to the gateway (``max_batch_size`` option)."""
        return self._max_batch_size

    @property
    def url(self) -> str:
        """Where requests go."""
        return self._url

    @property
    def client(self) -> httpx.Client:
        """The ``httpx.Client`` every request goes through."""
        return self._client

    def close(self) -> None:
        """Close the HTTP client (and its pooled connections)."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} url={self._shown_url!r} prefix={self._redact(self._wire.prefix)!r}>"

    # -- the provider port -------------------------------------------------------------------------------

    def publish_message(self, message: SMSMessage) -> Outcome:
        """Send one message (one request)."""
        return self.publish_messages([message])[0]

    def publish_messages(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        """Send ``messages`` in requests of at most :attr:`max_batch_size`; one outcome per message, in order."""
        outcomes: list[Outcome | None] = [None] * len(messages)
        sendable = []
        for index, message in enumerate(messages):
            if message.id is None or message.id < 0:
                outcomes[index] = Outcome.rejected("message has no id: store it before publishing")
            else:
                sendable.append(index)
        for chunk in _chunks(sendable, self._max_batch_size):
            batch = [messages[index] for index in chunk]
            try:
                results = self._publish_chunk(batch)
            except Exception as exc:
                # A defect of ours, not the gateway's: the request may have left, so never re-send blindly.
                self._log(logging.ERROR, "publishing %d message(s) failed unexpectedly: %r", len(batch), exc)
                results = failure_outcomes(
                    Failure(FailureKind.AMBIGUOUS, f"unexpected {type(exc).__name__} while publishing"),
                    batch,
                    prefix=self._wire.prefix,
                )
            for index, outcome in zip(chunk, results, strict=True):
                outcomes[index] = self._scrub(outcome)
        return [outcome for outcome in outcomes if outcome is not None]

    def bulk_check_sms_states(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        """Ask the gateway about ``messages`` (one delivery-report request per :attr:`max_batch_size`); one
        report per message, in order, ``None`` where there is nothing new or its request failed.

        When not a single request got an answer, :class:`~smscore.errors.ProviderError` is raised, so that the
        service counts the failure (``DeliveryCheckReport.failed_chunks``) instead of taking it for silence.
        """
        reports: list[Outcome | None] = [None] * len(messages)
        checkable = [index for index, message in enumerate(messages) if message.id is not None and message.id >= 0]
        answered = 0
        failure: str | None = None
        for chunk in _chunks(checkable, self._max_batch_size):
            batch = [messages[index] for index in chunk]
            try:
                results = self._check_chunk(batch)
            except Exception as exc:
                self._log(logging.ERROR, "delivery check of %d message(s) failed unexpectedly: %r", len(batch), exc)
                failure = f"unexpected {type(exc).__name__}"
                continue
            if isinstance(results, Failure):
                failure = results.reason
                continue
            answered += 1
            for index, report in zip(chunk, results, strict=True):
                reports[index] = self._scrub(report) if report is not None else None
        if failure is not None and answered == 0:
            raise ProviderError(f"{self._wire.table.name} delivery check failed: {failure}")
        return reports

    # -- one request -------------------------------------------------------------------------------------

    def _exchange(self, body: bytes, what: str, messages: Sequence[SMSMessage]) -> Answer | Failure:
        name, count = self._wire.table.name, len(messages)
        self._log(logging.DEBUG, "%s: POST %s of %d message(s) to %s", name, what, count, self._shown_url)
        reply = post_xml(self._client, self._url, body, max_response_bytes=self._max_response_bytes)
        if isinstance(reply, Failure):
            self._log(logging.WARNING, "%s %s of %d message(s) failed: %s", name, what, count, reply.reason)
            return reply
        try:
            answer = self._wire.parse_answer(reply)
        except ProviderError as exc:
            self._log(logging.WARNING, "%s answered a %s with an unusable document: %s", name, what, exc)
            return Failure(FailureKind.AMBIGUOUS, f"{name} answered with an unusable document: {exc}")
        # Scrub before anything is cut or shown: a gateway may echo the request, password included.
        answer = attrs.evolve(
            answer,
            codes={key: self._redact(raw) for key, raw in answer.codes.items()},
            foreign=tuple(self._redact(uniq) for uniq in answer.foreign),
            request_codes=tuple(self._redact(raw) for raw in answer.request_codes),
        )
        asked = {message.id for message in messages}
        unasked = [*answer.foreign, *(make_uniq(self._wire.prefix, i) for i in answer.codes if i not in asked)]
        if unasked:
            shown = ", ".join(repr(uniq[:MAX_RAW_CODE]) for uniq in unasked[:10])
            self._log(
                logging.WARNING, "%s answered about %d id(s) not asked for, ignored: %s", name, len(unasked), shown
            )
        missing = sum(1 for message in messages if message.id not in answer.codes)
        if missing and not answer.request_codes:
            self._log(logging.WARNING, "%s answered no status for %d of %d message(s)", name, missing, count)
        if answer.conflicting:
            conflicting = sorted(answer.conflicting)
            self._log(logging.WARNING, "%s answered contradicting codes for message id(s) %s", name, conflicting)
        if answer.request_codes:
            codes = list(answer.request_codes)
            self._log(logging.WARNING, "%s answered the whole %s with code(s) %s", name, what, codes)
        return answer

    def _publish_chunk(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        result = self._exchange(self._wire.send_request(messages), "send request", messages)
        if isinstance(result, Failure):
            return failure_outcomes(result, messages, prefix=self._wire.prefix)
        return send_outcomes(
            self._wire.table, messages, result, prefix=self._wire.prefix, extra=self._wire.send_extra()
        )

    def _check_chunk(self, messages: Sequence[SMSMessage]) -> list[Outcome | None] | Failure:
        """The reports of one delivery-report request, or the failure of the request as a whole."""
        result = self._exchange(self._wire.check_request(messages), "delivery check", messages)
        if isinstance(result, Failure):
            return result
        if result.request_codes and not result.codes:
            codes = ", ".join(_raw(code) for code in result.request_codes)
            return Failure(FailureKind.REJECTED, f"the gateway refused the whole request: code(s) {codes}")
        return check_outcomes(self._wire.table, messages, result, now=datetime.now(UTC), grace=self._not_found_grace)

    # -- keeping secrets ---------------------------------------------------------------------------------

    def _log(self, level: int, template: str, *args: object) -> None:
        if self.log.isEnabledFor(level):
            self.log.log(level, "%s", self._redact(template % args))

    def _scrub(self, outcome: Outcome) -> Outcome:
        return without_secrets(outcome, self._redact.forms)


# -- reading options ----------------------------------------------------------------------------------------


class Options:
    """Typed reading of a backend's options (strings from the environment are coerced).

    Every error is a :class:`~smscore.errors.ConfigurationError` keyed by the option's name; unknown names are
    refused, so a typo never silently falls back to a default.
    """

    def __init__(self, options: Mapping[str, Any], known: Sequence[str]) -> None:
        if not isinstance(options, Mapping):
            raise ConfigurationError("options must be a mapping")
        for name in options:
            if name not in known:
                raise ConfigurationError(f"unknown option {name!r} (known: {', '.join(sorted(known))})", key=str(name))
        self._options = options

    def _value(self, name: str) -> Any:
        value = self._options.get(name)
        return None if value is None or (isinstance(value, str) and not value.strip()) else value

    def string(self, name: str, *, default: str | None = None, required: bool = False) -> str | None:
        """A non-empty string (numbers accepted and turned into text); ``default`` when absent or empty."""
        value = self._value(name)
        if value is None:
            if required:
                raise ConfigurationError(f"option {name!r} is required", key=name)
            return default
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ConfigurationError(f"option {name!r} must be a string, not {type(value).__name__}", key=name)
        if illegal_characters(value):
            raise ConfigurationError(f"option {name!r} must not contain control characters", key=name)
        return value

    def required_string(self, name: str) -> str:
        """A non-empty string that must be given."""
        value = self.string(name)
        if value is None:
            raise ConfigurationError(f"option {name!r} is required", key=name)
        return value

    def integer(self, name: str, *, default: int, minimum: int = 1, maximum: int | None = None) -> int:
        """An integer within bounds (``"60"`` is read as 60)."""
        value = self._value(name)
        if value is None:
            return default
        if isinstance(value, bool):
            raise ConfigurationError(f"option {name!r} must be an integer, not {value!r}", key=name)
        try:
            number = int(value.strip()) if isinstance(value, str) else int(value)
        except (TypeError, ValueError):
            raise ConfigurationError(f"option {name!r} must be an integer, not {value!r}", key=name) from None
        if isinstance(value, float) and value != number:
            raise ConfigurationError(f"option {name!r} must be an integer, not {value!r}", key=name)
        if number < minimum or (maximum is not None and number > maximum):
            bounds = f"at least {minimum}" + (f" and at most {maximum}" if maximum is not None else "")
            raise ConfigurationError(f"option {name!r} must be {bounds}, not {number}", key=name)
        return number

    def seconds(self, name: str, *, default: float, allow_zero: bool = False) -> float:
        """A positive (or, with ``allow_zero``, non-negative) number of seconds (``"2.5"`` is read as 2.5)."""
        value = self._value(name)
        if value is None:
            return default
        if isinstance(value, bool):
            raise ConfigurationError(f"option {name!r} must be a number of seconds, not {value!r}", key=name)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigurationError(f"option {name!r} must be a number of seconds, not {value!r}", key=name) from None
        lowest_ok = number >= 0 if allow_zero else number > 0
        if not lowest_ok or math.isinf(number):
            kind = "a non-negative" if allow_zero else "a positive"
            raise ConfigurationError(f"option {name!r} must be {kind} number of seconds, not {value!r}", key=name)
        return number

    def url(self, name: str, *, default: str) -> str:
        """An http(s) URL without credentials in it."""
        value = self._value(name)
        return check_url(default if value is None else value, key=name)

    def prefix(self, name: str) -> str:
        """An id prefix (see :func:`check_prefix`)."""
        value = self._options.get(name)
        return check_prefix(value, key=name)


def client_from(options: Options) -> httpx.Client:
    """The ``httpx.Client`` of a backend built from options (``timeout`` in seconds, 5 by default)."""
    return build_client(timeout=options.seconds("timeout", default=5.0))
