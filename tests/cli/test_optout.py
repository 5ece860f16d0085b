"""``smscore optout`` and the guards as the command line shows them: refusals are one line, counted in stats."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.cli.conftest import CLI

RECIPIENT = "+420777123456"
CZ = {"SMSCORE_DEFAULT_REGION": "CZ"}


def _listed(cli: CLI) -> list[dict[str, object]]:
    listed: list[dict[str, object]] = json.loads(cli.ok("optout", "list", "--json"))
    return listed


class TestOptOutCommands:
    def test_add_list_remove(self, cli: CLI) -> None:
        """A national number is read in the default region; list shows it; remove takes it off."""
        assert "+420777123456 is opted out" in cli.ok("optout", "add", "777 123 456", "--reason", "STOP", env=CZ)
        [entry] = _listed(cli)
        assert (entry["recipient"], entry["reason"], entry["source"]) == (RECIPIENT, "STOP", "cli")
        assert "RECIPIENT" in cli.ok("optout", "list")
        assert "removed" in cli.ok("optout", "remove", RECIPIENT)
        assert _listed(cli) == []
        assert "no opted-out numbers" in cli.ok("optout", "list")

    def test_removing_a_number_not_on_the_list_fails(self, cli: CLI) -> None:
        """One line says so; the exit status is 1."""
        assert "is not on the opt-out list" in cli.fails("optout", "remove", RECIPIENT)

    def test_a_bad_number_is_one_line(self, cli: CLI) -> None:
        """A number that is not one is refused before anything is stored."""
        assert "is not a phone number" in cli.fails("optout", "add", "call me")

    def test_import_adds_the_good_lines_and_names_the_bad_ones(self, cli: CLI) -> None:
        """CSV with a header, comments, blanks, reasons, a duplicate and two bad lines: the good numbers are added,
        stderr names each bad line, the exit status is 1."""
        (cli.cwd / "stop.csv").write_text(
            "recipient,reason\n"
            "# exported from the shop\n"
            "+420777000001,replied STOP\n"
            "\n"
            "777 000 002\n"
            "not a number,oops\n"
            "+420777000001,again\n"
            "+42\n",
            encoding="utf-8",
        )
        result = cli("optout", "import", "stop.csv", env=CZ)
        assert result.status == 1, result
        errors = result.stderr.strip().splitlines()
        assert errors[0].startswith("smscore: line 6: ")
        assert errors[1].startswith("smscore: line 8: ")
        assert errors[-1] == "smscore: error: 2 of 5 line(s) refused; the others were added"
        assert "Traceback" not in result.stderr
        listed = {entry["recipient"]: entry for entry in _listed(cli)}
        assert set(listed) == {"+420777000001", "+420777000002"}
        assert listed["+420777000001"]["reason"] == "replied STOP"
        assert listed["+420777000001"]["source"] == "import"

    def test_import_from_standard_input_as_json(self, cli: CLI, tmp_path: object) -> None:
        """``-`` reads standard input; --json reports the counts."""
        import subprocess

        from tests.cli.conftest import command, environment

        done = subprocess.run(
            [*command(), "optout", "import", "-", "--reason", "bulk", "--json"],
            input="+420777000001\n+420777000003\n",
            cwd=cli.cwd,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"read": 2, "added": 2, "already": 0, "refused": []}
        assert {e["reason"] for e in _listed(cli)} == {"bulk"}

    def test_sync_from_a_provider_without_a_list_fails(self, cli: CLI) -> None:
        """The dummy provider keeps no list: one line says so."""
        assert "keeps no opt-out list" in cli.fails("optout", "sync", "--provider", "default")


class TestRefusals:
    def test_send_to_an_opted_out_number_is_one_line_and_counted_in_stats(self, cli: CLI) -> None:
        """The send fails with one line and stores nothing; stats counts the refusal by reason and tag."""
        cli.ok("optout", "add", RECIPIENT)
        assert "opted out of SMS" in cli.fails("send", RECIPIENT, "Spring sale", "--tag", "marketing")
        assert "no messages yet" in cli.ok("stats")
        assert "opted_out" in cli.ok("stats")
        assert json.loads(cli.ok("stats", "--json")) == [{"refused": "opted_out", "tag": "marketing", "count": 1}]

    def test_a_recipient_limit_refuses_the_excess(self, cli: CLI) -> None:
        """Configured from the environment, the limit lets one otp through and refuses the next."""
        env = {"SMSCORE_RECIPIENT_LIMITS__OTP__COUNT": "1", "SMSCORE_RECIPIENT_LIMITS__OTP__PER": "1h"}
        cli.ok("send", RECIPIENT, "Code 1", "--tag", "otp", env=env)
        assert "recipient_limits.otp" in cli.fails("send", RECIPIENT, "Code 2", "--tag", "otp", env=env)

    def test_send_many_reports_refused_rows_by_line_and_sends_the_rest(self, cli: CLI) -> None:
        """An opted-out row and a row from a country not allowed are named; the other row is sent."""
        cli.ok("optout", "add", "+420777000002")
        (cli.cwd / "campaign.csv").write_text(
            "recipient,content\n+420777000001,Hi\n+420777000002,Hi\n+4915112345678,Hallo\n", encoding="utf-8"
        )
        result = cli("send-many", "campaign.csv", "--json", env={"SMSCORE_ALLOWED_COUNTRIES": "CZ"})
        assert result.status == 1, result
        data = json.loads(result.stdout)
        assert data["stored"] == 1
        assert [(r["line"], r["error"]) for r in data["refused"]] == [
            (3, "+420777000002 opted out of SMS"),
            (4, "+4915112345678 is in a country not among allowed_countries"),
        ]


@pytest.fixture
def moto_server() -> Iterator[str]:
    """moto's SNS served over HTTP on 127.0.0.1 (the command line runs in another process)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_sync_copies_the_sns_list(cli: CLI, moto_server: str) -> None:
    """``optout sync --provider default`` with SNS reads moto's opted-out numbers into the list; a second run adds
    none. (Paging is tested in tests/providers/test_sns_opt_outs.py: moto serves one page.)"""
    env = {
        "SMSCORE_PROVIDER": "sns",
        "SMSCORE_PROVIDER_OPTIONS__REGION": "eu-west-1",
        "SMSCORE_PROVIDER_OPTIONS__ENDPOINT_URL": moto_server,
        "SMSCORE_PROVIDER_OPTIONS__AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "SMSCORE_PROVIDER_OPTIONS__AWS_SECRET_ACCESS_KEY": "sns-test-secret",
    }
    first = json.loads(cli.ok("optout", "sync", "--provider", "default", "--json", env=env))
    assert first["added"] == first["read"] > 0
    again = json.loads(cli.ok("optout", "sync", "--provider", "default", "--json", env=env))
    assert (again["added"], again["already"]) == (0, first["read"])
    assert {e["source"] for e in _listed(cli)} == {"sync:default"}
