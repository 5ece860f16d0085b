"""The SNS wire as pure functions: ``Publish`` parameters in, outcomes and delivery reports out. No I/O here.

``ListPhoneNumbersOptedOut`` answers are read page by page by :func:`opted_out_page`. A ``Publish`` call carries ``PhoneNumber`` (E.164), ``Message`` and the SMS attributes that are set
(:func:`publish_params`). Answers and failures become outcomes: :func:`error_outcome` for SNS's error answers,
:func:`exception_outcome` for whatever botocore raises; delivery-status log events are searched with
:func:`delivery_filter_patterns` and read by :func:`delivery_outcome` and :func:`latest_reports`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import attrs
import botocore.exceptions as boto_errors

from smscore import Outcome, ProviderError, SMSMessage, SMSState

__all__ = [
    "AMBIGUOUS_HTTP_STATUSES",
    "LOG_GROUP_SUFFIXES",
    "MAX_FILTER_PATTERN_LENGTH",
    "SENDER_ID",
    "SMS_TYPES",
    "THROTTLING_CODES",
    "TRANSIENT_CODES",
    "Attributes",
    "delivery_filter_patterns",
    "delivery_outcome",
    "error_outcome",
    "exception_outcome",
    "latest_reports",
    "log_group_name",
    "message_attributes",
    "opted_out_page",
    "publish_params",
    "published_outcome",
]

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

#: The delivery-status log groups of an account, as suffixes of the success group's name: successes, failures.
LOG_GROUP_SUFFIXES: Final = ("", "/Failure")
#: A sender ID SNS accepts: 1-11 letters, digits or hyphens, at least one of them a letter.
SENDER_ID: Final = re.compile(r"(?=[0-9-]*[A-Za-z])[A-Za-z0-9-]{1,11}")
_E164: Final = re.compile(r"\+[1-9][0-9]{1,14}")


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


def log_group_name(region: str, account_id: str) -> str:
    """The success log group SNS writes SMS delivery status to for ``account_id`` in ``region``."""
    return f"sns/{region}/{account_id}/DirectPublishToPhoneNumber"


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


@attrs.frozen
class Attributes:
    """The configured SMS attributes of every ``Publish`` call (see :func:`message_attributes`)."""

    sender_id: str | None = None
    sms_type: str | None = "Transactional"
    max_price: Decimal | None = None
    origination_number: str | None = None


def publish_params(message: SMSMessage, attributes: Attributes) -> dict[str, Any] | Outcome:
    """The keyword arguments of the ``Publish`` call for ``message``, or the refusal of a sender SNS cannot use.

    A message's own ``sender`` overrides the configured one: an E.164 number becomes the origination number,
    a valid sender ID the sender ID.
    """
    sender_id, origination_number = attributes.sender_id, attributes.origination_number
    if message.sender:
        if _E164.fullmatch(message.sender):
            origination_number = message.sender
        elif SENDER_ID.fullmatch(message.sender):
            sender_id = message.sender
        else:
            return Outcome.rejected(
                f"sender {message.sender!r} cannot be used with SNS: give an E.164 origination number or a "
                "sender ID of 1-11 letters, digits or hyphens with at least one letter",
                error_code="InvalidSender",
            )
    params: dict[str, Any] = {"PhoneNumber": message.recipient, "Message": message.content}
    shown = message_attributes(
        sender_id=sender_id,
        sms_type=attributes.sms_type,
        max_price=attributes.max_price,
        origination_number=origination_number,
    )
    if shown:
        params["MessageAttributes"] = shown
    return params


def published_outcome(response: object) -> Outcome:
    """The outcome of a ``Publish`` answer: SENT with its ``MessageId``, or ambiguous without one."""
    message_id = response.get("MessageId") if isinstance(response, Mapping) else None
    if not isinstance(message_id, str) or not message_id:
        return Outcome.ambiguous("SNS answered without a MessageId")
    return Outcome.accepted(SMSState.SENT, provider_ref=message_id)


def latest_reports(
    messages: Sequence[SMSMessage], events: Iterable[tuple[int, Mapping[str, Any]]]
) -> list[Outcome | None]:
    """One report per message from delivery-status log events ``(timestamp, event)``: the latest event about
    the message's ``provider_ref`` wins; ``None`` where no event names it."""
    wanted = {m.provider_ref for m in messages if m.provider_ref}
    latest: dict[str, tuple[int, Outcome]] = {}
    for timestamp, event in events:
        outcome = delivery_outcome(event)
        ref = outcome.provider_ref
        # The filter pattern narrows the search; the id is checked here again, whatever the logs returned.
        if ref in wanted and (ref not in latest or timestamp >= latest[ref][0]):
            latest[ref] = (timestamp, outcome)
    return [latest[m.provider_ref][1] if m.provider_ref in latest else None for m in messages]


#: Most numbers one ``ListPhoneNumbersOptedOut`` page may carry (SNS sends up to 100): a larger answer is not SNS's.
MAX_OPTED_OUT_PAGE: Final = 10_000


def opted_out_page(response: object) -> tuple[list[str], str | None]:
    """The numbers of one ``ListPhoneNumbersOptedOut`` answer and the ``nextToken`` of the next page (None after
    the last). Raises :class:`~smscore.errors.ProviderError` for an answer that is not one.

    >>> opted_out_page({"phoneNumbers": ["+15555550100"], "nextToken": "abc"})
    (['+15555550100'], 'abc')
    """
    numbers = response.get("phoneNumbers", []) if isinstance(response, Mapping) else None
    token = response.get("nextToken") if isinstance(response, Mapping) else None
    if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
        raise ProviderError("SNS answered ListPhoneNumbersOptedOut without a list of phone numbers")
    if len(numbers) > MAX_OPTED_OUT_PAGE:
        raise ProviderError(f"SNS answered ListPhoneNumbersOptedOut with {len(numbers)} numbers in one page")
    return numbers, token if isinstance(token, str) and token else None
