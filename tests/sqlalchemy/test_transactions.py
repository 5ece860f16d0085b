"""On PostgreSQL, the steps that are one statement run without BEGIN and COMMIT; the others in a transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event

from adapters_sqlalchemy import SQLAlchemyMessageRepository
from adapters_sqlalchemy.guards import SQLAlchemyOptOutRepository
from smscore import RelatedObject, SMSState
from smscore.errors import DuplicateIdempotencyKeyError
from tests.contracts.repositories import T0, make_message

pytestmark = pytest.mark.postgres


@pytest.fixture
def autocommit(postgres_engine: Engine) -> Iterator[list[tuple[str, bool]]]:
    """For each statement run: its first word and whether the driver ran it in autocommit mode."""
    seen: list[tuple[str, bool]] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append((statement.split()[0], bool(conn.connection.dbapi_connection.autocommit)))

    event.listen(postgres_engine, "before_cursor_execute", record)
    yield seen
    event.remove(postgres_engine, "before_cursor_execute", record)


def test_the_steps_of_a_send_are_one_statement_each(
    postgres_engine: Engine, autocommit: list[tuple[str, bool]]
) -> None:
    repo = SQLAlchemyMessageRepository(postgres_engine)
    assert not SQLAlchemyOptOutRepository(postgres_engine).contains("+420777123456")
    stored = repo.add(make_message())
    repo.save(stored.transition(SMSState.DEBUG, at=T0))
    assert autocommit == [("SELECT", True), ("INSERT", True), ("UPDATE", True)]


def test_work_of_several_statements_keeps_its_transaction(
    postgres_engine: Engine, autocommit: list[tuple[str, bool]]
) -> None:
    repo = SQLAlchemyMessageRepository(postgres_engine)
    repo.add(make_message())  # leaves its connection in the pool, back in transaction mode
    autocommit.clear()
    first, second = repo.add_many(
        [make_message(related_objects=(RelatedObject("shop.order", 1),)), make_message(recipient="+420777123457")]
    )
    repo.save_many([first.transition(SMSState.DEBUG, at=T0), second.transition(SMSState.DEBUG, at=T0)])
    assert autocommit == [("INSERT", False), ("INSERT", False), ("UPDATE", False)]


def test_a_refused_single_statement_write_stores_nothing(postgres_engine: Engine) -> None:
    repo = SQLAlchemyMessageRepository(postgres_engine)
    holder = repo.add(make_message(idempotency_key="k"))
    with pytest.raises(DuplicateIdempotencyKeyError) as raised:
        repo.add(make_message(idempotency_key="k", content="other"))
    assert raised.value.existing == holder
    assert repo.count() == 1
