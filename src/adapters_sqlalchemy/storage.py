"""The storage factory behind ``{"storage": "sqlalchemy"}``, and the engines it builds.

>>> import smscore
>>> service = smscore.build_service({"storage": "sqlalchemy", "database_url": "sqlite:///sms.db"})  # doctest: +SKIP

``database_url`` is any SQLAlchemy URL; without one the messages go to ``smscore.db`` in the current directory.
``postgresql://`` URLs use psycopg 3. An application that owns an engine (FastAPI, Flask, a script) passes it
instead, and keeps it: ``storage_options = {"engine": engine}``; the service's ``close()`` then leaves it alone.

``storage_options``:

============  =======  ========================================================================================
key           default  meaning
============  =======  ========================================================================================
engine        None     a ready SQLAlchemy ``Engine`` to use instead of ``database_url``
migrate       auto     ``auto``: create the schema of an empty database, keep SQLite files up to date;
                       ``always``: upgrade to the newest revision on start; ``never``: the schema is managed
                       elsewhere (see :mod:`adapters_sqlalchemy.schema`)
busy_timeout  5        seconds an SQLite connection waits for another process's write lock before failing
============  =======  ========================================================================================

SQLite files are tuned for several processes at once: write-ahead logging, ``synchronous=NORMAL``, a
busy timeout (five seconds unless ``busy_timeout`` says otherwise) and enforced foreign keys.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, cast

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from adapters_sqlalchemy.guards import SQLAlchemyOptOutRepository, SQLAlchemyRefusalCounter
from adapters_sqlalchemy.inbound import SQLAlchemyInboundRepository
from adapters_sqlalchemy.liveness import ping_when_in_doubt
from adapters_sqlalchemy.rate_limit import SQLAlchemyRateLimiter
from adapters_sqlalchemy.repositories import SQLAlchemyMessageRepository, SQLAlchemyTemplateRepository
from adapters_sqlalchemy.schema import MigrateMode, SchemaMismatchError, check, ensure_schema, upgrade
from smscore.config import SMSConfig
from smscore.errors import ConfigurationError
from smscore.ports import Storage
from smscore.templates import JinjaRenderer

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "DEFAULT_DATABASE_URL",
    "SQLAlchemyStorageFactory",
    "build_storage",
    "check_database",
    "create_engine_for",
    "upgrade_database",
]

#: Where messages go when no ``database_url`` is configured: a file in the current directory.
DEFAULT_DATABASE_URL: Final = "sqlite:///smscore.db"
#: How long an SQLite connection waits for another process's write lock before giving up.
BUSY_TIMEOUT_SECONDS: Final = 5.0

_OPTIONS: Final = frozenset({"engine", "migrate", "busy_timeout"})
_MIGRATE_MODES: Final = ("auto", "always", "never")


class SQLAlchemyStorageFactory:
    """The factory ``{"storage": "sqlalchemy"}`` names (:data:`build_storage`); as a
    :class:`~smscore.ports.SchemaManager` it also upgrades and checks the database schema."""

    def __call__(self, config: SMSConfig) -> Storage:
        """Build the SQLAlchemy repositories for ``config``, creating or upgrading the schema as ``migrate`` says.

        Raises :class:`~smscore.errors.ConfigurationError` for a bad URL, an unknown option or a missing driver,
        and :class:`~smscore.errors.StorageError` when the database cannot be opened or migrated.
        """
        migrate = _migrate_mode(config.storage_options)
        engine, owned = _engine(config)
        try:
            ensure_schema(engine, migrate)
        except BaseException:
            if owned:
                engine.dispose()
            raise
        return Storage(
            messages=SQLAlchemyMessageRepository(engine),
            templates=SQLAlchemyTemplateRepository(engine, renderer=JinjaRenderer(budget=config.render_budget)),
            close=engine.dispose if owned else _keep_open,
            rate_limiter=SQLAlchemyRateLimiter(engine),
            opt_outs=SQLAlchemyOptOutRepository(engine),
            refusals=SQLAlchemyRefusalCounter(engine),
            inbound=SQLAlchemyInboundRepository(engine),
        )

    def upgrade_database(self, config: SMSConfig) -> str:
        """See :func:`upgrade_database`."""
        return upgrade_database(config)

    def check_database(self, config: SMSConfig) -> str:
        """See :func:`check_database`."""
        return check_database(config)


#: Build the SQLAlchemy storage for a config: ``build_storage(config)``; see :class:`SQLAlchemyStorageFactory`.
build_storage: Final = SQLAlchemyStorageFactory()


def upgrade_database(config: SMSConfig) -> str:
    """Apply the shipped migrations to the configured database; return a one-line report.

    Raises :class:`~smscore.errors.StorageError` or :class:`~smscore.errors.ConfigurationError`.
    """
    return f"database schema is at revision {_on_engine(config, upgrade)} (newest)"


def check_database(config: SMSConfig) -> str:
    """Check that the configured database is at the newest revision and matches the models; return a report.

    Raises :class:`~adapters_sqlalchemy.schema.SchemaMismatchError` (one line) when it does not.
    """
    _require_existing_sqlite_file(config)
    return f"database schema is at revision {_on_engine(config, check)} and matches the models"


def _on_engine(config: SMSConfig, step: Callable[[Engine], str]) -> str:
    """``step`` on an engine for ``config``, disposed of afterwards unless the application owns it."""
    engine, owned = _engine(config)
    try:
        return step(engine)
    finally:
        if owned:
            engine.dispose()


def _require_existing_sqlite_file(config: SMSConfig) -> None:
    """Checking must not create the SQLite file it checks (connecting would)."""
    if config.storage_options.get("engine") is not None:
        return
    try:
        url = make_url(config.database_url or DEFAULT_DATABASE_URL)
    except ArgumentError:
        return  # create_engine_for names the problem
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in {"", ":memory:"} or url.query.get("uri") == "true":
        return
    if not Path(database).expanduser().exists():
        raise SchemaMismatchError(f"there is no database at {database!r} yet: run 'smscore db upgrade'")


def create_engine_for(url: str | URL, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> Engine:
    """An engine for ``url``, tuned for this job (SQLite pragmas, psycopg 3 for ``postgresql://``).

    ``busy_timeout`` is how many seconds an SQLite connection waits for another process's write lock.

    Raises :class:`~smscore.errors.ConfigurationError` keyed ``database_url``; the message never repeats the
    URL, which may hold a password.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError("database_url is not a valid SQLAlchemy URL", key="database_url") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, busy_timeout)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = create_engine(parsed, json_serializer=_to_json, json_deserializer=_from_json)
    except NoSuchModuleError:
        raise ConfigurationError(
            f"database_url: unknown database dialect {parsed.drivername!r}", key="database_url"
        ) from None
    except ImportError as exc:
        extra = "postgres" if parsed.get_backend_name() == "postgresql" else "<driver>"
        raise ConfigurationError(
            f"database_url: the driver {exc.name or parsed.get_driver_name()!r} is not installed: "
            f"pip install 'smscore[{extra}]'",
            key="database_url",
        ) from None
    # Not pool_pre_ping: a round trip on every checkout, where a look at the socket usually tells as much.
    ping_when_in_doubt(engine)
    return engine


