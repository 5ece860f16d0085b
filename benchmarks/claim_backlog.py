"""Claims with a backlog of scheduled messages: how fast the outbox takes due messages when 100,000 others are due
later, next to the same claims with no backlog, on SQLite and PostgreSQL.

Each run stores ``--due`` messages due now (10,000) in a fresh database, with or without ``--backlog`` messages
(100,000) due over the next day at every priority, then claims the due ones in pages of 100 until none is left and
checks that exactly those were taken. The figure is messages claimed per second and the time of one claim, the
best of five runs, each with and without the backlog in turn after a warm-up. ``make bench`` records the SQLite figure (``claim_with_backlog``) with the empty
backlog as its limit; run this file alone for both databases::

    python benchmarks/claim_backlog.py [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from adapters_sqlalchemy import SQLAlchemyMessageRepository  # noqa: E402
from adapters_sqlalchemy.schema import upgrade  # noqa: E402
from adapters_sqlalchemy.storage import create_engine_for  # noqa: E402
from smscore import SMSMessage  # noqa: E402

__all__ = ["claim_rate", "compare", "postgres_database", "sqlite_database"]

PAGE = 100
CHUNK = 5000


def _messages(n: int, now: datetime, *, future: bool) -> Iterator[list[SMSMessage]]:
    """``n`` new messages in chunks: due now, or spread over the next day at every priority."""
    for first in range(0, n, CHUNK):
        yield [
            SMSMessage(
                recipient=f"+4207{i:08d}",
                content="Hello from the benchmark",
                created_at=now,
                changed_at=now,
                provider="default",
                priority=1 + i % 3 if future else 3,
                next_attempt_at=now + timedelta(seconds=60 + i % 86_400) if future else now,
            )
            for i in range(first, min(n, first + CHUNK))
        ]


def claim_rate(
    database: Callable[[], AbstractContextManager[sa.Engine]], due: int, backlog: int
) -> tuple[float, float]:
    """Messages claimed per second and milliseconds per claim, draining ``due`` messages past ``backlog``."""
    with database() as engine:
        repo = SQLAlchemyMessageRepository(engine)
        now = datetime.now(UTC)
        for chunk in _messages(backlog, now, future=True):
            repo.add_many(chunk)
        for chunk in _messages(due, now, future=False):
            repo.add_many(chunk)
        claimed = calls = 0
        lease = now + timedelta(minutes=5)
        start = time.perf_counter()
        while page := repo.claim(now=now, lease_until=lease, limit=PAGE):
            claimed += len(page)
            calls += 1
        elapsed = time.perf_counter() - start
        assert claimed == due, (claimed, due)
    return claimed / elapsed, elapsed / (calls + 1) * 1000


@contextmanager
def sqlite_database(folder: Path) -> Iterator[sa.Engine]:
    """A fresh, migrated SQLite file."""
    engine = create_engine_for(f"sqlite:///{folder / f'claims-{uuid.uuid4().hex}.db'}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@contextmanager
def postgres_database(url: str) -> Iterator[sa.Engine]:
    """A fresh, migrated schema of its own in the PostgreSQL database ``url``, dropped at the end."""
    schema = f"smscore_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine_for(sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def compare(
    database: Callable[[], AbstractContextManager[sa.Engine]], due: int, backlog: int, runs: int = 5
) -> dict[str, Any]:
    """The best claims per second and milliseconds per claim of ``runs`` runs, with and without the backlog, the
    two taken in turn after a warm-up of each (so neither gets a warmer cache or a quieter machine). The best
    run, as ``timeit`` reports: on a shared machine the others measure the neighbours."""
    claim_rate(database, due, 0)
    claim_rate(database, due, backlog)
    empty, full = [], []
    for _ in range(runs):
        empty.append(claim_rate(database, due, 0))
        full.append(claim_rate(database, due, backlog))
    return {
        "runs": [r[0] for r in full],
        "empty_per_s": max(r[0] for r in empty),
        "backlog_per_s": max(r[0] for r in full),
        "empty_ms": min(r[1] for r in empty),
        "backlog_ms": min(r[1] for r in full),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--postgres", default=None, help="also measure on this PostgreSQL database URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smscore-claims-") as name:
        databases: dict[str, Callable[[], AbstractContextManager[sa.Engine]]] = {
            "sqlite": lambda: sqlite_database(Path(name))
        }
        if args.postgres:
            databases["postgresql"] = lambda: postgres_database(args.postgres)
        for label, database in databases.items():
            found = compare(database, args.due, args.backlog)
            share = found["backlog_per_s"] / found["empty_per_s"]
            print(
                f"{label:<10} {args.due:,} due, pages of {PAGE}: "
                f"empty {found['empty_per_s']:,.0f} msgs/s ({found['empty_ms']:.2f} ms/claim), "
                f"{args.backlog:,} due later {found['backlog_per_s']:,.0f} msgs/s ({found['backlog_ms']:.2f} ms/claim), "
                f"{share:.0%}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
