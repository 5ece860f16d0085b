"""In-memory stores of the guards: the opt-out list and the refusal totals, for tests and ``{"storage": "memory"}``.

They pass the same contract suites as the SQLAlchemy and Django adapters (``tests/contracts/opt_outs.py``) and are
what a service gets when its storage brings none (kept by that one process only).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Mapping

from smscore.guards import OptOut

__all__ = ["InMemoryOptOutRepository", "InMemoryRefusalCounter"]


class InMemoryOptOutRepository:
    """A :class:`~smscore.ports.OptOutRepository` in a dict, thread-safe; every method is atomic."""

    def __init__(self) -> None:
        self._entries: dict[str, OptOut] = {}
        self._lock = threading.Lock()

    def add(self, opt_out: OptOut) -> OptOut:
        """See :meth:`smscore.ports.OptOutRepository.add`."""
        with self._lock:
            return self._entries.setdefault(opt_out.recipient, opt_out)

    def add_many(self, opt_outs: Iterable[OptOut]) -> int:
        """See :meth:`smscore.ports.OptOutRepository.add_many`."""
        with self._lock:
            before = len(self._entries)
            for opt_out in opt_outs:
                self._entries.setdefault(opt_out.recipient, opt_out)
            return len(self._entries) - before

    def remove(self, recipient: str) -> OptOut | None:
        """See :meth:`smscore.ports.OptOutRepository.remove`."""
        with self._lock:
            return self._entries.pop(recipient, None)

    def get(self, recipient: str) -> OptOut | None:
        """See :meth:`smscore.ports.OptOutRepository.get`."""
        return self._entries.get(recipient)

    def contains(self, recipient: str) -> bool:
        """See :meth:`smscore.ports.OptOutRepository.contains`."""
        return recipient in self._entries

    def among(self, recipients: Collection[str]) -> set[str]:
        """See :meth:`smscore.ports.OptOutRepository.among`."""
        return {recipient for recipient in recipients if recipient in self._entries}

    def list(self, *, limit: int | None = None, after: str | None = None) -> list[OptOut]:
        """See :meth:`smscore.ports.OptOutRepository.list`."""
        with self._lock:
            numbers = sorted(n for n in self._entries if after is None or n > after)
            return [self._entries[n] for n in numbers[: None if limit is None else max(limit, 0)]]

    def count(self) -> int:
        """See :meth:`smscore.ports.OptOutRepository.count`."""
        return len(self._entries)


class InMemoryRefusalCounter:
    """A :class:`~smscore.ports.RefusalCounter` in a dict, thread-safe."""

    def __init__(self) -> None:
        self._totals: dict[tuple[str, str | None], int] = {}
        self._lock = threading.Lock()

    def add(self, counts: Mapping[tuple[str, str | None], int]) -> None:
        """See :meth:`smscore.ports.RefusalCounter.add`."""
        with self._lock:
            for key, count in counts.items():
                self._totals[key] = self._totals.get(key, 0) + count

    def totals(self) -> dict[tuple[str, str | None], int]:
        """See :meth:`smscore.ports.RefusalCounter.totals`."""
        with self._lock:
            return {key: count for key, count in self._totals.items() if count}
