"""Message queries and outbox claims on SQLite's driver: the same messages, in the same order, as through
SQLAlchemy's ``Connection``, for every shape of query; one compiled statement per shape, and only so many kept."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.dialects import postgresql

from adapters_sqlalchemy import SQLAlchemyMessageRepository, repositories
from adapters_sqlalchemy.reads import MessageReader
from adapters_sqlalchemy.tables import tables
from smscore import MessageQuery, RelatedObject, SMSMessage, SMSState
from tests.contracts.repositories import T0, make_message
from tests.sqlalchemy.statements import listened_statements, traced_statements

STATES = (SMSState.WAITING, SMSState.SENDING, SMSState.DELIVERED, SMSState.ERROR)


@pytest.fixture
def engine(sqlite_file_engine: Engine) -> Engine:
    """The reader's database: a migrated SQLite file (the module reads SQLite only)."""
    return sqlite_file_engine


@pytest.fixture
def stored(engine: Engine) -> list[SMSMessage]:
    """620 messages that differ in every column a query filters on, some with related objects, prices and data
    (more than one page of related-object look-ups)."""
    repo = SQLAlchemyMessageRepository(engine)
    batch = []
    for i in range(620):
        state = STATES[i % len(STATES)]
        sent = T0 + timedelta(minutes=i) if state is not SMSState.WAITING else None
        batch.append(
            make_message(
                recipient=f"+42077712{i % 7:04d}",
                tag=("alerts", "news", None)[i % 3],
                provider=("default", "backup")[i % 2],
                state=state,
                sent_at=sent,
                changed_at=T0 + timedelta(seconds=i),
                price=Decimal("0.0125") if i % 5 == 0 else None,
                price_unit="EUR" if i % 5 == 0 else None,
                extra_data={"n": i, "text": "žluťoučký"} if i % 4 == 0 else {},
                extra_sender_data={"ref": str(i)} if i % 6 == 0 else {},
                related_objects=(RelatedObject("shop.order", str(i)), RelatedObject("auth.user", "7"))
                if i % 9 == 0
                else (),
            )
        )
    return repo.add_many(batch)


QUERIES = [
    MessageQuery(),
    MessageQuery(limit=5),
    MessageQuery(limit=50, newest_first=True),
    MessageQuery(states={SMSState.SENDING}),
    MessageQuery(states={SMSState.SENDING, SMSState.DELIVERED}, after_id=100, limit=500),
    MessageQuery(states=set(STATES), after_id=300),
    MessageQuery(tag="alerts"),
    MessageQuery(tag="news", recipient="+420777120003", provider="backup"),
    MessageQuery(provider="default", newest_first=True, limit=7),
    MessageQuery(sent_before=T0 + timedelta(minutes=200)),
    MessageQuery(sent_after=T0 + timedelta(minutes=500), states={SMSState.ERROR}),
    MessageQuery(changed_before=T0 + timedelta(seconds=33)),
    MessageQuery(recipient="+420000000000"),
]


def _through_connection(repo: SQLAlchemyMessageRepository, query: MessageQuery) -> list[SMSMessage]:
    # A statement listener keeps every read on SQLAlchemy's Connection (see adapters_sqlalchemy.driver).
    with listened_statements(repo.engine):
        return repo.fetch(query)


@pytest.mark.parametrize("query", QUERIES, ids=repr)
def test_a_query_on_the_driver_finds_what_connection_finds(
    engine: Engine, stored: list[SMSMessage], query: MessageQuery
) -> None:
    repo = SQLAlchemyMessageRepository(engine)
    on_driver = repo.fetch(query)
    assert on_driver == _through_connection(repo, query)
    assert on_driver == [m for m in (stored[::-1] if query.newest_first else stored) if query.matches(m)][: query.limit]


def test_the_reads_run_on_the_driver(engine: Engine, stored: list[SMSMessage]) -> None:
    repo = SQLAlchemyMessageRepository(engine)
    ran: list[str] = []

    def trace(dbapi_connection: object, record: object, proxy: object) -> None:
        dbapi_connection.set_trace_callback(ran.append)  # type: ignore[attr-defined]

    event.listen(engine, "checkout", trace)
    found = repo.fetch(MessageQuery(tag="alerts", limit=3))
    assert [m.tag for m in found] == ["alerts"] * 3
    # The driver's statement ends in its own LIMIT; SQLAlchemy's compiles an OFFSET along with it.
    assert [s for s in ran if s.startswith("SELECT") and s.endswith("LIMIT 3")]


