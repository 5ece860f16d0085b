"""Whole-request deadlines: a bound on connecting, sending and reading the whole answer of one HTTP exchange.

A per-read timeout does not bound a request: a peer that trickles one byte a second never lets a read time out.
:func:`deadline` opens a deadline for the HTTP exchanges made inside it (a context variable, so threads and
requests do not share one), and :func:`transport` is an ``httpx`` transport whose network streams give every
connect, TLS handshake, write and read only the time left until that deadline. Once it has passed, the next
network operation fails at once with the timeout ``httpx`` already classifies (``ConnectTimeout`` before the
request left, ``WriteTimeout``/``ReadTimeout`` after), so a trickling peer ends the request at the deadline, to
within one operation's slack. No thread and no timer: the cost is a clock read per network operation.
:func:`bounded_client` builds an ``httpx.Client`` on such transports, proxies from the environment included
(``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``, as ``httpx`` reads them);
:func:`bounded_async_client` the ``httpx.AsyncClient`` twin for the event loop, bounded by the same deadlines
(each asyncio task has its own context, so concurrent requests keep their own deadlines).
"""

from __future__ import annotations

import functools
import ipaddress
import ssl
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import httpcore
import httpx

__all__ = [
    "async_transport",
    "bounded_async_client",
    "bounded_client",
    "deadline",
    "default_tls",
    "remaining",
    "transport",
]

_Transport = TypeVar("_Transport", httpx.HTTPTransport, httpx.AsyncHTTPTransport)

_DEADLINE: ContextVar[float | None] = ContextVar("providers_deadline", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Bound the HTTP exchanges made inside the block to ``seconds`` in all (an enclosing, earlier deadline
    stays); yields the deadline as a :func:`time.monotonic` instant."""
    outer = _DEADLINE.get()
    at = time.monotonic() + seconds
    if outer is not None:
        at = min(at, outer)
    token = _DEADLINE.set(at)
    try:
        yield at
    finally:
        _DEADLINE.reset(token)


def remaining(timeout: float | None, error: type[Exception]) -> float | None:
    """The time one network operation may take: ``timeout`` cut to what is left of the current deadline.

    Raises ``error`` when the deadline has passed; ``timeout`` unchanged outside any deadline.
    """
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the whole-request deadline has passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the current deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, remaining(timeout, httpcore.ConnectTimeout))
        return _Stream(tls)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """Opens connections that end by the current deadline (see :class:`_Stream`)."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = remaining(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        left = remaining(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    """The event loop's :class:`_Stream`."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._inner = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, remaining(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, remaining(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        left = remaining(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    """The event loop's :class:`_Backend`."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._inner = backend

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, *other: Any, **named: Any
    ) -> httpcore.AsyncNetworkStream:
        # The local address and socket options go through untouched.
        left = remaining(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.connect_tcp(host, port, left, *other, **named))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        left = remaining(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.connect_unix_socket(path, left, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def default_tls() -> ssl.SSLContext:
    """The verifying TLS context every transport of the process shares, built on first use as ``httpx`` builds
    its default (the ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` the environment names then, else certifi's
    authorities). Loading the authorities is nearly all a client's construction costs (tens of milliseconds), and
    a context serves any number of connections and threads."""
    return httpx.create_ssl_context()


def transport(*, limits: httpx.Limits, proxy: str | None = None) -> httpx.HTTPTransport:
    """An ``httpx`` transport (TLS verified with :func:`default_tls`; through ``proxy`` when given) whose exchanges
    end by the :func:`deadline` they run under."""
    made = httpx.HTTPTransport(limits=limits, proxy=proxy, verify=default_tls())
    # httpx builds its connection pool without a way to pass a network backend: the pool's is wrapped.
    pool: Any = made._pool
    pool._network_backend = _Backend(pool._network_backend)
    return made


def async_transport(*, limits: httpx.Limits, proxy: str | None = None) -> httpx.AsyncHTTPTransport:
    """The event loop's :func:`transport`, on the same shared :func:`default_tls`."""
    made = httpx.AsyncHTTPTransport(limits=limits, proxy=proxy, verify=default_tls())
    pool: Any = made._pool
    pool._network_backend = _AsyncBackend(pool._network_backend)
    return made


def _client_settings(
    make: Callable[..., _Transport],
    *,
    timeout: httpx.Timeout,
    max_connections: int,
    headers: dict[str, str] | None,
) -> dict[str, Any]:
    """The keyword arguments of a bounded client whose transports ``make`` builds (one per proxy route)."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    mounts = {
        pattern: None if proxy is None else make(limits=limits, proxy=proxy)
        for pattern, proxy in _environment_proxies().items()
    }
    return {
        "timeout": timeout,
        "transport": make(limits=limits),
        "mounts": mounts,
        "follow_redirects": False,
        "headers": headers,
    }


def bounded_client(
    *, timeout: httpx.Timeout, max_connections: int = 10, headers: dict[str, str] | None = None
) -> httpx.Client:
    """An ``httpx.Client`` (keep-alive, no redirects) whose exchanges end by the :func:`deadline` they run under,
    going through the proxies the environment names."""
    return httpx.Client(
        **_client_settings(transport, timeout=timeout, max_connections=max_connections, headers=headers)
    )


def bounded_async_client(
    *, timeout: httpx.Timeout, max_connections: int = 10, headers: dict[str, str] | None = None
) -> httpx.AsyncClient:
    """The event loop's :func:`bounded_client`: an ``httpx.AsyncClient`` bounded by the same deadlines. Build it
    inside the running loop that uses it."""
    return httpx.AsyncClient(
        **_client_settings(async_transport, timeout=timeout, max_connections=max_connections, headers=headers)
    )


def _environment_proxies() -> dict[str, str | None]:
    """URL patterns and the proxy each goes through (None: straight), as ``httpx`` reads the environment."""
    found = urllib.request.getproxies()
    bypassed = [host.strip() for host in found.get("no", "").split(",") if host.strip()]
    if "*" in bypassed:
        return {}
    routes: dict[str, str | None] = {
        f"{scheme}://": url if "://" in url else f"http://{url}"
        for scheme in ("http", "https", "all")
        if (url := found.get(scheme))
    }
    for host in bypassed:
        routes[_bypass_pattern(host)] = None
    return routes


def _bypass_pattern(host: str) -> str:
    if "://" in host:
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        # A domain: itself and its subdomains (curl's NO_PROXY reading).
        return f"all://{host}" if host.lower() == "localhost" else f"all://*{host}"
    return f"all://[{host}]" if address.version == 6 else f"all://{host}"
