"""Scheduling on the command line: ``--at`` and ``--in`` of the sending commands, a ``send_at`` column in campaign
files, and ``smscore cancel``, run as real subprocesses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.cli.conftest import CLI

RECIPIENT = "+420777123456"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


class TestSendLater:
    def test_at_stores_the_message_waiting_until_then(self, cli: CLI) -> None:
        """--at with an offset stores the message WAITING, due at that moment (in UTC); the worker leaves it."""
        sent = json.loads(cli.ok("send", RECIPIENT, "Merry Christmas", "--at", "2036-12-24T09:00+01:00", "--json"))
        assert sent["state"] == "waiting"
        assert _time(sent["send_at"]) == datetime(2036, 12, 24, 8, 0, tzinfo=UTC)
        assert sent["next_attempt_at"] == sent["send_at"]
        report = json.loads(cli.ok("worker", "--once", "--json"))
        assert report["claimed"] == 0
        assert "scheduled for" in cli.ok("show", str(sent["id"]))

    def test_in_counts_from_now(self, cli: CLI) -> None:
        """--in 2h is due two hours after the command ran; send-template takes it too."""
        before = datetime.now(UTC)
        sent = json.loads(cli.ok("send", RECIPIENT, "Soon", "--in", "2h", "--json"))
        due = _time(sent["send_at"])
        assert before + timedelta(hours=2) <= due <= datetime.now(UTC) + timedelta(hours=2)
        cli.ok("template", "add", "later", "Hello {{ name }}")
        rendered = json.loads(cli.ok("send-template", RECIPIENT, "later", "--var", "name=Eva", "--in", "1d", "--json"))
        assert rendered["state"] == "waiting"
        assert rendered["content"] == "Hello Eva"

    def test_a_time_in_the_past_sends_now(self, cli: CLI) -> None:
        """--at a moment already gone sends at once."""
        sent = json.loads(cli.ok("send", RECIPIENT, "Now", "--at", "2001-01-01T00:00Z", "--json"))
        assert sent["state"] == "debug"

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--at", "2036-12-24T09:00"], "no UTC offset"),
            (["--at", "Christmas"], "not a time"),
            (["--in", "soon"], "not a duration"),
            (["--at", "2036-12-24T09:00Z", "--in", "2h"], "not allowed with argument"),
        ],
    )
    def test_a_time_that_cannot_be_read_is_a_usage_error(self, cli: CLI, args: list[str], message: str) -> None:
        """Naive, malformed or doubled times exit 2 and store nothing."""
        assert message in cli.fails("send", RECIPIENT, "x", *args, status=2)
        assert json.loads(cli.ok("messages", "--json")) == []

    def test_times_beyond_any_plan_fail_with_one_line(self, cli: CLI) -> None:
        """A delay past the calendar, or a time past the year 9000, is refused and stores nothing."""
        assert "beyond the calendar" in cli.fails("send", RECIPIENT, "x", "--in", "999999w")
        assert "before the year 9001" in cli.fails("send", RECIPIENT, "x", "--at", "9999-01-01T00:00Z")
        assert json.loads(cli.ok("messages", "--json")) == []


class TestCampaignTimes:
    def test_a_send_at_column_schedules_its_rows(self, cli: CLI) -> None:
        """Rows with a send_at wait for it; an empty cell takes --at; a cell without an offset refuses its row."""
        (cli.cwd / "c.csv").write_text(
            "recipient,content,send_at\n"
            "+420777000001,first,2036-01-01T10:00+01:00\n"
            "+420777000002,second,\n"
            "+420777000003,third,2036-01-01T10:00\n",
            encoding="utf-8",
        )
        result = cli("send-many", "c.csv", "--at", "2037-01-01T00:00Z", "--json")
        assert result.status == 1
        report = json.loads(result.stdout)
        assert report["stored"] == 2
        assert report["refused"][0]["line"] == 4
        assert "no UTC offset" in report["refused"][0]["error"]
        listed = {m["content"]: m for m in json.loads(cli.ok("messages", "--json"))}
        assert _time(listed["first"]["send_at"]) == datetime(2036, 1, 1, 9, 0, tzinfo=UTC)
        assert _time(listed["second"]["send_at"]) == datetime(2037, 1, 1, tzinfo=UTC)
        assert "send_at" not in listed["first"]["extra_data"]


class TestCancel:
    def test_cancel_stops_a_waiting_message_once(self, cli: CLI) -> None:
        """A scheduled message cancelled ends in error "cancelled"; a second cancel fails with one line."""
        sent = json.loads(cli.ok("send", RECIPIENT, "Later", "--in", "1h", "--json"))
        cancelled = json.loads(cli.ok("cancel", str(sent["id"]), "--json"))
        assert (cancelled["state"], cancelled["error"]) == ("error", "cancelled")
        assert "cannot be cancelled: it is ERROR, not WAITING" in cli.fails("cancel", str(sent["id"]))

    def test_a_sent_or_missing_message_cannot_be_cancelled(self, cli: CLI) -> None:
        """Only WAITING messages can be stopped; a missing id says so."""
        sent = json.loads(cli.ok("send", RECIPIENT, "Now", "--json"))
        assert "it is DEBUG, not WAITING" in cli.fails("cancel", str(sent["id"]))
        assert "no SMS message with id 999" in cli.fails("cancel", "999")
