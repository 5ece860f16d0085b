"""Helpers of the outbox scenarios: worker processes, gateway options, configurations, reading the end state.

Every scenario runs real processes against a real database (a PostgreSQL schema of its own, or an SQLite file)
and a loopback fake ATS gateway in the test process, and asserts the end state in storage and what reached the
gateway. The fixtures in ``conftest.py`` kill every child process, close every gateway and drop every schema,
even when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import smscore
from smscore import SMSMessage, SMSService, SMSState
from tests.providers.fake_gateways import ATSGateway

ROOT = Path(__file__).resolve().parents[2]
WORKER_SCRIPT = Path(__file__).with_name("worker_process.py")
CONFIG_VARIABLE = "SMSCORE_OUTBOX_CONFIG"
PASSWORD = "outbox-secret"
PREFIX = "ob"


def recipients(count: int, start: int = 0) -> list[str]:
    """``count`` distinct valid Czech mobile numbers."""
    return [f"+420777{start + i:06d}" for i in range(count)]


def uniq(message_id: int | None) -> str:
    """The id a message carries on the wire to the gateway."""
    return f"{PREFIX}-{message_id}"


def ats_options(gateway: ATSGateway, **changes: Any) -> dict[str, Any]:
    """ATS backend options pointing at ``gateway``."""
    options: dict[str, Any] = {
        "url": gateway.url,
        "username": "user",
        "password": PASSWORD,
        "project_keyword": "OUTBOX",
        "output_sender_number": "90099",
        "uniq_prefix": PREFIX,
        "timeout": 10,
        "not_found_grace": 0,
    }
    options.update(changes)
    return options


def all_messages(service: SMSService) -> list[SMSMessage]:
    """Every stored message, in id order."""
    found: list[SMSMessage] = []
    after = 0
    while page := service.messages.scan(states=set(SMSState), after_id=after, limit=1000):
        found.extend(page)
        after = page[-1].id or 0
    return found


def state_counts(messages: list[SMSMessage]) -> dict[str, int]:
    """How many of ``messages`` are in each state (by state value)."""
    counts: dict[str, int] = {}
    for message in messages:
        counts[message.state.value] = counts.get(message.state.value, 0) + 1
    return counts


class Child:
    """A child process with its output in files: started by :class:`Children` with ``subprocess.Popen``, or
    forked by a :class:`ForkServer`."""

    def __init__(self, name: str, out: Path, err: Path) -> None:
        self.name = name
        self.out = out
        self.err = err

    @property
    def pid(self) -> int:
        raise NotImplementedError

    @property
    def returncode(self) -> int | None:
        """The exit code once it ended (negative: killed by that signal), else None."""
        raise NotImplementedError

    def wait(self, timeout: float) -> int:
        """Wait for the end; return the exit code."""
        raise NotImplementedError

    def alive(self) -> bool:
        return self.returncode is None

    def kill(self) -> None:
        """SIGKILL, and wait for the end."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.wait(30)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM (a graceful stop) and wait; returns the exit code."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
        return self.wait(timeout)

    def stderr(self) -> str:
        return self.err.read_text(errors="replace") if self.err.exists() else ""

    def stats(self) -> dict[str, Any]:
        """The totals a worker process printed when it ended cleanly."""
        lines = self.out.read_text().strip().splitlines()
        assert lines, f"{self.name} printed nothing; stderr:\n{self.stderr()[-3000:]}"
        stats: dict[str, Any] = json.loads(lines[-1])
        return stats

    def wait_ok(self, timeout: float) -> dict[str, Any]:
        """Wait for a clean exit and return the totals."""
        code = self.wait(timeout)
        assert code == 0, f"{self.name} exited with {code}; stderr:\n{self.stderr()[-3000:]}"
        return self.stats()


