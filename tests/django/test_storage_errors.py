"""Database errors leave the Django storage as the core's StorageError, the Django error chained as the cause, on
SQLite and on PostgreSQL: callers of the core catch one error tree whatever the storage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import DatabaseError, IntegrityError, OperationalError, connections
from django.db.models import Model

from adapters_django.errors import DatabaseUnavailableError
from adapters_django.models import OutputSMSMessage, SMSRateLimit, SMSTemplate
from adapters_django.rate_limit import DjangoRateLimiter
from adapters_django.repositories import DjangoMessageRepository
from adapters_django.template_repository import DjangoTemplateRepository
from smscore import StorageError
from tests.contracts.repositories import T0, make_message

DATABASES = ["default", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=DATABASES)
def alias(request: pytest.FixtureRequest) -> str:
    """Each test runs on SQLite and, where it is reachable, on PostgreSQL."""
    if request.param == "postgres":
        request.getfixturevalue("postgres")
    return str(request.param)


def without_table(alias: str, model: type[Model]) -> None:
    """Rename the model's table inside the test's transaction, as a project that has not run ``migrate`` yet."""
    table = model._meta.db_table
    with connections[alias].cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")


@pytest.mark.django_db(databases=["default", "postgres"])
class TestTranslation:
    def test_a_refused_write_is_a_storage_error_and_the_transaction_stays_usable(self, alias: str) -> None:
        """A NOT NULL violation raised by the database is a StorageError with the IntegrityError as its cause;
        nothing is stored and the caller's transaction goes on (the write ran in a savepoint)."""
        repo = DjangoMessageRepository(using=alias)
        with pytest.raises(StorageError, match=r"^database refused the write: ") as info:
            repo.add(make_message(content=None))
        assert isinstance(info.value.__cause__, IntegrityError)
        assert "\n" not in str(info.value)
        assert OutputSMSMessage.objects.using(alias).count() == 0
        assert repo.get(repo.add(make_message()).id or 0).content == "Hello"

    def test_missing_tables_are_a_storage_error_naming_the_table(self, alias: str) -> None:
        """Before ``migrate``: a StorageError naming the table (unavailable on SQLite, where the driver calls it an
        operational error), never a driver exception."""
        without_table(alias, OutputSMSMessage)
        with pytest.raises(StorageError, match="adapters_django_outputsmsmessage") as info:
            DjangoMessageRepository(using=alias).find()
        assert isinstance(info.value.__cause__, DatabaseError)
        assert isinstance(info.value, DatabaseUnavailableError) is isinstance(info.value.__cause__, OperationalError)

    def test_the_template_repository_and_the_rate_limiter_translate_too(self, alias: str) -> None:
        """Every port of the storage is behind the translation, not only the messages."""
        without_table(alias, SMSTemplate)
        without_table(alias, SMSRateLimit)
        with pytest.raises(StorageError):
            DjangoTemplateRepository(using=alias).list()
        with pytest.raises(StorageError):
            DjangoRateLimiter(using=alias).reserve("ats", 1, interval=1.0, now=T0)


@pytest.fixture
def locked_messages(postgres: str) -> Iterator[str]:
    """Another session holds an exclusive lock on the message table; the test's session gives up after 50 ms."""
    import psycopg

    settings = connections[postgres].settings_dict
    with psycopg.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname=settings["NAME"]
    ) as other:
        other.execute(f"LOCK TABLE {OutputSMSMessage._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        with connections[postgres].cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '50ms'")
        yield postgres
        other.rollback()


@pytest.mark.postgres
@pytest.mark.django_db(databases=["postgres"])
def test_a_lock_wait_that_times_out_is_database_unavailable(locked_messages: str) -> None:
    """PostgreSQL gives up waiting for a lock: DatabaseUnavailableError, one line, the OperationalError chained."""
    with pytest.raises(DatabaseUnavailableError, match=r"^database unavailable: ") as info:
        DjangoMessageRepository(using=locked_messages).count()
    assert isinstance(info.value.__cause__, OperationalError)
    assert "\n" not in str(info.value)