def _engine(config: SMSConfig) -> tuple[Engine, bool]:
    """The engine to use and whether it is ours to dispose of."""
    options = config.storage_options
    _check_options(options)
    given = options.get("engine")
    if given is None:
        busy_timeout = _seconds(options.get("busy_timeout", BUSY_TIMEOUT_SECONDS), "storage_options.busy_timeout")
        return create_engine_for(config.database_url or DEFAULT_DATABASE_URL, busy_timeout=busy_timeout), True
    if not isinstance(given, Engine):
        raise ConfigurationError(
            f"storage_options.engine must be a SQLAlchemy Engine, not {type(given).__name__}",
            key="storage_options.engine",
        )
    if config.database_url:
        raise ConfigurationError(
            "give either database_url or storage_options.engine, not both", key="storage_options.engine"
        )
    return given, False


def _check_options(options: Mapping[str, Any]) -> None:
    for key in options:
        if key not in _OPTIONS:
            raise ConfigurationError(
                f"storage_options.{key}: unknown option (known: {', '.join(sorted(_OPTIONS))})",
                key=f"storage_options.{key}",
            )


def _seconds(value: Any, key: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{key} must be a number of seconds, not {value!r}", key=key) from None
    if not 0 <= seconds <= 3600:
        raise ConfigurationError(f"{key} must be between 0 and 3600 seconds, not {value!r}", key=key)
    return seconds


def _migrate_mode(options: Mapping[str, Any]) -> MigrateMode:
    _check_options(options)
    mode = options.get("migrate", "auto")
    if mode is True:
        mode = "always"
    elif mode is False:
        mode = "never"
    elif isinstance(mode, str):
        mode = mode.strip().lower()
    if mode not in _MIGRATE_MODES:
        raise ConfigurationError(
            f"storage_options.migrate must be one of {', '.join(_MIGRATE_MODES)}, not {mode!r}",
            key="storage_options.migrate",
        )
    return cast(MigrateMode, mode)


def _sqlite_engine(url: URL, busy_timeout: float) -> Engine:
    database = url.database or ""
    if database in {"", ":memory:"} or url.query.get("mode") == "memory":
        # One shared connection: a second one would see a different, empty in-memory database.
        engine = create_engine(
            url,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            json_serializer=_to_json,
            json_deserializer=_from_json,
        )
    else:
        if url.query.get("uri") != "true":
            folder = Path(database).expanduser().absolute().parent
            if not folder.is_dir():
                raise ConfigurationError(
                    f"database_url: the folder {str(folder)!r} of the SQLite file does not exist", key="database_url"
                )
        engine = create_engine(
            url, connect_args={"timeout": busy_timeout}, json_serializer=_to_json, json_deserializer=_from_json
        )
    event.listen(engine, "connect", functools.partial(_tune_sqlite, busy_ms=int(busy_timeout * 1000)))
    return engine


def _tune_sqlite(dbapi_connection: Any, connection_record: ConnectionPoolEntry, *, busy_ms: int) -> None:
    """Pragmas for every new SQLite connection (write-ahead log, busy timeout, foreign keys)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # WAL makes NORMAL safe against corruption; only the last commits may be lost on power failure.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _keep_open() -> None:
    """``close`` for an engine the application owns: it stays open."""


#: One encoder for every value: json.dumps with any option builds a new one per call.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False)


def _to_json(value: Any) -> str:
    """The JSON text of a column value, non-ASCII text kept readable."""
    # Most messages carry no data of their own: their empty dicts skip the encoder (two columns of every row).
    if type(value) is dict and not value:
        return "{}"
    return _ENCODER.encode(value)


def _from_json(text: str) -> Any:
    """A JSON column's value; the text of an empty object skips the decoder, as in :func:`_to_json`."""
    if text == "{}":
        return {}
    return json.loads(text)
