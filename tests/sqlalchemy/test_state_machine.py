"""A Hypothesis state machine drives the repository and a plain dict model side by side; they must agree.

Rules add (one or many, with colliding idempotency keys), save current and stale versions, claim, purge and
let time pass; after every step the whole table, the counts and the statistics must equal the model's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import StaticPool

from adapters_sqlalchemy import SQLAlchemyMessageRepository, metadata
from adapters_sqlalchemy.tables import MESSAGE_TABLE, RELATED_OBJECT_TABLE, TEMPLATE_TABLE
from smscore import (
    ConcurrentUpdateError,
    DuplicateIdempotencyKeyError,
    MessageNotFoundError,
    RelatedObject,
    SMSMessage,
    SMSState,
)
from tests.contracts.repositories import T0, make_message

ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7, minutes=-30))])
OFFSETS = st.integers(min_value=-600, max_value=600).map(lambda minutes: timedelta(minutes=minutes))


@st.composite
def moments(draw: st.DrawFn) -> datetime:
    """A time near T0, in one of a few zones."""
    return (T0 + draw(OFFSETS)).astimezone(draw(ZONES))


# A fixed pool of awkward strings: drawing free text would cost more time than it finds in SQL.
TEXT = st.sampled_from(["", "a", "Žofie 🐎", "ключ", "<&>\"'", "line\nbreak", "x" * 300, "0", "null"])
RELATED = st.lists(
    st.builds(RelatedObject, st.sampled_from(["shop.order", "auth.user"]), st.integers(-5, 10**12) | TEXT.filter(bool)),
    max_size=3,
    unique=True,
).map(tuple)
EXTRA = st.dictionaries(TEXT, st.none() | st.booleans() | st.integers(-(10**6), 10**6) | TEXT, max_size=3)


@st.composite
def new_messages(draw: st.DrawFn) -> SMSMessage:
    """An unsaved message with most fields drawn from small pools (so filters and keys collide)."""
    created = draw(moments())
    return make_message(
        recipient=draw(st.sampled_from(["+420777000001", "+420777000002", "+14155550100"])),
        content=draw(TEXT.filter(bool)),
        state=draw(st.just(SMSState.WAITING) | st.sampled_from(SMSState)),
        created_at=created,
        changed_at=created,
        sent_at=draw(st.none() | moments()),
        tag=draw(st.none() | st.sampled_from(["a", "b"])),
        provider=draw(st.none() | st.sampled_from(["default", "backup"])),
        provider_ref=draw(st.none() | st.sampled_from(["r1", "r2", "r3"])),
        idempotency_key=draw(st.none() | st.sampled_from(["k1", "k2", "k3", "k4"])),
        priority=draw(st.integers(1, 3)),
        next_attempt_at=draw(st.none() | st.none() | moments()),
        lease_expires_at=draw(st.none() | st.none() | moments()),
        extra_data=draw(EXTRA),
        related_objects=draw(RELATED),
        price=draw(st.none() | st.decimals(min_value=0, max_value=100, places=4).map(Decimal)),
    )


CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "state": st.sampled_from(SMSState),
        "error": st.none() | TEXT,
        "changed_at": moments(),
        "lease_expires_at": st.none() | moments(),
        "next_attempt_at": st.none() | moments(),
        "attempts": st.integers(0, 5),
        "extra_sender_data": EXTRA,
        "related_objects": RELATED,
        "provider_ref": st.none() | st.sampled_from(["r1", "r2", "r4"]),
    },
)


def machine_for(make_repo: Callable[[], tuple[SQLAlchemyMessageRepository, Callable[[], None]]]) -> type:
    """A state machine class whose every run starts from ``make_repo()``: an empty repository and its cleanup."""

    class RepositoryMachine(RuleBasedStateMachine):
        ids = Bundle("ids")

        def __init__(self) -> None:
            super().__init__()
            self.repo, self._cleanup = make_repo()
            self.model: dict[int, SMSMessage] = {}
            self.now = T0

        def teardown(self) -> None:
            self._cleanup()

        def _holder(self, key: str | None) -> SMSMessage | None:
            return next((m for m in self.model.values() if key is not None and m.idempotency_key == key), None)

        @initialize(
            target=ids,
            batch=st.lists(new_messages(), min_size=3, max_size=8, unique_by=lambda m: m.idempotency_key or object()),
        )
        def seed(self, batch: list[SMSMessage]) -> Any:
            stored = self.repo.add_many(batch)
            self.model.update((m.id or 0, m) for m in stored)
            return multiple(*(m.id for m in stored))

        @rule(target=ids, message=new_messages())
        def add(self, message: SMSMessage) -> Any:
            holder = self._holder(message.idempotency_key)
            if holder is not None:
                with pytest.raises(DuplicateIdempotencyKeyError) as info:
                    self.repo.add(message)
                assert info.value.existing == holder
                return multiple()
            stored = self.repo.add(message)
            assert stored == attrs.evolve(message, id=stored.id)
            assert all((stored.id or 0) > i for i in self.model)
            self.model[stored.id or 0] = stored
            return stored.id

        @rule(
            target=ids,
            batch=st.lists(
                new_messages().map(lambda m: attrs.evolve(m, state=SMSState.WAITING, lease_expires_at=None)),
                min_size=2,
                max_size=5,
                unique_by=lambda m: m.idempotency_key or object(),
            ),
        )
        def add_due(self, batch: list[SMSMessage]) -> Any:
            """Unleased WAITING messages, so that claims have several candidates to order."""
            return self.add_many(batch)

        @rule(target=ids, batch=st.lists(new_messages(), min_size=1, max_size=4))
        def add_many(self, batch: list[SMSMessage]) -> Any:
            keys = [m.idempotency_key for m in batch if m.idempotency_key is not None]
            if len(keys) != len(set(keys)):
                with pytest.raises(ValueError, match="twice"):
                    self.repo.add_many(batch)
                return multiple()
            taken = next((h for h in map(self._holder, keys) if h is not None), None)
            if taken is not None:
                with pytest.raises(DuplicateIdempotencyKeyError) as info:
                    self.repo.add_many(batch)
                assert info.value.existing == taken
                return multiple()
            stored = self.repo.add_many(batch)
            assert [attrs.evolve(m, id=None) for m in stored] == batch
            self.model.update((m.id or 0, m) for m in stored)
            return multiple(*(m.id for m in stored))

        @rule(message_id=ids, changes=CHANGES)
        def save_current(self, message_id: int, changes: dict[str, Any]) -> None:
            current = self.model.get(message_id)
            if current is None:
                with pytest.raises(MessageNotFoundError):
                    self.repo.save(make_message(id=message_id))
                return
            saved = self.repo.save(attrs.evolve(current, **changes))
            assert saved.version == current.version + 1
            # Related objects are written once, by add: a save leaves them as stored.
            self.model[message_id] = attrs.evolve(saved, related_objects=current.related_objects)

        @rule(message_id=ids, changes=CHANGES)
        def save_stale(self, message_id: int, changes: dict[str, Any]) -> None:
            current = self.model.get(message_id)
            if current is None or current.version == 0:
                return
            with pytest.raises(ConcurrentUpdateError):
                self.repo.save(attrs.evolve(current, version=current.version - 1, **changes))

        @rule(first=ids, second=ids, changes=CHANGES)
        def save_many_with_one_stale(self, first: int, second: int, changes: dict[str, Any]) -> None:
            a, b = self.model.get(first), self.model.get(second)
            if a is None or b is None or first == second or b.version == 0:
                return
            with pytest.raises(ConcurrentUpdateError) as info:
                self.repo.save_many([attrs.evolve(a, **changes), attrs.evolve(b, version=b.version - 1)])
            assert info.value.message_ids == (second,)

        @rule(limit=st.integers(1, 3), lease=OFFSETS)
        def claim(self, limit: int, lease: timedelta) -> None:
            due = sorted(
                (
                    m
                    for m in self.model.values()
                    if m.state is SMSState.WAITING
                    and m.lease_expires_at is None
                    and m.next_attempt_at is not None
                    and m.next_attempt_at <= self.now
                ),
                key=lambda m: (m.priority, m.next_attempt_at or self.now, m.id or 0),
            )[:limit]
            until = self.now + lease
            claimed = self.repo.claim(now=self.now, lease_until=until, limit=limit)
            expected = [attrs.evolve(m, lease_expires_at=until, version=m.version + 1) for m in due]
            assert claimed == expected
            self.model.update((m.id or 0, m) for m in claimed)

        @rule(limit=st.integers(1, 4), states=st.sets(st.sampled_from(SMSState), min_size=1))
        def purge(self, limit: int, states: set[SMSState]) -> None:
            doomed = sorted(i for i, m in self.model.items() if m.state in states and m.changed_at < self.now)[:limit]
            assert self.repo.purge(states=states, changed_before=self.now, limit=limit) == len(doomed)
            for i in doomed:
                del self.model[i]

        @rule(step=OFFSETS)
        def let_time_pass(self, step: timedelta) -> None:
            self.now += step

        @rule(
            states=st.sets(st.sampled_from(SMSState), min_size=1),
            after=st.integers(0, 30),
            limit=st.integers(1, 5),
            provider=st.none() | st.sampled_from(["default", "backup"]),
        )
        def scan(self, states: set[SMSState], after: int, limit: int, provider: str | None) -> None:
            expected = [
                self.model[i]
                for i in sorted(self.model)
                if i > after
                and self.model[i].state in states
                and (provider is None or self.model[i].provider == provider)
            ][:limit]
            assert self.repo.scan(states=states, after_id=after, limit=limit, provider=provider) == expected

        @rule(message_id=ids)
        def get(self, message_id: int) -> None:
            if message_id in self.model:
                assert self.repo.get(message_id) == self.model[message_id]
            else:
                with pytest.raises(MessageNotFoundError):
                    self.repo.get(message_id)

        @rule()
        def expired_leases(self) -> None:
            expected = [
                self.model[i]
                for i in sorted(self.model)
                if self.model[i].state is SMSState.WAITING
                and self.model[i].lease_expires_at is not None
                and (self.model[i].lease_expires_at or self.now) < self.now
            ][:3]
            assert self.repo.find_expired_leases(now=self.now, limit=3) == expected

        @invariant()
        def the_table_equals_the_model(self) -> None:
            assert self.repo.find() == [self.model[i] for i in sorted(self.model, reverse=True)]
            assert self.repo.count() == len(self.model)
            counts: dict[tuple[str | None, SMSState], int] = {}
            for m in self.model.values():
                counts[(m.provider, m.state)] = counts.get((m.provider, m.state), 0) + 1
            assert self.repo.stats() == counts

        @rule(key=st.sampled_from(["k1", "k2", "k3", "k4"]))
        def get_by_idempotency_key(self, key: str) -> None:
            assert self.repo.get_by_idempotency_key(key) == self._holder(key)

        @rule(ref=st.sampled_from(["r1", "r2", "r4"]), provider=st.none() | st.sampled_from(["default", "backup"]))
        def get_by_provider_ref(self, ref: str, provider: str | None) -> None:
            expected = next(
                (
                    self.model[i]
                    for i in sorted(self.model)
                    if self.model[i].provider_ref == ref and (provider is None or self.model[i].provider == provider)
                ),
                None,
            )
            assert self.repo.get_by_provider_ref(ref, provider=provider) == expected

    return RepositoryMachine


MACHINE_SETTINGS = settings(
    max_examples=20,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_the_repository_on_sqlite_behaves_like_the_model() -> None:
    """Random sequences of operations on SQLite leave it equal to the dict model after every step."""

    def fresh() -> tuple[SQLAlchemyMessageRepository, Callable[[], None]]:
        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        metadata.create_all(engine)
        return SQLAlchemyMessageRepository(engine), engine.dispose

    run_state_machine_as_test(machine_for(fresh), settings=MACHINE_SETTINGS)


@pytest.mark.postgres
def test_the_repository_on_postgres_behaves_like_the_model(postgres_session_engine: Engine) -> None:
    """The same machine on PostgreSQL, the tables emptied before every run."""

    def fresh() -> tuple[SQLAlchemyMessageRepository, Callable[[], None]]:
        with postgres_session_engine.begin() as conn:
            conn.execute(
                text(f"TRUNCATE {RELATED_OBJECT_TABLE}, {MESSAGE_TABLE}, {TEMPLATE_TABLE} RESTART IDENTITY CASCADE")
            )
        return SQLAlchemyMessageRepository(postgres_session_engine), lambda: None

    run_state_machine_as_test(machine_for(fresh), settings=settings(MACHINE_SETTINGS, max_examples=10))
