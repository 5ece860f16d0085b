"""The HTTP clients the Twilio backend builds: twilio's ``HttpClient`` interface over ``httpx.Client`` and its
``AsyncHttpClient`` interface over ``httpx.AsyncClient``, with one deadline for the whole of each request
(connecting, sending, the whole answer: :mod:`providers._deadline`).

twilio's own client (``requests``) bounds each socket read, so a peer trickling its answer holds a request for
as long as it likes. Failures are raised as the ``httpx`` exceptions :func:`providers._http.exception_failure`
classifies; nothing is logged here (twilio's client logs request headers and parameters).
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import httpx
from twilio.http import AsyncHttpClient, HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from providers._deadline import bounded_async_client, bounded_client, deadline
from providers._http import CappedBody

__all__ = [
    "MAX_ANSWER_BYTES",
    "POOL_SIZE",
    "AnswerTooLarge",
    "AsyncDeadlineHttpClient",
    "DeadlineHttpClient",
    "async_twin",
]

#: Largest answer read from Twilio (a page of messages is some tens of kilobytes).
MAX_ANSWER_BYTES = 4 * 1024 * 1024
#: Connections per httpx pool of the asyncio client (see :class:`AsyncDeadlineHttpClient`).
POOL_SIZE = 4

#: What a ``twilio.rest.Client`` is built from, besides its HTTP client (each kept as an attribute of that name).
_CLIENT_SETTINGS = (
    "username",
    "password",
    "account_sid",
    "region",
    "edge",
    "user_agent_extensions",
    "credential_provider",
)

_JSON_TYPES = frozenset({"application/json", "application/scim+json"})


class AnswerTooLarge(httpx.RemoteProtocolError):
    """Twilio's answer was larger than :data:`MAX_ANSWER_BYTES`: it is not read."""


class DeadlineHttpClient(HttpClient):  # type: ignore[misc]  # twilio ships no type information
    """twilio's ``HttpClient`` whose every request ends within ``timeout`` seconds in all."""

    def __init__(self, *, timeout: float, max_connections: int = 10) -> None:
        super().__init__(logging.getLogger(__name__), is_async=False, timeout=timeout)
        self._client = bounded_client(timeout=httpx.Timeout(timeout), max_connections=max_connections)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Make one request, taking what ``twilio.http.HttpClient.request`` takes (``params``, ``data``,
        ``headers``, ``auth``, ``timeout``, ``allow_redirects``); raises ``httpx.HTTPError`` on failure."""
        seconds, request = _request(self.timeout, method, url, *args, **kwargs)
        with deadline(seconds), self._client.stream(**request) as answer:
            body = CappedBody(MAX_ANSWER_BYTES)
            for chunk in answer.iter_bytes():
                _keep(body, chunk)
        return _response(answer, body)

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def __repr__(self) -> str:
        return "<DeadlineHttpClient>"


class AsyncDeadlineHttpClient(AsyncHttpClient):  # type: ignore[misc]  # twilio ships no type information
    """:class:`DeadlineHttpClient` for the event loop (twilio's ``AsyncHttpClient`` interface, the ``*_async``
    methods of ``twilio.rest.Client``) over an ``httpx.AsyncClient``: the same request, deadline, cap and
    exceptions. Build it inside the running loop that uses it; :meth:`close` is a coroutine.

    It holds up to ``max_connections`` connections (as many as the asyncio service makes requests at once by
    default, ``max_in_flight``: fewer would queue the requests it sends side by side), in small pools of
    :data:`POOL_SIZE` taken in turn: the work of one httpx pool grows with the square of its connections, so that
    one pool of a hundred spends more CPU per request than the request itself."""

    def __init__(self, *, timeout: float, max_connections: int = 100) -> None:
        super().__init__(logging.getLogger(__name__), is_async=True, timeout=timeout)
        limit = httpx.Timeout(timeout)
        pools = max(1, -(-max_connections // POOL_SIZE))
        size = min(POOL_SIZE, max_connections)
        self._clients = [bounded_async_client(timeout=limit, max_connections=size) for _ in range(pools)]
        self._turn = itertools.cycle(self._clients)

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        """Make one request, taking what :meth:`DeadlineHttpClient.request` takes; raises ``httpx.HTTPError`` on
        failure and lets ``CancelledError`` through (the connection in use is dropped, not pooled)."""
        seconds, request = _request(self.timeout, method, url, *args, **kwargs)
        with deadline(seconds):
            async with next(self._turn).stream(**request) as answer:
                body = CappedBody(MAX_ANSWER_BYTES)
                async for chunk in answer.aiter_bytes():
                    _keep(body, chunk)
        return _response(answer, body)

    async def close(self) -> None:
        """Close the pooled connections."""
        for client in self._clients:
            await client.aclose()

    def __repr__(self) -> str:
        return "<AsyncDeadlineHttpClient>"


def async_twin(client: Client, http_client: AsyncHttpClient) -> Client:
    """A ``twilio.rest.Client`` with ``client``'s account, credentials, region, edge and user agent over
    ``http_client``: every setting as ``client`` resolved it."""
    settings = {name: getattr(client, name) for name in _CLIENT_SETTINGS}
    return Client(http_client=http_client, **settings)


def _request(
    default: float | None,
    method: str,
    url: str,
    params: dict[str, object] | None = None,
    data: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float | None = None,
    allow_redirects: bool = False,
) -> tuple[float, dict[str, Any]]:
    """The deadline of one request and the keyword arguments of ``httpx``'s ``stream`` for it."""
    seconds = timeout if timeout is not None else default
    if seconds is None or seconds <= 0:
        raise ValueError("a positive timeout is required")
    body: dict[str, Any] = {}
    if data:
        if headers and headers.get("Content-Type") in _JSON_TYPES:
            body["json"] = data
        else:
            body["data"] = {name: value for name, value in data.items() if value is not None}
    target = httpx.URL(url)
    query = {name: value for name, value in (params or {}).items() if value is not None}
    if query:
        # Merged, not replaced: the URL of a next page already carries its query.
        target = target.copy_merge_params(query)  # type: ignore[arg-type]
    return seconds, {
        "method": method.upper(),
        "url": target,
        "headers": headers,
        "auth": auth,
        "follow_redirects": allow_redirects,
        **body,
    }


def _keep(body: CappedBody, chunk: bytes) -> None:
    if not body.add(chunk):
        raise AnswerTooLarge(f"Twilio answer larger than {MAX_ANSWER_BYTES} bytes; not read")


def _response(answer: httpx.Response, body: CappedBody) -> Response:
    text = body.data.decode(answer.encoding or "utf-8", errors="replace")
    return Response(answer.status_code, text, dict(answer.headers))
