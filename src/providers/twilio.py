"""Twilio Programmable Messaging through the official ``twilio`` library (>= 9, ``twilio.rest.Client``).

Every message is one ``messages.create`` call (``To``, ``Body``, ``From`` or ``MessagingServiceSid``, and the
configured ``StatusCallback`` and ``ValidityPeriod``). The Message ``sid`` is stored as ``provider_ref`` and
the status Twilio answers becomes the message's state.

The delivery check fetches each message that has a sid. A message UNKNOWN without a sid (its create request got
no usable answer: read timeout, connection dropped, HTTP 502/504) is looked up with one list request: the
newest :data:`LOOKUP_LIMIT` messages to its recipient. Candidates are outbound messages with exactly its body
(and its sender, when it was sent with one rather than only a Messaging Service), created between a minute
before the message was created and a minute after it became UNKNOWN (``created_at`` and ``changed_at``, widened
by :data:`LOOKUP_MARGIN`: Twilio's dates have second precision and the clocks differ).

- one candidate: its status is reported like a fetched message's, with its sid as ``provider_ref``;
- no outbound message at all to the recipient in that window, once the message has been UNKNOWN for
  ``not_found_grace`` seconds (by the wall clock, from its ``changed_at``): WAITING, Twilio never received it
  and it may be sent again; within the grace period the request may still be on its way, so nothing is
  reported;
- outbound messages in the window but none with its body and sender: nothing is reported (Twilio may have
  re-encoded the text, or the sender changed since: concluding "never received" could send it twice);
- several: nothing is reported (a warning is logged): guessing could attach another message's sid;
- a full page whose oldest message is still inside the window proves nothing (more messages to that recipient
  may hide a candidate): nothing is reported, and the idle timeout decides.

A failing look-up stops the check like a failing fetch. The list request carries no ``DateSent`` filter: Twilio
leaves ``date_sent`` empty while a message is queued, so such a filter would hide the very message looked for.

Options (``{"provider": "twilio", "provider_options": {...}}``; credentials only from here, never from framework
settings or Twilio's environment variables):

=======================  ========  =========================================================================
option                   default   meaning
=======================  ========  =========================================================================
account_sid              required  the account (``AC...``)
auth_token               \\-        the account's auth token; it also verifies status callbacks
api_key / api_secret     \\-        an API key (``SK...``) and its secret, used instead of the auth token for
                                   requests (give ``auth_token`` too to verify callbacks)
from\\_                   \\-        the sender: a Twilio number, short code or alphanumeric sender ID (also
                                   spelled ``from``, ``sender`` or ``from_number``)
messaging_service_sid    \\-        a Messaging Service (``MG...``); this or a sender is required
status_callback          None      URL Twilio posts status changes to
validity_period          None      seconds (1-36000) a message may wait in Twilio's queue
timeout                  10        seconds per HTTP request (for the client built here)
not_found_grace          120       seconds a message must have been UNKNOWN without a sid before the delivery
                                   check, finding no such message at Twilio, reports it never received
                                   (WAITING); 0 or more
region / edge            None      Twilio region and edge to talk to
http_client              None      a ready ``twilio.http.HttpClient`` (tests, proxies); ``timeout`` is then
                                   the client's business
=======================  ========  =========================================================================

A message's own ``sender`` overrides ``from_``. Status callbacks (``status_callback``) are verified by
:meth:`TwilioSMSBackend.parse_status_callback`, which makes the backend a :class:`smscore.StatusCallbackReceiver`.

Statuses (all thirteen of ``MessageInstance.Status``): ``queued``, ``accepted``, ``scheduled`` and ``sending``
are SENDING; ``sent`` is SENT; ``delivered`` and ``read`` are DELIVERED; ``failed``, ``undelivered`` and
``canceled`` are ERROR with Twilio's ``error_code`` and ``error_message``; ``partially_delivered`` is SENT (part
of it reached the carrier; nothing more will be learned). ``receiving`` and ``received`` belong to inbound
messages and, like any status not known here, give an ambiguous outcome (UNKNOWN) that keeps the raw status:
never a crash. The raw status is kept in ``extra_sender_data["twilio_status"]``; price (a positive cost; Twilio
reports charges as negative amounts), currency and segments are kept when Twilio reports them.

Errors are translated here, at the edge. HTTP 429, Twilio codes of :data:`TRANSIENT_ERROR_CODES` (20429 too many
requests, 30001 and 21611 queue overflow...) and 500/503 are transient (WAITING); 502 and 504 (a gateway gave
up while Twilio may have created the message) are ambiguous (UNKNOWN); every other error answer is final
(ERROR with the Twilio code: 20003 authentication, 21211 invalid ``To``, 21408 region not enabled, 21610
unsubscribed recipient, 21612, 21614 not a mobile number, 21617 body too long, 30003-30008...). Failing to
connect is transient; a read timeout, a connection dropped after sending, or any other failure once the
request may have left is ambiguous, because creating a message is not idempotent.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Self

# requests and urllib3 are the transport of twilio's default HTTP client; their exceptions tell whether a
# request left before it failed.
import requests
import urllib3.exceptions
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from providers.base import SMSBackend, option, without_secrets
from smscore import Outcome, SMSMessage, SMSState
from smscore.errors import CallbackError, ConfigurationError, InvalidSignatureError, ProviderError
from smscore.ports import CallbackReport

__all__ = [
    "LOOKUP_LIMIT",
    "LOOKUP_MARGIN",
    "STATUS_STATES",
    "TRANSIENT_ERROR_CODES",
    "TwilioSMSBackend",
    "error_outcome",
    "exception_outcome",
    "status_outcome",
]

log = logging.getLogger("providers.twilio")

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

_DEFAULT_TIMEOUT: Final = 10.0
_DEFAULT_NOT_FOUND_GRACE: Final = 120.0
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_API_KEY = re.compile(r"SK[0-9a-fA-F]{32}")
_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
_KNOWN_OPTIONS: Final = frozenset(
    {
        "account_sid",
        "auth_token",
        "api_key",
        "api_secret",
        "from_",
        "from",
        "sender",
        "from_number",
        "messaging_service_sid",
        "status_callback",
        "validity_period",
        "timeout",
        "not_found_grace",
        "region",
        "edge",
        "http_client",
    }
)


# -- pure functions: the translation of answers --------------------------------------------------------------


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
        return error_outcome(_int(exc.status), _int(exc.code), str(exc.msg or ""))
    if isinstance(exc, TwilioServiceException):
        text = exc.title + (f" - {exc.detail}" if exc.detail else "")
        return error_outcome(_int(exc.status), _int(exc.code), text)
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


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    reason: object = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


def _int(value: object) -> int | None:
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
    number = _int(value)
    # A Messaging Service message reports 0 segments until a sender is chosen: that is "not known yet".
    return number if number is not None and number > 0 else None


def _page_error(exc: Exception) -> TwilioRestException | None:
    """The error answer behind a failed list call, as the :class:`TwilioRestException` a fetch would raise.

    twilio reads a list page without checking its status and raises a bare ``TwilioException("Unable to fetch
    page", response)`` for an error answer; reading Twilio's JSON error back gives the status and code that
    :func:`exception_outcome` understands. None for any other exception.
    """
    if isinstance(exc, TwilioRestException | TwilioServiceException) or not isinstance(exc, TwilioException):
        return None
    response = exc.args[1] if len(exc.args) > 1 else None
    status = _int(getattr(response, "status_code", None))
    if status is None:
        return None
    try:
        payload = json.loads(str(getattr(response, "text", "") or ""))
    except ValueError:
        payload = None
    fields: Mapping[str, Any] = payload if isinstance(payload, dict) else {}
    return TwilioRestException(status, "", str(fields.get("message") or ""), _int(fields.get("code")))


def _utc(moment: datetime) -> datetime:
    # Messages carry aware datetimes; should a naive one slip through, it can only be UTC (what storages keep).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _first(value: str | Sequence[str]) -> str | None:
    if isinstance(value, str):
        return value
    return str(value[0]) if value else None


class _MultiValues:
    """Form parameters as twilio's RequestValidator reads them (``getlist``), so repeated fields verify too."""

    def __init__(self, params: Mapping[str, str | Sequence[str]]) -> None:
        self._params = params

    def __iter__(self) -> Any:
        return iter(self._params)

    def getlist(self, name: str) -> list[str]:
        value = self._params[name]
        return [value] if isinstance(value, str) else [str(v) for v in value]


# -- options -------------------------------------------------------------------------------------------------


def _text_option(options: Mapping[str, Any], name: str, pattern: re.Pattern[str] | None = None) -> str | None:
    value = option(options, name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"option {name!r} must be a string", key=name)
    if pattern is not None and not pattern.fullmatch(value):
        raise ConfigurationError(f"option {name!r} is not a valid SID (expected {pattern.pattern})", key=name)
    return value


def _validity_period(value: object) -> int | None:
    if value is None or value == "":
        return None
    number = _int(value)
    if number is None or not 1 <= number <= 36000 or (isinstance(value, float) and value != number):
        raise ConfigurationError(
            f"option 'validity_period' must be a whole number of seconds from 1 to 36000, not {value!r}",
            key="validity_period",
        )
    return number


def _timeout(value: object) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else 0.0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = 0.0
    if not number > 0:
        raise ConfigurationError(f"option 'timeout' must be a positive number of seconds, not {value!r}", key="timeout")
    return number


def _grace(value: object) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else -1.0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = -1.0
    if not number >= 0 or math.isinf(number):
        raise ConfigurationError(
            f"option 'not_found_grace' must be a non-negative number of seconds, not {value!r}", key="not_found_grace"
        )
    return number


# -- the backend ---------------------------------------------------------------------------------------------


class TwilioSMSBackend(SMSBackend):
    """Send SMS through Twilio (see the module docstring for options, statuses and error handling).

    ``client`` is a ready ``twilio.rest.Client``; :meth:`from_options` builds one. Give ``from_`` or
    ``messaging_service_sid`` (or both); ``status_callback`` and ``validity_period`` are sent when set.
    ``auth_token`` (the account's, even when the client uses an API key) verifies status callbacks; it and
    ``secrets`` are never shown in outcomes (nor their Basic-auth form, derived here).
    ``close_client``: :meth:`close` closes the client's HTTP session (:meth:`from_options` sets it when it built
    the HTTP client; an injected ``http_client`` stays its owner's to close).
    ``not_found_grace``: seconds a message must have been UNKNOWN without a sid before a look-up that finds
    nothing reports it never received (WAITING).
    """

    max_batch_size = 100
    # Twilio can list messages by recipient and time, not by an id of ours.
    can_check_by_our_id = False

    def __init__(
        self,
        client: Client,
        *,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        validity_period: int | None = None,
        auth_token: str | None = None,
        secrets: Iterable[str] = (),
        close_client: bool = False,
        not_found_grace: float = _DEFAULT_NOT_FOUND_GRACE,
    ) -> None:
        if not from_ and not messaging_service_sid:
            raise ValueError("a sender (from_) or a messaging_service_sid is required")
        if not not_found_grace >= 0:
            raise ValueError("not_found_grace must not be negative")
        self.not_found_grace = timedelta(seconds=not_found_grace)
        self._client = client
        self.from_ = from_
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback
        self.validity_period = validity_period
        self._validator = RequestValidator(auth_token) if auth_token else None
        secret_values = [s for s in (*secrets, auth_token) if s]
        username, password = getattr(client, "username", None), getattr(client, "password", None)
        if isinstance(username, str) and isinstance(password, str) and password in secret_values:
            # The Basic-auth header carries base64("user:secret"): scrub that form too.
            secret_values.append(base64.b64encode(f"{username}:{password}".encode()).decode())
        self._secrets = tuple(dict.fromkeys(secret_values))
        self._close_client = close_client

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        """Build the backend and its Twilio client once, from configuration options (module docstring).

        Raises :class:`~smscore.errors.ConfigurationError` keyed by the option that is unknown, missing or wrong.
        No request is made.
        """
        for name in options:
            if name not in _KNOWN_OPTIONS:
                raise ConfigurationError(f"unknown option {name!r} for the Twilio backend", key=str(name))
        account_sid = _text_option(options, "account_sid", _ACCOUNT_SID)
        if account_sid is None:
            raise ConfigurationError("option 'account_sid' is required", key="account_sid")
        auth_token = _text_option(options, "auth_token")
        api_key = _text_option(options, "api_key", _API_KEY)
        api_secret = _text_option(options, "api_secret")
        if api_key and not api_secret:
            raise ConfigurationError("option 'api_secret' is required with api_key", key="api_secret")
        if api_secret and not api_key:
            raise ConfigurationError("option 'api_key' is required with api_secret", key="api_key")
        if not auth_token and not api_key:
            raise ConfigurationError("option 'auth_token' (or api_key and api_secret) is required", key="auth_token")
        sender_key = next((k for k in ("from_", "from", "sender", "from_number") if options.get(k)), "from_")
        from_ = _text_option(options, sender_key)
        service_sid = _text_option(options, "messaging_service_sid", _SERVICE_SID)
        if not from_ and not service_sid:
            raise ConfigurationError("option 'from_' (the sender) or 'messaging_service_sid' is required", key="from_")
        status_callback = _text_option(options, "status_callback")
        if status_callback is not None and not re.match(r"https?://[^/\s]+", status_callback):
            raise ConfigurationError("option 'status_callback' must be an http(s) URL", key="status_callback")
        validity_period = _validity_period(option(options, "validity_period"))
        not_found_grace = _grace(option(options, "not_found_grace", default=_DEFAULT_NOT_FOUND_GRACE))
        http_client = option(options, "http_client")
        if http_client is not None and not isinstance(http_client, HttpClient):
            raise ConfigurationError("option 'http_client' must be a twilio.http.HttpClient", key="http_client")
        owns_http_client = http_client is None
        if http_client is None:
            timeout = _timeout(option(options, "timeout", default=_DEFAULT_TIMEOUT))
            http_client = TwilioHttpClient(timeout=timeout)
        secret = api_secret or auth_token
        client = Client(
            username=api_key or account_sid,
            password=secret,
            account_sid=account_sid,
            region=_text_option(options, "region"),
            edge=_text_option(options, "edge"),
            http_client=http_client,
        )
        return cls(
            client,
            from_=from_,
            messaging_service_sid=service_sid,
            status_callback=status_callback,
            validity_period=validity_period,
            auth_token=auth_token,
            secrets=[secret] if secret else [],
            close_client=owns_http_client,
            not_found_grace=not_found_grace,
        )

    # -- publishing ------------------------------------------------------------------------------------------

    def publish_message(self, message: SMSMessage) -> Outcome:
        """Create one message at Twilio and translate the answer. Never raises."""
        params: dict[str, Any] = {"to": message.recipient, "body": message.content}
        from_ = self._sender_of(message)
        if from_:
            params["from_"] = from_
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        if self.status_callback:
            params["status_callback"] = self.status_callback
        if self.validity_period is not None:
            params["validity_period"] = self.validity_period
        try:
            created = self._client.messages.create(**params)
        except Exception as exc:
            if not isinstance(exc, TwilioRestException | TwilioServiceException | requests.exceptions.RequestException):
                log.exception("unexpected error creating SMS message %s at Twilio", message.id)
            outcome = self._clean(exception_outcome(exc))
        else:
            sid = getattr(created, "sid", None)
            if not sid:
                return Outcome.ambiguous("Twilio answered without a message sid")
            outcome = self._clean(self._instance_outcome(created))
        if outcome.state not in {SMSState.SENDING, SMSState.SENT, SMSState.DELIVERED}:
            log.warning("Twilio create of SMS message %s: %s: %s", message.id, outcome.state.name, outcome.error)
        return outcome

    @staticmethod
    def _instance_outcome(instance: Any) -> Outcome:
        return status_outcome(
            getattr(instance, "status", None),
            sid=getattr(instance, "sid", None),
            error_code=getattr(instance, "error_code", None),
            error_message=getattr(instance, "error_message", None),
            price=getattr(instance, "price", None),
            price_unit=getattr(instance, "price_unit", None),
            num_segments=getattr(instance, "num_segments", None),
        )

    def _sender_of(self, message: SMSMessage) -> str | None:
        """The ``From`` a create request for ``message`` carries (None: only the Messaging Service)."""
        return message.sender or self.from_

    def _clean(self, outcome: Outcome) -> Outcome:
        return without_secrets(outcome, self._secrets)

    # -- delivery checks -------------------------------------------------------------------------------------

    def bulk_check_sms_states(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        """Report what Twilio knows of each message: fetched by its sid, or looked up when it is UNKNOWN without
        one (see the module docstring); ``None`` where there is nothing to report.

        A sid Twilio does not know (HTTP 404: the record was deleted, or belongs to another account) gives
        ``None``: nothing can be learned, and the idle timeout decides. On any other failure of a fetch or a
        look-up the rest of the chunk is left for the next check (``None``); when not a single message could be
        answered, :class:`~smscore.errors.ProviderError` is raised so the service counts the chunk as failed.
        """
        reports: list[Outcome | None] = []
        answered = 0
        failure: str | None = None
        now = datetime.now(UTC)
        for message in messages:
            lookup = not message.provider_ref and message.state is SMSState.UNKNOWN
            if failure is not None or not (message.provider_ref or lookup):
                reports.append(None)
                continue
            try:
                if lookup:
                    report = self._look_up(message, now)
                else:
                    instance = self._client.messages(message.provider_ref).fetch()
                    report = self._clean(self._instance_outcome(instance))
            except Exception as exc:
                exc = _page_error(exc) or exc
                if (
                    not lookup
                    and isinstance(exc, TwilioRestException | TwilioServiceException)
                    and _int(exc.status) == 404
                ):
                    log.warning("Twilio has no message %s (SMS message %s)", message.provider_ref, message.id)
                    answered += 1
                    reports.append(None)
                    continue
                failure = self._clean(exception_outcome(exc)).error or type(exc).__name__
                log.warning("Twilio delivery check stopped at SMS message %s: %s", message.id, failure)
                reports.append(None)
                continue
            answered += 1
            reports.append(report)
        if failure is not None and answered == 0:
            raise ProviderError(f"Twilio delivery check failed: {failure}")
        return reports

    def _look_up(self, message: SMSMessage, now: datetime) -> Outcome | None:
        """Find the message Twilio may have created for ``message`` (UNKNOWN, no sid) by one list request.

        Raises what the list call raises; the caller counts it as a failed check.
        """
        # By recipient only: a sender changed since, or picked by a Messaging Service, must not hide the message.
        listed = list(self._client.messages.list(to=message.recipient, limit=LOOKUP_LIMIT))
        start = _utc(message.created_at) - LOOKUP_MARGIN
        end = _utc(message.changed_at) + LOOKUP_MARGIN
        sender = self._sender_of(message)
        at_the_time = [
            instance
            for instance in listed
            if str(getattr(instance, "direction", None) or "").startswith("outbound")
            and isinstance(created := getattr(instance, "date_created", None), datetime)
            and start <= _utc(created) <= end
        ]
        candidates = [
            instance
            for instance in at_the_time
            if getattr(instance, "body", None) == message.content
            and (sender is None or getattr(instance, "from_", None) == sender)
        ]
        if len(listed) >= LOOKUP_LIMIT and not any(
            isinstance(created := getattr(instance, "date_created", None), datetime) and _utc(created) < start
            for instance in listed
        ):
            # Newest first and the page is full: older messages inside the window were not read, so neither
            # "one candidate" nor "none" is proven.
            log.warning(
                "Twilio look-up of SMS message %s is inconclusive: the newest %d messages to its recipient do not "
                "reach back to when it was sent",
                message.id,
                len(listed),
            )
            return None
        if len(candidates) > 1:
            log.warning(
                "Twilio look-up of SMS message %s found %d messages that could be it; not guessing",
                message.id,
                len(candidates),
            )
            return None
        if candidates:
            return self._clean(self._instance_outcome(candidates[0]))
        if at_the_time:
            # Something went to the recipient then: Twilio may have re-encoded our text (Smart Encoding) or sent
            # it from another number. "Never received" could send it twice, so nothing is concluded.
            log.warning(
                "Twilio look-up of SMS message %s found %d outbound message(s) to its recipient at that time, none "
                "with its text and sender; not concluding",
                message.id,
                len(at_the_time),
            )
            return None
        if now - _utc(message.changed_at) < self.not_found_grace:
            # The create request may still be on its way to Twilio, or not yet listed.
            return None
        return self._clean(
            Outcome.transient(
                "Twilio lists no message like this one to its recipient: it never received it (safe to send again)"
            )
        )

    # -- status callbacks ------------------------------------------------------------------------------------

    def parse_status_callback(
        self, url: str, params: Mapping[str, str | Sequence[str]], headers: Mapping[str, str]
    ) -> CallbackReport:
        """Verify a Twilio status callback (``X-Twilio-Signature``, HMAC-SHA1 with the account's auth token over
        ``url`` and the form parameters) and read it: the message's sid and its news, as :func:`status_outcome`.

        ``url`` is the full URL Twilio called (as configured in ``status_callback``). Raises
        :class:`~smscore.errors.InvalidSignatureError` when the signature is missing or wrong (or no auth token is
        configured to check it), :class:`~smscore.errors.CallbackError` when the request is not a status report
        of this account.
        """
        signature = next((v for k, v in headers.items() if k.lower() == "x-twilio-signature"), None)
        if self._validator is None:
            raise InvalidSignatureError("Twilio status callbacks need the auth_token option to be verified")
        if not signature or not self._validator.validate(url, _MultiValues(params), signature):
            raise InvalidSignatureError("Twilio status callback signature does not verify")
        fields = {name: _first(value) for name, value in params.items()}
        account = fields.get("AccountSid")
        if account and account != getattr(self._client, "account_sid", account):
            raise CallbackError("Twilio status callback for another account")
        sid = fields.get("MessageSid") or fields.get("SmsSid")
        status = fields.get("MessageStatus") or fields.get("SmsStatus")
        if not sid or not status:
            raise CallbackError("Twilio status callback without MessageSid and MessageStatus")
        outcome = status_outcome(status, sid=sid, error_code=fields.get("ErrorCode"))
        return CallbackReport(provider_ref=sid, outcome=self._clean(outcome))

    # -- lifecycle -------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP session of the HTTP client built by :meth:`from_options` (keep-alive connections)."""
        if not self._close_client:
            return
        session = getattr(self._client.http_client, "session", None)
        if session is not None:
            session.close()

    def __repr__(self) -> str:
        # The sender and service are not secret; the account, token and client stay out.
        return f"<TwilioSMSBackend from_={self.from_!r} messaging_service_sid={self.messaging_service_sid!r}>"
