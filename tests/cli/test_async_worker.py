"""``smscore worker --async``: the asyncio outbox loop, run as the real console script in a subprocess, against the
loopback ATS gateway (answering late where a test needs a step in hand when the signal comes)."""

from __future__ import annotations

import collections
import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.cli.conftest import CLI, command, environment
from tests.providers.fake_gateways import ATSGateway, Reply

QUEUED = 40
PASSWORD = {"SMSCORE_PROVIDER_OPTIONS__PASSWORD": "secret"}
BATCH = "10"


def _config(url: str, *, lease_seconds: float = 300) -> str:
    # One message per request, so a step of ten makes ten requests at once; "not found" at once means never
    # received (no grace for a request still on its way: a cancelled one never arrives).
    return (
        'provider = "ats"\nbatch_sending = true\n'
        f"lease_seconds = {lease_seconds}\n"
        "[provider_options]\n"
        'username = "user"\nproject_keyword = "k"\noutput_sender_number = "123"\n'
        f'url = "{url}"\nmax_batch_size = 1\nnot_found_grace = 0\n'
    )


@pytest.fixture
def gateway() -> Iterator[ATSGateway]:
    with ATSGateway() as gateway:
        yield gateway


def _queue(cli: CLI, gateway: ATSGateway, count: int = QUEUED, *, lease_seconds: float = 300) -> None:
    cli.env.update(PASSWORD)
    (cli.cwd / "smscore.toml").write_text(_config(gateway.url, lease_seconds=lease_seconds))
    rows = "".join(f"+42077700{i:04d},message {i}\n" for i in range(count))
    (cli.cwd / "campaign.csv").write_text("recipient,content\n" + rows)
    cli.ok("send-many", "campaign.csv")


def _states(cli: CLI) -> dict[str, int]:
    conn = sqlite3.connect(cli.cwd / "smscore.db")
    try:
        rows = conn.execute("SELECT state, count(*) FROM smscore_message GROUP BY state").fetchall()
    finally:
        conn.close()
    return dict(rows)


def _leased(cli: CLI) -> int:
    conn = sqlite3.connect(cli.cwd / "smscore.db")
    try:
        (count,) = conn.execute("SELECT count(*) FROM smscore_message WHERE lease_expires_at IS NOT NULL").fetchone()
    finally:
        conn.close()
    return int(count)


def _sends_per_message(gateway: ATSGateway) -> collections.Counter[str]:
    return collections.Counter(received.uniq for received in gateway.received)


def _worker(cli: CLI) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*command(), "worker", "--async", "--batch-size", BATCH, "--idle", "0.1", "--json"],
        cwd=cli.cwd,
        env=environment(cli.env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _when_requests_arrive(gateway: ATSGateway, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while gateway.request_count == 0:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the worker sent nothing"
        time.sleep(0.01)


def _finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


class TestAsyncWorker:
    def test_once_drains_the_outbox(self, cli: CLI, gateway: ATSGateway) -> None:
        """Forty queued messages, steps of ten: --async --once publishes each exactly once and exits 0."""
        _queue(cli, gateway)
        report = json.loads(cli.ok("worker", "--async", "--once", "--batch-size", BATCH, "--json"))
        assert (report["claimed"], report["states"], report["failures"]) == (QUEUED, {"sending": QUEUED}, {})
        assert report["steps"] == QUEUED // int(BATCH) + 1  # the last step finds nothing due
        assert _states(cli) == {"sending": QUEUED}
        assert _leased(cli) == 0
        sends = _sends_per_message(gateway)
        assert len(sends) == QUEUED
        assert set(sends.values()) == {1}

    def test_once_with_nothing_due_exits_at_once(self, cli: CLI, gateway: ATSGateway) -> None:
        """An empty outbox: one step, nothing claimed, no request, exit 0 (the idle wait is not taken)."""
        _queue(cli, gateway, 0)
        started = time.monotonic()
        report = json.loads(cli.ok("worker", "--async", "--once", "--idle", "30", "--json"))
        assert time.monotonic() - started < 20
        assert (report["steps"], report["claimed"]) == (1, 0)
        assert gateway.request_count == 0

    def test_a_terminal_sees_the_queue_drain(self, cli: CLI, gateway: ATSGateway) -> None:
        """The progress line and the table work as for the threaded worker."""
        _queue(cli, gateway, 3)
        done = cli.on_terminal("worker", "--async", "--once")
        assert done.status == 0, done
        assert "publishing [" in done.stderr
        assert "3/3  100%" in done.stderr
        assert "now sending" in done.stdout

    def test_sigterm_finishes_the_step_in_hand_and_exits_0(self, cli: CLI, gateway: ATSGateway) -> None:
        """SIGTERM while a step's requests are answered late: the worker stores every outcome of that step, claims
        nothing more and exits 0; the next run publishes the rest. Every message reaches the gateway once."""
        _queue(cli, gateway)
        gateway.default = Reply(delay=0.5)
        process = _worker(cli)
        _when_requests_arrive(gateway, process)
        process.send_signal(signal.SIGTERM)
        out, err = _finish(process)
        assert process.returncode == 0, err
        report = json.loads(out)
        assert report["claimed"] in range(int(BATCH), QUEUED, int(BATCH)), report
        assert report["states"] == {"sending": report["claimed"]}
        assert _states(cli) == {"sending": report["claimed"], "waiting": QUEUED - report["claimed"]}
        assert _leased(cli) == 0
        gateway.default = Reply()
        rest = json.loads(cli.ok("worker", "--async", "--once", "--json"))
        assert rest["claimed"] == QUEUED - report["claimed"]
        assert _states(cli) == {"sending": QUEUED}
        sends = _sends_per_message(gateway)
        assert len(sends) == QUEUED
        assert set(sends.values()) == {1}

    def test_a_second_signal_cancels_the_step_and_lease_recovery_settles_it(
        self, cli: CLI, gateway: ATSGateway
    ) -> None:
        """Two SIGTERMs while a step's requests are answered late: exit 1 saying the step was cancelled; its ten
        messages stay leased (some of their requests never left). Once the lease ends, the next run recovers them
        as UNKNOWN (ATS can be asked by our id: never re-sent blindly) and publishes the rest; the delivery check
        finds which of the ten the gateway has and puts the others back in the queue, and the worker sends those.
        Nothing is lost, nothing reaches the gateway twice."""
        _queue(cli, gateway, lease_seconds=1)
        gateway.default = Reply(delay=2.0)
        process = _worker(cli)
        _when_requests_arrive(gateway, process)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        out, err = _finish(process)
        assert process.returncode == 1, err
        assert "step in hand was cancelled" in err
        assert json.loads(out)["claimed"] == 0  # no step ended
        assert _leased(cli) == int(BATCH)
        assert _states(cli) == {"waiting": QUEUED}
        time.sleep(1.2)
        gateway.default = Reply()
        rest = json.loads(cli.ok("worker", "--async", "--once", "--json"))
        assert rest["recovered"] == int(BATCH)
        assert _states(cli) == {"unknown": int(BATCH), "sending": QUEUED - int(BATCH)}
        cli.ok("check-delivery")
        cli.ok("worker", "--async", "--once")
        assert set(_states(cli)) <= {"delivered", "sending"}
        sends = _sends_per_message(gateway)
        assert len(sends) == QUEUED
        assert set(sends.values()) == {1}

    def test_bad_options_exit_2(self, cli: CLI) -> None:
        """--async takes the worker's other options; a concurrency that is not a positive number is a usage error."""
        assert "concurrency" in cli.fails("worker", "--async", "--concurrency", "0", status=2)
