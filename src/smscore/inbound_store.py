"""The in-memory store of received SMS, for tests and ``{"storage": "memory"}``.

It passes the same contract suite as the SQLAlchemy and Django adapters (``tests/contracts/inbound.py``) and is
what a service gets when its storage brings none (kept by that one process only).
"""

from __future__ import annotations

import threading

import attrs

from smscore.errors import DuplicateInboundError, InboundNotFoundError
from smscore.inbound import InboundQuery, InboundSMS

__all__ = ["InMemoryInboundRepository"]


class InMemoryInboundRepository:
    """A :class:`~smscore.ports.InboundRepository` in a dict, thread-safe; every method is atomic."""

    def __init__(self) -> None:
        self._rows: dict[int, InboundSMS] = {}
        self._refs: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def add(self, sms: InboundSMS) -> InboundSMS:
        """See :meth:`smscore.ports.InboundRepository.add`."""
        if sms.id is not None:
            raise ValueError("an inbound SMS to add must have no id yet")
        with self._lock:
            held = self._refs.get((sms.provider, sms.provider_ref))
            if held is not None:
                raise DuplicateInboundError(self._rows[held])
            stored = attrs.evolve(sms, id=len(self._rows) + 1)
            self._rows[stored.id or 0] = stored
            self._refs[(sms.provider, sms.provider_ref)] = stored.id or 0
            return stored

    def get(self, inbound_id: int) -> InboundSMS:
        """See :meth:`smscore.ports.InboundRepository.get`."""
        try:
            return self._rows[inbound_id]
        except KeyError:
            raise InboundNotFoundError(inbound_id) from None

    def find(self, query: InboundQuery) -> list[InboundSMS]:
        """See :meth:`smscore.ports.InboundRepository.find`."""
        found = [sms for sms in self._newest_first() if query.matches(sms)]
        return found[: None if query.limit is None else max(query.limit, 0)]

    def count(self, query: InboundQuery) -> int:
        """See :meth:`smscore.ports.InboundRepository.count`."""
        return sum(1 for sms in self._newest_first() if query.matches(sms))

    def _newest_first(self) -> list[InboundSMS]:
        with self._lock:
            return sorted(self._rows.values(), key=lambda sms: -(sms.id or 0))
