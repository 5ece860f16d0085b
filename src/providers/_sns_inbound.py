"""Amazon SNS HTTPS deliveries of two-way SMS: the SNS message signature verified, subscriptions confirmed, the
SMS read. Pure functions over the request, plus :class:`SNSInbound`, which holds the certificate cache and the
fetcher (the only I/O: an HTTPS GET of an SNS certificate or of a ``SubscribeURL``).

An SNS message is trusted only when

- its ``TopicArn`` is one of the configured ``inbound_topic_arns`` (SNS signs every account's messages with the same
  key: without this, anyone's topic could subscribe us and post verified messages);
- its ``SigningCertURL`` is ``https://sns.<region>.amazonaws.com[.cn]/SimpleNotificationService-<32 hex>.pem``
  (no port, no user, no query);
  the certificate is fetched once per URL (at most :data:`MAX_FETCH_BYTES`, within :data:`FETCH_TIMEOUT`
  seconds, no redirects) and kept;
- its ``Signature`` verifies: RSA PKCS #1 v1.5 over the canonical string of its fields, with SHA-1 for
  ``SignatureVersion`` 1 and SHA-256 for 2.

A ``SubscriptionConfirmation`` that passes is confirmed by visiting its ``SubscribeURL`` (held to the same host
pattern) through the fetcher. A ``Notification``'s ``Message`` is Amazon's two-way SMS document:
``originationNumber`` (who wrote), ``destinationNumber`` (our number), ``messageBody``, ``inboundMessageId`` and
``previousPublishedMessageId`` (the message answered, when Amazon knows it).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import urllib.request
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from smscore.errors import CallbackError, InvalidMessageError, InvalidSignatureError
from smscore.inbound import MAX_INBOUND_BODY, InboundReport, WebhookRequest

__all__ = [
    "FETCH_TIMEOUT",
    "MAX_FETCH_BYTES",
    "Fetcher",
    "SNSInbound",
    "check_sns_url",
    "fetch",
    "string_to_sign",
]

#: Fetches an HTTPS URL and returns its body; raises on any failure. Injected in tests.
Fetcher = Callable[[str], bytes]
#: Most bytes read from a certificate or ``SubscribeURL`` answer, and the seconds such a fetch may take.
MAX_FETCH_BYTES: Final = 64 * 1024
FETCH_TIMEOUT: Final = 5.0
#: Certificates kept (SNS rotates them rarely; the URLs are held to Amazon's hosts, so few ever come).
_MAX_CERTIFICATES: Final = 32

_SNS_HOST: Final = re.compile(r"^sns\.[a-z]{2}(-[a-z]+)+-\d{1,2}\.amazonaws\.com(\.cn)?$")
_HASHES: Final[Mapping[str, Callable[[], hashes.HashAlgorithm]]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_SIGNED_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def check_sns_url(url: object, what: str, *, path: re.Pattern[str] | None = None, query: bool = False) -> str:
    """``url`` if it is an HTTPS URL on an SNS host (``sns.<region>.amazonaws.com`` or ``.com.cn``) without a port,
    user or fragment, its path matching ``path`` when given, with a query only when ``query``. Raises
    :class:`~smscore.errors.InvalidSignatureError`."""
    parts = urlsplit(url) if isinstance(url, str) and len(url) <= 2048 else None
    if (
        parts is None
        or parts.scheme != "https"
        or parts.netloc != parts.hostname
        or not _SNS_HOST.match(parts.netloc)
        or (path is not None and not path.fullmatch(parts.path))
        or parts.fragment
        or (parts.query and not query)
    ):
        raise InvalidSignatureError(f"SNS {what} is not on an Amazon SNS host: {str(url)[:200]!r}")
    return str(url)


# The name Amazon gives its signing certificates: any other path on an SNS host is refused unfetched.
_CERT_PATH: Final = re.compile(r"/SimpleNotificationService-[0-9a-f]{32}\.pem")
_ROOT: Final = re.compile("/?")


def string_to_sign(message: Mapping[str, str]) -> bytes:
    """The canonical text SNS signs: each signed field of the message's type present, ``name\\nvalue\\n``, in
    byte order of the names. Raises :class:`~smscore.errors.CallbackError` for an unknown type."""
    fields = _SIGNED_FIELDS.get(message.get("Type", ""))
    if fields is None:
        raise CallbackError("not an SNS message of a known type")
    return "".join(f"{name}\n{message[name]}\n" for name in fields if name in message).encode()


def verify(message: Mapping[str, str], certificate: bytes) -> None:
    """Check the message's signature with the PEM ``certificate``'s RSA key. Raises
    :class:`~smscore.errors.InvalidSignatureError`."""
    algorithm = _HASHES.get(message.get("SignatureVersion", ""))
    if algorithm is None:
        raise InvalidSignatureError("SNS SignatureVersion must be 1 or 2")
    try:
        key = x509.load_pem_x509_certificate(certificate).public_key()
        signature = base64.b64decode(message.get("Signature", ""), validate=True)
    except (ValueError, binascii.Error) as exc:
        raise InvalidSignatureError(f"SNS signature or certificate unreadable: {type(exc).__name__}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidSignatureError("SNS certificate without an RSA key")
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise InvalidSignatureError("SNS message signature does not verify") from None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect could leave Amazon's hosts: it fails the fetch instead


_OPENER: Final = urllib.request.build_opener(_NoRedirects)


def fetch(url: str) -> bytes:
    """GET ``url`` (already held to the SNS host pattern): at most :data:`MAX_FETCH_BYTES` within
    :data:`FETCH_TIMEOUT` seconds per read, no redirects. Raises ``OSError`` or ``ValueError``."""
    with _OPENER.open(url, timeout=FETCH_TIMEOUT) as answer:
        body: bytes = answer.read(MAX_FETCH_BYTES + 1)
    if len(body) > MAX_FETCH_BYTES:
        raise ValueError(f"answer larger than {MAX_FETCH_BYTES} bytes")
    return body


class SNSInbound:
    """Reads SNS HTTPS deliveries for one provider (see the module docstring): ``topic_arns`` are the topics
    accepted; ``fetcher`` GETs certificates and ``SubscribeURL`` (:func:`fetch` unless given)."""

    def __init__(self, topic_arns: Collection[str] = (), *, fetcher: Fetcher = fetch) -> None:
        self.topic_arns = frozenset(topic_arns)
        self._fetch = fetcher
        self._certificates: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def parse(self, request: WebhookRequest) -> InboundReport | None:
        """The SMS of a verified ``Notification``; None for a subscription confirmed or an unsubscription.

        Raises :class:`~smscore.errors.InvalidSignatureError` (signature, certificate URL, topic) or
        :class:`~smscore.errors.CallbackError` (not an SNS message, not a two-way SMS, a confirmation that failed).
        """
        message = _envelope(request.body)
        if not self.topic_arns or message.get("TopicArn") not in self.topic_arns:
            raise InvalidSignatureError("SNS message from a topic not in inbound_topic_arns")
        verify(message, self._certificate(check_sns_url(message.get("SigningCertURL"), "certificate", path=_CERT_PATH)))
        kind = message["Type"]
        if kind == "SubscriptionConfirmation":
            url = check_sns_url(message.get("SubscribeURL"), "SubscribeURL", path=_ROOT, query=True)
            try:
                self._fetch(url)
            except (OSError, ValueError) as exc:
                raise CallbackError(f"SNS subscription not confirmed: {type(exc).__name__}") from None
            return None
        if kind == "UnsubscribeConfirmation":
            return None
        return _sms(message.get("Message", ""))

    def _certificate(self, url: str) -> bytes:
        with self._lock:
            known = self._certificates.get(url)
        if known is not None:
            return known
        try:
            certificate = self._fetch(url)
        except (OSError, ValueError) as exc:
            raise CallbackError(f"SNS certificate could not be fetched: {type(exc).__name__}") from None
        with self._lock:
            if len(self._certificates) >= _MAX_CERTIFICATES:
                self._certificates.pop(next(iter(self._certificates)))
            self._certificates[url] = certificate
        return certificate


def _envelope(body: bytes) -> dict[str, str]:
    """The SNS message of a request body: a JSON object of strings, within bounds."""
    if len(body) > MAX_INBOUND_BODY:
        raise CallbackError(f"request body larger than {MAX_INBOUND_BODY} bytes")
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        raise CallbackError("request body is not an SNS message (JSON)") from None
    if not isinstance(message, dict) or not all(isinstance(v, str) for v in message.values()):
        raise CallbackError("request body is not an SNS message (an object of strings)")
    if message.get("Type") not in _SIGNED_FIELDS:
        raise CallbackError("not an SNS message of a known type")
    return message


def _sms(text: str) -> InboundReport:
    """The two-way SMS document of a notification's ``Message``."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        raise CallbackError("SNS notification is not a two-way SMS (its Message is not a JSON object)")
    fields: dict[str, Any] = {
        "sender": document.get("originationNumber"),
        "recipient": document.get("destinationNumber"),
        "content": document.get("messageBody"),
        "provider_ref": document.get("inboundMessageId"),
        "replies_to_ref": document.get("previousPublishedMessageId") or None,
    }
    if not all(isinstance(fields[name], str) for name in ("sender", "recipient", "content", "provider_ref")):
        raise CallbackError(
            "SNS two-way SMS without originationNumber, destinationNumber, messageBody, inboundMessageId"
        )
    keyword = document.get("messageKeyword")
    try:
        return InboundReport(**fields, extra_data={"messageKeyword": keyword} if isinstance(keyword, str) else {})
    except (InvalidMessageError, TypeError) as exc:
        raise CallbackError(f"SNS two-way SMS cannot be kept: {exc}") from None
