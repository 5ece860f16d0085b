"""The opt-out list is read by the statement that stores a message when both live in one SQLAlchemy storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

import smscore
from adapters_sqlalchemy import SQLAlchemyMessageRepository
from adapters_sqlalchemy.guards import SQLAlchemyOptOutRepository
from adapters_sqlalchemy.storage import create_engine_for
from smscore import RecipientOptedOutError
from smscore.guard_stores import InMemoryOptOutRepository
from tests.sqlalchemy.conftest import sqlite_url
from tests.sqlalchemy.statements import listened_statements

CZ = "+420777123456"


def test_it_screens_only_against_the_list_in_its_own_database(engine: Engine, tmp_path: Path) -> None:
    """Another engine's list, or a list kept elsewhere, is asked apart by the service."""
    repo = SQLAlchemyMessageRepository(engine)
    other = create_engine_for(sqlite_url(tmp_path, "other.db"))
    try:
        assert repo.screens(SQLAlchemyOptOutRepository(engine))
        assert not repo.screens(SQLAlchemyOptOutRepository(other))
        assert not repo.screens(InMemoryOptOutRepository())
    finally:
        other.dispose()


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """The first word of each statement run on ``engine`` (an engine listener, so on SQLAlchemy's ``Connection``;
    ``test_driver`` watches the driver path)."""
    with listened_statements(engine) as seen:
        yield seen


def _service(engine: Engine) -> smscore.SMSService:
    return smscore.SMSService(
        messages=SQLAlchemyMessageRepository(engine),
        templates=smscore.testing.InMemoryTemplateRepository(),
        providers={"default": smscore.testing.ScriptedProvider()},
        opt_outs=SQLAlchemyOptOutRepository(engine),
    )


def test_a_send_is_an_insert_and_an_update(engine: Engine, statements: list[str]) -> None:
    """No separate look-up of the list: the insert reads it. A number on the list is refused all the same, and
    nothing is stored for it."""
    service = _service(engine)
    service.send(CZ, "Hello")
    assert [word for word in statements if word not in {"BEGIN", "COMMIT"}] == ["INSERT", "UPDATE"]
    service.opt_outs.add(CZ)
    with pytest.raises(RecipientOptedOutError):
        service.send(CZ, "Hello again")
    assert [m.content for m in service.messages.find()] == ["Hello"]


def test_send_many_reads_the_list_in_its_insert(engine: Engine, statements: list[str]) -> None:
    """One insert for the batch, no SELECT of the opt-out list; the listed item is refused by index."""
    service = _service(engine)
    service.opt_outs.add(CZ)
    statements.clear()
    sent = service.send_many(["+420777000001", CZ, "+420777000002"], "Hello")
    assert [m.recipient for m in sent] == ["+420777000001", "+420777000002"]
    assert [(item.index, item.error.reason) for item in sent.refused] == [(1, "opted_out")]
    assert [word for word in statements if word not in {"BEGIN", "COMMIT"}] == ["INSERT", "UPDATE"]
