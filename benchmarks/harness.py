"""The benchmark's shared tools: the gateway process, repeated runs, the results table, and raw SQLite helpers."""

from __future__ import annotations

import json
import pickle
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


import smscore  # noqa: E402


class GatewayProcess:
    """A loopback gateway running in its own process, driven over stdin: ``script`` started with ``options``
    (JSON) prints its URL, then answers one line per command."""

    def __init__(self, script: str, options: dict[str, Any]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / script), json.dumps(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self._read()
        #: The gateway process's id (for its CPU time).
        self.pid = self._process.pid

    def _read(self) -> str:
        assert self._process.stdout is not None
        return self._process.stdout.readline().strip()

    def _ask(self, command: str) -> str:
        assert self._process.stdin is not None
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()
        return self._read()

    def _dump(self) -> Any:
        """What the gateway's ``dump PATH`` command pickles."""
        with tempfile.NamedTemporaryFile(suffix=".pickle") as dump:
            self._ask(f"dump {dump.name}")
            return pickle.loads(Path(dump.name).read_bytes())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write("quit\n")
        self._process.stdin.close()
        self._process.wait(timeout=30)
        if self._process.stdout is not None:
            self._process.stdout.close()


class RemoteGateway(GatewayProcess):
    """The fake ATS gateway running in its own process (see ``gateway_process.py``)."""

    def __init__(self, *, keep_requests: bool = True, code: int | None = None) -> None:
        super().__init__("gateway_process.py", {"keep_requests": keep_requests, "code": code})

    @property
    def request_count(self) -> int:
        """How many requests the gateway served."""
        return int(self._ask("count"))

    def bodies(self) -> list[bytes]:
        """Every request body received, in order."""
        bodies: list[bytes] = self._dump()
        return bodies


RUNS = 3
ATS_OPTIONS = {"username": "user", "password": "secret", "project_keyword": "kw", "output_sender_number": "ACME"}
RESULTS: dict[str, dict[str, Any]] = {}


def median_run(work: Callable[[], float], runs: int = RUNS) -> tuple[float, list[float]]:
    """Run ``work`` (returning a rate) once to warm up, then ``runs`` times; return the median and all runs."""
    work()
    values = [work() for _ in range(runs)]
    return statistics.median(values), values


def record(
    name: str,
    value: float,
    limit: float | None,
    unit: str,
    runs: list[float],
    *,
    floor: float | None = None,
    **extra: Any,
) -> None:
    """Keep a figure for the results, with its share of the limit and of the floor where there are ones."""
    shares: dict[str, Any] = {}
    if limit:
        shares["share_of_limit"] = round(value / limit, 3)
    if floor:
        shares.update(floor=round(floor, 1), share_of_floor=round(value / floor, 3))
    RESULTS[name] = {
        "value": round(value, 2),
        "limit": None if limit is None else round(limit, 2),
        "unit": unit,
        "runs": [round(r, 2) for r in runs],
        **shares,
        **extra,
    }


XML_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


def replay(url: str, bodies: list[bytes]) -> float:
    """The limit for the network figures: the same request bodies POSTed with a bare httpx.Client."""
    with httpx.Client(headers=XML_HEADERS) as client:
        start = time.perf_counter()
        for body in bodies:
            client.post(url, content=body).raise_for_status()
        return time.perf_counter() - start


def engine_for(path: Path) -> sa.Engine:
    from adapters_sqlalchemy.storage import create_engine_for

    return create_engine_for(f"sqlite:///{path}")


def service_for(
    path: Path,
    provider: str = "dummy",
    options: dict[str, Any] | None = None,
    engine: sa.Engine | None = None,
    **config: Any,
) -> smscore.SMSService:
    where: dict[str, Any] = (
        {"storage_options": {"engine": engine}} if engine is not None else {"database_url": f"sqlite:///{path}"}
    )
    return smscore.build_service(
        {"storage": "sqlalchemy", **where, "provider": provider, "provider_options": options or {}, **config}
    )


def recipients(n: int) -> list[str]:
    return [f"+4207{i:08d}" for i in range(n)]


def message_columns(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[1] for row in db.execute("PRAGMA table_info(smscore_message)") if row[1] != "id"]


def raw_row(columns: list[str], recipient: str, state: str = "waiting") -> tuple[Any, ...]:
    now = datetime.now(UTC).isoformat()
    values = {
        "recipient": recipient,
        "content": "Hello from the benchmark",
        "state": state,
        "created_at": now,
        "changed_at": now,
        "next_attempt_at": now,
        "extra_data": "{}",
        "extra_sender_data": "{}",
        "attempts": 0,
        "priority": 3,
        "encoding": "GSM-7",
        "segments": 1,
        "provider": "default",
        "backend": "providers.dummy.DummySMSBackend",
        "version": 0,
    }
    return tuple(values.get(c) for c in columns)


#: The outcome write of the raw limits: the columns a publish attempt or a report changes, compare-and-set.
RAW_UPDATE = (
    "UPDATE smscore_message SET state=?, changed_at=?, sent_at=?, attempts=?, provider_ref=?, extra_sender_data=?,"
    " lease_expires_at=?, version=version+1 WHERE id=? AND version=?"
)


def raw_outcome(message_id: int, state: str, version: int = 0) -> tuple[Any, ...]:
    """The parameters of :data:`RAW_UPDATE` for one message reaching ``state``."""
    now = datetime.now(UTC).isoformat()
    return (state, now, now, 1, f"ref-{message_id}", "{}", None, message_id, version)


def insert_sql(columns: list[str]) -> str:
    """The raw limits' ``INSERT`` of a whole message row."""
    return f"INSERT INTO smscore_message ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def fresh_database(tmp: Path, label: str) -> tuple[Path, list[str]]:
    """A new SQLite file with the schema, and the message columns of its raw ``INSERT``."""
    path = tmp / f"{label}-{time.perf_counter_ns()}.db"
    service_for(path).close()
    return path, message_columns(path)


def raw_connection(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


# -- 1, 2: one message at a time ---------------------------------------------------------------------------


def seed_sending(path: Path, n: int, provider_url: str) -> None:
    """n SENDING messages of the ATS provider, written straight into a fresh database."""
    service_for(path, "ats", {**ATS_OPTIONS, "url": provider_url}).close()
    columns = message_columns(path)
    insert = insert_sql(columns)
    db = raw_connection(path)
    sent = datetime.now(UTC).isoformat()
    sent_col = columns.index("sent_at")
    backend_col = columns.index("backend")
    db.execute("BEGIN")
    for start in range(0, n, 10_000):
        rows = []
        for number in recipients(min(10_000, n - start)):
            row = list(raw_row(columns, number, state="sending"))
            row[sent_col] = sent
            row[backend_col] = "providers.ats.ATSSMSBackend"
            rows.append(tuple(row))
        db.executemany(insert, rows)
    db.execute("COMMIT")
    db.close()
