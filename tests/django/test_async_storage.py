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
from tests.async_scenario import every_use_case
from tests.contracts.on_event_loop import (
    InboundOnEventLoop,
    MessagesOnEventLoop,
    OptOutsOnEventLoop,
    RateLimiterOnEventLoop,
    RefusalsOnEventLoop,
    TemplatesOnEventLoop,
    on_event_loop,
)


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


class TestAsyncDjangoMessageRepository(MessagesOnEventLoop):
    """The message repository suite (the Hypothesis query contract included)."""


class TestAsyncDjangoTemplateRepository(TemplatesOnEventLoop):
    """The template repository suite."""


class TestAsyncDjangoOptOutRepository(OptOutsOnEventLoop):
    """The opt-out list suite."""


class TestAsyncDjangoRefusalCounter(RefusalsOnEventLoop):
    """The refusal totals suite."""


class TestAsyncDjangoInboundRepository(InboundOnEventLoop):
    """The inbound SMS suite (concurrent adds become concurrent tasks)."""


class TestAsyncDjangoRateLimiter(RateLimiterOnEventLoop):
    """The rate limiter suite (concurrent reservations become concurrent tasks)."""


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
    assert asyncio.run(run_in_django_thread(threading.current_thread)) is not threading.current_thread()


@pytest.mark.parametrize(
    "database",
    [
        pytest.param("default", marks=pytest.mark.django_db(transaction=True)),
        pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.django_db(databases=["postgres"])]),
    ],
)
def test_every_use_case_runs_on_the_asyncio_storage(database: str) -> None:
    """The asyncio service end to end on the ORM, each repository call in ``sync_to_async``."""
    config = SMSConfig(storage="django", storage_options={"database": database})
    try:
        asyncio.run(every_use_case(build_storage.build_async(config)))
    finally:
        if database == "postgres":
            asyncio.run(run_in_django_thread(_empty_tables, database))
