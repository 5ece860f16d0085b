"""Hostile loopback peers for deadline tests: a real TCP server on 127.0.0.1 that reads each HTTP request whole,
then trickles its answer one byte at a time (the status line and headers, or the body), or resets the connection.

>>> with TricklingPeer(mode="headers", interval=0.1) as peer:       # doctest: +SKIP
...     backend = ATSSMSBackend.from_options({"url": peer.url, "timeout": 1, ...})
...     backend.publish([message])                                   # returns after about one second

``mode``: ``"headers"`` sends the status line and headers one byte per ``interval``; ``"body"`` sends the
headers at once, then the body one byte per ``interval``; ``"reset"`` answers nothing and resets the connection
(``SO_LINGER`` 0, so the client sees a RST). The answer is ``status`` with ``body`` (``Content-Length`` set), so a
peer that trickled long enough would complete a valid exchange: the test proves the client gave up, not the peer.
:attr:`TricklingPeer.requests` counts the requests read whole; :attr:`TricklingPeer.bytes_sent` the bytes sent.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Self

__all__ = ["TricklingPeer"]


class TricklingPeer:
    """See the module docstring. Use as a context manager; every connection thread ends on exit."""

    def __init__(
        self,
        *,
        mode: str = "body",
        interval: float = 0.05,
        status: int = 200,
        body: bytes = b"x" * 4096,
        content_type: str = "text/xml; charset=utf-8",
    ) -> None:
        if mode not in {"headers", "body", "reset"}:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.interval = interval
        self.head = (
            f"HTTP/1.1 {status} Whatever\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.body = body
        self.requests = 0
        self.bytes_sent = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base_url}/gateway"
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop trickling and accepting; join every thread."""
        self._stop.set()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.settimeout(5)
            while not self._stop.is_set() and self._read_request(connection):
                with self._lock:
                    self.requests += 1
                if self.mode == "reset":
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if self.mode == "body":
                    self._send(connection, self.head)
                for index in range(len(self.head) if self.mode == "headers" else 0):
                    if not self._trickle(connection, self.head[index : index + 1]):
                        return
                for index in range(len(self.body)):
                    if not self._trickle(connection, self.body[index : index + 1]):
                        return

    def _trickle(self, connection: socket.socket, data: bytes) -> bool:
        if self._stop.wait(self.interval):
            return False
        return self._send(connection, data)

    def _send(self, connection: socket.socket, data: bytes) -> bool:
        try:
            connection.sendall(data)
        except OSError:
            return False
        with self._lock:
            self.bytes_sent += len(data)
        return True

    @staticmethod
    def _read_request(connection: socket.socket) -> bool:
        """Read one request (headers and a ``Content-Length`` body); False when the client went away."""
        data = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    return False
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            while len(rest) < length:
                chunk = connection.recv(65536)
                if not chunk:
                    return False
                rest += chunk
            return True
        return False
