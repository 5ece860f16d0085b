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
read_timeout                10               seconds to wait for the answer
max_attempts                3                attempts per message while SNS certainly did not take it
check_delivery              False            read delivery status logs (see below)
delivery_status_log_group   None             the success log group; implies ``check_delivery``
account_id                  None             AWS account of the log groups (asked from STS when missing)
logs_endpoint_url           endpoint_url     endpoint of CloudWatch Logs
==========================  ===============  =====================================================================

A message's own ``sender`` overrides the configured one: an E.164 number becomes the origination number,
anything else the sender ID.

Errors are translated here, at the edge. Throttling, 5xx answers and failures to connect are transient (the
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
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Self

import boto3
import botocore.exceptions as boto_errors
from botocore.config import Config

from providers.base import SMSBackend, option, scrub, without_secrets
from smscore import Outcome, SMSMessage, SMSState
from smscore.errors import ConfigurationError

__all__ = [
    "SMS_TYPES",
    "SNSSMSBackend",
    "delivery_filter_patterns",
    "delivery_outcome",
    "error_outcome",
    "exception_outcome",
    "message_attributes",
]

log = logging.getLogger("providers.sns")

#: Values of ``AWS.SNS.SMS.SMSType``.
SMS_TYPES: Final = ("Transactional", "Promotional")

#: Error codes meaning "too many requests": SNS did not publish, try later. Includes the generic AWS spellings.
THROTTLING_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "Throttled",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
        "KMSThrottling",
        "KMSThrottlingException",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "BandwidthLimitExceeded",
    }
)

#: Error codes of a failure on AWS's side before anything was published: try later.
TRANSIENT_CODES: Final = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "RequestExpired",
        "IDPCommunicationError",
    }
)

#: HTTP statuses of a gateway that gave up waiting on SNS, which may have published meanwhile.
AMBIGUOUS_HTTP_STATUSES: Final = frozenset({502, 504})

#: Longest CloudWatch Logs filter pattern.
MAX_FILTER_PATTERN_LENGTH: Final = 1024

_SUCCESS_SUFFIX: Final = ""
_FAILURE_SUFFIX: Final = "/Failure"
_SENDER_ID = re.compile(r"[A-Za-z0-9-]{1,11}")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
# Loggers of botocore that write request headers or signing material (a session token) at DEBUG.
_BOTOCORE_LOGGERS: Final = ("botocore.auth", "botocore.endpoint", "botocore.parsers", "botocore.hooks")
# Delivery events are logged after publishing; a little slack covers clock skew between us and AWS.
_LOG_SEARCH_SLACK: Final = timedelta(minutes=10)

_KNOWN_OPTIONS: Final = frozenset(
    {
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "region",
        "aws_region",
        "endpoint_url",
        "sender_id",
        "sms_type",
        "max_price",
        "origination_number",
        "connect_timeout",
        "read_timeout",
        "max_attempts",
        "check_delivery",
        "delivery_status_log_group",
        "account_id",
        "logs_endpoint_url",
    }
)


# -- pure functions: request attributes and the translation of answers ---------------------------------------


def message_attributes(
    *,
    sender_id: str | None = None,
    sms_type: str | None = None,
    max_price: Decimal | None = None,
    origination_number: str | None = None,
) -> dict[str, dict[str, str]]:
    """The ``MessageAttributes`` of a ``Publish`` call, with only the attributes that are set.

    >>> message_attributes(sms_type="Transactional")
    {'AWS.SNS.SMS.SMSType': {'DataType': 'String', 'StringValue': 'Transactional'}}
    """
    attributes: dict[str, dict[str, str]] = {}
    if sender_id:
        attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": sender_id}
    if sms_type:
        attributes["AWS.SNS.SMS.SMSType"] = {"DataType": "String", "StringValue": sms_type}
    if max_price is not None:
        attributes["AWS.SNS.SMS.MaxPrice"] = {"DataType": "Number", "StringValue": str(max_price)}
    if origination_number:
        attributes["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String", "StringValue": origination_number}
    return attributes


