"""The driver-level writes of :mod:`adapters_sqlalchemy.bulk` store exactly what SQLAlchemy itself would."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, event, insert, select, text

from adapters_sqlalchemy import SQLAlchemyMessageRepository, tables
from adapters_sqlalchemy.bulk import sqlite_datetime, sqlite_datetime_converter
from adapters_sqlalchemy.mapping import MESSAGE_COLUMNS
from adapters_sqlalchemy.schema import upgrade
from adapters_sqlalchemy.storage import create_engine_for
from adapters_sqlalchemy.types import UTCDateTime
from smscore import SMSMessage, SMSState
from smscore.errors import ConcurrentUpdateError, StorageError
from tests.contracts.repositories import T0, make_message
from tests.sqlalchemy.conftest import sqlite_url

_SQLITE = create_engine_for("sqlite://").dialect
_SQLALCHEMY_DATETIME = UTCDateTime().dialect_impl(_SQLITE).bind_processor(_SQLITE)

zones = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
aware = st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones)


@given(aware)
def test_sqlite_datetime_text_is_sqlalchemys_own(value: datetime) -> None:
    """SQLite compares datetimes as text: the fast writer's text must be identical to SQLAlchemy's, to the
    character, or range queries would mix two orders."""
    assert _SQLALCHEMY_DATETIME is not None
    assert sqlite_datetime(value) == _SQLALCHEMY_DATETIME(value)


@given(st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30)))
def test_sqlite_datetime_refuses_naive_values_naming_the_column(value: datetime) -> None:
    with pytest.raises(ValueError, match=r"^sent_at must be timezone-aware"):
        sqlite_datetime(value, "sent_at")


@given(st.lists(st.one_of(st.none(), aware, aware.map(lambda v: v.astimezone(UTC))), max_size=8))
def test_the_remembering_converter_answers_like_sqlite_datetime(values: list[datetime | None]) -> None:
    """Remembering the last answer never changes one: equal instants in any zone give the same text."""
    convert = sqlite_datetime_converter("changed_at")
    for value in values:
        assert convert(value) == sqlite_datetime(value)
        assert convert(value) == sqlite_datetime(value)


def test_the_remembering_converter_still_refuses_a_naive_value_after_its_aware_twin() -> None:
    """A naive value with the wall clock of the remembered aware one is not equal to it: still refused."""
    convert = sqlite_datetime_converter("sent_at")
    assert convert(T0) == sqlite_datetime(T0)
    with pytest.raises(ValueError, match=r"^sent_at must be timezone-aware"):
        convert(T0.replace(tzinfo=None))


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = create_engine_for(sqlite_url(tmp_path))
    upgrade(engine)
    return engine


def test_rows_match_what_sqlalchemy_writes(sqlite_engine: Engine) -> None:
    """A message added and saved through the writer reads back, as raw column text, the same as a row written
    by SQLAlchemy's own insert of the same values."""
    repo = SQLAlchemyMessageRepository(sqlite_engine)
    zone = timezone(timedelta(hours=5, minutes=45))
    message = make_message(
        created_at=T0.astimezone(zone), changed_at=T0, extra_data={"name": "Zoë", "n": [1, 2]}, tag="t"
    )
    ours = repo.add(message)
    ours = repo.save(ours.transition(SMSState.DEBUG, at=T0 + timedelta(seconds=1)))
    m = tables.messages
    reference = message.transition(SMSState.DEBUG, at=T0 + timedelta(seconds=1)).replace(version=1)
    with sqlite_engine.begin() as conn:
        values = {name: getattr(reference, name) for name in MESSAGE_COLUMNS if name != "id"}
        values["state"] = reference.state.value
        conn.execute(insert(m), values)
        rows = conn.execute(text("SELECT * FROM smscore_message ORDER BY id")).all()
    assert len(rows) == 2
    assert rows[0][1:] == rows[1][1:]
    assert ours.version == 1


