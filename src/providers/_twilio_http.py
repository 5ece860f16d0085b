"""The HTTP client the Twilio backend builds: twilio's ``HttpClient`` interface over ``httpx``, with one deadline
for the whole of each request (connecting, sending, the whole answer: :mod:`providers._deadline`).

twilio's own client (``requests``) bounds each socket read, so a peer trickling its answer holds a request for
as long as it likes. Failures are raised as the ``httpx`` exceptions :func:`providers._http.exception_failure`
classifies; nothing is logged here (twilio's client logs request headers and parameters).
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from twilio.http import HttpClient
from twilio.http.response import Response

from providers._deadline import bounded_client, deadline

__all__ = ["MAX_ANSWER_BYTES", "AnswerTooLarge", "DeadlineHttpClient"]

#: Largest answer read from Twilio (a page of messages is some tens of kilobytes).
MAX_ANSWER_BYTES = 4 * 1024 * 1024

_JSON_TYPES = frozenset({"application/json", "application/scim+json"})


class AnswerTooLarge(httpx.RemoteProtocolError):
    """Twilio's answer was larger than :data:`MAX_ANSWER_BYTES`: it is not read."""


class DeadlineHttpClient(HttpClient):  # type: ignore[misc]  # twilio ships no type information
    """twilio's ``HttpClient`` whose every request ends within ``timeout`` seconds in all."""

    def __init__(self, *, timeout: float, max_connections: int = 10) -> None:
        super().__init__(logging.getLogger(__name__), is_async=False, timeout=timeout)
        self._client = bounded_client(timeout=httpx.Timeout(timeout), max_connections=max_connections)

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Make one request (see ``twilio.http.HttpClient.request``); raises ``httpx.HTTPError`` on failure."""
        seconds = timeout if timeout is not None else self.timeout
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
        with (
            deadline(seconds),
            self._client.stream(
                method.upper(),
                target,
                headers=headers,
                auth=auth,
                follow_redirects=allow_redirects,
                **body,
            ) as answer,
        ):
            text = _read(answer)
        return Response(answer.status_code, text, dict(answer.headers))

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def __repr__(self) -> str:
        return "<DeadlineHttpClient>"


def _read(answer: httpx.Response) -> str:
    chunks: list[bytes] = []
    size = 0
    for chunk in answer.iter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise AnswerTooLarge(f"Twilio answer larger than {MAX_ANSWER_BYTES} bytes; not read")
        chunks.append(chunk)
    return b"".join(chunks).decode(answer.encoding or "utf-8", errors="replace")
