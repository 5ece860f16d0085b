"""A circuit breaker per named provider.

A provider whose publish calls fail as a whole (every message transient, or the call raised) ``threshold`` times
in a row is *open*: it is skipped in favour of the failover providers for ``cooldown`` seconds. After the
cool-down calls go through again (half-open, not limited to one call): a success closes the circuit, a failure
opens it again at once. When every provider a message may use is open, the outbox keeps the message waiting until
the first cool-down ends, without counting an attempt.

The state lives in the process: each worker learns on its own, which costs at most ``threshold`` failed calls
per worker.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Counts consecutive whole-call failures per provider name and opens after ``threshold`` of them."""

    def __init__(self, *, threshold: int, cooldown_seconds: float) -> None:
        self.threshold = threshold
        self.cooldown = timedelta(seconds=cooldown_seconds)
        self._failures: dict[str, int] = {}
        self._open_until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def is_open(self, name: str, now: datetime) -> bool:
        """True while ``name`` is cooling down after too many failures in a row."""
        with self._lock:
            until = self._open_until.get(name)
            return until is not None and now < until

    def open_until(self, name: str) -> datetime | None:
        """When ``name``'s last cool-down ends (or ended); None while it has not failed ``threshold`` times in a
        row."""
        with self._lock:
            return self._open_until.get(name)

    def record(self, name: str, *, ok: bool, now: datetime) -> None:
        """Record the result of one call to ``name``."""
        with self._lock:
            if ok:
                self._failures.pop(name, None)
                self._open_until.pop(name, None)
                return
            failures = self._failures.get(name, 0) + 1
            self._failures[name] = failures
            if failures >= self.threshold:
                self._open_until[name] = now + self.cooldown
