"""The Twilio wire as pure functions: create parameters in; statuses, errors, look-ups and status callbacks out.
No I/O here: the backend (:mod:`providers.twilio`) makes the requests (:class:`ApiCall`) through a ``twilio``
client, sync or asyncio.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import attrs
import httpx

# requests and urllib3 are the transport of twilio's default HTTP client; their exceptions tell whether a
# request left before it failed.
import requests
import urllib3.exceptions
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

from providers._http import FailureKind, exception_failure
from smscore import Outcome, SMSMessage, SMSState
from smscore.errors import CallbackError, InvalidMessageError
from smscore.inbound import InboundReport
from smscore.ports import CallbackReport

__all__ = [
    "AMBIGUOUS_HTTP_STATUSES",
    "LOOKUP_LIMIT",
    "LOOKUP_MARGIN",
    "STATUS_STATES",
    "TRANSIENT_ERROR_CODES",
    "ApiCall",
    "CreateSettings",
    "Lookup",
    "MultiValues",
    "as_int",
    "callback_report",
    "create_params",
    "error_outcome",
    "exception_outcome",
    "first_value",
    "instance_outcome",
    "look_up",
    "page_error",
    "status_outcome",
]

#: Twilio's message statuses and the state each one means for an outbound message.
STATUS_STATES: Final[Mapping[str, SMSState]] = {
    "queued": SMSState.SENDING,
    "accepted": SMSState.SENDING,
    "scheduled": SMSState.SENDING,
    "sending": SMSState.SENDING,
    "sent": SMSState.SENT,
    "partially_delivered": SMSState.SENT,
    "delivered": SMSState.DELIVERED,
    "read": SMSState.DELIVERED,
    "failed": SMSState.ERROR,
    "undelivered": SMSState.ERROR,
    "canceled": SMSState.ERROR,
    # Inbound statuses: an outbound message should never have them.
    "receiving": SMSState.UNKNOWN,
    "received": SMSState.UNKNOWN,
}

#: Twilio error codes after which sending again later may work.
TRANSIENT_ERROR_CODES: Final = frozenset(
    {
        20429,  # too many requests
        20500,  # internal server error
        20503,  # service unavailable
        14107,  # SMS send rate limit exceeded
        21611,  # the sender's queue is full
        30001,  # queue overflow
    }
)

#: HTTP statuses of a gateway that gave up waiting on Twilio, which may have created the message meanwhile.
AMBIGUOUS_HTTP_STATUSES: Final = frozenset({502, 504})

#: Most messages one look-up of a message without a sid reads (Twilio lists the newest first).
LOOKUP_LIMIT: Final = 20

#: How far before ``created_at`` and after ``changed_at`` a look-up accepts Twilio's ``date_created``.
LOOKUP_MARGIN: Final = timedelta(minutes=1)


def status_outcome(
    status: str | None,
    *,
    sid: str | None = None,
    error_code: object = None,
    error_message: str | None = None,
    price: object = None,
    price_unit: str | None = None,
    num_segments: object = None,
) -> Outcome:
    """The outcome a Twilio message status means, keeping the sid, error, price and segments.

    Total: every string (and None) gives an outcome, never an exception; see the module docstring for the
    table. The raw status is kept in ``extra_sender_data["twilio_status"]``.

    >>> status_outcome("delivered", sid="SM1").state
    <SMSState.DELIVERED: 'delivered'>
    """
    raw = "" if status is None else str(status)
    state = STATUS_STATES.get(raw.strip().lower())
    code = _code(error_code)
    cost = _price(price)
    common: dict[str, Any] = {
        "provider_ref": sid or None,
        "error_code": code,
        "extra_sender_data": {"twilio_status": raw},
        "price": cost,
        "price_unit": (price_unit.upper() if price_unit else None) if cost is not None else None,
        "segments": _segments(num_segments),
    }
    if state is SMSState.ERROR:
        reason = error_message or "no reason given"
        suffix = f" (error {code})" if code else ""
        return Outcome.rejected(f"Twilio reports the message {raw}: {reason}{suffix}", **common)
    if state is None or state is SMSState.UNKNOWN:
        return Outcome.ambiguous(f"Twilio reports an unexpected status {raw!r} for an outbound message", **common)
    return Outcome.accepted(state, **common)


def error_outcome(http_status: int | None, code: int | None, message: str | None) -> Outcome:
    """Translate an error answer of the Twilio API (HTTP status, Twilio error code, text) into an outcome.

    Total over any status and code. Transient (WAITING): HTTP 429, 500, 503 and other 5xx, and the codes of
    :data:`TRANSIENT_ERROR_CODES`; ambiguous (UNKNOWN): 502 and 504; final (ERROR) otherwise. The code (or the
    HTTP status when Twilio gave none) is kept verbatim.

    >>> error_outcome(400, 21211, "The 'To' number is not a valid phone number.").state
    <SMSState.ERROR: 'error'>
    """
    kept = str(code) if code is not None else (str(http_status) if http_status is not None else None)
    text = (message or "").strip() or "no details"
    label = f"error {code}" if code is not None else "error"
    if http_status is not None:
        label += f" (HTTP {http_status})"
    if http_status == 429 or code in TRANSIENT_ERROR_CODES:
        return Outcome.transient(f"Twilio is busy: {label}: {text}", error_code=kept)
    if http_status in AMBIGUOUS_HTTP_STATUSES:
        return Outcome.ambiguous(
            f"Twilio's gateway failed, the message may have been created: {label}: {text}", error_code=kept
        )
    if http_status is not None and http_status >= 500:
        return Outcome.transient(f"Twilio is unavailable: {label}: {text}", error_code=kept)
    return Outcome.rejected(f"Twilio refused the message: {label}: {text}", error_code=kept)


def exception_outcome(exc: BaseException) -> Outcome:
    """Translate an exception raised while creating a message into an outcome. Total over every exception.

    Twilio's error answers go through :func:`error_outcome`. Failing to connect (refused, DNS, connect timeout,
    proxy, TLS) is transient: nothing was sent. A read timeout, a dropped connection and anything else are
    ambiguous: the request may have reached Twilio.
    """
    if isinstance(exc, TwilioRestException):
        return error_outcome(as_int(exc.status), as_int(exc.code), str(exc.msg or ""))
    if isinstance(exc, TwilioServiceException):
        text = exc.title + (f" - {exc.detail}" if exc.detail else "")
        return error_outcome(as_int(exc.status), as_int(exc.code), text)
    if isinstance(exc, httpx.HTTPError):
        return _httpx_outcome(exc)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return Outcome.ambiguous("no answer from Twilio in time after the request was sent (read timeout)")
    if isinstance(
        exc, requests.exceptions.ConnectTimeout | requests.exceptions.ProxyError | requests.exceptions.SSLError
    ):
        return Outcome.transient(f"could not connect to Twilio: {type(exc).__name__}")
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _never_connected(exc):
            return Outcome.transient("could not connect to Twilio (connection refused or name not resolved)")
        return Outcome.ambiguous("the connection to Twilio broke after the request was sent")
    return Outcome.ambiguous(f"creating the message at Twilio failed unexpectedly: {type(exc).__name__}")


def _httpx_outcome(exc: httpx.HTTPError) -> Outcome:
    # The transport of the client the backend builds (providers._twilio_http).
    name = type(exc).__name__
    kind = exception_failure(exc).kind
    if kind is FailureKind.TRANSIENT:
        return Outcome.transient(f"could not connect to Twilio: {name}")
    if kind is FailureKind.REJECTED:
        return Outcome.rejected(f"the Twilio API URL is unusable: {name}")
    if isinstance(exc, httpx.TimeoutException):
        return Outcome.ambiguous(f"no answer from Twilio in time after the request was sent ({name})")
    return Outcome.ambiguous(f"the connection to Twilio broke after the request was sent ({name})")


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    reason: object = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


def as_int(value: object) -> int | None:
    """``value`` as an integer (``"404"`` is 404), or None when it is not one (booleans are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None


def _code(value: object) -> str | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    return str(value)


def _price(value: object) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        return None
    return abs(price) if price.is_finite() else None


def _segments(value: object) -> int | None:
    number = as_int(value)
    # A Messaging Service message reports 0 segments until a sender is chosen: that is "not known yet".
    return number if number is not None and number > 0 else None


def page_error(exc: Exception) -> TwilioRestException | None:
    """The error answer behind a failed list call, as the :class:`TwilioRestException` a fetch would raise.

    twilio reads a list page without checking its status and raises a bare ``TwilioException("Unable to fetch
    page", response)`` for an error answer; reading Twilio's JSON error back gives the status and code that
    :func:`exception_outcome` understands. None for any other exception.
    """
    if isinstance(exc, TwilioRestException | TwilioServiceException) or not isinstance(exc, TwilioException):
        return None
    response = exc.args[1] if len(exc.args) > 1 else None
    status = as_int(getattr(response, "status_code", None))
    if status is None:
        return None
    try:
        payload = json.loads(str(getattr(response, "text", "") or ""))
    except ValueError:
        payload = None
    fields: Mapping[str, Any] = payload if isinstance(payload, dict) else {}
    return TwilioRestException(status, "", str(fields.get("message") or ""), as_int(fields.get("code")))


def _utc(moment: datetime) -> datetime:
    # Messages carry aware datetimes; should a naive one slip through, it can only be UTC (what storages keep).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def first_value(value: str | Sequence[str]) -> str | None:
    """The first value of a form field given as one string or a list of them."""
    if isinstance(value, str):
        return value
    return str(value[0]) if value else None


class MultiValues:
    """Form parameters as twilio's RequestValidator reads them (``getlist``), so repeated fields verify too."""

    def __init__(self, params: Mapping[str, str | Sequence[str]]) -> None:
        self._params = params

    def __iter__(self) -> Any:
        return iter(self._params)

    def getlist(self, name: str) -> list[str]:
        value = self._params[name]
        return [value] if isinstance(value, str) else [str(v) for v in value]


def instance_outcome(instance: Any) -> Outcome:
    """The outcome of a Message resource as the client returns it (:func:`status_outcome` of its fields)."""
    return status_outcome(
        getattr(instance, "status", None),
        sid=getattr(instance, "sid", None),
        error_code=getattr(instance, "error_code", None),
        error_message=getattr(instance, "error_message", None),
        price=getattr(instance, "price", None),
        price_unit=getattr(instance, "price_unit", None),
        num_segments=getattr(instance, "num_segments", None),
    )


@attrs.frozen
class CreateSettings:
    """What every create request carries besides the message: the default sender, the Messaging Service, the
    status callback URL and the validity period (each sent when set)."""

    from_: str | None = None
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    validity_period: int | None = None

    def sender_of(self, message: SMSMessage) -> str | None:
        """The ``From`` a create request for ``message`` carries (None: only the Messaging Service)."""
        return message.sender or self.from_


@attrs.frozen
class ApiCall:
    """One call of the Messages API, made by a sync or an asyncio client: ``method`` (``create``, ``fetch``,
    ``list``; ``<method>_async`` on the event loop) of the message ``sid``, or of the list without one."""

    method: str
    sid: str | None = None
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)

    def resource(self, client: Any) -> Any:
        """The part of ``client`` the call is made on."""
        return client.messages(self.sid) if self.sid else client.messages


