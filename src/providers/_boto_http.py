"""The HTTP session the SNS backend gives its botocore clients: ``httpx`` with one deadline for the whole of each
request (connecting, sending, the whole answer: :mod:`providers._deadline`).

botocore's own session (``urllib3``) bounds each socket read, so a peer trickling its answer holds a request for
as long as it likes. Failures are raised as the botocore exceptions its own session raises, so the translation
of :func:`providers._sns_wire.exception_outcome` (and botocore's retries of reads) apply unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.exceptions as boto_errors
import httpx
from botocore.awsrequest import AWSResponse

from providers._deadline import bounded_client, deadline

__all__ = ["DeadlineSession", "install"]


class _Body:
    """The raw body of an answer, read whole, as botocore reads a ``urllib3`` response."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, *_args: Any, **_kwargs: Any) -> Iterator[bytes]:
        yield self._content

    def read(self, *_args: Any, **_kwargs: Any) -> bytes:
        content, self._content = self._content, b""
        return content


class DeadlineSession:
    """A botocore HTTP session (``send(request)``, ``close()``) whose every request ends within ``timeout``
    seconds in all; ``connect_timeout`` and ``read_timeout`` bound each connect and read as botocore's do."""

    def __init__(self, *, timeout: float, connect_timeout: float, read_timeout: float, max_connections: int = 10):
        self._timeout = timeout
        self._client = bounded_client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
            max_connections=max_connections,
        )

    def send(self, request: Any) -> AWSResponse:
        """Send a prepared botocore request; raise botocore's exceptions on failure."""
        url = request.url
        body = request.body
        if body is not None and not isinstance(body, bytes | str):
            body = body.read()
        try:
            with deadline(self._timeout):
                answer = self._client.request(request.method, url, content=body, headers=list(request.headers.items()))
        except httpx.HTTPError as exc:
            raise _translated(exc, request) from exc
        return AWSResponse(url, answer.status_code, dict(answer.headers), _Body(answer.content))

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()


def _translated(exc: httpx.HTTPError, request: Any) -> Exception:
    url = request.url
    translated: Exception
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        translated = boto_errors.ConnectTimeoutError(endpoint_url=url, error=exc)
    elif isinstance(exc, httpx.ProxyError):
        translated = boto_errors.ProxyConnectionError(proxy_url="(proxy)", error=exc)
    elif isinstance(exc, httpx.ConnectError):
        translated = boto_errors.EndpointConnectionError(endpoint_url=url, error=exc)
    elif isinstance(exc, httpx.TimeoutException):
        translated = boto_errors.ReadTimeoutError(endpoint_url=url, error=exc)
    elif isinstance(exc, httpx.TransportError):
        translated = boto_errors.ConnectionClosedError(endpoint_url=url, error=exc, request=request)
    else:
        translated = boto_errors.HTTPClientError(error=exc)
    return translated


def install(client: Any, session: DeadlineSession) -> None:
    """Make ``client`` (a botocore client) send its requests through ``session``."""
    # botocore offers no setting for its HTTP session; its endpoint holds it.
    client._endpoint.http_session = session
