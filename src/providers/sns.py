"""Amazon SNS: SMS published straight to a phone number with boto3.

Every message is one ``Publish`` call with ``PhoneNumber`` (E.164) and ``Message``, plus the SMS attributes that
are configured: sender ID, SMS type (``Transactional`` unless told otherwise; the account default is usually
``Promotional``), maximum price and origination number. SNS answers only with a ``MessageId``, stored as the
message's ``provider_ref``; the message becomes SENT (handed to the carrier).

Options (``{"provider": "sns", "provider_options": {...}}``):

==========================  ===============  =====================================================================
option                      default          meaning
==========================  ===============  =====================================================================
aws_access_key_id           (default chain)  with ``aws_secret_access_key`` (and ``aws_session_token``); without
aws_secret_access_key                        them boto3's default credential chain applies (environment, profile,
aws_session_token                            instance role...)
region / aws_region         (boto3 default)  AWS region of the SNS endpoint; required if boto3 has none
endpoint_url                None             another endpoint (a VPC endpoint, a local emulator)
sender_id                   None             ``AWS.SNS.SMS.SenderID``: 1-11 letters, digits or hyphens, one letter
sms_type                    Transactional    ``AWS.SNS.SMS.SMSType``: ``Transactional`` or ``Promotional``
max_price                   None             ``AWS.SNS.SMS.MaxPrice`` in USD
origination_number          None             ``AWS.MM.SMS.OriginationNumber``
connect_timeout             5                seconds to connect
read_timeout                10               seconds to wait for each read of the answer
timeout                     15               seconds one whole call may take (connecting, sending, the whole
                                             answer, retries of reads included): a trickled answer leaves the
                                             message UNKNOWN then
max_attempts                3                attempts per message while SNS certainly did not take it
threads                     10               most SNS or CloudWatch Logs calls running at once under asyncio
                                             (the threads boto3 runs in); also each client's connection pool size
check_delivery              False            read delivery status logs (see below)
delivery_status_log_group   None             the success log group; implies ``check_delivery``
account_id                  None             AWS account of the log groups (asked from STS when missing)
logs_endpoint_url           endpoint_url     endpoint of CloudWatch Logs
inbound_topic_arns          None             the SNS topics (ARNs, comma-separated) whose HTTPS deliveries of
                                             two-way SMS are accepted (see below)
==========================  ===============  =====================================================================

A message's own ``sender`` overrides the configured one: an E.164 number becomes the origination number,
anything else the sender ID.

Errors are translated at the edge (:mod:`providers._sns_wire`). Throttling, 5xx answers and failures to connect are transient (the
message stays WAITING): SNS certainly did not publish it. Validation, authorization and other 4xx answers are
final (ERROR, the SNS error code kept). A read timeout or a connection closed after the request left is
ambiguous (UNKNOWN): SNS may have published it, so it is never re-sent blindly. That is also why botocore's own
retries are switched off for ``Publish`` (they would retry after a read timeout and could send a message twice);
this backend retries only the failures where SNS certainly did not take the message, up to ``max_attempts``.

Delivery reports exist only as CloudWatch Logs, and only when the account logs SMS delivery status
(``SetSMSAttributes``: ``DeliveryStatusIAMRole``, ``DeliveryStatusSuccessSamplingRate``). With ``check_delivery``
(or ``delivery_status_log_group``) :meth:`SNSSMSBackend.from_options` builds an :class:`SNSDeliveryCheckingBackend`,
a :class:`smscore.DeliveryChecker`: it searches the groups
``sns/<region>/<account>/DirectPublishToPhoneNumber`` and ``.../Failure`` for the messages' ids; ``SUCCESS``
becomes DELIVERED and ``FAILURE`` ERROR with SNS's ``providerResponse``, with the price in USD and the number of
parts when logged. Messages stay SENT after publishing even then, because successes are logged only at the
sampling rate: a message whose success was not sampled must not look stuck (SENDING would be timed out into
ERROR); the service checks SENT messages during the idle-timeout window.

Both backends also play :class:`smscore.OptOutSource`: :meth:`SNSSMSBackend.opted_out_numbers` reads the account's
own list of numbers that answered STOP (``ListPhoneNumbersOptedOut``, page after page with ``nextToken``), which
``smscore optout sync --provider NAME`` copies into the opt-out list.

Both also play :class:`smscore.InboundReceiver`: Amazon delivers the SMS people send to a two-way number to an SNS
topic; subscribe ``<public_base_url>/inbound/<name>/`` to it over HTTPS (the API does not take the URL with a
message) and list the topic in ``inbound_topic_arns``. :meth:`SNSSMSBackend.parse_inbound` verifies each delivery
(:mod:`providers._sns_inbound`: the topic, the certificate URL, the signature of version 1 or 2), confirms the
subscription, and reads the SMS.

Under asyncio (:meth:`SNSSMSBackend.apublish`, :meth:`SNSDeliveryCheckingBackend.abulk_check_sms_states`) the
same blocking boto3 calls run in a pool of at most ``threads`` threads of the backend's own
(:class:`providers._threads.BlockingCalls`), one message at a time per batch, so the service's concurrent batches
share that bound. A cancelled batch starts no further message; a call already running ends by its ``timeout``
(a thread cannot be stopped). :meth:`SNSSMSBackend.aclose` shuts the pool down.

Credentials never appear in outcomes, errors or the backend's repr; botocore logs request headers, including a
session token, at DEBUG, so the backend scrubs its secrets from botocore's loggers while it is open.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar, Final

import botocore.exceptions as boto_errors

from providers._deadline import deadline
from providers._log_scrub import LoggerScrubber
from providers._sns_clients import OPTIONS, build_clients
from providers._sns_inbound import SNSInbound
from providers._sns_wire import (
    LOG_GROUP_SUFFIXES,
    SMS_TYPES,
    Attributes,
    delivery_filter_patterns,
    delivery_outcome,
    error_outcome,
    exception_outcome,
    latest_reports,
    message_attributes,
    opted_out_page,
    publish_params,
    published_outcome,
)
from providers._steps import adrive
from providers._threads import BlockingCalls
from providers.base import SMSBackend, without_secrets
from providers.options import OptionSpec
from smscore import InboundReport, Outcome, ProviderError, SMSMessage, SMSState, WebhookRequest

__all__ = [
    "OPTIONS",
    "SMS_TYPES",
    "SNSDeliveryCheckingBackend",
    "SNSSMSBackend",
    "delivery_filter_patterns",
    "delivery_outcome",
    "error_outcome",
    "exception_outcome",
    "message_attributes",
]

log = logging.getLogger("providers.sns")

# Loggers of botocore that write request headers or signing material (a session token) at DEBUG.
_BOTOCORE_LOGGERS: Final = ("botocore.auth", "botocore.endpoint", "botocore.parsers", "botocore.hooks")
_SCRUBBER: Final = LoggerScrubber(_BOTOCORE_LOGGERS)
# Delivery events are logged after publishing; a little slack covers clock skew between us and AWS.
_LOG_SEARCH_SLACK: Final = timedelta(minutes=10)

# -- the backend ---------------------------------------------------------------------------------------------


class SNSSMSBackend(SMSBackend):
    """Publish SMS through Amazon SNS (see the module docstring for options and error handling).

    ``client`` is a ready boto3 SNS client; :meth:`from_options` builds one from configuration. The backend
    answers SENT with the SNS ``MessageId`` as ``provider_ref``; it checks no delivery (see
    :class:`SNSDeliveryCheckingBackend`). ``secrets`` are strings never to show anywhere (they are also scrubbed
    from botocore's DEBUG logs while the backend is open). ``close_clients``: :meth:`close` closes the clients
    (:meth:`from_options` sets it, as it built them). ``sleep`` waits between attempts. ``inbound`` reads the
    SMS the topic delivers (:class:`providers._sns_inbound.SNSInbound`; one accepting no topic unless given).
    ``threads``: most calls at once under asyncio. ``timeout``: seconds each call to a client may take in all
    (enforced on clients whose HTTP session is a :class:`providers._boto_http.DeadlineSession`, as
    :meth:`from_options` builds them).
    """

    # One message per request: the synchronous service sends them one after the other, the asyncio one up to
    # max_in_flight at once.
    max_batch_size = 1
    option_spec: ClassVar[OptionSpec | None] = OPTIONS
    # SNS has no look-up by anything but its own MessageId.
    can_check_by_our_id = False

    def __init__(
        self,
        client: Any,
        *,
        sender_id: str | None = None,
        sms_type: str | None = "Transactional",
        max_price: Decimal | None = None,
        origination_number: str | None = None,
        max_attempts: int = 3,
        secrets: Iterable[str] = (),
        close_clients: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 15.0,
        inbound: SNSInbound | None = None,
        threads: int = 10,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._client = client
        self._attributes = Attributes(sender_id, sms_type, max_price, origination_number)
        self.max_attempts = max_attempts
        self._secrets = tuple(s for s in dict.fromkeys(secrets) if s)
        self._close_clients = close_clients
        self._sleep = sleep
        self._timeout = timeout
        self._closed = False
        self._inbound = inbound if inbound is not None else SNSInbound()
        self._threads = BlockingCalls(threads, "smscore-sns")
        _SCRUBBER.add(self._secrets)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SNSSMSBackend:
        """Build the backend and its boto3 client(s) once, from configuration options (:data:`OPTIONS`): an
        :class:`SNSDeliveryCheckingBackend` with ``check_delivery`` (or ``delivery_status_log_group``).

        Raises :class:`~smscore.errors.ConfigurationError` keyed by the option that is unknown, missing or wrong.
        No request is made; with ``check_delivery`` and no ``account_id`` the account is asked from STS at the
        first delivery check.
        """
        values = OPTIONS.read(options)
        clients = build_clients(values)
        settings: dict[str, Any] = {
            "sender_id": values["sender_id"],
            "sms_type": values["sms_type"],
            "max_price": values["max_price"],
            "origination_number": values["origination_number"],
            "max_attempts": values["max_attempts"],
            "secrets": values.secrets,
            "close_clients": True,
            "timeout": values["timeout"],
            "threads": values["threads"],
            "inbound": SNSInbound(
                [arn.strip() for arn in (values["inbound_topic_arns"] or "").split(",") if arn.strip()]
            ),
        }
        if clients.logs is None or clients.log_group is None:
            return SNSSMSBackend(clients.sns, **settings)
        return SNSDeliveryCheckingBackend(clients.sns, clients.logs, clients.log_group, **settings)

    @property
    def client(self) -> Any:
        """The boto3 SNS client (for other SNS calls with the same credentials, or to observe its events)."""
        return self._client

    @property
    def attributes(self) -> Attributes:
        """The SMS attributes every ``Publish`` call carries (a message's own sender overrides the sender's)."""
        return self._attributes

    def parse_inbound(self, request: WebhookRequest) -> InboundReport | None:
        """Verify and read an SNS HTTPS delivery of a two-way SMS (see :class:`providers._sns_inbound.SNSInbound`):
        the SMS, or None for a subscription confirmed. Raises :class:`~smscore.errors.InvalidSignatureError` or
        :class:`~smscore.errors.CallbackError`."""
        return self._inbound.parse(request)

    # -- publishing ------------------------------------------------------------------------------------------

    def publish_message(self, message: SMSMessage) -> Outcome:
        """Publish one message: SENT with the SNS ``MessageId``, or the translated failure. Never raises."""
        params = publish_params(message, self._attributes)
        if isinstance(params, Outcome):
            return params
        attempt = 1
        while True:
            outcome = self._publish_once(message, params)
            if outcome.state is not SMSState.WAITING or attempt >= self.max_attempts:
                break
            # Capped exponential backoff with jitter, so parallel workers do not retry in step.
            self._sleep(min(2.0, 0.2 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0))
            attempt += 1
        if outcome.state is not SMSState.SENT:
            log.warning("SNS publish of SMS message %s: %s: %s", message.id, outcome.state.name, outcome.error)
        return outcome

    async def apublish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        """:meth:`publish` on the event loop: each message's :meth:`publish_message` in the backend's pool of
        threads (see the module docstring). ``CancelledError`` propagates; no further message is started."""
        return await adrive(self._publishing_steps(messages), self._apublish_message)

    async def _apublish_message(self, message: SMSMessage) -> Outcome:
        return await self._threads.run(self.publish_message, message)

    def _publish_once(self, message: SMSMessage, params: Mapping[str, Any]) -> Outcome:
        try:
            with deadline(self._timeout):
                response = self._client.publish(**params)
        except Exception as exc:
            if not isinstance(exc, boto_errors.BotoCoreError | boto_errors.ClientError):
                # Only the type: an unexpected exception's text or traceback may carry request data.
                log.error("unexpected %s publishing SMS message %s to SNS", type(exc).__name__, message.id)
            return self._clean(exception_outcome(exc))
        return published_outcome(response)

    def _clean(self, outcome: Outcome) -> Outcome:
        return without_secrets(outcome, self._secrets)

    # -- the account's opt-out list --------------------------------------------------------------------------

    def opted_out_numbers(self) -> Iterator[str]:
        """The numbers opted out at SNS (:class:`smscore.OptOutSource`), page after page.

        Raises :class:`~smscore.errors.ProviderError` (its text free of credentials) when SNS cannot be asked or
        answers with something that is not a page; numbers already yielded stay valid.
        """
        kwargs: dict[str, str] = {}
        while True:
            try:
                with deadline(self._timeout):
                    response = self._client.list_phone_numbers_opted_out(**kwargs)
            except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
                error = self._clean(exception_outcome(exc)).error
                raise ProviderError(f"SNS ListPhoneNumbersOptedOut failed: {error}") from exc
            numbers, token = opted_out_page(response)
            yield from numbers
            # A token served twice would page forever: stop there.
            if token is None or token == kwargs.get("nextToken"):
                return
            kwargs["nextToken"] = token

    # -- lifecycle -------------------------------------------------------------------------------------------

    def _clients(self) -> tuple[Any, ...]:
        return (self._client,)

    def close(self) -> None:
        """Close the clients built by :meth:`from_options` and stop scrubbing this backend's secrets."""
        if self._closed:
            return
        self._closed = True
        if self._close_clients:
            for client in self._clients():
                client.close()
        _SCRUBBER.discard(self._secrets)

    async def aclose(self) -> None:
        """Shut the pool of threads of the asyncio roles down, waiting (without blocking the loop) for the calls
        still running; calling it again does nothing. The boto3 clients stay open until :meth:`close`."""
        await self._threads.aclose()

    def __repr__(self) -> str:
        # Settings only: never the client, whose configuration may lead to credentials.
        attributes = self._attributes
        return f"<{type(self).__name__} sms_type={attributes.sms_type!r} sender_id={attributes.sender_id!r}>"


class SNSDeliveryCheckingBackend(SNSSMSBackend):
    """An SNS backend that also reports delivery from the SNS delivery status logs: a
    :class:`smscore.DeliveryChecker` (see the module docstring).

    ``logs_client`` is a boto3 CloudWatch Logs client; ``log_group`` the success group's name, or a callable
    returning it (called once, at the first check). The other arguments are :class:`SNSSMSBackend`'s.
    """

    def __init__(self, client: Any, logs_client: Any, log_group: str | Callable[[], str], **settings: Any) -> None:
        super().__init__(client, **settings)
        self._logs = logs_client
        self._log_group = log_group

    @property
    def logs_client(self) -> Any:
        """The boto3 CloudWatch Logs client delivery checks read."""
        return self._logs

    def bulk_check_sms_states(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        """Report delivery from the SNS delivery status logs: one entry per message, ``None`` when not logged.

        Raises what the logs client raises when the logs cannot be read (the service counts the chunk as failed
        and asks again at its next check).
        """
        refs = [m.provider_ref for m in messages if m.provider_ref]
        if not refs:
            return [None] * len(messages)
        starts = [m.sent_at or m.created_at for m in messages if m.provider_ref]
        start_ms = int((min(starts) - _LOG_SEARCH_SLACK).timestamp() * 1000)
        group = self._resolve_log_group()
        events = (
            event
            for suffix in LOG_GROUP_SUFFIXES
            for pattern in delivery_filter_patterns(refs)
            for event in self._events(group + suffix, pattern, start_ms)
        )
        return [None if report is None else self._clean(report) for report in latest_reports(messages, events)]

    async def abulk_check_sms_states(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        """:meth:`bulk_check_sms_states` in the backend's pool of threads, raising as it does."""
        return await self._threads.run(self.bulk_check_sms_states, messages)

    def _resolve_log_group(self) -> str:
        if callable(self._log_group):
            self._log_group = self._log_group()
        return self._log_group

    def _events(self, group: str, pattern: str, start_ms: int) -> Iterable[tuple[int, Mapping[str, Any]]]:
        kwargs: dict[str, Any] = {"logGroupName": group, "filterPattern": pattern, "startTime": start_ms}
        while True:
            try:
                with deadline(self._timeout):
                    page = self._logs.filter_log_events(**kwargs)
            except boto_errors.ClientError as exc:
                # A group exists only once SNS has logged into it (the Failure group after a first failure).
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return
                raise
            for item in page.get("events", []):
                try:
                    event = json.loads(item.get("message", ""))
                except ValueError:
                    log.debug("skipping a log event that is not JSON in %s", group)
                    continue
                if isinstance(event, Mapping):
                    timestamp = item.get("timestamp")
                    yield (timestamp if isinstance(timestamp, int) else 0), event
            token = page.get("nextToken")
            if not token or token == kwargs.get("nextToken"):
                return
            kwargs["nextToken"] = token

    def _clients(self) -> tuple[Any, ...]:
        return (self._client, self._logs)
