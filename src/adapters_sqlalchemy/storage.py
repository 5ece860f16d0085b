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

For the asyncio service the factory's ``build_async`` runs the same repositories on an ``AsyncEngine``
(:mod:`adapters_sqlalchemy.async_storage`); there ``storage_options.engine`` is an ``AsyncEngine``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

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

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from smscore.async_ports import AsyncStorage

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "DEFAULT_DATABASE_URL",
    "SQLAlchemyStorageFactory",
    "build_storage",
    "check_database",
    "checked_options",
    "create_async_engine_for",
    "create_engine_for",
    "is_memory_sqlite",
    "parse_database_url",
    "repositories_on",
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
        return repositories_on(engine, config, close=engine.dispose if owned else _keep_open)

    def build_async(self, config: SMSConfig) -> AsyncStorage:
        """The same repositories for the asyncio service: an SQLite file's in a pool of threads, the others' on an
        ``AsyncEngine`` (psycopg's async mode, ``aiosqlite``); see :mod:`adapters_sqlalchemy.async_storage`. Raises
        as :meth:`__call__` does."""
        # Imported here: only the asyncio service needs greenlet and the async drivers (the asyncio extra).
        from adapters_sqlalchemy.async_storage import build_async_storage

        return build_async_storage(config)

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


def repositories_on(engine: Engine, config: SMSConfig, *, close: Callable[[], None]) -> Storage:
    """Every repository of this package on ``engine`` (whose schema is ready), released by ``close``."""
    return Storage(
        messages=SQLAlchemyMessageRepository(engine),
        templates=SQLAlchemyTemplateRepository(engine, renderer=JinjaRenderer(budget=config.render_budget)),
        close=close,
        rate_limiter=SQLAlchemyRateLimiter(engine),
        opt_outs=SQLAlchemyOptOutRepository(engine),
        refusals=SQLAlchemyRefusalCounter(engine),
        inbound=SQLAlchemyInboundRepository(engine),
    )


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
    parsed = parse_database_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    with _driver_errors(parsed):
        engine = create_engine(parsed, **_engine_arguments(parsed, busy_timeout))
    _tune(engine, busy_timeout)
    if engine.dialect.name != "sqlite":
        # Not pool_pre_ping: a round trip on every checkout, where a look at the socket usually tells as much.
        ping_when_in_doubt(engine)
    return engine


def create_async_engine_for(url: str | URL, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> AsyncEngine:
    """An ``AsyncEngine`` for ``url`` with the tuning of :func:`create_engine_for`, on the asyncio drivers:
    ``aiosqlite`` for any ``sqlite`` URL, psycopg 3's async mode for ``postgresql`` and ``postgresql+psycopg``.

    Raises :class:`~smscore.errors.ConfigurationError` keyed ``database_url`` as :func:`create_engine_for` does,
    and for a database or driver without asyncio support here.
    """
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = parse_database_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in {"postgresql", "postgresql+psycopg", "postgresql+psycopg_async"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    else:
        raise ConfigurationError(
            f"database_url: the asyncio storage runs on SQLite and on PostgreSQL with psycopg, not on "
            f"{parsed.drivername!r}; pass an AsyncEngine of your own in storage_options.engine",
            key="database_url",
        )
    with _driver_errors(parsed):
        # The async drivers keep pool_pre_ping: their sockets are the event loop's to watch.
        engine = create_async_engine(parsed, **_engine_arguments(parsed, busy_timeout), pool_pre_ping=not sqlite)
    _tune(engine.sync_engine, busy_timeout)
    return engine


def parse_database_url(url: str | URL) -> URL:
    """``url`` parsed; raises :class:`~smscore.errors.ConfigurationError` keyed ``database_url`` (without the URL,
    which may hold a password) when it is not a SQLAlchemy URL."""
    try:
        return make_url(url)
    except ArgumentError:
        raise ConfigurationError("database_url is not a valid SQLAlchemy URL", key="database_url") from None


def is_memory_sqlite(url: URL) -> bool:
    """Whether ``url`` is an SQLite database in memory (gone with its last connection, one per connection)."""
    database = url.database or ""
    return url.get_backend_name() == "sqlite" and (database in {"", ":memory:"} or url.query.get("mode") == "memory")


@contextmanager
def _driver_errors(url: URL) -> Iterator[None]:
    """An unknown dialect or a driver that is not installed, as a ConfigurationError naming the extra."""
    try:
        yield
    except NoSuchModuleError:
        raise ConfigurationError(
            f"database_url: unknown database dialect {url.drivername!r}", key="database_url"
        ) from None
    except ImportError as exc:
        extra = "postgres" if url.get_backend_name() == "postgresql" else "<driver>"
        if url.drivername == "sqlite+aiosqlite":
            extra = "asyncio"
        raise ConfigurationError(
            f"database_url: the driver {exc.name or url.get_driver_name()!r} is not installed: "
            f"pip install 'smscore[{extra}]'",
            key="database_url",
        ) from None


def _engine_arguments(url: URL, busy_timeout: float) -> dict[str, Any]:
    """What ``create_engine`` (or ``create_async_engine``) is given for ``url`` besides the URL."""
    arguments: dict[str, Any] = {"json_serializer": _to_json, "json_deserializer": _from_json}
    if url.get_backend_name() != "sqlite":
        return arguments
    if is_memory_sqlite(url):
        # One shared connection: a second one would see a different, empty in-memory database.
        return {**arguments, "poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    if url.query.get("uri") != "true":
        folder = Path(url.database or "").expanduser().absolute().parent
        if not folder.is_dir():
            raise ConfigurationError(
                f"database_url: the folder {str(folder)!r} of the SQLite file does not exist", key="database_url"
            )
    return {**arguments, "connect_args": {"timeout": busy_timeout}}


def _tune(engine: Engine, busy_timeout: float) -> None:
    """Set the SQLite pragmas on every new connection of ``engine`` (the sync facade of an async one too)."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", functools.partial(_tune_sqlite, busy_ms=int(busy_timeout * 1000)))


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


def checked_options(config: SMSConfig) -> tuple[MigrateMode, float]:
    """The ``migrate`` mode and the ``busy_timeout`` seconds of ``config.storage_options``, checked.

    Raises :class:`~smscore.errors.ConfigurationError` naming the wrong option.
    """
    migrate = _migrate_mode(config.storage_options)
    busy_timeout = config.storage_options.get("busy_timeout", BUSY_TIMEOUT_SECONDS)
    return migrate, _seconds(busy_timeout, "storage_options.busy_timeout")


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
