"""An outbox worker process for the scenarios in this folder: :class:`smscore.worker.Worker` on a service built
from a JSON configuration, as ``smscore worker`` runs it on a real host.

Usage::

    SMSCORE_OUTBOX_CONFIG='{"storage": "sqlalchemy", ...}' python tests/outbox/worker_process.py \
        [--once] [--concurrency N] [--batch-size N] [--idle SECONDS] [--ready FILE] [--go FILE]

The configuration is the mapping :func:`smscore.build_service` takes. The worker stops gracefully on SIGTERM or
SIGINT. ``--ready`` is created once the service is built; with ``--go`` the worker then waits for that file
before its first step (so several processes start together). On a clean end the worker's totals are printed as
one JSON object on stdout.

``python tests/outbox/worker_process.py --fork-server`` starts many workers cheaply (scenarios that kill a
worker process twenty times): it imports everything once, then forks one worker process per JSON line read from
stdin (``{"name", "argv", "config", "out", "err"}``), answers ``{"started": name, "pid": pid}`` and, when a
worker ends, ``{"ended": pid, "returncode": code}`` (negative: killed by that signal). It is single-threaded and
holds no connection when it forks. When stdin closes it kills the workers still running, and ends.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import select
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

import smscore
from smscore.worker import Worker

CONFIG_VARIABLE = "SMSCORE_OUTBOX_CONFIG"


def main(argv: list[str]) -> int:
    """Build the service, run the worker, print its totals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="stop when nothing is due")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--idle", type=float, default=0.2, help="seconds a thread waits when nothing is due")
    parser.add_argument("--ready", type=Path, default=None)
    parser.add_argument("--go", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    config = json.loads(os.environ[CONFIG_VARIABLE])
    with smscore.build_service(config) as service:
        worker = Worker(service, concurrency=args.concurrency, batch_size=args.batch_size, idle_seconds=args.idle)
        worker.install_signal_handlers()
        if args.ready is not None:
            args.ready.touch()
        if args.go is not None:
            deadline = time.monotonic() + 120
            while not args.go.exists():
                if worker.stopping or time.monotonic() > deadline:
                    return 3
                time.sleep(0.005)
        stats = worker.run(once=args.once)
    totals = {
        "pid": os.getpid(),
        "steps": stats.steps,
        "claimed": stats.claimed,
        "recovered": stats.recovered,
        "states": {state.value: count for state, count in stats.states.items()},
    }
    print(json.dumps(totals), flush=True)
    return 0


def fork_server() -> int:
    """Fork a worker per request line on stdin until it closes (see the module docstring)."""
    _preload()

    workers: set[int] = set()
    pending = b""
    while True:
        readable, _, _ = select.select([0], [], [], 0.01)
        _reap(workers, block=False)
        if not readable:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            break
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                _run_forked(request)
            workers.add(pid)
            _say({"started": request["name"], "pid": pid})
    # stdin closed: the test is over (or gone); no worker outlives it.
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _reap(workers, block=True)
    return 0


def _preload() -> None:
    """Load what building a service loads (database drivers, the HTTP stack, templates) without connecting."""
    from adapters_sqlalchemy.storage import create_engine_for
    from smscore.errors import ConfigurationError

    for url in ("sqlite://", "postgresql+psycopg://127.0.0.1/preload"):
        with contextlib.suppress(ConfigurationError):
            create_engine_for(url).dispose()
    options = {"url": "http://127.0.0.1:9/", "username": "u", "password": "p", "project_keyword": "K"}
    smscore.build_service({"provider": "ats", "provider_options": {**options, "output_sender_number": "1"}}).close()


def _say(answer: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def _reap(workers: set[int], *, block: bool) -> None:
    while workers:
        pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
        if pid == 0:
            return
        workers.discard(pid)
        _say({"ended": pid, "returncode": os.waitstatus_to_exitcode(status)})


def _run_forked(request: dict[str, Any]) -> NoReturn:
    code = 1
    try:
        for fd, path in ((1, request["out"]), (2, request["err"])):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.environ[CONFIG_VARIABLE] = json.dumps(request["config"])
        code = main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    sys.exit(fork_server() if sys.argv[1:] == ["--fork-server"] else main(sys.argv[1:]))
