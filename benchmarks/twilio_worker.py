"""One outbox worker process of the Twilio drain benchmark, driven over stdin by ``twilio_drain.py``: the asyncio
worker (``smscore worker --async``'s :class:`~smscore.worker.AsyncWorker`) or the threaded one with one thread
(``smscore worker``'s :class:`~smscore.worker.Worker`), on the SQLite file, publishing through the Twilio provider
to the loopback gateway of ``twilio_gateway.py``.

It builds its service and connects, prints ``ready``, waits for ``go``, drains the outbox until a step finds
nothing due, and prints the seconds that took and the worker's totals as JSON. ``python -m cProfile -o OUT
benchmarks/twilio_worker.py CONFIG`` profiles a drain.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.providers.fake_twilio import LoopbackAsyncDeadlineHttpClient, LoopbackDeadlineHttpClient  # noqa: E402

import smscore  # noqa: E402
from smscore.worker import AsyncWorker, Worker, WorkerStats  # noqa: E402

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2


def twilio_config(database: str, gateway: str, **config: Any) -> dict[str, Any]:
    """The configuration of a service on the SQLite file ``database`` whose Twilio provider talks to ``gateway``
    (through the ``http_client`` and ``async_http_client`` options the provider's tests use: its own HTTP clients,
    sent to the loopback gateway instead of api.twilio.com)."""
    options = {
        "account_sid": ACCOUNT_SID,
        "auth_token": "benchmark-auth-token",
        "from_": "+15005550006",
        "http_client": LoopbackDeadlineHttpClient(gateway, timeout=10.0),
        "async_http_client": functools.partial(LoopbackAsyncDeadlineHttpClient, gateway, timeout=10.0),
    }
    return {
        "storage": "sqlalchemy",
        "database_url": f"sqlite:///{database}",
        "provider": "twilio",
        "provider_options": options,
        "batch_sending": True,
        **config,
    }


def _result(seconds: float, cpu_seconds: float, stats: WorkerStats) -> str:
    states = {state.value: n for state, n in stats.states.items()}
    return json.dumps(
        {
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "claimed": stats.claimed,
            "steps": stats.steps,
            "states": states,
        }
    )


def _drain_sync(config: dict[str, Any]) -> str:
    service = smscore.build_service(config)
    service.pending_delivery_checks()  # connect now, outside the measured drain
    print("ready", flush=True)
    assert sys.stdin.readline().strip() == "go"
    start, cpu = time.perf_counter(), time.process_time()
    stats = Worker(service, concurrency=1, idle_seconds=0.01).run(once=True)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    service.close()
    return _result(elapsed, cpu, stats)


async def _drain_async(config: dict[str, Any]) -> str:
    async with smscore.build_async_service(config) as service:
        await service.pending_delivery_checks()  # connect now, outside the measured drain
        print("ready", flush=True)
        assert (await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)).strip() == "go"
        start, cpu = time.perf_counter(), time.process_time()
        stats = await AsyncWorker(service, idle_seconds=0.01).run(once=True)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return _result(elapsed, cpu, stats)


def main() -> None:
    run = json.loads(sys.argv[1])
    config = twilio_config(run["database"], run["gateway"], **run["config"])
    if run["asyncio"]:
        print(asyncio.run(_drain_async(config)), flush=True)
    else:
        print(_drain_sync(config), flush=True)


if __name__ == "__main__":
    main()
