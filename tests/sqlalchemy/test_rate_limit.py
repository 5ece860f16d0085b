"""The SQLAlchemy rate limiter: the contract suite on SQLite (file and memory) and PostgreSQL, the storage
factory's wiring, and four processes sharing one database without ever booking the same slot."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete

from adapters_sqlalchemy.rate_limit import SQLAlchemyRateLimiter
from adapters_sqlalchemy.storage import build_storage
from adapters_sqlalchemy.tables import tables
from smscore import SMSConfig
from tests.contracts.rate_limiters import T0, RateLimiterContract
from tests.sqlalchemy.conftest import sqlite_url

ROOT = Path(__file__).resolve().parents[2]


class TestSQLiteFileRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self, sqlite_file_engine: Engine) -> SQLAlchemyRateLimiter:
        return SQLAlchemyRateLimiter(sqlite_file_engine)


class TestSQLiteMemoryRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self, sqlite_memory_engine: Engine) -> SQLAlchemyRateLimiter:
        return SQLAlchemyRateLimiter(sqlite_memory_engine)


@pytest.mark.postgres
class TestPostgresRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self, postgres_engine: Engine) -> SQLAlchemyRateLimiter:
        with postgres_engine.begin() as conn:
            conn.execute(delete(tables.rate_limits))
        return SQLAlchemyRateLimiter(postgres_engine)


def test_bad_arguments_are_refused_before_touching_the_database(sqlite_memory_engine: Engine) -> None:
    """A count below one, a non-positive interval and a naive ``now`` raise ValueError."""
    limiter = SQLAlchemyRateLimiter(sqlite_memory_engine)
    with pytest.raises(ValueError, match="count"):
        limiter.reserve("ats", 0, interval=1, now=T0)
    with pytest.raises(ValueError, match="count"):
        limiter.reserve("ats", 1, interval=0, now=T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        limiter.reserve("ats", 1, interval=1, now=T0.replace(tzinfo=None))


def test_the_storage_factory_provides_the_limiter(tmp_path: Path) -> None:
    """``build_storage`` hands out a limiter on the same database: a second storage sees the first's bookings."""
    config = SMSConfig(storage="sqlalchemy", database_url=sqlite_url(tmp_path))
    first, second = build_storage(config), build_storage(config)
    try:
        assert isinstance(first.rate_limiter, SQLAlchemyRateLimiter)
        assert second.rate_limiter is not None
        assert first.rate_limiter.reserve("ats", 4, interval=0.5, now=T0) == T0
        assert second.rate_limiter.reserve("ats", 1, interval=0.5, now=T0) == T0 + timedelta(seconds=2)
    finally:
        first.close()
        second.close()


#: A worker process: open the storage, say it is ready, wait for the go file, book 25 single slots, print them.
_WORKER = """
import json, sys, time
from datetime import datetime
from pathlib import Path
from adapters_sqlalchemy.storage import build_storage
from smscore import SMSConfig

url, ready, go, now = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), datetime.fromisoformat(sys.argv[4])
storage = build_storage(SMSConfig(storage="sqlalchemy", database_url=url, storage_options={"migrate": "never"}))
try:
    ready.touch()
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    starts = [storage.rate_limiter.reserve("ats", 1, interval=0.01, now=now).isoformat() for _ in range(25)]
finally:
    storage.close()
print(json.dumps(starts))
"""


def test_four_processes_never_book_the_same_slot(database_url: str, tmp_path: Path) -> None:
    """Four processes reserving 25 slots each at once get 100 distinct starts, exactly 0.01 s apart."""
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(4)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, database_url, str(flag), str(go), T0.isoformat()],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for flag in ready
    ]
    try:
        deadline = time.monotonic() + 30
        while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
            time.sleep(0.01)
        go.touch()
        results = [worker.communicate(timeout=60) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    assert [w.returncode for w in workers] == [0] * 4, [err.decode() for _, err in results]
    starts = sorted(datetime.fromisoformat(s) for out, _ in results for s in json.loads(out))
    assert starts == [T0 + timedelta(milliseconds=10 * i) for i in range(100)]
    assert all(len(json.loads(out)) == 25 for out, _ in results)
