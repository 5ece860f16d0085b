"""Fakes for tests, yours and ours.

They behave like the real adapters and pass the same contract suites, so a test written against them says
something true about production::

    from smscore import build_service
    from smscore.testing import FixedClock, ScriptedProvider, InMemoryMessageRepository, InMemoryTemplateRepository
    from smscore import SMSService, Outcome, SMSState

    provider = ScriptedProvider()
    provider.will(Outcome.rejected("blocked"))          # the next message is rejected, later ones accepted
    service = SMSService(
        messages=InMemoryMessageRepository(),
        templates=InMemoryTemplateRepository(),
        providers={"default": provider},
        clock=FixedClock(),
    )
    assert service.send("+420777123456", "hi").failed
    assert service.send("+420777123456", "hi again").state is SMSState.SENT
    assert [m.content for m in provider.published] == ["hi", "hi again"]

``build_service({"storage": "memory"})`` uses the in-memory repositories too.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import attrs

from smscore.async_ports import AsyncStorage, call_directly
from smscore.errors import (
    ConcurrentUpdateError,
    DuplicateIdempotencyKeyError,
    MessageNotFoundError,
    TemplateNotFoundError,
)
from smscore.guard_stores import InMemoryOptOutRepository, InMemoryRefusalCounter
from smscore.guards import RecipientLimit, within_limits
from smscore.inbound_store import InMemoryInboundRepository
from smscore.message import MUTABLE_FIELDS, SMSMessage
from smscore.outcome import Outcome
from smscore.ports import MessageRepository, Storage, check_new_batch, check_reservation
from smscore.query import MessageQuery
from smscore.states import SMSState
from smscore.templates import JinjaRenderer, SMSTemplate, TemplateRenderer, default_renderer

if TYPE_CHECKING:
    from smscore.config import SMSConfig

__all__ = [
    "FixedClock",
    "InMemoryInboundRepository",
    "InMemoryMessageRepository",
    "InMemoryOptOutRepository",
    "InMemoryRateLimiter",
    "InMemoryRefusalCounter",
    "InMemoryTemplateRepository",
    "MemoryStorageFactory",
    "ScriptedProvider",
    "memory_storage",
]


class FixedClock:
    """A clock that stands still until told to move. Starts at 2030-01-01 00:00 UTC unless given a time."""

    def __init__(self, at: datetime | None = None) -> None:
        self._now = at or datetime(2030, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")

    def now(self) -> datetime:
        """The fixed time."""
        return self._now

    def advance(self, **delta: float) -> datetime:
        """Move forward by ``timedelta(**delta)`` (``advance(minutes=5)``) and return the new time."""
        self._now += timedelta(**delta)
        return self._now

    def set(self, at: datetime) -> None:
        """Jump to ``at``."""
        self._now = at


class InMemoryMessageRepository(MessageRepository):
    """A :class:`~smscore.ports.MessageRepository` in a dict, thread-safe; every method is atomic."""

    def __init__(self) -> None:
        self._rows: dict[int, SMSMessage] = {}
        self._keys: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    def add(self, message: SMSMessage) -> SMSMessage:
        """See :meth:`smscore.ports.MessageRepository.add`."""
        return self.add_many([message])[0]

    def add_many(self, messages: Sequence[SMSMessage]) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.add_many`."""
        with self._lock:
            for key in check_new_batch(messages):
                if key in self._keys:
                    raise DuplicateIdempotencyKeyError(self._rows[self._keys[key]])
            stored = [m.replace(id=next(self._ids)) for m in messages]
            for message in stored:
                assert message.id is not None
                self._rows[message.id] = message
                if message.idempotency_key is not None:
                    self._keys[message.idempotency_key] = message.id
            return stored

    def add_within_limits(
        self, messages: Sequence[SMSMessage], limits: Mapping[str, RecipientLimit]
    ) -> list[SMSMessage | None]:
        """See :meth:`smscore.ports.MessageRepository.add_within_limits`: counted and stored under the lock."""
        with self._lock:
            allowed = within_limits(messages, limits, self._created_since)
            stored = iter(self.add_many([m for m, ok in zip(messages, allowed, strict=True) if ok]))
            return [next(stored) if ok else None for ok in allowed]

    def _created_since(self, recipient: str, tag: str, since: datetime) -> int:
        return sum(1 for m in self._rows.values() if m.recipient == recipient and m.tag == tag and m.created_at > since)

    def get(self, message_id: int) -> SMSMessage:
        """See :meth:`smscore.ports.MessageRepository.get`."""
        try:
            return self._rows[message_id]
        except KeyError:
            raise MessageNotFoundError(message_id) from None

    def save(self, message: SMSMessage) -> SMSMessage:
        """See :meth:`smscore.ports.MessageRepository.save`."""
        return self.save_many([message])[0]

    def save_many(self, messages: Sequence[SMSMessage]) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.save_many`."""
        with self._lock:
            conflicts = []
            for message in messages:
                if message.id is None or message.id not in self._rows:
                    raise MessageNotFoundError(message.id if message.id is not None else 0)
                if self._rows[message.id].version != message.version:
                    conflicts.append(message.id)
            if conflicts:
                raise ConcurrentUpdateError(conflicts)
            saved = [
                self._rows[m.id or 0].replace(
                    **{name: getattr(m, name) for name in MUTABLE_FIELDS - {"version"}}, version=m.version + 1
                )
                for m in messages
            ]
            for message in saved:
                assert message.id is not None
                self._rows[message.id] = message
            return saved

    def fetch(self, query: MessageQuery) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.fetch`."""
        if query.is_empty:
            return []
        with self._lock:
            found = [m for m in self._rows.values() if query.matches(m)]
        found.sort(key=lambda m: m.id or 0, reverse=query.newest_first)
        return found if query.limit is None else found[: query.limit]

    def tally(self, query: MessageQuery) -> int:
        """See :meth:`smscore.ports.MessageRepository.tally`."""
        with self._lock:
            return sum(1 for m in self._rows.values() if query.matches(m))

    def stats(self) -> dict[tuple[str | None, SMSState], int]:
        """See :meth:`smscore.ports.MessageRepository.stats`."""
        counts: dict[tuple[str | None, SMSState], int] = {}
        with self._lock:
            for m in self._rows.values():
                counts[(m.provider, m.state)] = counts.get((m.provider, m.state), 0) + 1
        return counts

    def get_by_idempotency_key(self, key: str) -> SMSMessage | None:
        """See :meth:`smscore.ports.MessageRepository.get_by_idempotency_key`."""
        with self._lock:
            message_id = self._keys.get(key)
            return None if message_id is None else self._rows[message_id]

    def get_by_provider_ref(self, provider_ref: str, *, provider: str | None = None) -> SMSMessage | None:
        """See :meth:`smscore.ports.MessageRepository.get_by_provider_ref`."""
        with self._lock:
            for m in self._rows.values():
                if m.provider_ref == provider_ref and (provider is None or m.provider == provider):
                    return m
        return None

    def claim(self, *, now: datetime, lease_until: datetime, limit: int) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.claim`."""
        with self._lock:
            due = [
                (m.priority, m.next_attempt_at, m.id or 0, m)
                for m in self._rows.values()
                if m.state is SMSState.WAITING
                and m.lease_expires_at is None
                and m.next_attempt_at is not None
                and m.next_attempt_at <= now
            ]
            due.sort(key=lambda entry: entry[:3])
            claimed = [m.replace(lease_expires_at=lease_until, version=m.version + 1) for *_, m in due[:limit]]
            for m in claimed:
                assert m.id is not None
                self._rows[m.id] = m
            return claimed

    def find_expired_leases(self, *, now: datetime, limit: int) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.find_expired_leases`."""
        with self._lock:
            rows = sorted(self._rows.values(), key=lambda m: m.id or 0)
            return [
                m
                for m in rows
                if m.state is SMSState.WAITING and m.lease_expires_at is not None and m.lease_expires_at < now
            ][:limit]

    def purge(self, *, states: Collection[SMSState], changed_before: datetime, limit: int) -> int:
        """See :meth:`smscore.ports.MessageRepository.purge`."""
        wanted = set(states)
        with self._lock:
            doomed = sorted(i for i, m in self._rows.items() if m.state in wanted and m.changed_at < changed_before)
            for i in doomed[:limit]:
                message = self._rows.pop(i)
                if message.idempotency_key is not None:
                    self._keys.pop(message.idempotency_key, None)
            return len(doomed[:limit])


class InMemoryTemplateRepository:
    """A :class:`~smscore.ports.TemplateRepository` in a dict; bodies are checked by ``renderer`` when saved
    (by default :func:`~smscore.templates.default_renderer`)."""

    def __init__(
        self,
        templates: Iterable[SMSTemplate] = (),
        *,
        clock: Callable[[], datetime] | None = None,
        renderer: TemplateRenderer | None = None,
    ) -> None:
        self._now = clock or (lambda: datetime.now(UTC))
        self._renderer = renderer or default_renderer()
        self._rows: dict[str, SMSTemplate] = {}
        for template in templates:
            self.save(template)

    def get(self, slug: str) -> SMSTemplate:
        """See :meth:`smscore.ports.TemplateRepository.get`."""
        try:
            return self._rows[slug]
        except (KeyError, TypeError):
            raise TemplateNotFoundError(str(slug)) from None

    def save(self, template: SMSTemplate) -> SMSTemplate:
        """See :meth:`smscore.ports.TemplateRepository.save`."""
        self._renderer.validate(template.get_body())
        now = self._now()
        existing = self._rows.get(template.slug)
        created = template.created_at or (existing.created_at if existing else None) or now
        stored = attrs.evolve(template, created_at=created, changed_at=now)
        self._rows[template.slug] = stored
        return stored

    def delete(self, slug: str) -> None:
        """See :meth:`smscore.ports.TemplateRepository.delete`."""
        if self._rows.pop(slug, None) is None:
            raise TemplateNotFoundError(slug)

    def list(self) -> list[SMSTemplate]:
        """See :meth:`smscore.ports.TemplateRepository.list`."""
        return [self._rows[slug] for slug in sorted(self._rows)]


class InMemoryRateLimiter:
    """A :class:`~smscore.ports.RateLimiter` for one process (thread-safe)."""

    def __init__(self) -> None:
        self._next_free: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, count: int, *, interval: float, now: datetime) -> datetime:
        """See :meth:`smscore.ports.RateLimiter.reserve`."""
        check_reservation(count, interval, now)
        with self._lock:
            start = max(now, self._next_free.get(key, now))
            self._next_free[key] = start + timedelta(seconds=interval * count)
            return start


class ScriptedProvider:
    """A provider that answers from a script, records what it got, and can be asked about delivery.

    With an empty script every message is accepted in ``default_state`` (SENT) with reference
    ``"scripted-<id>"``. :meth:`will` queues outcomes (or exceptions to raise) for the next messages;
    :meth:`report` sets what the next delivery check says about a message. ``published`` lists every message
    handed over, in order; ``batches`` the size of every ``publish`` call; ``closed`` whether :meth:`close` was
    called.
    """

    def __init__(
        self,
        *,
        default_state: SMSState = SMSState.SENT,
        max_batch_size: int = 100,
        can_check_by_our_id: bool = False,
    ) -> None:
        self.default_state = default_state
        self.max_batch_size = max_batch_size
        self.can_check_by_our_id = can_check_by_our_id
        self.published: list[SMSMessage] = []
        self.batches: list[int] = []
        self.checked: list[SMSMessage] = []
        self.closed = False
        self._script: list[Outcome | BaseException] = []
        self._reports: dict[int, Outcome] = {}
        self._lock = threading.Lock()

    def will(self, *answers: Outcome | BaseException) -> None:
        """Queue answers for the next published messages; an exception makes that ``publish`` call raise."""
        with self._lock:
            self._script.extend(answers)

    def report(self, message_id: int, outcome: Outcome) -> None:
        """Make delivery checks report ``outcome`` for ``message_id`` from now on."""
        self._reports[message_id] = outcome

    def publish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        """Answer each message from the script, or accept it."""
        with self._lock:
            self.batches.append(len(messages))
            outcomes = []
            for message in messages:
                answer = self._script.pop(0) if self._script else None
                if isinstance(answer, BaseException):
                    raise answer
                self.published.append(message)
                outcomes.append(answer or Outcome.accepted(self.default_state, provider_ref=f"scripted-{message.id}"))
            return outcomes

    def bulk_check_sms_states(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        """What :meth:`report` said about each message, else None (nothing new)."""
        self.checked.extend(messages)
        return [self._reports.get(m.id or 0) for m in messages]

    def close(self) -> None:
        """Remember that the provider was closed (``closed``); it holds nothing to release."""
        self.closed = True


class MemoryStorageFactory:
    """The storage factory ``{"storage": "memory"}`` names (:data:`memory_storage`): fresh in-memory repositories
    (template bodies checked within the configured render budget), for the sync service or the asyncio one."""

    def __call__(self, config: SMSConfig) -> Storage:
        """Fresh, empty in-memory repositories and rate limiter."""
        return Storage(
            messages=InMemoryMessageRepository(),
            templates=InMemoryTemplateRepository(renderer=JinjaRenderer(budget=config.render_budget)),
            rate_limiter=InMemoryRateLimiter(),
            opt_outs=InMemoryOptOutRepository(),
            refusals=InMemoryRefusalCounter(),
            inbound=InMemoryInboundRepository(),
        )

    def build_async(self, config: SMSConfig) -> AsyncStorage:
        """The same repositories for the asyncio service, called directly on the loop: they never wait (their
        locks are held only within one call, never across an ``await``)."""
        return AsyncStorage(storage=self(config), run=call_directly, aclose=_nothing_to_release)


#: Storage factory for ``{"storage": "memory"}``: ``memory_storage(config)``; see :class:`MemoryStorageFactory`.
memory_storage: Final = MemoryStorageFactory()


async def _nothing_to_release() -> None:
    """``aclose`` of the in-memory storage: it holds no resource."""
