"""Recipient limits hold across processes: eight processes sending ``otp`` to one number at the same moment get
exactly the limit through, on PostgreSQL (advisory locks) and on an SQLite file (its write lock)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from adapters_sqlalchemy.storage import create_engine_for
from tests.sqlalchemy.limit_worker import LIMIT, RECIPIENT

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 8
ATTEMPTS = 3


def test_eight_processes_get_exactly_the_limit_through(database_url: str, tmp_path: Path) -> None:
    """8 processes x 3 attempts at once: 5 stored, 19 refused, every process done without an error."""
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(PROCESSES)]
    command = [sys.executable, "-m", "tests.sqlalchemy.limit_worker", database_url]
    workers = [
        subprocess.Popen(
            [*command, str(flag), str(go), str(ATTEMPTS)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    try:
        deadline = time.monotonic() + 90
        while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
            if any(w.poll() is not None for w in workers):
                break
            time.sleep(0.01)
        go.touch()
        outputs = [w.communicate(timeout=120) for w in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    assert [w.returncode for w in workers] == [0] * PROCESSES, [err for _, err in outputs]
    results = [json.loads(out) for out, _ in outputs]
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