def error_outcome(code: str | None, http_status: int | None, message: str | None) -> Outcome:
    """Translate an error answer of SNS (its error code, HTTP status and text) into an outcome.

    Total: any code and status give an outcome, never an exception. Throttling, the codes of
    :data:`TRANSIENT_CODES`, HTTP 429 and other 5xx are transient (WAITING); 502 and 504 (a gateway gave up while
    SNS may have acted) are ambiguous (UNKNOWN); everything else is final (ERROR). The code is kept verbatim.

    >>> error_outcome("InvalidParameter", 400, "Invalid parameter: PhoneNumber").state
    <SMSState.ERROR: 'error'>
    """
    code = code or None
    text = (message or "").strip() or "no details"
    label = f"{code or 'error'} (HTTP {http_status})" if http_status else (code or "error")
    if code in THROTTLING_CODES or http_status == 429:
        return Outcome.transient(f"SNS throttled the request: {label}: {text}", error_code=code)
    if http_status in AMBIGUOUS_HTTP_STATUSES:
        return Outcome.ambiguous(
            f"SNS gateway failed, the message may have been sent: {label}: {text}", error_code=code
        )
    if code in TRANSIENT_CODES or (http_status is not None and http_status >= 500):
        return Outcome.transient(f"SNS is unavailable: {label}: {text}", error_code=code)
    return Outcome.rejected(f"SNS refused the message: {label}: {text}", error_code=code)


