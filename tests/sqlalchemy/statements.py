"""Watching the statements a repository sends to its database, from the engine or from the SQLite driver."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def listened_statements(engine: Engine) -> Iterator[list[str]]:
    """The first word of each statement ``engine`` runs, from a ``before_cursor_execute`` listener."""
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement.split()[0])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def traced_statements(engine: Engine) -> Iterator[list[str]]:
    """The first three words of each statement SQLite runs for ``engine`` (``INSERT INTO smscore_message``), from the driver's trace callback (set on each
    connection the pool hands out), without the engine listener that would change which path runs them.

    The driver traces an executemany once per row, each with its values filled in, so statements of one kind in a
    row are listed once: one ``UPDATE smscore_message SET`` may stand for several updates.
    """
    seen: list[str] = []

    def trace(statement: str) -> None:
        head = " ".join(statement.split()[:3])
        if not seen or seen[-1] != head:
            seen.append(head)

    def on_checkout(dbapi_connection: Any, record: object, proxy: object) -> None:
        dbapi_connection.set_trace_callback(trace)

    event.listen(engine, "checkout", on_checkout)
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", on_checkout)
        with engine.connect() as conn:  # the connection in hand stops reporting
            conn.connection.dbapi_connection.set_trace_callback(None)  # type: ignore[union-attr]