class PopenChild(Child):
    """A child started with ``subprocess.Popen``."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes], out: Path, err: Path) -> None:
        super().__init__(name, out, err)
        self.popen = popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)


class ForkServer:
    """``worker_process.py --fork-server``: forks worker processes with every module already imported, so a
    scenario that kills twenty workers does not pay twenty interpreter starts."""

    def __init__(self, folder: Path) -> None:
        with (folder / "fork-server.err").open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT), "--fork-server"],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        self._changed = threading.Condition()
        self._started: dict[str, int] = {}
        self._ended: dict[int, int] = {}
        self._reader = threading.Thread(target=self._read, name="fork-server-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            answer = json.loads(line)
            with self._changed:
                if "started" in answer:
                    self._started[answer["started"]] = answer["pid"]
                else:
                    self._ended[answer["ended"]] = answer["returncode"]
                self._changed.notify_all()

    def fork(self, name: str, argv: list[str], config: Mapping[str, Any], out: Path, err: Path) -> int:
        """Fork a worker running ``main(argv)`` on ``config``; return its pid."""
        assert self.process.stdin is not None
        request = {"name": name, "argv": argv, "config": dict(config), "out": str(out), "err": str(err)}
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        with self._changed:
            assert self._changed.wait_for(lambda: name in self._started, 30), "the fork server does not answer"
            return self._started[name]

    def returncode(self, pid: int) -> int | None:
        with self._changed:
            return self._ended.get(pid)

    def wait(self, pid: int, timeout: float) -> int:
        with self._changed:
            if not self._changed.wait_for(lambda: pid in self._ended, timeout):
                raise subprocess.TimeoutExpired(f"forked worker {pid}", timeout)
            return self._ended[pid]

    def close(self) -> None:
        """End the server (it kills any of its workers still running)."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(30)
            self._reader.join(30)
            self.process.stdout.close()


class ForkedChild(Child):
    """A worker forked by a :class:`ForkServer`."""

    def __init__(self, name: str, server: ForkServer, pid: int, out: Path, err: Path) -> None:
        super().__init__(name, out, err)
        self.server = server
        self._pid = pid

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def returncode(self) -> int | None:
        return self.server.returncode(self._pid)

    def wait(self, timeout: float) -> int:
        return self.server.wait(self._pid, timeout)


class Children:
    """Starts child processes and makes sure none outlives the test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Child] = []
        self._server: ForkServer | None = None

    def start(self, name: str, args: list[str], *, env: Mapping[str, str] | None = None) -> Child:
        """Start ``args`` with ``subprocess.Popen``, output in ``<name>.out`` and ``<name>.err``."""
        out, err = self.folder / f"{name}.out", self.folder / f"{name}.err"
        environment = {**os.environ, **(env or {})}
        with out.open("wb") as stdout, err.open("wb") as stderr:
            popen = subprocess.Popen(args, cwd=ROOT, env=environment, stdout=stdout, stderr=stderr)
        child = PopenChild(name, popen, out, err)
        self.started.append(child)
        return child

    def worker(
        self,
        name: str,
        config: Mapping[str, Any],
        *,
        once: bool = False,
        concurrency: int = 1,
        batch_size: int | None = None,
        idle: float = 0.2,
        go: Path | None = None,
        forked: bool = False,
    ) -> Child:
        """Start a ``tests/outbox/worker_process.py`` worker on ``config``: its own interpreter, or with
        ``forked`` from the fork server. ``<name>.ready`` appears once its service is built."""
        argv = ["--concurrency", str(concurrency), "--idle", str(idle)]
        argv += ["--ready", str(self.folder / f"{name}.ready")]
        if once:
            argv.append("--once")
        if batch_size is not None:
            argv += ["--batch-size", str(batch_size)]
        if go is not None:
            argv += ["--go", str(go)]
        if not forked:
            args = [sys.executable, str(WORKER_SCRIPT), *argv]
            return self.start(name, args, env={CONFIG_VARIABLE: json.dumps(config)})
        if self._server is None:
            self._server = ForkServer(self.folder)
        out, err = self.folder / f"{name}.out", self.folder / f"{name}.err"
        child = ForkedChild(name, self._server, self._server.fork(name, argv, config, out, err), out, err)
        self.started.append(child)
        return child

    def wait_ready(self, child: Child, timeout: float = 60) -> None:
        ready = self.folder / f"{child.name}.ready"
        deadline = time.monotonic() + timeout
        while not ready.exists():
            assert child.alive(), f"{child.name} died while starting:\n{child.stderr()[-3000:]}"
            assert time.monotonic() < deadline, f"{child.name} did not start in {timeout} s"
            time.sleep(0.01)

    def close(self) -> None:
        """Kill every child still running, then the fork server."""
        try:
            for child in self.started:
                child.kill()
        finally:
            if self._server is not None:
                self._server.close()


def outbox_config(database_url: str, gateway: ATSGateway, **keys: Any) -> dict[str, Any]:
    """An outbox configuration on ``database_url`` sending through ``gateway`` (the provider named ``ats``)."""
    config: dict[str, Any] = {
        "storage": "sqlalchemy",
        "database_url": database_url,
        "batch_sending": True,
        "providers": {"ats": {"backend": "ats", "options": ats_options(gateway)}},
    }
    config.update(keys)
    return config


def build(config: Mapping[str, Any]) -> SMSService:
    """The service for ``config`` in the test process."""
    return smscore.build_service(dict(config))
