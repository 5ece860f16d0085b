"""The Twilio drain figures of ``make bench``: the outbox drained by one asyncio worker process
(``async_outbox_twilio``, ``max_in_flight`` requests at once) and by one threaded worker with one thread
(``sync_outbox_twilio``), through the Twilio provider to a loopback Twilio-like gateway in its own process that
answers each request after 50 ms.

The asyncio figure's limit is bare ``httpx.AsyncClient`` posting the very requests the worker made (recorded by
the gateway) with the same concurrency (200) to the same gateway, the faster of two arrangements: one client with
200 connections, and 50 clients of 4 connections each (httpcore's pool costs more per request the more
connections one client holds, see :data:`SHARD_SIZE`); both are recorded. The threaded figure's limit is a bare
``httpx.Client`` posting them one at a time. Every run checks that each message ended SENDING and reached the
gateway exactly once (the gateway counts requests per recipient, and every message has its own).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from harness import ROOT, GatewayProcess, median_run, recipients, record
from twilio_worker import twilio_config

import smscore

#: How long the gateway holds each answer.
GATEWAY_DELAY = 0.05
#: Provider requests at once, for the asyncio worker and its limit.
IN_FLIGHT = 200
#: Messages claimed per step.
BATCH_SIZE = 1000
#: The limit's second arrangement: the same concurrency over clients of this many connections each. httpcore's
#: pool does work that grows with the square of its connections on every request (encode/httpcore#1035): one
#: client holding 200 connections measures that, not the network.
SHARD_SIZE = 4
#: Requests the one-client arrangement replays: two rounds of 200 at once (it is slow; its rate is what counts).
ONE_CLIENT_SAMPLE = 400

Request = tuple[str, dict[str, str], bytes]


class TwilioGateway(GatewayProcess):
    """The gateway of ``twilio_gateway.py``, answering after ``delay`` seconds."""

    def __init__(self, delay: float = GATEWAY_DELAY) -> None:
        super().__init__("twilio_gateway.py", {"delay": delay})

    def stats(self) -> dict[str, int]:
        """Requests served, distinct recipients, and the most requests one recipient got."""
        stats: dict[str, int] = json.loads(self._ask("stats"))
        return stats

    def requests(self) -> list[Request]:
        """Every request received: path, the headers a replay needs, body."""
        requests: list[Request] = self._dump()
        return requests

    def reset(self) -> None:
        """Forget what was received."""
        self._ask("reset")


def _seed(database: Path, gateway: TwilioGateway, n: int) -> None:
    service = smscore.build_service(twilio_config(str(database), gateway.url))
    service.send_many(recipients(n), "Hello from the benchmark")
    service.close()


def _sending(database: Path) -> int:
    with sqlite3.connect(database) as db:
        (count,) = db.execute("SELECT count(*) FROM smscore_message WHERE state = 'sending'").fetchone()
    return int(count)


def drain(tmp: Path, gateway: TwilioGateway, n: int, *, use_asyncio: bool, **run: Any) -> float:
    """Seed ``n`` queued messages, drain them with one worker process, check each was sent once; the rate."""
    database = tmp / f"twilio-{time.perf_counter_ns()}.db"
    _seed(database, gateway, n)
    gateway.reset()
    options = {"database": str(database), "gateway": gateway.url, "asyncio": use_asyncio, **run}
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "twilio_worker.py"), json.dumps(options)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdin is not None
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "ready"
    worker.stdin.write("go\n")
    worker.stdin.flush()
    result = json.loads(worker.stdout.readline())
    worker.stdin.close()
    assert worker.wait(timeout=60) == 0
    worker.stdout.close()
    assert (result["claimed"], result["states"]) == (n, {"sending": n}), result
    assert _sending(database) == n
    assert gateway.stats() == {"requests": n, "recipients": n, "most_per_recipient": 1}
    print(
        f"    {'asyncio' if use_asyncio else 'threaded'} worker: {n / result['seconds']:,.0f} msgs/s, "
        f"{result['cpu_seconds'] / n * 1000:.2f} ms CPU/message",
        file=sys.stderr,
        flush=True,
    )
    return n / float(result["seconds"])


async def _replay_side_by_side(url: str, requests: list[Request], concurrency: int, clients: int) -> float:
    """Post ``requests`` with ``concurrency`` at once, spread over ``clients`` bare ``httpx.AsyncClient``s."""
    per_client = concurrency // clients
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    tls = httpx.create_ssl_context()  # one for all clients: loading the authorities is what building one costs
    pool = [httpx.AsyncClient(limits=limits, verify=tls) for _ in range(clients)]
    pending = iter(requests)

    async def post_in_turn(client: httpx.AsyncClient) -> None:
        for path, headers, body in pending:
            answer = await client.post(url + path, headers=headers, content=body)
            assert answer.status_code == 201

    start = time.perf_counter()
    await asyncio.gather(*(post_in_turn(pool[i % clients]) for i in range(concurrency)))
    elapsed = time.perf_counter() - start
    for client in pool:
        await client.aclose()
    return elapsed


def _replay_one_by_one(url: str, requests: list[Request]) -> float:
    with httpx.Client() as client:
        start = time.perf_counter()
        for path, headers, body in requests:
            assert client.post(url + path, headers=headers, content=body).status_code == 201
        return time.perf_counter() - start


def _replayed(gateway: TwilioGateway, requests: list[Request], seconds: float) -> float:
    """The limit's rate, after checking the gateway got each replayed request once."""
    stats = gateway.stats()
    assert stats["requests"] == len(requests), stats
    assert stats["most_per_recipient"] == 1, stats
    return len(requests) / seconds


