"""SQLAlchemy storage for smscore: any database SQLAlchemy speaks, tested on SQLite and PostgreSQL.

Chosen by configuration, nothing to import::

    service = smscore.build_service({"storage": "sqlalchemy", "database_url": "postgresql://app@db/app"})

Without a ``database_url`` the messages go to ``smscore.db``, an SQLite file in the current directory, whose
schema is created on first use. Applications that own an engine pass it in ``storage_options["engine"]``; those
that run their own Alembic put the tables on their metadata with :func:`define_tables` and build the
repositories themselves::

    sms_tables = define_tables(app_metadata)
    messages = SQLAlchemyMessageRepository(engine, tables=sms_tables)
    templates = SQLAlchemyTemplateRepository(engine, tables=sms_tables)
    rate_limiter = SQLAlchemyRateLimiter(engine, tables=sms_tables)

Modules: :mod:`~adapters_sqlalchemy.tables` (the tables), :mod:`~adapters_sqlalchemy.mapping` (rows to values),
:mod:`~adapters_sqlalchemy.repositories` (the ports), :mod:`~adapters_sqlalchemy.bulk` (the pre-compiled writes
of message rows), :mod:`~adapters_sqlalchemy.rate_limit` (send slots shared by workers),
:mod:`~adapters_sqlalchemy.schema` (the shipped Alembic
migrations), :mod:`~adapters_sqlalchemy.storage` (engines and the storage factory).
"""

from adapters_sqlalchemy.errors import DatabaseUnavailableError
from adapters_sqlalchemy.rate_limit import SQLAlchemyRateLimiter
from adapters_sqlalchemy.repositories import SQLAlchemyMessageRepository, SQLAlchemyTemplateRepository
from adapters_sqlalchemy.schema import SchemaMismatchError
from adapters_sqlalchemy.tables import Tables, define_tables, metadata, tables

__all__ = [
    "DatabaseUnavailableError",
    "SQLAlchemyMessageRepository",
    "SQLAlchemyRateLimiter",
    "SQLAlchemyTemplateRepository",
    "SchemaMismatchError",
    "Tables",
    "define_tables",
    "metadata",
    "tables",
]
