"""HTTP transport for the XML gateways: one POST, every httpx failure translated at the edge.

:func:`post_xml` (``httpx.Client``) and :func:`apost_xml` (``httpx.AsyncClient``, the same rules) never raise for
anything the network or the gateway did. They return the answer's bytes, or a :class:`Failure` saying whether the
request certainly did not reach the gateway (``TRANSIENT``: safe to send again), was refused for good
(``REJECTED``), or may have been processed (``AMBIGUOUS``: never re-sent blindly).

================================================  ==========  ==============================================
what happened                                     kind        why
================================================  ==========  ==============================================
connection refused, DNS failure, connect timeout  TRANSIENT   nothing was sent
no free pooled connection in time (pool timeout)  TRANSIENT   nothing was sent
proxy failure                                     TRANSIENT   the proxy never reached the gateway
HTTP 408, 429, 5xx                                TRANSIENT   the gateway says it did not take the request
HTTP 401, 403                                     REJECTED    credentials refused: retrying will not help
any other HTTP status outside 2xx                 REJECTED    wrong URL or request; retrying will not help
read timeout, the whole-request deadline passed  AMBIGUOUS   the request left; the gateway may have
after connecting, connection reset or closed                  processed it
before the whole answer arrived, write failures
answer larger than the cap                        AMBIGUOUS   the request was processed; the answer is unusable
================================================  ==========  ==============================================

A 2xx answer's body is read up to a cap (:data:`providers._xml.MAX_RESPONSE_BYTES`), so a hostile or broken
gateway cannot exhaust memory. Reasons never include the request body (it holds credentials) or the answer's body.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final

import attrs
import httpx

from providers._deadline import bounded_async_client, bounded_client, deadline
from providers._xml import MAX_RESPONSE_BYTES, escape_attribute, escape_text

__all__ = [
    "CONTENT_TYPE",
    "CappedBody",
    "Failure",
    "FailureKind",
    "Redactor",
    "apost_xml",
    "build_async_client",
    "build_client",
    "exception_failure",
    "post_xml",
]


#: The content type of every request body.
CONTENT_TYPE: Final = "text/xml; charset=utf-8"

_TRANSIENT_STATUSES: Final = frozenset({408, 425, 429})
_HEADERS: Final = {"Content-Type": CONTENT_TYPE}
_ACCEPT: Final = {"Accept": "text/xml, application/xml;q=0.9, */*;q=0.1"}


class FailureKind(enum.Enum):
    """How a failed request leaves the messages it carried."""

    TRANSIENT = "transient"
    REJECTED = "rejected"
    AMBIGUOUS = "ambiguous"


@attrs.frozen
class Failure:
    """A request that produced no usable answer: its kind and a reason fit for the message's ``error``."""

    kind: FailureKind
    reason: str


def build_client(*, timeout: float, max_connections: int = 10) -> httpx.Client:
    """The one ``httpx.Client`` a backend built from options keeps for its whole life (keep-alive, reused).

    Its transport ends every exchange by the deadline :func:`post_xml` opens (:mod:`providers._deadline`).
    """
    return bounded_client(
        timeout=httpx.Timeout(timeout), max_connections=max_connections, headers={**_HEADERS, **_ACCEPT}
    )


def build_async_client(*, timeout: float, max_connections: int = 10) -> httpx.AsyncClient:
    """:func:`build_client` for the event loop (build it inside the running loop that uses it)."""
    return bounded_async_client(
        timeout=httpx.Timeout(timeout), max_connections=max_connections, headers={**_HEADERS, **_ACCEPT}
    )