def bench_twilio_outbox(tmp: Path, n: int, n_sync: int, in_flight: int = IN_FLIGHT) -> None:
    """``async_outbox_twilio`` on ``n`` messages with ``in_flight`` requests at once (the harness's smoke test
    uses fewer) and ``sync_outbox_twilio`` on ``n_sync`` (a rate: fewer will do, one request at a time to a 50 ms
    gateway is slow), each next to its bare-httpx limit of the same run."""
    shards = max(1, in_flight // SHARD_SIZE)
    one_client: list[float] = []
    sharded: list[float] = []
    sync_limits: list[float] = []

    def asyncio_worker() -> float:
        with TwilioGateway() as gateway:
            rate = drain(
                tmp, gateway, n, use_asyncio=True, config={"max_in_flight": in_flight, "batch_size": BATCH_SIZE}
            )
            requests = gateway.requests()
            arrangements = ((1, requests[:ONE_CLIENT_SAMPLE], one_client), (shards, requests, sharded))
            for clients, sample, rates in arrangements:
                gateway.reset()
                seconds = asyncio.run(_replay_side_by_side(gateway.url, sample, in_flight, clients))
                rates.append(_replayed(gateway, sample, seconds))
        return rate

    def threaded_worker() -> float:
        with TwilioGateway() as gateway:
            rate = drain(tmp, gateway, n_sync, use_asyncio=False, config={"batch_size": BATCH_SIZE})
            requests = gateway.requests()
            gateway.reset()
            sync_limits.append(_replayed(gateway, requests, _replay_one_by_one(gateway.url, requests)))
        return rate

    sync_value, sync_runs = median_run(threaded_worker)
    record(
        "sync_outbox_twilio",
        sync_value,
        statistics.median(sync_limits[1:]),
        "msgs/s",
        sync_runs,
        messages=n_sync,
        gateway_delay_ms=round(GATEWAY_DELAY * 1000),
        threads=1,
    )
    value, runs = median_run(asyncio_worker)
    one_client_limit, sharded_limit = statistics.median(one_client[1:]), statistics.median(sharded[1:])
    record(
        "async_outbox_twilio",
        value,
        max(one_client_limit, sharded_limit),
        "msgs/s",
        runs,
        limit_one_client=round(one_client_limit, 2),
        limit_clients=round(sharded_limit, 2),
        messages=n,
        gateway_delay_ms=round(GATEWAY_DELAY * 1000),
        max_in_flight=in_flight,
        batch_size=BATCH_SIZE,
        times_sync=round(value / sync_value, 1),
    )
