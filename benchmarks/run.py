"""``make bench``: how fast smscore is, next to a limit measured in the same run on the same machine.

Each figure is the median of several runs after a warm-up, printed as a table and written to
``benchmarks/results.json``. Every run checks its result (every message ends in the expected state), so a fast
figure cannot come from skipped work. Limits do the same persistent or network work with the raw tool
(``sqlite3``, ``httpx``) and nothing else.

Where the limit the figure is compared with covers only part of the job (``send_many``'s is the insert alone, the
network figures' are the requests alone), a ``floor`` is measured too: the least raw work of the whole job (every
row stored, every request posted, every outcome stored), the most any code could reach on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


import postgres  # noqa: E402
from chart import scaling_svg  # noqa: E402
from child_figures import bench_import, bench_peak_rss  # noqa: E402
from claim_backlog import compare, sqlite_database  # noqa: E402
from harness import (  # noqa: E402
    ATS_OPTIONS,
    RAW_UPDATE,
    RESULTS,
    XML_HEADERS,
    RemoteGateway,
    engine_for,
    fresh_database,
    insert_sql,
    median_run,
    raw_connection,
    raw_outcome,
    raw_row,
    recipients,
    record,
    replay,
    seed_sending,
    service_for,
)
from twilio_drain import bench_twilio_outbox  # noqa: E402

import smscore  # noqa: E402
from smscore import SMSState  # noqa: E402


def bench_send(tmp: Path, n: int) -> None:
    def ours(template: bool) -> Callable[[], float]:
        def run() -> float:
            path = tmp / f"send-{time.perf_counter_ns()}.db"
            service = service_for(path)
            service.templates.save(smscore.SMSTemplate(slug="otp", body="Your code is {{ code }}"))
            numbers = recipients(n)
            start = time.perf_counter()
            if template:
                for i, number in enumerate(numbers):
                    service.send_template(number, "otp", {"code": str(i)})
            else:
                for number in numbers:
                    service.send(number, "Hello from the benchmark", tag="bench")
            elapsed = time.perf_counter() - start
            assert service.messages.count(SMSState.DEBUG) == n
            service.close()
            return n / elapsed

        return run

    def limit() -> float:
        path, columns = fresh_database(tmp, "send-raw")
        insert = insert_sql(columns)
        db = raw_connection(path)
        numbers = recipients(n)
        start = time.perf_counter()
        for number in numbers:
            db.execute("BEGIN")
            message_id = db.execute(insert, raw_row(columns, number)).lastrowid
            db.execute("COMMIT")
            assert message_id is not None
            db.execute("BEGIN")
            db.execute(RAW_UPDATE, raw_outcome(message_id, "debug"))
            db.execute("COMMIT")
        elapsed = time.perf_counter() - start
        db.close()
        return n / elapsed

    def ours_async() -> float:
        """``await service.send(...)`` on the asyncio service, built on the same SQLite file storage."""
        path = tmp / f"async-send-{time.perf_counter_ns()}.db"
        numbers = recipients(n)

        async def sends() -> float:
            config = {"storage": "sqlalchemy", "database_url": f"sqlite:///{path}", "provider": "dummy"}
            async with smscore.build_async_service(config) as service:
                await service.pending_delivery_checks()  # the schema and the first connection, outside the timing
                start = time.perf_counter()
                for number in numbers:
                    await service.send(number, "Hello from the benchmark", tag="bench")
                return time.perf_counter() - start

        elapsed = asyncio.run(sends())
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM smscore_message WHERE state = 'debug'").fetchone() == (n,)
        return n / elapsed

    limit_value, _ = median_run(limit)
    value, runs = median_run(ours(False))
    record("send", value, limit_value, "msgs/s", runs)
    value, runs = median_run(ours(True))
    record("send_template", value, limit_value, "msgs/s", runs)
    value, runs = median_run(ours_async)
    record("async_send", value, limit_value, "msgs/s", runs, storage=_async_storage_kind(tmp))


def _async_storage_kind(tmp: Path) -> str:
    """How the asyncio service reaches an SQLite file: an asyncio driver, or the sync storage in threads."""
    from adapters_sqlalchemy.storage import build_storage

    config = smscore.SMSConfig(storage="sqlalchemy", database_url=f"sqlite:///{tmp / 'kind.db'}")
    storage = build_storage.build_async(config)
    on_async_driver = storage.storage.messages.engine.dialect.is_async  # type: ignore[attr-defined]
    asyncio.run(storage.aclose())
    return "asyncio (aiosqlite)" if on_async_driver else "sync storage in threads"


# -- 3: send_many --------------------------------------------------------------------------------------------


def bench_send_many(tmp: Path, n: int) -> None:
    def ours() -> float:
        path = tmp / f"many-{time.perf_counter_ns()}.db"
        service = service_for(path)
        numbers = recipients(n)
        start = time.perf_counter()
        sent = service.send_many(numbers, "Hello from the benchmark", tag="bench")
        elapsed = time.perf_counter() - start
        assert len(sent) == n
        assert service.messages.count(SMSState.DEBUG) == n
        service.close()
        return n / elapsed

    def limit() -> float:
        path, columns = fresh_database(tmp, "many-raw")
        insert = insert_sql(columns)
        db = raw_connection(path)
        rows = [raw_row(columns, number) for number in recipients(n)]
        start = time.perf_counter()
        db.execute("BEGIN")
        db.executemany(insert, rows)
        db.execute("COMMIT")
        elapsed = time.perf_counter() - start
        db.close()
        return n / elapsed

    def floor() -> float:
        """What send_many must persist at least, raw: the rows stored, then every outcome in a second transaction."""
        path, columns = fresh_database(tmp, "many-floor")
        db = raw_connection(path)
        rows = [raw_row(columns, number) for number in recipients(n)]
        start = time.perf_counter()
        db.execute("BEGIN")
        (before,) = db.execute("SELECT coalesce(max(id), 0) FROM smscore_message").fetchone()
        db.executemany(insert_sql(columns), rows)
        db.execute("COMMIT")
        # The only writer of a fresh AUTOINCREMENT table: the ids follow the last one in order.
        db.execute("BEGIN")
        updated = db.executemany(RAW_UPDATE, [raw_outcome(i, "debug") for i in range(before + 1, before + n + 1)])
        db.execute("COMMIT")
        elapsed = time.perf_counter() - start
        assert updated.rowcount == n
        db.close()
        return n / elapsed

    limit_value, _ = median_run(limit)
    floor_value, _ = median_run(floor)
    value, runs = median_run(ours)
    record("send_many", value, limit_value, "msgs/s", runs, floor=floor_value)


# -- 4, 5: the ATS provider against a loopback gateway -------------------------------------------------------


def bench_ats_single(tmp: Path, n: int) -> None:
    bodies: list[bytes] = []
    limits: list[float] = []
    floors: list[float] = []

    def ours() -> float:
        with RemoteGateway() as gateway:
            path = tmp / f"ats-{time.perf_counter_ns()}.db"
            service = service_for(path, "ats", {**ATS_OPTIONS, "url": gateway.url})
            numbers = recipients(n)
            start = time.perf_counter()
            for number in numbers:
                service.send(number, "Hello from the benchmark")
            elapsed = time.perf_counter() - start
            assert service.messages.count(SMSState.SENDING) == n
            bodies[:] = gateway.bodies()
            service.close()
        with RemoteGateway(keep_requests=False) as fresh:
            limits.append(len(bodies) / replay(fresh.url, bodies))
            floors.append(len(bodies) / floor(fresh.url))
        return n / elapsed

    def floor(url: str) -> float:
        """Each send's least work, raw: store the row, POST its request, store the outcome."""
        path, columns = fresh_database(tmp, "ats-floor")
        insert = insert_sql(columns)
        db = raw_connection(path)
        with httpx.Client(headers=XML_HEADERS) as client:
            start = time.perf_counter()
            for number, body in zip(recipients(len(bodies)), bodies, strict=True):
                db.execute("BEGIN")
                message_id = db.execute(insert, raw_row(columns, number)).lastrowid
                db.execute("COMMIT")
                assert message_id is not None
                client.post(url, content=body).raise_for_status()
                db.execute("BEGIN")
                db.execute(RAW_UPDATE, raw_outcome(message_id, "sending"))
                db.execute("COMMIT")
            elapsed = time.perf_counter() - start
        db.close()
        return elapsed

    value, runs = median_run(ours)
    limit_value = statistics.median(limits[1:])
    record("ats_single", value, limit_value, "msgs/s", runs, floor=statistics.median(floors[1:]))


