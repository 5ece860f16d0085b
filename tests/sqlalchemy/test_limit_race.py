"""Recipient limits hold across processes: eight processes sending ``otp`` to one number at the same moment get
exactly the limit through, on PostgreSQL (advisory locks) and on an SQLite file (its write lock)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from adapters_sqlalchemy.storage import create_engine_for
from tests.sqlalchemy.limit_worker import LIMIT, RECIPIENT
from tests.sqlalchemy.together import run_together

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 8
ATTEMPTS = 3


def test_eight_processes_get_exactly_the_limit_through(database_url: str, tmp_path: Path) -> None:
    """8 processes x 3 attempts at once: 5 stored, 19 refused, every process done without an error."""
    results = run_together("tests.sqlalchemy.limit_worker", [database_url, str(ATTEMPTS)], PROCESSES, tmp_path)
    assert sum(r["sent"] for r in results) == LIMIT
    assert sum(r["refused"] for r in results) == PROCESSES * ATTEMPTS - LIMIT
    engine = create_engine_for(database_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT count(*) FROM smscore_message WHERE recipient = :r AND tag = 'otp'"), {"r": RECIPIENT}
            ).scalar()
            refusals = conn.execute(text("SELECT count FROM smscore_refusal WHERE reason = 'rate_limited'")).scalar()
    finally:
        engine.dispose()
    assert stored == LIMIT
    assert refusals == PROCESSES * ATTEMPTS - LIMIT