def exception_outcome(exc: BaseException) -> Outcome:
    """Translate an exception raised by a boto3 ``Publish`` call into an outcome. Total over every exception.

    A ``ClientError`` goes through :func:`error_outcome`. Failing to connect (refused, connect timeout, proxy,
    TLS handshake) is transient: nothing was sent. A read timeout, a connection closed before the answer, and
    any other transport or unexpected error are ambiguous: the request may have reached SNS.
    """
    if isinstance(exc, boto_errors.ClientError):
        response = exc.response if isinstance(exc.response, Mapping) else {}
        error = response.get("Error")
        error = error if isinstance(error, Mapping) else {}
        metadata = response.get("ResponseMetadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        status = metadata.get("HTTPStatusCode")
        code = error.get("Code")
        return error_outcome(
            str(code) if code is not None else None,
            status if isinstance(status, int) and not isinstance(status, bool) else None,
            str(error.get("Message") or ""),
        )
    if isinstance(exc, boto_errors.HTTPClientError):
        # ReadTimeoutError, ConnectionClosedError, ResponseStreamingError: the request had left.
        return Outcome.ambiguous(f"no answer from SNS after the request was sent: {type(exc).__name__}")
    if isinstance(exc, boto_errors.ConnectionError):
        # EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError, SSLError: never connected.
        return Outcome.transient(f"could not connect to SNS: {type(exc).__name__}")
    if isinstance(exc, boto_errors.CredentialRetrievalError):
        return Outcome.transient("could not obtain AWS credentials from the configured provider")
    if isinstance(exc, boto_errors.NoCredentialsError | boto_errors.PartialCredentialsError):
        return Outcome.rejected("no usable AWS credentials are configured", error_code="NoCredentials")
    if isinstance(exc, boto_errors.ParamValidationError):
        return Outcome.rejected(f"SNS request is invalid: {exc}", error_code="ParamValidation")
    return Outcome.ambiguous(f"publishing to SNS failed unexpectedly: {type(exc).__name__}")


def delivery_filter_patterns(message_ids: Iterable[str]) -> list[str]:
    """CloudWatch Logs filter patterns matching the delivery events of ``message_ids``.

    Each pattern is a JSON pattern ``{ $.notification.messageId = "..." || ... }`` no longer than
    :data:`MAX_FILTER_PATTERN_LENGTH`; as many patterns as needed, ids in the order given, each id once.

    >>> delivery_filter_patterns(["a", "b"])
    ['{ $.notification.messageId = "a" || $.notification.messageId = "b" }']
    """
    patterns: list[str] = []
    terms: list[str] = []
    for message_id in dict.fromkeys(message_ids):
        # An id is a UUID; anything that could break out of the quoted string is left out rather than escaped.
        if not message_id or any(c in message_id for c in '"\\{}'):
            continue
        term = f'$.notification.messageId = "{message_id}"'
        candidate = [*terms, term]
        if terms and len(_pattern(candidate)) > MAX_FILTER_PATTERN_LENGTH:
            patterns.append(_pattern(terms))
            candidate = [term]
        terms = candidate
    if terms:
        patterns.append(_pattern(terms))
    return patterns


def _pattern(terms: Sequence[str]) -> str:
    return "{ " + " || ".join(terms) + " }"


def delivery_outcome(event: Mapping[str, Any]) -> Outcome:
    """Translate one SNS SMS delivery-status log event (parsed JSON) into a delivery report.

    ``status: SUCCESS`` is DELIVERED, ``FAILURE`` ERROR with ``delivery.providerResponse`` as the reason; the price
    (``priceInUSD``) and the number of parts (``numberOfMessageParts``) are kept when present. Any other status is
    an ambiguous report that keeps the raw status. Total over any mapping.
    """
    notification = event.get("notification")
    notification = notification if isinstance(notification, Mapping) else {}
    delivery = event.get("delivery")
    delivery = delivery if isinstance(delivery, Mapping) else {}
    raw_status = event.get("status")
    status = str(raw_status) if raw_status is not None else ""
    ref = notification.get("messageId")
    response = delivery.get("providerResponse")
    response_text = str(response) if response is not None else None
    extra: dict[str, Any] = {"sns_delivery_status": status}
    if response_text is not None:
        extra["sns_provider_response"] = response_text
    common: dict[str, Any] = {
        "provider_ref": str(ref) if ref is not None else None,
        "extra_sender_data": extra,
        "price": _price(delivery.get("priceInUSD")),
        "segments": _segments(delivery.get("numberOfMessageParts")),
    }
    common["price_unit"] = "USD" if common["price"] is not None else None
    if status == "SUCCESS":
        return Outcome.accepted(SMSState.DELIVERED, **common)
    if status == "FAILURE":
        return Outcome.rejected(f"SNS could not deliver the message: {response_text or 'no reason given'}", **common)
    return Outcome.ambiguous(f"SNS logged an unexpected delivery status {status!r}", **common)


def _price(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        return None
    return price if price.is_finite() and price >= 0 else None


def _segments(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number > 0 else None


# -- scrubbing secrets ---------------------------------------------------------------------------------------


class _SecretScrubber(logging.Filter):
    """Removes the registered secrets from records of the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: dict[str, int] = {}

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            self._secrets[secret] = self._secrets.get(secret, 0) + 1

    def discard(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            left = self._secrets.get(secret, 0) - 1
            if left > 0:
                self._secrets[secret] = left
            else:
                self._secrets.pop(secret, None)

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = tuple(self._secrets)
        if not secrets:
            return True
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is the logging module's business, not ours
            return True
        if any(secret in text for secret in secrets):
            record.msg = scrub(text, secrets)
            record.args = None
        return True


_SCRUBBER: Final = _SecretScrubber()


def _watch_botocore_logs(secrets: Sequence[str]) -> None:
    if not secrets:
        return
    _SCRUBBER.add(secrets)
    for name in _BOTOCORE_LOGGERS:
        logger = logging.getLogger(name)
        if _SCRUBBER not in logger.filters:
            logger.addFilter(_SCRUBBER)


# -- options -------------------------------------------------------------------------------------------------


def _text_option(options: Mapping[str, Any], name: str) -> str | None:
    value = option(options, name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"option {name!r} must be a string", key=name)
    return value


def _number_option(options: Mapping[str, Any], name: str, default: float) -> float:
    value = option(options, name, default=default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"option {name!r} must be a number of seconds, not {value!r}", key=name) from None
    if isinstance(value, bool) or not number > 0:
        raise ConfigurationError(f"option {name!r} must be a positive number of seconds", key=name)
    return number


def _positive_int_option(options: Mapping[str, Any], name: str, default: int) -> int:
    value = option(options, name, default=default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"option {name!r} must be an integer, not {value!r}", key=name) from None
    if isinstance(value, bool) or number < 1 or number != float(value):
        raise ConfigurationError(f"option {name!r} must be an integer of at least 1", key=name)
    return number


def _bool_option(options: Mapping[str, Any], name: str) -> bool:
    value = option(options, name, default=False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigurationError(f"option {name!r} must be true or false, not {value!r}", key=name)


def _sms_type(value: object) -> str:
    for sms_type in SMS_TYPES:
        if isinstance(value, str) and value.strip().lower() == sms_type.lower():
            return sms_type
    raise ConfigurationError(f"option 'sms_type' must be Transactional or Promotional, not {value!r}", key="sms_type")


def _max_price(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        price = Decimal(str(value)) if not isinstance(value, bool) else Decimal("NaN")
    except InvalidOperation:
        price = Decimal("NaN")
    if not price.is_finite() or price <= 0:
        raise ConfigurationError(f"option 'max_price' must be a positive amount in USD, not {value!r}", key="max_price")
    return price


def _is_sender_id(value: str) -> bool:
    return bool(_SENDER_ID.fullmatch(value)) and any(c.isalpha() for c in value)


# -- the backend ---------------------------------------------------------------------------------------------


class SNSSMSBackend(SMSBackend):
    """Publish SMS through Amazon SNS (see the module docstring for options and error handling).

    ``client`` is a ready boto3 SNS client; :meth:`from_options` builds one from configuration. The backend
    answers SENT with the SNS ``MessageId`` as ``provider_ref``. Give ``logs_client`` and ``delivery_log_group``
    (the success group's name, or a callable returning it, called once at the first check) to make it a
    :class:`smscore.DeliveryChecker`. ``secrets`` are strings never to show anywhere (they are also scrubbed
    from botocore's DEBUG logs while the backend is open). ``close_clients``: :meth:`close` closes the clients
    (:meth:`from_options` sets it, as it built them). ``sleep`` waits between attempts.
    """

    max_batch_size = 100
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
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if (logs_client is None) != (delivery_log_group is None):
            raise ValueError("delivery checks need both logs_client and delivery_log_group")
        self._client = client
        self._logs = logs_client
        self._log_group = delivery_log_group
        self.sender_id = sender_id
        self.sms_type = sms_type
        self.max_price = max_price
        self.origination_number = origination_number
        self.max_attempts = max_attempts
        self._secrets = tuple(s for s in dict.fromkeys(secrets) if s)
        self._close_clients = close_clients
        self._sleep = sleep
        self._closed = False
        _watch_botocore_logs(self._secrets)
        if logs_client is not None:
            # Only a backend that reads the logs is a DeliveryChecker (the port is matched by this attribute):
            # without it, the service scans no messages for this backend at each delivery check.
            self.bulk_check_sms_states = self._check_delivery

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        """Build the backend and its boto3 client(s) once, from configuration options (module docstring).

        Raises :class:`~smscore.errors.ConfigurationError` keyed by the option that is unknown, missing or wrong.
        No request is made; with ``check_delivery`` and no ``account_id`` the account is asked from STS at the
        first delivery check.
        """
        for name in options:
            if name not in _KNOWN_OPTIONS:
                raise ConfigurationError(f"unknown option {name!r} for the SNS backend", key=str(name))
        key_id = _text_option(options, "aws_access_key_id")
        secret = _text_option(options, "aws_secret_access_key")
        token = _text_option(options, "aws_session_token")
        if key_id and not secret:
            raise ConfigurationError(
                "option 'aws_secret_access_key' is required with aws_access_key_id", key="aws_secret_access_key"
            )
        if secret and not key_id:
            raise ConfigurationError(
                "option 'aws_access_key_id' is required with aws_secret_access_key", key="aws_access_key_id"
            )
        if token and not key_id:
            raise ConfigurationError(
                "option 'aws_access_key_id' is required with aws_session_token", key="aws_access_key_id"
            )
        region_key = "region" if _text_option(options, "region") else "aws_region"
        region = _text_option(options, region_key)
        endpoint_url = _text_option(options, "endpoint_url")
        logs_endpoint_url = _text_option(options, "logs_endpoint_url") or endpoint_url
        sender_id = _text_option(options, "sender_id")
        if sender_id is not None and not _is_sender_id(sender_id):
            raise ConfigurationError(
                "option 'sender_id' must be 1-11 letters, digits or hyphens with at least one letter", key="sender_id"
            )
        sms_type = _sms_type(option(options, "sms_type", default="Transactional"))
        max_price = _max_price(option(options, "max_price"))
        origination_number = _text_option(options, "origination_number")
        connect_timeout = _number_option(options, "connect_timeout", 5.0)
        read_timeout = _number_option(options, "read_timeout", 10.0)
        max_attempts = _positive_int_option(options, "max_attempts", 3)
        log_group = _text_option(options, "delivery_status_log_group")
        check = _bool_option(options, "check_delivery") or log_group is not None
        account_id = _text_option(options, "account_id")

        try:
            session = boto3.session.Session(
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
                aws_session_token=token,
                region_name=region,
            )
        except boto_errors.BotoCoreError as exc:
            raise ConfigurationError(f"cannot set up the AWS session: {type(exc).__name__}") from None
        if not session.region_name:
            raise ConfigurationError("option 'region' is required (boto3 has no default region)", key="region")
        region = session.region_name
        # Publish is not idempotent: botocore must not retry it (it would after a read timeout).
        publish_config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "total_max_attempts": 1},
        )
        clients: list[Any] = []
        try:
            client = session.client("sns", endpoint_url=endpoint_url, config=publish_config)
            clients.append(client)
            logs_client = None
            delivery_log_group: str | Callable[[], str] | None = None
            if check:
                # Reading logs is safe to retry: botocore's standard retries apply.
                read_config = Config(
                    connect_timeout=connect_timeout,
                    read_timeout=read_timeout,
                    retries={"mode": "standard", "total_max_attempts": max(3, max_attempts)},
                )
                logs_client = session.client("logs", endpoint_url=logs_endpoint_url, config=read_config)
                clients.append(logs_client)
                if log_group is not None:
                    delivery_log_group = log_group
                elif account_id is not None:
                    delivery_log_group = f"sns/{region}/{account_id}/DirectPublishToPhoneNumber"
                else:
                    delivery_log_group = _log_group_from_sts(session, region, endpoint_url, read_config)
        except ValueError as exc:
            # botocore refuses a malformed region name or endpoint URL with a ValueError subclass.
            for built in clients:
                built.close()
            bad = "endpoint_url" if "endpoint" in str(exc).lower() else region_key
            raise ConfigurationError(f"option {bad!r} is invalid: {type(exc).__name__}", key=bad) from None
        return cls(
            client,
            sender_id=sender_id,
            sms_type=sms_type,
            max_price=max_price,
            origination_number=origination_number,
            max_attempts=max_attempts,
            logs_client=logs_client,
            delivery_log_group=delivery_log_group,
            secrets=[s for s in (secret, token) if s],
            close_clients=True,
        )

    # -- publishing ------------------------------------------------------------------------------------------

    def publish_message(self, message: SMSMessage) -> Outcome:
        """Publish one message: SENT with the SNS ``MessageId``, or the translated failure. Never raises."""
        params, refusal = self._publish_params(message)
        if refusal is not None:
            return refusal
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

    def _publish_params(self, message: SMSMessage) -> tuple[dict[str, Any], Outcome | None]:
        sender_id, origination_number = self.sender_id, self.origination_number
        if message.sender:
            if _E164.fullmatch(message.sender):
                origination_number = message.sender
            elif _is_sender_id(message.sender):
                sender_id = message.sender
            else:
                return {}, Outcome.rejected(
                    f"sender {message.sender!r} cannot be used with SNS: give an E.164 origination number or a "
                    "sender ID of 1-11 letters, digits or hyphens with at least one letter",
                    error_code="InvalidSender",
                )
        params: dict[str, Any] = {"PhoneNumber": message.recipient, "Message": message.content}
        attributes = message_attributes(
            sender_id=sender_id,
            sms_type=self.sms_type,
            max_price=self.max_price,
            origination_number=origination_number,
        )
        if attributes:
            params["MessageAttributes"] = attributes
        return params, None

    def _publish_once(self, message: SMSMessage, params: Mapping[str, Any]) -> Outcome:
        try:
            response = self._client.publish(**params)
        except Exception as exc:
            if not isinstance(exc, boto_errors.BotoCoreError | boto_errors.ClientError):
                log.exception("unexpected error publishing SMS message %s to SNS", message.id)
            return self._clean(exception_outcome(exc))
        message_id = response.get("MessageId") if isinstance(response, Mapping) else None
        if not isinstance(message_id, str) or not message_id:
            return Outcome.ambiguous("SNS answered without a MessageId")
        return Outcome.accepted(SMSState.SENT, provider_ref=message_id)

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
        latest: dict[str, tuple[int, Outcome]] = {}
        wanted = set(refs)
        for suffix in (_SUCCESS_SUFFIX, _FAILURE_SUFFIX):
            for pattern in delivery_filter_patterns(refs):
                for timestamp, event in self._events(group + suffix, pattern, start_ms):
                    outcome = delivery_outcome(event)
                    ref = outcome.provider_ref
                    # The pattern narrows the search; the id is checked here again, whatever the logs returned.
                    if ref in wanted and (ref not in latest or timestamp >= latest[ref][0]):
                        latest[ref] = (timestamp, self._clean(outcome))
        return [latest[m.provider_ref][1] if m.provider_ref in latest else None for m in messages]

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

    def __repr__(self) -> str:
        # Settings only: never the client, whose configuration may lead to credentials.
        check = " check_delivery" if self._logs is not None else ""
        return f"<SNSSMSBackend sms_type={self.sms_type!r} sender_id={self.sender_id!r}{check}>"


def _log_group_from_sts(session: Any, region: str, endpoint_url: str | None, config: Config) -> Callable[[], str]:
    def resolve() -> str:
        sts = session.client("sts", endpoint_url=endpoint_url, config=config)
        try:
            account = sts.get_caller_identity()["Account"]
        finally:
            sts.close()
        return f"sns/{region}/{account}/DirectPublishToPhoneNumber"

    return resolve
