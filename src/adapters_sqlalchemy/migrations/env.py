"""Alembic environment of the shipped migrations.

Normally run through :mod:`adapters_sqlalchemy.schema`, which hands over a connection in
``config.attributes["connection"]``. Run by the ``alembic`` command itself (``alembic -c <ini> ...`` with
``script_location`` pointing here), it connects to ``sqlalchemy.url``.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, create_engine

from adapters_sqlalchemy.schema import VERSION_TABLE, include_name
from adapters_sqlalchemy.tables import metadata


def _configure(**options: Any) -> None:
    context.configure(
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
        compare_type=True,
        **options,
    )


def _run_on(connection: Connection) -> None:
    # SQLite alters tables by copying them; batch mode does that for us.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    """Run the migrations offline (SQL script), on the given connection, or on ``sqlalchemy.url``."""
    config = context.config
    if context.is_offline_mode():
        _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or run the migrations through adapters_sqlalchemy.schema")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run_on(conn)
            conn.commit()
    finally:
        engine.dispose()


run()
