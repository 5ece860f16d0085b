"""The PostgreSQL figures of ``make bench``: send, send_many and the outbox drain next to raw psycopg, and the
drain's scaling with 1, 2 and 4 worker processes (throughput and CPU per message of workers, database, gateway).

Each run gets a schema of its own in the ``test`` database (``search_path`` set through the URL), dropped after.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from harness import ATS_OPTIONS, RESULTS, XML_HEADERS, RemoteGateway, median_run, recipients, record, replay

import smscore

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = os.environ.get("SMSCORE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TICKS = os.sysconf("SC_CLK_TCK")


def reachable() -> bool:
    """Whether the benchmark's PostgreSQL answers (the figures are left out, and said so, when it does not)."""
    try:
        psycopg.connect(POSTGRES, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


@contextmanager
def fresh_schema() -> Iterator[tuple[str, str]]:
    """A new schema with smscore's tables: the SQLAlchemy URL and the psycopg connection string that use it."""
    schema = f"smscore_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    conninfo = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    url = conninfo.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        smscore.build_service({"storage": "sqlalchemy", "database_url": url}).close()
        yield url, conninfo
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def service_on(url: str, provider: str = "dummy", options: dict[str, Any] | None = None, **config: Any) -> Any:
    return smscore.build_service(
        {
            "storage": "sqlalchemy",
            "database_url": url,
            "provider": provider,
            "provider_options": options or {},
            **config,
        }
    )


# -- raw psycopg ----------------------------------------------------------------------------------------------

RAW_COLUMNS = (
    "recipient, content, state, created_at, changed_at, extra_data, extra_sender_data, attempts, priority, "
    "encoding, segments, provider, backend, version, next_attempt_at"
)
RAW_INSERT = (
    f"INSERT INTO smscore_message ({RAW_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, 0, 3, 'GSM-7', 1, %s, %s, 0, %s)"
)
RAW_UPDATE = (
    "UPDATE smscore_message SET state=%s, changed_at=%s, sent_at=%s, attempts=%s, provider_ref=%s, "
    "extra_sender_data=%s, lease_expires_at=%s, version=version+1 WHERE id=%s AND version=%s"
)
RAW_CLAIM = (
    "UPDATE smscore_message SET lease_expires_at=%s, version=version+1 WHERE id IN (SELECT id FROM smscore_message"
    " WHERE state='waiting' AND priority=3 AND next_attempt_at<=%s AND lease_expires_at IS NULL"
    " ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED)"
    " RETURNING id"
)


def raw_row(recipient: str, state: str = "waiting") -> tuple[Any, ...]:
    now = datetime.now(UTC)
    return (
        recipient,
        "Hello from the benchmark",
        state,
        now,
        now,
        "{}",
        "{}",
        "default",
        "providers.dummy.DummySMSBackend",
        now,  # next_attempt_at: due now, as a stored message is
    )


def raw_outcome(message_id: int, state: str, version: int = 0) -> tuple[Any, ...]:
    now = datetime.now(UTC)
    return (state, now, now, 1, f"ref-{message_id}", "{}", None, message_id, version)


def count_in(conninfo: str, state: str) -> int:
    with psycopg.connect(conninfo) as db:
        row = db.execute("SELECT count(*) FROM smscore_message WHERE state=%s", (state,)).fetchone()
    assert row is not None
    return int(row[0])


# -- the figures ----------------------------------------------------------------------------------------------


def bench_pg_send(n: int) -> None:
    def ours() -> float:
        with fresh_schema() as (url, conninfo):
            service = service_on(url)
            start = time.perf_counter()
            for number in recipients(n):
                service.send(number, "Hello from the benchmark", tag="bench")
            elapsed = time.perf_counter() - start
            service.close()
            assert count_in(conninfo, "debug") == n
        return n / elapsed

    def limit() -> float:
        """Each send's least work: the row inserted and committed, its outcome updated and committed."""
        with fresh_schema() as (_, conninfo), psycopg.connect(conninfo, autocommit=True) as db:
            start = time.perf_counter()
            for number in recipients(n):
                row = db.execute(RAW_INSERT + " RETURNING id", raw_row(number)).fetchone()
                assert row is not None
                db.execute(RAW_UPDATE, raw_outcome(row[0], "debug"))
            elapsed = time.perf_counter() - start
        return n / elapsed

    limit_value, _ = median_run(limit)
    value, runs = median_run(ours)
    record("pg_send", value, limit_value, "msgs/s", runs)


def bench_pg_send_many(n: int) -> None:
    def ours() -> float:
        with fresh_schema() as (url, conninfo):
            service = service_on(url)
            start = time.perf_counter()
            sent = service.send_many(recipients(n), "Hello from the benchmark", tag="bench")
            elapsed = time.perf_counter() - start
            service.close()
            assert len(sent) == n
            assert count_in(conninfo, "debug") == n
        return n / elapsed

    def raw(with_outcomes: bool) -> float:
        with fresh_schema() as (_, conninfo), psycopg.connect(conninfo) as db:
            rows = [raw_row(number) for number in recipients(n)]
            start = time.perf_counter()
            with db.cursor() as cursor:
                cursor.executemany(RAW_INSERT + " RETURNING id", rows, returning=True)
                ids = []
                while True:
                    ids.extend(row[0] for row in cursor.fetchall())
                    if not cursor.nextset():
                        break
            db.commit()
            if with_outcomes:
                with db.cursor() as cursor:
                    cursor.executemany(RAW_UPDATE, [raw_outcome(i, "debug") for i in ids])
                db.commit()
            elapsed = time.perf_counter() - start
            assert len(ids) == n
        return n / elapsed

    limit_value, _ = median_run(lambda: raw(False))
    floor_value, _ = median_run(lambda: raw(True))
    value, runs = median_run(ours)
    record("pg_send_many", value, limit_value, "msgs/s", runs, floor=floor_value)


def seed_waiting(conninfo: str, n: int) -> None:
    with psycopg.connect(conninfo) as db, db.cursor() as cursor:
        cursor.executemany(RAW_INSERT, [raw_row(number) for number in recipients(n)])


def bench_pg_outbox(n: int) -> None:
    limits: list[float] = []
    floors: list[float] = []

    def ours() -> float:
        with RemoteGateway() as gateway, fresh_schema() as (url, conninfo):
            options = {**ATS_OPTIONS, "url": gateway.url, "max_batch_size": 100}
            service = service_on(url, "ats", options, batch_sending=True, batch_size=1000)
            service.send_many(recipients(n), "Hello from the benchmark")
            start = time.perf_counter()
            while service.process_outbox().claimed:
                pass
            elapsed = time.perf_counter() - start
            service.close()
            assert count_in(conninfo, "sending") == n
            bodies = gateway.bodies()
        with RemoteGateway(keep_requests=False) as fresh:
            limits.append(n / replay(fresh.url, bodies))
            floors.append(n / floor(fresh.url, bodies))
        return n / elapsed

    def floor(url: str, bodies: list[bytes]) -> float:
        """The drain's least work, raw: claim 1,000 rows with a lease, POST each 100, store their outcomes."""
        with fresh_schema() as (_, conninfo):
            seed_waiting(conninfo, n)
            requests = iter(bodies)
            with psycopg.connect(conninfo) as db, httpx.Client(headers=XML_HEADERS) as client:
                start = time.perf_counter()
                while True:
                    lease = datetime.now(UTC) + timedelta(minutes=5)
                    now = datetime.now(UTC)
                    claimed = [row[0] for row in db.execute(RAW_CLAIM, (lease, now, 1000)).fetchall()]
                    db.commit()
                    if not claimed:
                        break
                    for first in range(0, len(claimed), 100):
                        client.post(url, content=next(requests)).raise_for_status()
                        with db.cursor() as cursor:
                            chunk = claimed[first : first + 100]
                            cursor.executemany(RAW_UPDATE, [raw_outcome(i, "sending", version=1) for i in chunk])
                        db.commit()
                elapsed = time.perf_counter() - start
            assert count_in(conninfo, "sending") == n
        return elapsed

    value, runs = median_run(ours)
    floor_value = statistics.median(floors[1:])
    record("pg_outbox_ats_batch", value, statistics.median(limits[1:]), "msgs/s", runs, floor=floor_value)


# -- scaling with worker processes ----------------------------------------------------------------------------


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds the processes used so far (``/proc``; processes gone since count nothing)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def postgres_pids() -> list[int]:
    """Every PostgreSQL server process of this machine: the backends of the workers' connections among them."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.joinpath("comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def drain_with(workers: int, n: int) -> dict[str, float]:
    """Drain ``n`` WAITING messages with ``workers`` processes at once against one gateway process."""
    with RemoteGateway(keep_requests=False) as gateway, fresh_schema() as (url, conninfo):
        seed_waiting(conninfo, n)
        script = str(ROOT / "benchmarks" / "drain_process.py")
        config = json.dumps({"url": url, "gateway": gateway.url})
        procs = [
            subprocess.Popen([sys.executable, script, config], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(workers)
        ]
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        # The workers' own connections exist from here on: their backends are among these processes.
        db_pids, worker_pids = postgres_pids(), [proc.pid for proc in procs]
        gateway_pid = [gateway.pid]
        before = cpu_seconds(worker_pids), cpu_seconds(db_pids), cpu_seconds(gateway_pid)
        start = time.perf_counter()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "done"
        elapsed = time.perf_counter() - start
        after = cpu_seconds(worker_pids), cpu_seconds(db_pids), cpu_seconds(gateway_pid)
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=60)
        assert count_in(conninfo, "sending") == n
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return {
        "value": n / elapsed,
        "worker_cpu_ms_per_msg": 1000 * spent[0] / n,
        "db_cpu_ms_per_msg": 1000 * spent[1] / n,
        "gateway_cpu_ms_per_msg": 1000 * spent[2] / n,
    }


def bench_pg_scaling(n: int) -> None:
    for workers in (1, 2, 4):
        runs = [drain_with(workers, n) for _ in range(3)]
        best = sorted(runs, key=lambda run: run["value"])[1]
        record(
            f"pg_outbox_workers_{workers}",
            best["value"],
            None,
            "msgs/s",
            [run["value"] for run in runs],
            **{k: round(v, 4) for k, v in best.items() if k != "value"},
        )
    one, four = RESULTS["pg_outbox_workers_1"], RESULTS["pg_outbox_workers_4"]
    growth = four["worker_cpu_ms_per_msg"] / one["worker_cpu_ms_per_msg"] - 1
    RESULTS["pg_outbox_workers_4"]["worker_cpu_growth_from_1"] = round(growth, 3)
