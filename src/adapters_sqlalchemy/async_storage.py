"""The SQLAlchemy storage of the asyncio service: an SQLite file's sync repositories in a pool of threads; the sync
repositories on an ``AsyncEngine``, each call run in SQLAlchemy's greenlet bridge, for PostgreSQL, SQLite in memory
and an application's own engine.

SQLite is a library that blocks in the calling thread: ``aiosqlite`` runs it in a thread of its own and hands each
cursor operation over to it and back through the event loop, about twenty hand-overs for a ``send``. For an SQLite
file the storage is therefore the sync one of :mod:`adapters_sqlalchemy.storage`, each repository call run whole in
a thread (:func:`~smscore.async_ports.in_threads`): one hand-over per call, and the sync storage's statements on the
pooled driver connection. On the benchmark machine that is 2.3 times the ``await send()`` rate at half the CPU.

For the other databases the repositories are the same ones, built on ``async_engine.sync_engine``. Their
calls go through :class:`GreenletRunner`: ``sqlalchemy.util.greenlet_spawn`` runs the call in a greenlet, and
each statement it executes is awaited on the event loop by the async driver (``aiosqlite``, psycopg's async mode),
as ``AsyncSession`` does it. No thread is involved, the code is the very code of the sync storage (PostgreSQL's
claim keeps ``FOR UPDATE SKIP LOCKED``), and driver errors are translated by the same
:func:`~adapters_sqlalchemy.errors.storage_errors`.

The schema (``storage_options.migrate``) is prepared

- for a URL, on a short-lived sync engine for the same database before the async engine is used (an SQLite
  file's, on its own engine): errors show at build time as they do for the sync storage, and no event loop is
  needed yet (``build_async`` is a plain function, called before the loop runs or inside it);
- for SQLite in memory and for an application's own ``AsyncEngine``, by the first call of the runner, through the
  same bridge: another engine would see another, empty in-memory database, and only the application knows how its
  engine connects (arguments, creator, pool).

An engine with one shared connection (``StaticPool``: SQLite in memory, ours or the application's) gets a runner
that lets one call at a time use it, so that two tasks never interleave their transactions on it. For the same
reason, code run in the bridge never holds a thread lock across a statement: every call runs in the loop's thread,
and a second task waiting for that lock would block the loop for good (see :mod:`adapters_sqlalchemy.rate_limit`).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import attrs
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool
from sqlalchemy.util import greenlet_spawn

from adapters_sqlalchemy.schema import MigrateMode, ensure_schema
from adapters_sqlalchemy.storage import (
    DEFAULT_DATABASE_URL,
    build_storage,
    checked_options,
    create_async_engine_for,
    create_engine_for,
    is_memory_sqlite,
    parse_database_url,
    repositories_on,
)
from smscore.async_ports import AsyncStorage, in_threads
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
    for an SQLite file the sync storage in a pool of threads, else the repositories on an ``AsyncEngine`` for
    ``config``; their runner, and ``aclose`` (which disposes of the engine unless the application gave it).

    Raises :class:`~smscore.errors.ConfigurationError` for a bad option or URL, a driver without asyncio support
    or a missing package, and :class:`~smscore.errors.StorageError` when the database cannot be opened or
    migrated.
    """
    migrate, busy_timeout = checked_options(config)
    given = config.storage_options.get("engine")
    if given is None:
        url = parse_database_url(config.database_url or DEFAULT_DATABASE_URL)
        if url.get_backend_name() == "sqlite" and not is_memory_sqlite(url):
            sync_url = _sync_twin(url).render_as_string(hide_password=False)
            return in_threads(build_storage(attrs.evolve(config, database_url=sync_url)))
    if importlib.util.find_spec("greenlet") is None:
        raise ConfigurationError(
            "storage 'sqlalchemy' under asyncio needs 'greenlet', which is not installed: "
            "pip install 'smscore[asyncio]'",
            key="storage",
        )
    if given is not None:
        engine = _application_engine(given, config)
        return AsyncStorage(
            storage=repositories_on(engine.sync_engine, config, close=_released_by_aclose),
            run=_prepared_by_first_call(engine, migrate),
            aclose=_keep_open,
        )
    engine = create_async_engine_for(url, busy_timeout=busy_timeout)
    if is_memory_sqlite(url):
        run = _prepared_by_first_call(engine, migrate)
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


def _prepared_by_first_call(engine: AsyncEngine, migrate: MigrateMode) -> GreenletRunner:
    """A runner whose first call makes the schema on ``engine``; one call at a time on a single connection."""
    return GreenletRunner(
        prepare=functools.partial(ensure_schema, engine.sync_engine, migrate),
        one_at_a_time=isinstance(engine.sync_engine.pool, StaticPool),
    )


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
