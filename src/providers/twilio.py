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
status_callback          None      URL Twilio posts status changes to (with ``public_base_url`` configured
                                   and this empty, ``<public_base_url>/status/<provider name>/``)
validity_period          None      seconds (1-36000) a message may wait in Twilio's queue
timeout                  10        seconds one whole HTTP request may take: connecting, sending, the whole
                                   answer (for the client built here); a trickled answer leaves it UNKNOWN
not_found_grace          120       seconds a message must have been UNKNOWN without a sid before the delivery
                                   check, finding no such message at Twilio, reports it never received
                                   (WAITING); 0 or more
region / edge            None      Twilio region and edge to talk to
http_client              None      a ready ``twilio.http.HttpClient`` (tests, proxies); ``timeout`` is then
                                   the client's business
async_http_client        None      a callable making the asyncio client, a ``twilio.http.AsyncHttpClient``,
                                   called in the event loop at the first asyncio call
=======================  ========  =========================================================================

Under asyncio (:meth:`TwilioSMSBackend.apublish`, :meth:`~TwilioSMSBackend.abulk_check_sms_states`) the same
requests go through the ``*_async`` methods of a second ``twilio.rest.Client`` with the same account, over
:class:`providers._twilio_http.AsyncDeadlineHttpClient` (``httpx.AsyncClient`` under the same whole-request
deadline as the sync client), made in the running loop at the first call and closed by
:meth:`~TwilioSMSBackend.aclose`. Every decision (parameters, outcomes, look-ups) is shared with the sync path.

A message's own ``sender`` overrides ``from_``. Status callbacks (``status_callback``) are verified by
:meth:`TwilioSMSBackend.parse_status_callback`, which makes the backend a :class:`smscore.StatusCallbackReceiver`;
incoming messages (the number's messaging webhook, ``<public_base_url>/inbound/<name>/``) by
:meth:`TwilioSMSBackend.parse_inbound`, which makes it an :class:`smscore.InboundReceiver`.

Statuses (all thirteen of ``MessageInstance.Status``): ``queued``, ``accepted``, ``scheduled`` and ``sending``
are SENDING; ``sent`` is SENT; ``delivered`` and ``read`` are DELIVERED; ``failed``, ``undelivered`` and
``canceled`` are ERROR with Twilio's ``error_code`` and ``error_message``; ``partially_delivered`` is SENT (part
of it reached the carrier; nothing more will be learned). ``receiving`` and ``received`` belong to inbound
messages and, like any status not known here, give an ambiguous outcome (UNKNOWN) that keeps the raw status:
never a crash. The raw status is kept in ``extra_sender_data["twilio_status"]``; price (a positive cost; Twilio
reports charges as negative amounts), currency and segments are kept when Twilio reports them.

Errors are translated at the edge (:mod:`providers._twilio_wire`). HTTP 429, Twilio codes of :data:`TRANSIENT_ERROR_CODES` (20429 too many
requests, 30001 and 21611 queue overflow...) and 500/503 are transient (WAITING); 502 and 504 (a gateway gave
up while Twilio may have created the message) are ambiguous (UNKNOWN); every other error answer is final
(ERROR with the Twilio code: 20003 authentication, 21211 invalid ``To``, 21408 region not enabled, 21610
unsubscribed recipient, 21612, 21614 not a mobile number, 21617 body too long, 30003-30008...). Failing to
connect is transient; a read timeout, a connection dropped after sending, or any other failure once the
request may have left is ambiguous, because creating a message is not idempotent.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final, Self

from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http import AsyncHttpClient, HttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from providers._steps import Steps, adrive, drive
from providers._twilio_http import AsyncDeadlineHttpClient, DeadlineHttpClient, async_twin
from providers._twilio_wire import (
    LOOKUP_LIMIT,
    LOOKUP_MARGIN,
    STATUS_STATES,
    TRANSIENT_ERROR_CODES,
    ApiCall,
    CreateSettings,
    MultiValues,
    as_int,
    callback_report,
    create_params,
    error_outcome,
    exception_outcome,
    inbound_report,
    instance_outcome,
    look_up,
    page_error,
    status_outcome,
)
from providers.base import SMSBackend, without_secrets
from providers.options import Factory, Instance, Integer, OneOf, Option, OptionSpec, Seconds, Text
from smscore import Outcome, SMSMessage, SMSState
from smscore.errors import InvalidSignatureError, ProviderError
from smscore.inbound import InboundReport, WebhookRequest
from smscore.ports import CallbackReport