def test_large_batches_span_several_statements_and_keep_their_order(sqlite_engine: Engine) -> None:
    """With a small parameter limit the insert is split; every id still belongs to the message given there."""

    @event.listens_for(sqlite_engine, "connect")
    def few_variables(dbapi_connection: sqlite3.Connection, record: object) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 200)

    sqlite_engine.dispose()
    statements: list[str] = []
    event.listen(sqlite_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    repo = SQLAlchemyMessageRepository(sqlite_engine)
    batch = [make_message(recipient=f"+42077712{i:04d}") for i in range(57)]
    stored = repo.add_many(batch)
    inserts = [s for s in statements if s.startswith("INSERT INTO smscore_message")]
    assert len(inserts) == -(-57 // (200 // len(MESSAGE_COLUMNS)))
    for message in stored:
        assert repo.get(message.id or 0).recipient == message.recipient
    with sqlite_engine.connect() as conn:
        order = conn.execute(select(tables.messages.c.recipient).order_by(tables.messages.c.id)).scalars().all()
    assert order == [m.recipient for m in batch]


def test_a_naive_datetime_in_a_save_stores_nothing(sqlite_engine: Engine) -> None:
    repo = SQLAlchemyMessageRepository(sqlite_engine)
    stored = repo.add(make_message())
    with pytest.raises(ValueError, match="changed_at must be timezone-aware"):
        repo.save(stored.replace(changed_at=datetime(2030, 1, 1)))
    assert repo.get(stored.id or 0) == stored
    assert repo.get(stored.id or 0).changed_at.tzinfo is UTC


@pytest.mark.parametrize("names", [["recipient"], ["state", "extra_data", "sent_at"]])
def test_row_values_come_in_column_order_for_any_number_of_columns(names: list[str]) -> None:
    from adapters_sqlalchemy.bulk import _RowBuilder

    message = make_message(extra_data={"k": "v"}, sent_at=T0)
    expected = {"recipient": "+420777123456", "state": "waiting", "extra_data": '{"k": "v"}'}
    expected["sent_at"] = sqlite_datetime(T0)
    assert _RowBuilder(tables.messages, names, _SQLITE).values(message) == [expected[n] for n in names]


# -- PostgreSQL: one INSERT ... SELECT FROM unnest(...) per page ---------------------------------------------


@pytest.mark.postgres
def test_postgres_rows_match_what_sqlalchemy_writes(postgres_engine: Engine) -> None:
    """Every column of a row inserted as arrays reads back as the same row inserted by SQLAlchemy itself."""
    repo = SQLAlchemyMessageRepository(postgres_engine)
    zone = timezone(timedelta(hours=5, minutes=45))
    message = make_message(
        created_at=T0.astimezone(zone),
        changed_at=T0,
        sent_at=T0 + timedelta(seconds=1),
        sender="ACME",
        tag="t",
        extra_data={"name": "Zoë", "n": [1, 2]},
        extra_sender_data={"k": None},
        price=Decimal("0.0012345678901234567890"),
        price_unit="EUR",
        idempotency_key="key-1",
        lease_expires_at=T0 + timedelta(minutes=5),
    )
    repo.add(message)
    m = tables.messages
    with postgres_engine.begin() as conn:
        values = {name: getattr(message, name) for name in MESSAGE_COLUMNS if name != "id"}
        values.update(state=message.state.value, idempotency_key="key-2")
        conn.execute(insert(m), values)
        rows = conn.execute(text("SELECT * FROM smscore_message ORDER BY id")).all()
    ours, reference = (row._asdict() for row in rows)
    assert ours.pop("idempotency_key") == "key-1"
    assert reference.pop("idempotency_key") == "key-2"
    assert ours | {"id": 0} == reference | {"id": 0}


@pytest.mark.postgres
def test_postgres_batches_of_several_pages_keep_their_order(postgres_engine: Engine) -> None:
    repo = SQLAlchemyMessageRepository(postgres_engine)
    batch = [make_message(recipient=f"+42077712{i:04d}", sender=None if i % 2 else "ACME") for i in range(2345)]
    stored = repo.add_many(batch)
    assert [m.recipient for m in stored] == [m.recipient for m in batch]
    with postgres_engine.connect() as conn:
        rows = conn.execute(select(tables.messages.c.id, tables.messages.c.recipient)).all()
    assert sorted(rows) == [(m.id, m.recipient) for m in stored]


@pytest.mark.postgres
def test_postgres_refuses_an_over_long_value_instead_of_cutting_it(postgres_engine: Engine) -> None:
    """The arrays are of unbounded text: the column's own length refuses the value, as SQLAlchemy's insert would."""
    repo = SQLAlchemyMessageRepository(postgres_engine)
    with pytest.raises(StorageError):
        repo.add_many([make_message(), make_message(tag="t" * 51)])
    assert repo.count() == 0


@pytest.mark.postgres
def test_postgres_batch_saves_write_what_single_saves_write(postgres_engine: Engine) -> None:
    """A batch saved as arrays (one UPDATE ... FROM unnest) leaves each row as saving it alone would."""
    repo = SQLAlchemyMessageRepository(postgres_engine)
    one, two, three = repo.add_many([make_message(recipient=f"+42077712345{i}") for i in range(3)])

    def outcome(message: SMSMessage) -> SMSMessage:
        sent = message.transition(SMSState.SENT, at=T0 + timedelta(seconds=1))
        return sent.replace(provider_ref="ref", extra_sender_data={"k": "Zoë"}, price=Decimal("0.05"), attempts=1)

    repo.save(outcome(one))
    repo.save_many([outcome(two), outcome(three)])
    with postgres_engine.connect() as conn:
        rows = [row._asdict() for row in conn.execute(text("SELECT * FROM smscore_message ORDER BY id"))]
    assert [row.pop("recipient") for row in rows] == [one.recipient, two.recipient, three.recipient]
    assert rows[0] | {"id": 0} == rows[1] | {"id": 0} == rows[2] | {"id": 0}
    assert rows[0]["version"] == 1


@pytest.mark.postgres
def test_postgres_batch_save_of_a_message_given_twice_writes_nothing(postgres_engine: Engine) -> None:
    repo = SQLAlchemyMessageRepository(postgres_engine)
    first, second = repo.add_many([make_message(), make_message(recipient="+420777123457")])
    sent = first.transition(SMSState.SENT, at=T0)
    with pytest.raises(ConcurrentUpdateError):
        repo.save_many([sent, second.transition(SMSState.SENT, at=T0), sent])
    assert repo.get(first.id or 0) == first
    assert repo.get(second.id or 0) == second
