"""The Django storage under asyncio passes the storage contract suites, each call in ``sync_to_async`` on an event
loop, and ``build_async`` keeps the factory's checks.

``sync_to_async(thread_sensitive=True)`` runs the calls in another thread than the test's, on that thread's own
database connection: it cannot see inside the test's transaction, so these tests commit for real. On SQLite
pytest-django's transactional test empties the database after each; on PostgreSQL, where that flush of every
table costs close to a second a test, the fixture empties the app's own tables instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.db import connections, transaction

from adapters_django.storage import build_storage, run_in_django_thread
from smscore import ConfigurationError, SMSConfig, Storage
from smscore.async_ports import AsyncStorageFactory
from smscore.ports import (
    InboundRepository,
    MessageRepository,
    OptOutRepository,
    RateLimiter,
    RefusalCounter,
    TemplateRepository,
)
from tests.contracts.guards import OptOutRepositoryContract, RefusalCounterContract
from tests.contracts.inbound import InboundRepositoryContract
from tests.contracts.on_event_loop import EventLoopThread, on_event_loop
from tests.contracts.rate_limiters import RateLimiterContract
from tests.contracts.repositories import MessageRepositoryContract, TemplateRepositoryContract


@pytest.fixture(
    params=[
        pytest.param("default", marks=pytest.mark.django_db(transaction=True)),
        pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.django_db(databases=["postgres"])]),
    ]
)
def async_storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    """The Django storage for the asyncio service on SQLite (in memory) or PostgreSQL, called on an event loop."""
    config = SMSConfig(storage="django", storage_options={"database": request.param})
    try:
        with on_event_loop(build_storage.build_async(config)) as storage:
            yield storage
    finally:
        if request.param == "postgres":
            asyncio.run(run_in_django_thread(_empty_tables, request.param))


def _empty_tables(database: str) -> None:
    """Delete the rows of every table of ``adapters_django`` on ``database``, then close this thread's connection.

    Not pytest-django's transactional flush: on PostgreSQL it truncates every table of the test database, close
    to a second a test, while the rows these tests commit are only in the app's own few tables. Django's foreign
    keys are deferred on PostgreSQL, so the order of the deletes does not matter inside one transaction.
    """
    connection = connections[database]
    try:
        with transaction.atomic(using=database), connection.cursor() as cursor:
            for model in apps.get_app_config("adapters_django").get_models():
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
    finally:
        connection.close()


class TestAsyncDjangoMessageRepository(MessageRepositoryContract):
    @pytest.fixture
    def repo(self, async_storage: Storage) -> MessageRepository:
        return async_storage.messages


class TestAsyncDjangoTemplateRepository(TemplateRepositoryContract):
    @pytest.fixture
    def templates(self, async_storage: Storage) -> TemplateRepository:
        return async_storage.templates


class TestAsyncDjangoOptOutRepository(OptOutRepositoryContract):
    @pytest.fixture
    def opt_outs(self, async_storage: Storage) -> OptOutRepository | None:
        return async_storage.opt_outs


class TestAsyncDjangoRefusalCounter(RefusalCounterContract):
    @pytest.fixture
    def refusals(self, async_storage: Storage) -> RefusalCounter | None:
        return async_storage.refusals


class TestAsyncDjangoInboundRepository(InboundRepositoryContract):
    @pytest.fixture
    def inbound(self, async_storage: Storage) -> InboundRepository | None:
        return async_storage.inbound


class TestAsyncDjangoRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self, async_storage: Storage) -> RateLimiter | None:
        return async_storage.rate_limiter


def test_the_factory_plays_the_async_role() -> None:
    """The core finds build_async on the factory ``{"storage": "django"}`` names."""
    assert isinstance(build_storage, AsyncStorageFactory)


def test_an_unknown_database_alias_is_refused_by_build_async_too() -> None:
    """build_async checks the configuration as the sync factory does."""
    with pytest.raises(ConfigurationError, match="not in DATABASES") as info:
        build_storage.build_async(SMSConfig(storage="django", storage_options={"database": "nowhere"}))
    assert info.value.key == "storage_options.database"


def test_the_runner_leaves_the_event_loops_thread() -> None:
    """A call runs in Django's sync thread, never on the loop's (where the ORM refuses to run)."""
    loop = EventLoopThread()
    try:
        assert loop.run(run_in_django_thread(threading.current_thread)) is not loop._thread
    finally:
        loop.close()
