"""The Django rate limiter passes the contract suite on an SQLite file and on PostgreSQL, and the storage
factory hands it out."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connections, transaction

from adapters_django.models import SMSRateLimit
from adapters_django.rate_limit import DjangoRateLimiter
from adapters_django.storage import build_storage
from smscore import SMSConfig
from tests.contracts.rate_limiters import T0, RateLimiterContract


class ThreadClosingLimiter(DjangoRateLimiter):
    """The real limiter; called from another thread, it then closes that thread's connection.

    The contract's threads end without closing the connections Django opened for them, and PostgreSQL would
    keep their sessions open until the test database is dropped.
    """

    def reserve(self, key: str, count: int, *, interval: float, now: datetime) -> datetime:
        try:
            return super().reserve(key, count, interval=interval, now=now)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connections[self.using].close()


@pytest.mark.django_db(transaction=True, databases=["sqlite_file"])
class TestSQLiteRateLimiter(RateLimiterContract):
    """On a file, so the threads' own connections really compete for SQLite's write lock."""

    @pytest.fixture
    def limiter(self) -> DjangoRateLimiter:
        return ThreadClosingLimiter(using="sqlite_file")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["postgres"])
class TestPostgresRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self, postgres: str) -> DjangoRateLimiter:
        return ThreadClosingLimiter(using=postgres)


@pytest.mark.django_db
def test_the_storage_factory_provides_the_limiter() -> None:
    """``build_storage`` hands out a limiter on the configured alias, writing SMSRateLimit rows."""
    storage = build_storage(SMSConfig(storage="django"))
    assert isinstance(storage.rate_limiter, DjangoRateLimiter)
    assert storage.rate_limiter.reserve("ats", 4, interval=0.5, now=T0) == T0
    assert SMSRateLimit.objects.get(key="ats").next_free == T0 + timedelta(seconds=2)


@pytest.mark.django_db
def test_inside_a_callers_transaction_a_rolled_back_reservation_is_undone() -> None:
    """The reservation joins the caller's transaction: rolled back with it, the slots are free again."""
    limiter = DjangoRateLimiter()
    limiter.reserve("ats", 1, interval=1, now=T0)

    def book_then_fail() -> None:
        with transaction.atomic():
            assert limiter.reserve("ats", 10, interval=1, now=T0) == T0 + timedelta(seconds=1)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError, match="roll back"):
        book_then_fail()
    assert limiter.reserve("ats", 1, interval=1, now=T0) == T0 + timedelta(seconds=1)


@pytest.mark.django_db
def test_bad_arguments_are_refused() -> None:
    """A count below one, a non-positive interval and a naive ``now`` raise ValueError, and nothing is stored."""
    limiter = DjangoRateLimiter()
    with pytest.raises(ValueError, match="count"):
        limiter.reserve("ats", 0, interval=1, now=T0)
    with pytest.raises(ValueError, match="count"):
        limiter.reserve("ats", 1, interval=-1, now=T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        limiter.reserve("ats", 1, interval=1, now=T0.replace(tzinfo=None))
    assert not SMSRateLimit.objects.exists()
