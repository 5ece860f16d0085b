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
check_delivery              False            read delivery status logs (see below)
delivery_status_log_group   None             the success log group; implies ``check_delivery``
account_id                  None             AWS account of the log groups (asked from STS when missing)
logs_endpoint_url           endpoint_url     endpoint of CloudWatch Logs
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
(or ``delivery_status_log_group``) the backend becomes a :class:`smscore.DeliveryChecker`: it searches the groups
``sns/<region>/<account>/DirectPublishToPhoneNumber`` and ``.../Failure`` for the messages' ids; ``SUCCESS``
becomes DELIVERED and ``FAILURE`` ERROR with SNS's ``providerResponse``, with the price in USD and the number of
parts when logged. Messages stay SENT after publishing even then, because successes are logged only at the
sampling rate: a message whose success was not sampled must not look stuck (SENDING would be timed out into
ERROR); the service checks SENT messages during the idle-timeout window.

Credentials never appear in outcomes, errors or the backend's repr; botocore logs request headers, including a
session token, at DEBUG, so the backend scrubs its secrets from botocore's loggers while it is open.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar, Final, Self

import boto3
import botocore.exceptions as boto_errors
from botocore.config import Config

from providers._boto_http import DeadlineSession, install
from providers._deadline import deadline
from providers._log_scrub import LoggerScrubber
from providers._sns_wire import (
    LOG_GROUP_SUFFIXES,
    SENDER_ID,
    SMS_TYPES,
    Attributes,
    delivery_filter_patterns,
    delivery_outcome,
    error_outcome,
    exception_outcome,
    latest_reports,
    log_group_name,
    message_attributes,
    publish_params,
    published_outcome,
)
from providers.base import SMSBackend, without_secrets
from providers.options import Amount, Boolean, Choice, Integer, Option, OptionSpec, OptionValues, Seconds, Text
from smscore import Outcome, SMSMessage, SMSState
from smscore.errors import ConfigurationError