CLAIM_SQL = (
    "UPDATE smscore_message SET lease_expires_at=?, version=version+1 WHERE id IN (SELECT id FROM smscore_message"
    " WHERE state='waiting' AND priority=3 AND next_attempt_at<=? AND lease_expires_at IS NULL"
    " ORDER BY next_attempt_at, id LIMIT ?) RETURNING *"
)


def bench_outbox(tmp: Path, n: int) -> None:
    limits: list[float] = []
    floors: list[float] = []

    def ours() -> float:
        with RemoteGateway() as gateway:
            path = tmp / f"outbox-{time.perf_counter_ns()}.db"
            service = service_for(
                path,
                "ats",
                {**ATS_OPTIONS, "url": gateway.url, "max_batch_size": 100},
                batch_sending=True,
                batch_size=1000,
            )
            service.send_many(recipients(n), "Hello from the benchmark")
            start = time.perf_counter()
            while service.process_outbox().claimed:
                pass
            elapsed = time.perf_counter() - start
            assert service.messages.count(SMSState.SENDING) == n
            bodies = gateway.bodies()
            assert len(bodies) == n // 100
            service.close()
        with RemoteGateway(keep_requests=False) as fresh:
            limits.append(n / replay(fresh.url, bodies))
            floors.append(n / floor(fresh.url, bodies))
        return n / elapsed

    def floor(url: str, bodies: list[bytes]) -> float:
        """The drain's least work, raw: claim 1,000 rows with a lease, POST each 100, store their outcomes."""
        path, columns = fresh_database(tmp, "outbox-floor")
        db = raw_connection(path)
        db.execute("BEGIN")
        db.executemany(insert_sql(columns), [raw_row(columns, number) for number in recipients(n)])
        db.execute("COMMIT")
        requests = iter(bodies)
        id_column = 0  # RETURNING * starts with the id
        with httpx.Client(headers=XML_HEADERS) as client:
            start = time.perf_counter()
            while True:
                lease = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
                db.execute("BEGIN")
                claimed = db.execute(CLAIM_SQL, (lease, datetime.now(UTC).isoformat(), 1000)).fetchall()
                db.execute("COMMIT")
                if not claimed:
                    break
                for first in range(0, len(claimed), 100):
                    chunk = claimed[first : first + 100]
                    client.post(url, content=next(requests)).raise_for_status()
                    db.execute("BEGIN")
                    db.executemany(RAW_UPDATE, [raw_outcome(row[id_column], "sending", version=1) for row in chunk])
                    db.execute("COMMIT")
            elapsed = time.perf_counter() - start
        assert db.execute("SELECT count(*) FROM smscore_message WHERE state='sending'").fetchone() == (n,)
        db.close()
        return elapsed

    value, runs = median_run(ours)
    record(
        "outbox_ats_batch", value, statistics.median(limits[1:]), "msgs/s", runs, floor=statistics.median(floors[1:])
    )