class Redactor:
    """Removes secrets from text that leaves a backend (logs, ``error``, ``extra_sender_data``).

    The secrets are matched raw and in their XML-escaped forms, since gateways may echo the request body.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = set()
        for secret in secrets:
            if secret:
                forms.update({secret, escape_text(secret), escape_attribute(secret)})
        forms.discard("")
        self._forms = tuple(sorted(forms, key=len, reverse=True))

    @property
    def forms(self) -> tuple[str, ...]:
        """Every form of every secret, longest first (so no form is cut by a shorter one)."""
        return self._forms

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, "***")
        return text

    def __repr__(self) -> str:
        return "<Redactor>"


def _status_failure(response: httpx.Response) -> Failure | None:
    status = response.status_code
    if 200 <= status < 300:
        return None
    if status in _TRANSIENT_STATUSES or 500 <= status < 600:
        return Failure(FailureKind.TRANSIENT, f"gateway unavailable: HTTP {status}")
    if status in {401, 403}:
        return Failure(FailureKind.REJECTED, f"gateway refused the credentials: HTTP {status}")
    if 300 <= status < 400:
        return Failure(FailureKind.REJECTED, f"gateway redirected the request (HTTP {status}): check the url option")
    return Failure(FailureKind.REJECTED, f"gateway refused the request: HTTP {status}")


def exception_failure(exc: httpx.HTTPError) -> Failure:
    """The failure an ``httpx`` exception means (see the module docstring for the classification)."""
    name = type(exc).__name__
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ProxyError):
        return Failure(FailureKind.TRANSIENT, f"gateway not reached ({name})")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return Failure(FailureKind.REJECTED, f"gateway URL unusable ({name})")
    if isinstance(exc, httpx.TimeoutException):
        return Failure(FailureKind.AMBIGUOUS, f"no answer in time after the request was sent ({name})")
    return Failure(FailureKind.AMBIGUOUS, f"connection failed after the request was sent ({name})")


class CappedBody:
    """An answer's bytes as they arrive, up to a cap (the one reading rule of every client, sync or async)."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> bool:
        """Keep ``chunk``; False once the answer has grown past the cap (stop reading then)."""
        self._size += len(chunk)
        if self._size > self._cap:
            return False
        self._chunks.append(chunk)
        return True

    @property
    def data(self) -> bytes:
        """The bytes kept (all of them while :meth:`add` has not refused one)."""
        return b"".join(self._chunks)

    def result(self) -> bytes | Failure:
        """The whole answer, or the failure of one larger than the cap."""
        if self._size > self._cap:
            return Failure(FailureKind.AMBIGUOUS, f"gateway answer larger than {self._cap} bytes; not read")
        return self.data


def post_xml(
    client: httpx.Client, url: str, body: bytes, *, timeout: float, max_response_bytes: int = MAX_RESPONSE_BYTES
) -> bytes | Failure:
    """POST ``body`` to ``url``; the answer's bytes when the status is 2xx, else a :class:`Failure`.

    The whole exchange (waiting for a pooled connection, connecting, sending, the whole answer) ends within
    ``timeout`` seconds when ``client`` was made by :func:`build_client`; with another client each read and write
    is bounded by the client's own timeouts only. Never raises for network or gateway trouble (see the module
    docstring for the classification).
    """
    try:
        with deadline(timeout), client.stream("POST", url, content=body, headers=_HEADERS) as response:
            answer = _status_failure(response) or CappedBody(max_response_bytes)
            if isinstance(answer, CappedBody):
                for chunk in response.iter_bytes():
                    if not answer.add(chunk):
                        break
            return answer if isinstance(answer, Failure) else answer.result()
    except httpx.HTTPError as exc:
        return exception_failure(exc)


async def apost_xml(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    *,
    timeout: float,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> bytes | Failure:
    """:func:`post_xml` on the event loop, through a client made by :func:`build_async_client` (the same deadline,
    classification and cap). Cancelling the task raises ``CancelledError`` here; the connection it held is
    dropped by ``httpx``, never returned to the pool half-read."""
    try:
        with deadline(timeout):
            async with client.stream("POST", url, content=body, headers=_HEADERS) as response:
                answer = _status_failure(response) or CappedBody(max_response_bytes)
                if isinstance(answer, CappedBody):
                    async for chunk in response.aiter_bytes():
                        if not answer.add(chunk):
                            break
                return answer if isinstance(answer, Failure) else answer.result()
    except httpx.HTTPError as exc:
        return exception_failure(exc)