__all__ = [
    "LOOKUP_LIMIT",
    "LOOKUP_MARGIN",
    "OPTIONS",
    "STATUS_STATES",
    "TRANSIENT_ERROR_CODES",
    "TwilioSMSBackend",
    "error_outcome",
    "exception_outcome",
    "status_outcome",
]

log = logging.getLogger("providers.twilio")

_DEFAULT_NOT_FOUND_GRACE: Final = 120.0


def _sid(prefix: str, what: str) -> Text:
    return Text(re.compile(prefix + "[0-9a-fA-F]{32}"), f"{what} ({prefix} and 32 hexadecimal digits)")


#: Every option of the Twilio backend (the table of the module docstring).
OPTIONS: Final = OptionSpec(
    "Twilio",
    Option("account_sid", _sid("AC", "an account SID"), required=True, description="the account (``AC...``)"),
    Option(
        "auth_token",
        Text(),
        secret=True,
        description="the account's auth token; it also verifies status callbacks",
    ),
    Option(
        "api_key",
        _sid("SK", "an API key SID"),
        secret=True,
        needs=("api_secret",),
        description="an API key (``SK...``), used with ``api_secret`` instead of the auth token for requests",
    ),
    Option("api_secret", Text(), secret=True, needs=("api_key",), description="the API key's secret"),
    Option(
        "from_",
        Text(),
        aliases=("from", "sender", "from_number"),
        description="the sender: a Twilio number, short code or alphanumeric sender ID",
    ),
    Option(
        "messaging_service_sid",
        _sid("MG", "a Messaging Service SID"),
        description="a Messaging Service (``MG...``); this or a sender is required",
    ),
    Option(
        "status_callback",
        Text(re.compile(r"https?://[^/\s]+.*", re.DOTALL), "an http(s) URL"),
        description="URL Twilio posts status changes to",
    ),
    Option(
        "validity_period",
        Integer(1, 36000),
        description="seconds (1-36000) a message may wait in Twilio's queue",
    ),
    Option(
        "timeout",
        Seconds(),
        default=10.0,
        description="seconds one whole HTTP request may take: connecting, sending, the whole answer (for the "
        "client built here)",
    ),
    Option(
        "not_found_grace",
        Seconds(allow_zero=True),
        default=_DEFAULT_NOT_FOUND_GRACE,
        description="seconds a message must have been UNKNOWN without a sid before the delivery check, finding "
        "no such message at Twilio, reports it never received (WAITING)",
    ),
    Option("region", Text(), description="Twilio region to talk to"),
    Option("edge", Text(), description="Twilio edge location to talk to"),
    Option(
        "http_client",
        Instance(HttpClient),
        description="a ready HTTP client (tests, proxies); ``timeout`` is then the client's business",
    ),
    Option(
        "async_http_client",
        Factory(),
        description="makes the asyncio HTTP client, a ``twilio.http.AsyncHttpClient`` (tests, proxies), called "
        "in the event loop at the first asyncio call; ``timeout`` is then its business",
    ),
    one_of=(
        OneOf(("auth_token", "api_key"), "option 'auth_token' (or api_key and api_secret) is required"),
        OneOf(("from_", "messaging_service_sid"), "option 'from_' (the sender) or 'messaging_service_sid' is required"),
    ),
)


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

    # One message per request: the synchronous service sends them one after the other, the asyncio one up to
    # max_in_flight at once.
    max_batch_size = 1
    option_spec: ClassVar[OptionSpec | None] = OPTIONS
    #: Twilio pushes status reports to the URL of this option (:class:`smscore.ports.StatusCallbackSender`).
    status_callback_option: ClassVar[str] = "status_callback"
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
        async_http_client: Callable[[], AsyncHttpClient] | None = None,
    ) -> None:
        if not from_ and not messaging_service_sid:
            raise ValueError("a sender (from_) or a messaging_service_sid is required")
        if not not_found_grace >= 0:
            raise ValueError("not_found_grace must not be negative")
        self.not_found_grace = timedelta(seconds=not_found_grace)
        self._client = client
        self._settings = CreateSettings(from_, messaging_service_sid, status_callback, validity_period)
        self._validator = RequestValidator(auth_token) if auth_token else None
        secret_values = [s for s in (*secrets, auth_token) if s]
        username, password = getattr(client, "username", None), getattr(client, "password", None)
        if isinstance(username, str) and isinstance(password, str) and password in secret_values:
            # The Basic-auth header carries base64("user:secret"): scrub that form too.
            secret_values.append(base64.b64encode(f"{username}:{password}".encode()).decode())
        self._secrets = tuple(dict.fromkeys(secret_values))
        self._close_client = close_client
        self._async_http_client = async_http_client or functools.partial(AsyncDeadlineHttpClient, timeout=10.0)
        self._async_client: Client | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        """Build the backend and its Twilio client once, from configuration options (:data:`OPTIONS`).

        Raises :class:`~smscore.errors.ConfigurationError` keyed by the option that is unknown, missing or wrong.
        No request is made.
        """
        values = OPTIONS.read(options)
        http_client = values["http_client"]
        owns_http_client = http_client is None
        if owns_http_client:
            http_client = DeadlineHttpClient(timeout=values["timeout"])
        secret = values["api_secret"] or values["auth_token"]
        client = Client(
            username=values["api_key"] or values["account_sid"],
            password=secret,
            account_sid=values["account_sid"],
            region=values["region"],
            edge=values["edge"],
            http_client=http_client,
        )
        return cls(
            client,
            from_=values["from_"],
            messaging_service_sid=values["messaging_service_sid"],
            status_callback=values["status_callback"],
            validity_period=values["validity_period"],
            auth_token=values["auth_token"],
            secrets=values.secrets,
            close_client=owns_http_client,
            not_found_grace=values["not_found_grace"],
            async_http_client=values["async_http_client"]
            or functools.partial(AsyncDeadlineHttpClient, timeout=values["timeout"]),
        )

    @property
    def from_(self) -> str | None:
        """The configured sender (a message's own sender wins)."""
        return self._settings.from_

    @property
    def messaging_service_sid(self) -> str | None:
        """The configured Messaging Service."""
        return self._settings.messaging_service_sid

    @property
    def status_callback(self) -> str | None:
        """The URL Twilio posts status changes to, or None."""
        return self._settings.status_callback

    # -- publishing ------------------------------------------------------------------------------------------

    def publish_message(self, message: SMSMessage) -> Outcome:
        """Create one message at Twilio and translate the answer. Never raises."""
        return drive(self._creating(message), self._call)

    async def apublish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        """:meth:`publish` on the event loop, through the ``*_async`` methods of a ``twilio.rest.Client`` of its
        own (see :meth:`aclose`): the same requests and outcomes, the messages of a batch one after the other.
        ``CancelledError`` propagates (the request in flight is abandoned, its connection dropped)."""
        return await adrive(self._publishing_steps(messages), self._apublish_message)

    async def _apublish_message(self, message: SMSMessage) -> Outcome:
        return await adrive(self._creating(message), self._acall)

    def _creating(self, message: SMSMessage) -> Steps[ApiCall, Any, Outcome]:
        try:
            created = yield ApiCall("create", kwargs=create_params(message, self._settings))
        except Exception as exc:
            outcome = self._clean(exception_outcome(exc))
        else:
            if not getattr(created, "sid", None):
                return Outcome.ambiguous("Twilio answered without a message sid")
            outcome = self._clean(instance_outcome(created))
        if outcome.state not in {SMSState.SENDING, SMSState.SENT, SMSState.DELIVERED}:
            log.warning("Twilio create of SMS message %s: %s: %s", message.id, outcome.state.name, outcome.error)
        return outcome

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
        return drive(self._checking(messages), self._call)

    async def abulk_check_sms_states(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        """:meth:`bulk_check_sms_states` on the event loop (see :meth:`apublish`), raising as it does."""
        return await adrive(self._checking(messages), self._acall)

    def _checking(self, messages: Sequence[SMSMessage]) -> Steps[ApiCall, Any, list[Outcome | None]]:
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
                    report = yield from self._look_up(message, now)
                else:
                    fetched = yield ApiCall("fetch", sid=message.provider_ref)
                    report = self._clean(instance_outcome(fetched))
            except Exception as exc:
                exc = page_error(exc) or exc
                if not lookup and _is_not_found(exc):
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

    def _look_up(self, message: SMSMessage, now: datetime) -> Steps[ApiCall, Any, Outcome | None]:
        """Find the message Twilio may have created for ``message`` (UNKNOWN, no sid) by one list request.

        Raises what the list call raises; the caller counts it as a failed check.
        """
        # By recipient only: a sender changed since, or picked by a Messaging Service, must not hide the message.
        listed = yield ApiCall("list", kwargs={"to": message.recipient, "limit": LOOKUP_LIMIT})
        found = look_up(message, listed, sender=self._settings.sender_of(message), now=now, grace=self.not_found_grace)
        if found.warning:
            log.warning("%s", found.warning)
        return None if found.report is None else self._clean(found.report)

    # -- the two clients -------------------------------------------------------------------------------------

    def _call(self, call: ApiCall) -> Any:
        return getattr(call.resource(self._client), call.method)(**call.kwargs)

    async def _acall(self, call: ApiCall) -> Any:
        if self._async_client is None:
            # Built here, in the running loop, at the first asyncio call.
            self._async_client = async_twin(self._client, self._async_http_client())
        return await getattr(call.resource(self._async_client), f"{call.method}_async")(**call.kwargs)

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
        self._verify(url, params, headers, "status callback")
        report = callback_report(params, account_sid=getattr(self._client, "account_sid", None))
        return CallbackReport(provider_ref=report.provider_ref, outcome=self._clean(report.outcome))

    def parse_inbound(self, request: WebhookRequest) -> InboundReport:
        """Verify a Twilio incoming-message webhook (the URL of the number's "A message comes in", signed as status
        callbacks are, over ``request.url``) and read it: ``From``, ``To``, ``Body`` and the ``MessageSid``
        (:func:`~providers._twilio_wire.inbound_report`); this makes the backend an
        :class:`smscore.InboundReceiver`. Raises as :meth:`parse_status_callback` does.
        """
        params = request.form()
        self._verify(request.url, params, request.headers, "incoming message")
        return inbound_report(params, account_sid=getattr(self._client, "account_sid", None))

    def _verify(
        self, url: str, params: Mapping[str, str | Sequence[str]], headers: Mapping[str, str], what: str
    ) -> None:
        signature = next((v for k, v in headers.items() if k.lower() == "x-twilio-signature"), None)
        if self._validator is None:
            raise InvalidSignatureError(f"Twilio {what}s need the auth_token option to be verified")
        if not signature or not self._validator.validate(url, MultiValues(params), signature):
            raise InvalidSignatureError(f"Twilio {what} signature does not verify")

    # -- lifecycle -------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client built by :meth:`from_options` (its keep-alive connections)."""
        http_client = self._client.http_client
        if self._close_client and isinstance(http_client, DeadlineHttpClient):
            http_client.close()

    async def aclose(self) -> None:
        """Close the asyncio client (built at the first asyncio call, in the loop that made it); calling it again,
        or before any asyncio call, does nothing. :meth:`close` closes the sync one."""
        client, self._async_client = self._async_client, None
        # twilio's AsyncHttpClient declares no close: the SDK's and ours have a coroutine.
        close = getattr(client.http_client, "close", None) if client is not None else None
        if close is not None:
            await close()

    def __repr__(self) -> str:
        # The sender and service are not secret; the account, token and client stay out.
        return f"<TwilioSMSBackend from_={self.from_!r} messaging_service_sid={self.messaging_service_sid!r}>"


def _is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, TwilioRestException | TwilioServiceException) and as_int(exc.status) == 404