# -- 6: delivery checks ---------------------------------------------------------------------------------------


CHECK_PAGE_SQL = "SELECT * FROM smscore_message WHERE state='sending' AND id > ? ORDER BY id LIMIT ?"


def bench_check_delivery(tmp: Path, n: int) -> None:
    details: dict[str, Any] = {}
    limits: list[float] = []
    page = 500

    def ours() -> float:
        with RemoteGateway(code=23) as gateway:
            path = tmp / f"check-{time.perf_counter_ns()}.db"
            seed_sending(path, n, gateway.url)
            engine = engine_for(path)
            statements: list[str] = []
            counting = not details
            if counting:
                # Only in the warm-up run, which median_run leaves out: a statement listener on the engine moves
                # the work off the driver path (see adapters_sqlalchemy.driver), so it must not be timed.
                sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
            service = service_for(
                path,
                "ats",
                {**ATS_OPTIONS, "url": gateway.url, "max_batch_size": page},
                engine=engine,
                check_chunk_size=page,
            )
            statements.clear()
            start = time.perf_counter()
            report = service.check_delivery()
            elapsed = time.perf_counter() - start
            assert report.changed == n
            assert service.messages.count(SMSState.DELIVERED) == n
            chunks = -(-n // page)
            if counting:
                details.update(
                    queries_per_chunk=round(len(statements) / chunks, 2),
                    http_requests=gateway.request_count,
                    chunks=chunks,
                )
            bodies = gateway.bodies()
            service.close()
            engine.dispose()
        with RemoteGateway(keep_requests=False, code=23) as fresh:
            limits.append(n / limit(fresh.url, bodies))
        return n / elapsed

    def limit(url: str, bodies: list[bytes]) -> float:
        """The same work raw: read the in-flight rows a page at a time in id order, POST the page's report
        request, store every row's new state in one transaction."""
        path = tmp / f"check-raw-{time.perf_counter_ns()}.db"
        seed_sending(path, n, url)
        db = raw_connection(path)
        requests = iter(bodies)
        last = 0
        with httpx.Client(headers=XML_HEADERS) as client:
            start = time.perf_counter()
            while rows := db.execute(CHECK_PAGE_SQL, (last, page)).fetchall():
                client.post(url, content=next(requests)).raise_for_status()
                db.execute("BEGIN")
                db.executemany(RAW_UPDATE, [raw_outcome(row[0], "delivered") for row in rows])
                db.execute("COMMIT")
                last = rows[-1][0]
            elapsed = time.perf_counter() - start
        assert db.execute("SELECT count(*) FROM smscore_message WHERE state='delivered'").fetchone() == (n,)
        db.close()
        return elapsed

    value, runs = median_run(ours)
    limit_value = statistics.median(limits[1:])
    record("check_delivery", value, limit_value, "msgs/s", runs, **details)


# -- main -----------------------------------------------------------------------------------------------------


# -- 7: claims past a backlog of scheduled messages ------------------------------------------------------------


def bench_claim_backlog(tmp: Path, due: int, backlog: int) -> None:
    """Claims per second with ``backlog`` messages due later, next to the same claims with none (the limit)."""
    found = compare(lambda: sqlite_database(tmp), due, backlog)
    record(
        "claim_with_backlog",
        found["backlog_per_s"],
        found["empty_per_s"],
        "msgs/s",
        found["runs"],
        backlog=backlog,
        ms_per_claim=round(found["backlog_ms"], 2),
        ms_per_claim_empty=round(found["empty_ms"], 2),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke test of the harness")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results.json", help="where to write the results"
    )
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smscore-bench-") as name:
        tmp = Path(name)
        steps: list[tuple[str, Callable[[], None]]] = [
            ("send / send_template / async send", lambda: bench_send(tmp, 3000 // scale)),
            ("send_many", lambda: bench_send_many(tmp, 10_000 // scale)),
            ("ATS single sends", lambda: bench_ats_single(tmp, 1000 // scale)),
            ("outbox with ATS batches", lambda: bench_outbox(tmp, 10_000 // scale)),
            ("check_delivery", lambda: bench_check_delivery(tmp, 10_000 // scale)),
            (
                "outbox to a 50 ms Twilio gateway, asyncio and threaded",
                lambda: bench_twilio_outbox(tmp, 2000 // scale, 40 // scale, 200 // scale),
            ),
            ("claims past scheduled messages", lambda: bench_claim_backlog(tmp, 10_000 // scale, 100_000 // scale)),
            ("peak RSS", lambda: bench_peak_rss(tmp, (10_000 // scale, 100_000 // scale))),
            ("import", bench_import),
        ]
        if postgres.reachable():
            steps += [
                ("PostgreSQL send", lambda: postgres.bench_pg_send(1000 // scale)),
                ("PostgreSQL send_many", lambda: postgres.bench_pg_send_many(10_000 // scale)),
                ("PostgreSQL outbox with ATS batches", lambda: postgres.bench_pg_outbox(10_000 // scale)),
                ("PostgreSQL outbox, 1, 2 and 4 workers", lambda: postgres.bench_pg_scaling(20_000 // scale)),
            ]
        else:
            print(f"PostgreSQL is not reachable at {postgres.POSTGRES}: its figures are left out", file=sys.stderr)
        for label, step in steps:
            print(f"... {label}", file=sys.stderr, flush=True)
            step()
    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "seconds": round(time.perf_counter() - started, 1),
    }
    output = {"machine": machine, "figures": RESULTS}
    args.output.write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
    chart = scaling_svg(RESULTS)
    if chart is not None:
        args.output.with_name("scaling.svg").write_text(chart, encoding="utf-8")
    print(f"\n{'figure':<28} {'value':>10} {'limit':>10} {'floor':>10}  {'unit':<8} {'of limit':>8} {'of floor':>8}")
    for name, figure in RESULTS.items():
        limit = "" if figure["limit"] is None else f"{figure['limit']:>10,.0f}"
        floor = f"{figure['floor']:>10,.0f}" if "floor" in figure else ""
        of_limit = f"{figure['share_of_limit']:.0%}" if "share_of_limit" in figure else ""
        of_floor = f"{figure['share_of_floor']:.0%}" if "share_of_floor" in figure else ""
        print(
            f"{name:<28} {figure['value']:>10,.1f} {limit:>10} {floor:>10}  {figure['unit']:<8} {of_limit:>8} {of_floor:>8}"
        )
    details = (
        "check_delivery",
        "check_delivery_peak_rss_mib",
        "async_send",
        "async_outbox_twilio",
        "sync_outbox_twilio",
    )
    for name in (*details, *(f"pg_outbox_workers_{k}" for k in (1, 2, 4))):
        if name not in RESULTS:
            continue
        extra = {k: v for k, v in RESULTS[name].items() if k not in {"value", "limit", "unit", "runs", "floor"}}
        print(f"  {name}: {extra}")
    print(f"\nresults written to {args.output} in {machine['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