__all__ = [
    "OPTIONS",
    "SMS_TYPES",
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

_CREDENTIALS: Final = "without them boto3's default credential chain applies (environment, profile, role...)"

#: Every option of the SNS backend (the table of the module docstring).
OPTIONS: Final = OptionSpec(
    "SNS",
    Option("aws_access_key_id", Text(), needs=("aws_secret_access_key",), description=f"access key; {_CREDENTIALS}"),
    Option(
        "aws_secret_access_key",
        Text(),
        secret=True,
        needs=("aws_access_key_id",),
        description="secret of the access key",
    ),
    Option(
        "aws_session_token",
        Text(),
        secret=True,
        needs=("aws_access_key_id",),
        description="session token of temporary credentials",
    ),
    Option(
        "region",
        Text(),
        aliases=("aws_region",),
        description="AWS region of the SNS endpoint; required if boto3 has none",
    ),
    Option("endpoint_url", Text(), description="another endpoint (a VPC endpoint, a local emulator)"),
    Option(
        "sender_id",
        Text(SENDER_ID, "1-11 letters, digits or hyphens with at least one letter"),
        description="``AWS.SNS.SMS.SenderID``",
    ),
    Option("sms_type", Choice(SMS_TYPES), default="Transactional", description="``AWS.SNS.SMS.SMSType``"),
    Option("max_price", Amount("USD"), description="``AWS.SNS.SMS.MaxPrice`` in USD"),
    Option("origination_number", Text(), description="``AWS.MM.SMS.OriginationNumber``"),
    Option("connect_timeout", Seconds(), default=5.0, description="seconds to connect"),
    Option("read_timeout", Seconds(), default=10.0, description="seconds to wait for each read of the answer"),
    Option(
        "timeout",
        Seconds(),
        default=15.0,
        description="seconds one whole SNS or CloudWatch Logs call may take: connecting, sending, the whole "
        "answer, retries of reads included",
    ),
    Option(
        "max_attempts",
        Integer(1),
        default=3,
        description="attempts per message while SNS certainly did not take it",
    ),
    Option("check_delivery", Boolean(), default=False, description="read delivery status logs"),
    Option(
        "delivery_status_log_group",
        Text(),
        description="the success log group; implies ``check_delivery``",
    ),
    Option("account_id", Text(), description="AWS account of the log groups (asked from STS when missing)"),
    Option("logs_endpoint_url", Text(), description="endpoint of CloudWatch Logs (``endpoint_url`` by default)"),
)


# -- building the clients ------------------------------------------------------------------------------------


def _session(values: OptionValues) -> Any:
    try:
        session = boto3.session.Session(
            aws_access_key_id=values["aws_access_key_id"],
            aws_secret_access_key=values["aws_secret_access_key"],
            aws_session_token=values["aws_session_token"],
            region_name=values["region"],
        )
    except boto_errors.BotoCoreError as exc:
        raise ConfigurationError(f"cannot set up the AWS session: {type(exc).__name__}") from None
    if not session.region_name:
        raise ConfigurationError("option 'region' is required (boto3 has no default region)", key="region")
    return session


def _config(values: OptionValues, *, attempts: int) -> Config:
    return Config(
        connect_timeout=values["connect_timeout"],
        read_timeout=values["read_timeout"],
        retries={"mode": "standard", "total_max_attempts": attempts},
    )


def _http_session(values: OptionValues) -> DeadlineSession:
    return DeadlineSession(
        timeout=values["timeout"], connect_timeout=values["connect_timeout"], read_timeout=values["read_timeout"]
    )


def _delivery_log_group(values: OptionValues, session: Any, config: Config) -> str | Callable[[], str]:
    group: str | None = values["delivery_status_log_group"]
    if group is not None:
        return group
    if values["account_id"] is not None:
        return log_group_name(session.region_name, values["account_id"])
    return _log_group_from_sts(session, session.region_name, values["endpoint_url"], config)


# -- the backend ---------------------------------------------------------------------------------------------


class SNSSMSBackend(SMSBackend):
    """Publish SMS through Amazon SNS (see the module docstring for options and error handling).

    ``client`` is a ready boto3 SNS client; :meth:`from_options` builds one from configuration. The backend
    answers SENT with the SNS ``MessageId`` as ``provider_ref``. Give ``logs_client`` and ``delivery_log_group``
    (the success group's name, or a callable returning it, called once at the first check) to make it a
    :class:`smscore.DeliveryChecker`. ``secrets`` are strings never to show anywhere (they are also scrubbed
    from botocore's DEBUG logs while the backend is open). ``close_clients``: :meth:`close` closes the clients
    (:meth:`from_options` sets it, as it built them). ``sleep`` waits between attempts. ``timeout``: seconds each call to a client may take in all (enforced
    on clients whose HTTP session is a :class:`providers._boto_http.DeadlineSession`, as :meth:`from_options`
    builds them).
    """

    max_batch_size = 100
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
        logs_client: Any = None,
        delivery_log_group: str | Callable[[], str] | None = None,
        secrets: Iterable[str] = (),
        close_clients: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 15.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if (logs_client is None) != (delivery_log_group is None):
            raise ValueError("delivery checks need both logs_client and delivery_log_group")
        self._client = client
        self._logs = logs_client
        self._log_group = delivery_log_group
        self._attributes = Attributes(sender_id, sms_type, max_price, origination_number)
        self.max_attempts = max_attempts
        self._secrets = tuple(s for s in dict.fromkeys(secrets) if s)
        self._close_clients = close_clients
        self._sleep = sleep
        self._timeout = timeout
        self._closed = False
        _SCRUBBER.add(self._secrets)
        if logs_client is not None:
            # Only a backend that reads the logs is a DeliveryChecker (the port is matched by this attribute):
            # without it, the service scans no messages for this backend at each delivery check.
            self.bulk_check_sms_states = self._check_delivery

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        """Build the backend and its boto3 client(s) once, from configuration options (:data:`OPTIONS`).

        Raises :class:`~smscore.errors.ConfigurationError` keyed by the option that is unknown, missing or wrong.
        No request is made; with ``check_delivery`` and no ``account_id`` the account is asked from STS at the
        first delivery check.
        """
        values = OPTIONS.read(options)
        session = _session(values)
        check = values["check_delivery"] or values["delivery_status_log_group"] is not None
        endpoint_url = values["endpoint_url"]
        # Reading logs is safe to retry (botocore's standard retries apply); publishing is not: botocore must
        # not retry it, as it would after a read timeout.
        read_config = _config(values, attempts=max(3, values["max_attempts"]))
        clients: list[Any] = []
        try:
            clients.append(session.client("sns", endpoint_url=endpoint_url, config=_config(values, attempts=1)))
            if check:
                logs_endpoint_url = values["logs_endpoint_url"] or endpoint_url
                clients.append(session.client("logs", endpoint_url=logs_endpoint_url, config=read_config))
            for client in clients:
                install(client, _http_session(values))
        except ValueError as exc:
            # botocore refuses a malformed region name or endpoint URL with a ValueError subclass.
            for built in clients:
                built.close()
            bad = "endpoint_url" if "endpoint" in str(exc).lower() else values.key("region")
            raise ConfigurationError(f"option {bad!r} is invalid: {type(exc).__name__}", key=bad) from None
        return cls(
            clients[0],
            sender_id=values["sender_id"],
            sms_type=values["sms_type"],
            max_price=values["max_price"],
            origination_number=values["origination_number"],
            max_attempts=values["max_attempts"],
            logs_client=clients[1] if check else None,
            delivery_log_group=_delivery_log_group(values, session, read_config) if check else None,
            secrets=values.secrets,
            close_clients=True,
            timeout=values["timeout"],
        )

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

    # -- delivery checks -------------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 SNS client (for other SNS calls with the same credentials, or to observe its events)."""
        return self._client

    @property
    def logs_client(self) -> Any:
        """The boto3 CloudWatch Logs client used by delivery checks, or None."""
        return self._logs

    @property
    def checks_delivery(self) -> bool:
        """Whether delivery status logs are read (the backend is then a :class:`smscore.DeliveryChecker`)."""
        return self._logs is not None

    def _check_delivery(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        """Report delivery from the SNS delivery status logs: one entry per message, ``None`` when not logged.

        Bound as ``bulk_check_sms_states`` when delivery checks are configured. Raises what the logs client
        raises when the logs cannot be read (the service then retries the chunk at its next check).
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

    def _resolve_log_group(self) -> str:
        group = self._log_group
        if callable(group):
            group = group()
            self._log_group = group
        if not isinstance(group, str):  # pragma: no cover - guarded by __init__
            raise RuntimeError("no delivery log group")
        return group

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

    # -- lifecycle -------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the clients built by :meth:`from_options` and stop scrubbing this backend's secrets."""
        if self._closed:
            return
        self._closed = True
        if self._close_clients:
            for client in (self._client, self._logs):
                if client is not None:
                    client.close()
        _SCRUBBER.discard(self._secrets)

    @property
    def attributes(self) -> Attributes:
        """The SMS attributes every ``Publish`` call carries (a message's own sender overrides the sender's)."""
        return self._attributes

    def __repr__(self) -> str:
        # Settings only: never the client, whose configuration may lead to credentials.
        check = " check_delivery" if self._logs is not None else ""
        attributes = self._attributes
        return f"<SNSSMSBackend sms_type={attributes.sms_type!r} sender_id={attributes.sender_id!r}{check}>"


def _log_group_from_sts(session: Any, region: str, endpoint_url: str | None, config: Config) -> Callable[[], str]:
    def resolve() -> str:
        sts = session.client("sts", endpoint_url=endpoint_url, config=config)
        try:
            account = sts.get_caller_identity()["Account"]
        finally:
            sts.close()
        return log_group_name(region, account)

    return resolve