def create_params(message: SMSMessage, settings: CreateSettings) -> dict[str, Any]:
    """The keyword arguments of ``client.messages.create`` for ``message``."""
    params: dict[str, Any] = {"to": message.recipient, "body": message.content}
    from_ = settings.sender_of(message)
    if from_:
        params["from_"] = from_
    if settings.messaging_service_sid:
        params["messaging_service_sid"] = settings.messaging_service_sid
    if settings.status_callback:
        params["status_callback"] = settings.status_callback
    if settings.validity_period is not None:
        params["validity_period"] = settings.validity_period
    return params


@attrs.frozen
class Lookup:
    """What a look-up of a message without a sid concluded: a report (or None), and a warning worth logging."""

    report: Outcome | None = None
    warning: str | None = None


def _created(instance: Any) -> datetime | None:
    created = getattr(instance, "date_created", None)
    return _utc(created) if isinstance(created, datetime) else None


def look_up(
    message: SMSMessage, listed: Sequence[Any], *, sender: str | None, now: datetime, grace: timedelta
) -> Lookup:
    """Read the newest :data:`LOOKUP_LIMIT` messages to ``message``'s recipient (``listed``, newest first) for
    the one Twilio may have created for it (UNKNOWN, no sid); see :mod:`providers.twilio` for the rules."""
    start = _utc(message.created_at) - LOOKUP_MARGIN
    end = _utc(message.changed_at) + LOOKUP_MARGIN
    at_the_time = [
        instance
        for instance in listed
        if str(getattr(instance, "direction", None) or "").startswith("outbound")
        and (created := _created(instance)) is not None
        and start <= created <= end
    ]
    candidates = [
        instance
        for instance in at_the_time
        if getattr(instance, "body", None) == message.content
        and (sender is None or getattr(instance, "from_", None) == sender)
    ]
    if len(listed) >= LOOKUP_LIMIT and not any(
        (created := _created(instance)) is not None and created < start for instance in listed
    ):
        # Newest first and the page is full: older messages inside the window were not read, so neither
        # "one candidate" nor "none" is proven.
        return Lookup(
            warning=f"Twilio look-up of SMS message {message.id} is inconclusive: the newest {len(listed)} messages "
            "to its recipient do not reach back to when it was sent"
        )
    if len(candidates) > 1:
        return Lookup(
            warning=f"Twilio look-up of SMS message {message.id} found {len(candidates)} messages that could be "
            "it; not guessing"
        )
    if candidates:
        return Lookup(instance_outcome(candidates[0]))
    if at_the_time:
        # Something went to the recipient then: Twilio may have re-encoded our text (Smart Encoding) or sent
        # it from another number. "Never received" could send it twice, so nothing is concluded.
        return Lookup(
            warning=f"Twilio look-up of SMS message {message.id} found {len(at_the_time)} outbound message(s) to "
            "its recipient at that time, none with its text and sender; not concluding"
        )
    if now - _utc(message.changed_at) < grace:
        # The create request may still be on its way to Twilio, or not yet listed.
        return Lookup()
    return Lookup(
        Outcome.transient(
            "Twilio lists no message like this one to its recipient: it never received it (safe to send again)"
        )
    )


