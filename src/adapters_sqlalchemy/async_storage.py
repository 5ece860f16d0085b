"""The SQLAlchemy storage of the asyncio service: the sync repositories on an ``AsyncEngine``, each call run in
SQLAlchemy's greenlet bridge.

The repositories are the ones of :mod:`adapters_sqlalchemy.storage`, built on ``async_engine.sync_engine``. Their
calls go through :class:`GreenletRunner`: ``sqlalchemy.util.greenlet_spawn`` runs the call in a greenlet, and
each statement it executes is awaited on the event loop by the async driver (``aiosqlite``, psycopg's async mode),
as ``AsyncSession`` does it. No thread is involved, the code is the very code of the sync storage (PostgreSQL's
claim keeps ``FOR UPDATE SKIP LOCKED``), and driver errors are translated by the same
:func:`~adapters_sqlalchemy.errors.storage_errors`.

The schema (``storage_options.migrate``) is prepared

- for a URL, on a short-lived sync engine for the same database before the async engine is used: errors show at
  build time as they do for the sync storage, and no event loop is needed yet (``build_async`` is a plain
  function, called before the loop runs or inside it);
- for SQLite in memory and for an application's own ``AsyncEngine``, by the first call of the runner, through the
  same bridge: another engine would see another, empty in-memory database, and only the application knows how its
  engine connects (arguments, creator, pool).

SQLite in memory has one connection (a second one would see another database): its runner lets one call at a time
use it, so that two tasks never interleave their transactions on it.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from adapters_sqlalchemy.schema import MigrateMode, ensure_schema
from adapters_sqlalchemy.storage import (
    DEFAULT_DATABASE_URL,
    checked_options,
    create_async_engine_for,
    create_engine_for,
    is_memory_sqlite,
    parse_database_url,
    repositories_on,
)
from smscore.async_ports import AsyncStorage
from smscore.config import SMSConfig
from smscore.errors import ConfigurationError

__all__ = ["GreenletRunner", "build_async_storage"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class GreenletRunner:
    """The :class:`~smscore.async_ports.BlockingRunner` of the SQLAlchemy asyncio storage: each call runs in a
    greenlet whose statements are awaited on the event loop.

    ``prepare`` (the schema step) runs once, before the first call; a failure is raised to that call and tried
    again by the next. ``one_at_a_time`` lets a single call run at once (an engine with one shared connection).
    """

    def __init__(self, *, prepare: Callable[[], object] | None = None, one_at_a_time: bool = False) -> None:
        self._prepare = prepare
        self._one_at_a_time = one_at_a_time
        self._lock = asyncio.Lock()

    async def __call__(self, fn: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run ``fn(*args, **kwargs)`` in SQLAlchemy's greenlet bridge and return what it returns."""
        # Bound first: greenlet_spawn has a keyword of its own that a call's keywords must not reach.
        call = functools.partial(fn, *args, **kwargs)
        if self._one_at_a_time:
            async with self._lock:
                await self._prepared()
                return await greenlet_spawn(call)
        if self._prepare is not None:
            async with self._lock:
                await self._prepared()
        return await greenlet_spawn(call)

    async def _prepared(self) -> None:
        """Run the preparation unless it has succeeded (the caller holds the lock)."""
        if self._prepare is not None:
            await greenlet_spawn(self._prepare)
            self._prepare = None


def build_async_storage(config: SMSConfig) -> AsyncStorage:
    """:meth:`SQLAlchemyStorageFactory.build_async <adapters_sqlalchemy.storage.SQLAlchemyStorageFactory.build_async>`:
    the repositories on an ``AsyncEngine`` for ``config``, their runner, and ``aclose`` (which disposes of the
    engine unless the application gave it).

    Raises :class:`~smscore.errors.ConfigurationError` for a bad option or URL, a driver without asyncio support
    or a missing package, and :class:`~smscore.errors.StorageError` when the database cannot be opened or
    migrated.
    """
    migrate, busy_timeout = checked_options(config)
    if importlib.util.find_spec("greenlet") is None:
        raise ConfigurationError(
            "storage 'sqlalchemy' under asyncio needs 'greenlet', which is not installed: "
            "pip install 'smscore[asyncio]'",
            key="storage",
        )
    given = config.storage_options.get("engine")
    if given is not None:
        engine = _application_engine(given, config)
        prepare = functools.partial(ensure_schema, engine.sync_engine, migrate)
        return AsyncStorage(
            storage=repositories_on(engine.sync_engine, config, close=_released_by_aclose),
            run=GreenletRunner(prepare=prepare),
            aclose=_keep_open,
        )
    url = parse_database_url(config.database_url or DEFAULT_DATABASE_URL)
    engine = create_async_engine_for(url, busy_timeout=busy_timeout)
    if is_memory_sqlite(url):
        run = GreenletRunner(prepare=functools.partial(ensure_schema, engine.sync_engine, migrate), one_at_a_time=True)
    else:
        # The engine has not connected yet: should this fail, it holds nothing to release.
        _prepare_schema(_sync_twin(url), migrate, busy_timeout)
        run = GreenletRunner()
    return AsyncStorage(
        storage=repositories_on(engine.sync_engine, config, close=_released_by_aclose),
        run=run,
        aclose=engine.dispose,
    )


def _application_engine(given: Any, config: SMSConfig) -> AsyncEngine:
    if not isinstance(given, AsyncEngine):
        raise ConfigurationError(
            "storage_options.engine must be a SQLAlchemy AsyncEngine for the asyncio service "
            f"(sqlalchemy.ext.asyncio.create_async_engine), not {type(given).__name__}",
            key="storage_options.engine",
        )
    if config.database_url:
        raise ConfigurationError(
            "give either database_url or storage_options.engine, not both", key="storage_options.engine"
        )
    return given


def _sync_twin(url: URL) -> URL:
    """The same database through the sync driver (the asyncio ones are checked by ``create_async_engine_for``)."""
    return url.set(drivername="sqlite" if url.get_backend_name() == "sqlite" else "postgresql+psycopg")


def _prepare_schema(url: URL, migrate: MigrateMode, busy_timeout: float) -> None:
    """``ensure_schema`` on a short-lived sync engine for ``url``."""
    if migrate == "never":
        return
    engine = create_engine_for(url, busy_timeout=busy_timeout)
    try:
        ensure_schema(engine, migrate)
    finally:
        engine.dispose()


def _released_by_aclose() -> None:
    """The sync ``close`` of the asyncio storage: its engine is released by ``aclose``, on the loop."""


async def _keep_open() -> None:
    """``aclose`` for an engine the application owns: it stays open."""