def test_a_shape_is_compiled_once_and_the_values_change(engine: Engine, stored: list[SMSMessage]) -> None:
    repo = SQLAlchemyMessageRepository(engine)
    reader = repo._reader
    assert reader is not None
    alerts = repo.fetch(MessageQuery(tag="alerts"))
    news = repo.fetch(MessageQuery(tag="news"))
    assert len(reader._shapes) == 1
    assert {m.tag for m in alerts} == {"alerts"}
    assert {m.tag for m in news} == {"news"}


def test_compiled_shapes_are_bounded(engine: Engine, stored: list[SMSMessage]) -> None:
    """Many shapes of query (here: sets of states, and filters) keep at most 64 statements, each still right."""
    repo = SQLAlchemyMessageRepository(engine)
    reader = repo._reader
    assert reader is not None
    shapes = [
        MessageQuery(states=set(states), tag=tag, limit=limit)
        for size in range(1, len(STATES) + 1)
        for states in itertools.combinations(STATES, size)
        for tag in (None, "news")
        for limit in (None, 3)
    ]
    shapes += [MessageQuery(after_id=after, recipient=r) for after in (1, 2) for r in ("+420777120001", None)] * 3
    assert len(shapes) > 64
    for query in shapes:
        assert repo.fetch(query) == [m for m in stored if query.matches(m)][: query.limit]
    assert len(reader._shapes) <= 64


@pytest.fixture
def waiting(engine: Engine) -> list[SMSMessage]:
    """WAITING messages of every priority, due at several times (some later, some leased), with related objects:
    the due ones in the order a claim takes them."""
    repo = SQLAlchemyMessageRepository(engine)
    batch = [
        make_message(
            recipient=f"+42077713{i:04d}",
            priority=(3, 1, 2)[i % 3],
            next_attempt_at=T0 + timedelta(seconds=(i * 7) % 50),
            lease_expires_at=T0 + timedelta(minutes=1) if i % 10 == 0 else None,
            related_objects=(RelatedObject("shop.order", str(i)),) if i % 4 == 0 else (),
        )
        for i in range(150)
    ]
    stored = repo.add_many(batch)
    now = T0 + timedelta(seconds=40)
    due = [m for m in stored if m.lease_expires_at is None and m.next_attempt_at <= now]
    return sorted(due, key=lambda m: (m.priority, m.next_attempt_at, m.id))


def test_a_claim_on_the_driver_leases_what_connection_leases(engine: Engine, waiting: list[SMSMessage]) -> None:
    """Two claims in turn, the first on the driver, the second through ``Connection``: each takes the next due
    messages by priority, due time and id, leased and a version on; nothing is taken twice."""
    repo = SQLAlchemyMessageRepository(engine)
    now, lease = T0 + timedelta(seconds=40), T0 + timedelta(minutes=5)
    first = repo.claim(now=now, lease_until=lease, limit=45)
    with listened_statements(engine) as statements:
        second = repo.claim(now=now, lease_until=lease, limit=45)
    assert "UPDATE" in statements
    expected = [m.replace(lease_expires_at=lease, version=m.version + 1) for m in waiting]
    assert len(expected) > 90
    assert first == expected[:45]
    assert second == expected[45:90]
    assert repo.claim(now=now, lease_until=lease, limit=100) == expected[90:]
    assert repo.claim(now=now, lease_until=lease, limit=100) == []


def test_the_claim_runs_on_the_driver(
    engine: Engine, waiting: list[SMSMessage], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing observes the engine: the claim is the reader's, never ``Connection``'s ``claim_rows``."""

    def through_connection(*args: object, **kwargs: object) -> None:
        raise AssertionError("the claim went through SQLAlchemy's Connection")

    monkeypatch.setattr(repositories, "claim_rows", through_connection)
    repo = SQLAlchemyMessageRepository(engine)
    with traced_statements(engine) as ran:
        claimed = repo.claim(now=T0 + timedelta(seconds=40), lease_until=T0 + timedelta(minutes=5), limit=5)
    assert [m.id for m in claimed] == [m.id for m in waiting[:5]]
    assert "UPDATE smscore_message SET" in ran


def test_the_reader_reads_sqlite_only() -> None:
    with pytest.raises(ValueError, match="SQLite"):
        MessageReader(tables.messages, tables.related_objects, postgresql.dialect())  # type: ignore[no-untyped-call]