def callback_report(params: Mapping[str, str | Sequence[str]], *, account_sid: str | None) -> CallbackReport:
    """Read a status callback whose signature was verified: the message's sid and its news.

    Raises :class:`~smscore.errors.CallbackError` when it is not a status report of ``account_sid``'s account.
    """
    fields = {name: first_value(value) for name, value in params.items()}
    account = fields.get("AccountSid")
    if account and account_sid and account != account_sid:
        raise CallbackError("Twilio status callback for another account")
    sid = fields.get("MessageSid") or fields.get("SmsSid")
    status = fields.get("MessageStatus") or fields.get("SmsStatus")
    if not sid or not status:
        raise CallbackError("Twilio status callback without MessageSid and MessageStatus")
    return CallbackReport(provider_ref=sid, outcome=status_outcome(status, sid=sid, error_code=fields.get("ErrorCode")))


#: Fields of an incoming-message webhook kept in the inbound SMS's ``extra_data`` (when Twilio sends them).
INBOUND_EXTRA: Final = (
    "NumSegments",
    "NumMedia",
    "FromCountry",
    "FromState",
    "FromCity",
    "FromZip",
    "ToCountry",
    "MessagingServiceSid",
)


def inbound_report(params: Mapping[str, str | Sequence[str]], *, account_sid: str | None) -> InboundReport:
    """Read an incoming-message webhook whose signature was verified: who wrote to which number, and what.

    Raises :class:`~smscore.errors.CallbackError` when it is not an incoming message of ``account_sid``'s account
    or a field is longer than an inbound SMS keeps.
    """
    fields = {name: first_value(value) for name, value in params.items()}
    account = fields.get("AccountSid")
    if account and account_sid and account != account_sid:
        raise CallbackError("Twilio incoming message for another account")
    sid, sender, recipient = fields.get("MessageSid") or fields.get("SmsSid"), fields.get("From"), fields.get("To")
    if not sid or not sender or not recipient or fields.get("Body") is None:
        raise CallbackError("Twilio incoming message without MessageSid, From, To and Body")
    extra = {name: fields[name] for name in INBOUND_EXTRA if fields.get(name)}
    try:
        return InboundReport(
            sender=sender, recipient=recipient, content=fields["Body"] or "", provider_ref=sid, extra_data=extra
        )
    except InvalidMessageError as exc:
        raise CallbackError(f"Twilio incoming message cannot be kept: {exc}") from None
