"""Operators' commands of the ``smscore`` command line: worker, purge and spend, run as real subprocesses."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time

from tests.cli.conftest import CLI, command, environment

RECIPIENT = "+420777123456"
OUTBOX = {"SMSCORE_BATCH_SENDING": "true"}


def _sql(cli: CLI, statement: str) -> None:
    conn = sqlite3.connect(cli.cwd / "smscore.db")
    try:
        conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


class TestWorker:
    def test_once_publishes_every_queued_message(self, cli: CLI) -> None:
        """In outbox mode send only queues; worker --once publishes them all and reports it."""
        for i in range(3):
            sent = json.loads(cli.ok("send", RECIPIENT, f"m{i}", "--json", env=OUTBOX))
            assert sent["state"] == "waiting"
        report = json.loads(cli.ok("worker", "--once", "--concurrency", "2", "--json", env=OUTBOX))
        assert report["claimed"] == 3
        assert report["states"] == {"debug": 3}
        listed = json.loads(cli.ok("messages", "--json"))
        assert {m["state"] for m in listed} == {"debug"}

    def test_sigterm_stops_the_worker_cleanly(self, cli: CLI) -> None:
        """A running worker stops on SIGTERM with status 0 and its report, leaving nothing claimed."""
        cli.ok("send", RECIPIENT, "first", env=OUTBOX)
        process = subprocess.Popen(
            [*command(), "worker", "--idle", "0.1", "--json"],
            cwd=cli.cwd,
            env=environment(OUTBOX),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if json.loads(cli.ok("messages", "--json"))[0]["state"] == "debug":
                    break
                time.sleep(0.1)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 0, err
        assert json.loads(out)["claimed"] == 1
        conn = sqlite3.connect(cli.cwd / "smscore.db")
        try:
            leased = conn.execute("SELECT count(*) FROM smscore_message WHERE lease_expires_at IS NOT NULL").fetchone()
        finally:
            conn.close()
        assert leased == (0,)

    def test_a_terminal_sees_the_queue_drain(self, cli: CLI) -> None:
        """worker --once on a terminal: a progress line over the queued messages, ending at all of them."""
        for i in range(3):
            cli.ok("send", RECIPIENT, f"m{i}", env=OUTBOX)
        done = cli.on_terminal("worker", "--once", env=OUTBOX)
        assert done.status == 0
        assert "publishing [" in done.stderr
        assert "3/3  100%" in done.stderr
        assert "claimed" in done.stdout

    def test_bad_options_exit_2(self, cli: CLI) -> None:
        """A concurrency that is not a positive number is a usage error."""
        assert "concurrency" in cli.fails("worker", "--concurrency", "0", status=2)


class TestPurge:
    def test_old_finished_messages_go_and_the_rest_stay(self, cli: CLI) -> None:
        """--older-than deletes finished messages past the age only."""
        for text in ("old", "new"):
            cli.ok("send", RECIPIENT, text)
        _sql(cli, "UPDATE smscore_message SET changed_at = '2000-01-01 00:00:00.000000' WHERE content = 'old'")
        assert json.loads(cli.ok("purge", "--older-than", "90d", "--json")) == {"deleted": 1}
        assert [m["content"] for m in json.loads(cli.ok("messages", "--json"))] == ["new"]

    def test_a_dry_run_counts_per_state_and_deletes_nothing(self, cli: CLI) -> None:
        """--dry-run: the finished messages past the age, per state; every message is still there after it."""
        for text in ("old", "old too", "old but waiting", "new"):
            cli.ok("send", RECIPIENT, text)
        _sql(cli, "UPDATE smscore_message SET changed_at = '2000-01-01 00:00:00.000000' WHERE content LIKE 'old%'")
        _sql(cli, "UPDATE smscore_message SET state = 'error' WHERE content = 'old too'")
        _sql(cli, "UPDATE smscore_message SET state = 'waiting' WHERE content = 'old but waiting'")
        dry = json.loads(cli.ok("purge", "--older-than", "90d", "--dry-run", "--json"))
        assert dry == {"would_delete": 2, "states": {"error": 1, "debug": 1}}
        table = cli.ok("purge", "--older-than", "90d", "--dry-run")
        assert table.splitlines()[0] == "would delete 2 finished message(s)"
        assert len(json.loads(cli.ok("messages", "--json"))) == 4
        assert json.loads(cli.ok("purge", "--older-than", "90d", "--json")) == {"deleted": 2}
        assert json.loads(cli.ok("purge", "--older-than", "90d", "--dry-run", "--json"))["would_delete"] == 0

    def test_a_terminal_sees_the_purge_progress(self, cli: CLI) -> None:
        """On a terminal, purge draws its progress over what it is about to delete."""
        for i in range(5):
            cli.ok("send", RECIPIENT, f"m{i}")
        _sql(cli, "UPDATE smscore_message SET changed_at = '2000-01-01 00:00:00.000000'")
        done = cli.on_terminal("purge", "--older-than", "90d", "--batch-size", "2")
        assert done.status == 0
        assert "purging [" in done.stderr
        assert "5/5  100%" in done.stderr
        assert "deleted 5 finished message(s)" in done.stdout

    def test_a_bad_age_is_a_usage_error(self, cli: CLI) -> None:
        """The age needs a unit."""
        assert "is not a duration" in cli.fails("purge", "--older-than", "90", status=2)


class TestSpend:
    def test_spend_per_provider_and_day(self, cli: CLI) -> None:
        """Known prices add up per provider and day; unpriced messages are counted apart."""
        for _ in range(3):
            cli.ok("send", RECIPIENT, "x")
        _sql(cli, "UPDATE smscore_message SET price = '0.0079', price_unit = 'USD' WHERE id IN (1, 2)")
        rows = json.loads(cli.ok("stats", "--spend", "--json"))
        priced = next(r for r in rows if r["currency"] == "USD")
        assert (priced["provider"], priced["amount"], priced["messages"]) == ("default", "0.0158", 2)
        assert sum(r["unpriced"] for r in rows) == 1
        table = cli.ok("stats", "--spend")
        assert "0.0158" in table
        assert "DAY (UTC)" in table

    def test_since_needs_spend(self, cli: CLI) -> None:
        """--since belongs to --spend."""
        assert "--since applies to --spend only" in cli.fails("stats", "--since", "30d")


def test_a_template_with_a_syntax_error_is_refused_when_added(cli: CLI) -> None:
    """A broken template body fails at `template add`, not at the first send; nothing is stored."""
    assert "syntax error" in cli.fails("template", "add", "broken", "Hello {{ name }")
    assert "no templates" in cli.ok("template", "list")
