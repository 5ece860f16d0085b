"""``smscore send-many FILE|-``: a campaign from CSV, run as a real subprocess."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest

import smscore
from tests.cli.conftest import CLI, command, environment

RECIPIENT = "+420777123456"


def _stored(cli: CLI) -> list[tuple[str, str, str | None, str]]:
    """(recipient, content, tag, extra data) of every stored message, in id order."""
    conn = sqlite3.connect(cli.cwd / "smscore.db")
    try:
        return list(conn.execute("SELECT recipient, content, tag, extra_data FROM smscore_message ORDER BY id"))
    finally:
        conn.close()


def _write(cli: CLI, text: str, name: str = "campaign.csv") -> str:
    (cli.cwd / name).write_text(text, encoding="utf-8")
    return name


GOOD_AND_BAD = (
    "recipient,content,order_id\n"  # line 1
    "+420777123456,Your parcel is on its way,42\n"  # line 2
    "not-a-number,Hello,43\n"  # line 3: refused
    '+420777000111,"Two lines\nof text",007\n'  # lines 4-5
    "+420777000222,,44\n"  # line 6: refused (empty content)
    "+420777000333,Last one,x\n"  # line 7
)


class TestContentRows:
    def test_good_rows_are_stored_and_each_bad_row_is_reported_with_its_line(self, cli: CLI) -> None:
        """Three of five rows stored in file order; lines 3 and 6 refused on stderr; exit 1."""
        result = cli("send-many", _write(cli, GOOD_AND_BAD))
        assert result.status == 1
        errors = result.stderr.strip().splitlines()
        assert errors[0].startswith("smscore: line 3: ")
        assert "is not a phone number" in errors[0]
        assert errors[1].startswith("smscore: line 6: ")
        assert "empty" in errors[1]
        assert errors[2] == ("smscore: error: 2 of 5 row(s) refused (line 3, 6); nothing was stored for them")
        assert [(r, c) for r, c, _, _ in _stored(cli)] == [
            (RECIPIENT, "Your parcel is on its way"),
            ("+420777000111", "Two lines\nof text"),
            ("+420777000333", "Last one"),
        ]
        assert "rows read" in result.stdout

    def test_other_columns_are_extra_data_typed_like_extra(self, cli: CLI) -> None:
        """order_id 42 is stored as a number, 007 and x as text."""
        cli("send-many", _write(cli, GOOD_AND_BAD))
        assert [json.loads(extra) for _, _, _, extra in _stored(cli)] == [
            {"order_id": 42},
            {"order_id": "007"},
            {"order_id": "x"},
        ]

    def test_json_summary(self, cli: CLI) -> None:
        """--json: counts, states and every refused row with its line and reason."""
        result = cli("send-many", _write(cli, GOOD_AND_BAD), "--json", "--tag", "spring")
        assert result.status == 1
        data = json.loads(result.stdout)
        assert (data["read"], data["stored"], data["states"]) == (5, 3, {"debug": 3})
        assert [r["line"] for r in data["refused"]] == [3, 6]
        assert {tag for _, _, tag, _ in _stored(cli)} == {"spring"}

    @pytest.mark.parametrize("chunk_size", ["1", "2", "3", "500"])
    def test_any_chunk_size_stores_the_same_rows(self, cli: CLI, chunk_size: str) -> None:
        """Chunks are stored one transaction each; a refused row never takes its neighbours with it."""
        data = json.loads(cli("send-many", _write(cli, GOOD_AND_BAD), "--json", "--chunk-size", chunk_size).stdout)
        assert data["stored"] == 3
        assert len(_stored(cli)) == 3
        assert [r["line"] for r in data["refused"]] == [3, 6]

    def test_all_good_rows_exit_0(self, cli: CLI) -> None:
        """No refusal: exit 0, nothing on stderr, a per-row tag column."""
        csv = "recipient,content,tag\n+420777123456,one,a\n+420777000111,two,\n"
        out = cli.ok("send-many", _write(cli, csv), "--tag", "b")
        assert "stored" in out
        assert [(c, t) for _, c, t, _ in _stored(cli)] == [("one", "a"), ("two", "b")]

    def test_standard_input(self, cli: CLI) -> None:
        """- reads the CSV from standard input (a byte-order mark is fine)."""
        done = subprocess.run(
            [*command(), "send-many", "-", "--json"],
            input="\ufeffrecipient,content\n+420777123456,from stdin\n".encode(),
            cwd=cli.cwd,
            env=environment(),
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["stored"] == 1
        assert _stored(cli)[0][1] == "from stdin"


class TestOnATerminal:
    def test_a_progress_line_on_the_terminal_and_the_summary_on_stdout(self, cli: CLI) -> None:
        """stderr (a terminal) shows the progress line with the row count; stdout keeps the table."""
        rows = "".join(f"+42077700{i:04d},message {i}\n" for i in range(50))
        done = cli.on_terminal("send-many", _write(cli, "recipient,content\n" + rows), "--chunk-size", "10")
        assert done.status == 0
        assert "sending [" in done.stderr
        assert "50/50  100%" in done.stderr
        assert "stored" in done.stdout

    def test_json_output_is_unaffected_by_progress(self, cli: CLI) -> None:
        """With --json nothing is drawn, even on a terminal: stdout is the JSON document alone."""
        done = cli.on_terminal("send-many", _write(cli, GOOD_AND_BAD), "--json")
        assert done.status == 1
        assert json.loads(done.stdout)["stored"] == 3
        assert "[" not in done.stderr
        assert done.stderr.strip().splitlines() == [
            "smscore: error: 2 of 5 row(s) refused (line 3, 6); nothing was stored for them"
        ]


class TestTemplateRows:
    def test_rows_are_rendered_from_their_template(self, cli: CLI) -> None:
        """The template column names the template; the other columns are its variables."""
        cli.ok("template", "add", "welcome", "Hello {{ name }}, your code is {{ code }}")
        csv = (
            "recipient,template,name,code\n"
            "+420777123456,welcome,Eva,0042\n"
            "+420777000111,nope,Bob,1\n"  # line 3: no such template
            "+420777000222,welcome,Ann,7\n"
        )
        result = cli("send-many", _write(cli, csv))
        assert result.status == 1
        assert "smscore: line 3: no SMS template with slug 'nope'" in result.stderr
        assert [c for _, c, _, _ in _stored(cli)] == ["Hello Eva, your code is 0042", "Hello Ann, your code is 7"]
        conn = sqlite3.connect(cli.cwd / "smscore.db")
        try:
            slugs = [slug for (slug,) in conn.execute("SELECT template_slug FROM smscore_message ORDER BY id")]
        finally:
            conn.close()
        assert slugs == ["welcome", "welcome"]

    def test_a_row_of_an_inactive_template_is_refused(self, cli: CLI) -> None:
        """The command goes through the service's template checks: an inactive template sends nothing."""
        ok = smscore.build_service({"database_url": f"sqlite:///{cli.cwd / 'smscore.db'}"})
        with ok:
            ok.templates.save(smscore.SMSTemplate(slug="old", body="Hi {{ name }}", is_active=False))
        result = cli("send-many", _write(cli, "recipient,template,name\n+420777123456,old,Eva\n"))
        assert result.status == 1
        assert "line 2:" in result.stderr
        assert "old" in result.stderr
        assert _stored(cli) == []


class TestBadFiles:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "the file is empty"),
            ("phone,content\n+420777123456,x\n", "no 'recipient' column"),
            ("recipient,body\n+420777123456,x\n", "exactly one of the columns 'content' and 'template'"),
            ("recipient,content,content\n", "more than once"),
        ],
    )
    def test_a_header_that_cannot_be_used_stores_nothing(self, cli: CLI, text: str, message: str) -> None:
        """Exit 1, one line naming the problem."""
        assert message in cli.fails("send-many", _write(cli, text))
        assert not (cli.cwd / "smscore.db").exists() or not _stored(cli)

    def test_a_row_with_the_wrong_number_of_values_is_refused(self, cli: CLI) -> None:
        """A short or long row is refused by line; the rest go."""
        result = cli("send-many", _write(cli, "recipient,content\n+420777123456,a,b\n+420777000111,ok\n"))
        assert result.status == 1
        assert "line 2: 3 value(s) where the header names 2 column(s)" in result.stderr
        assert [c for _, c, _, _ in _stored(cli)] == ["ok"]

    def test_a_file_that_is_not_utf8(self, cli: CLI) -> None:
        """Bytes that are not UTF-8: one line naming the line."""
        (cli.cwd / "latin1.csv").write_bytes("recipient,content\n+420777123456,Příliš\n".encode("cp1250"))
        assert "line 2: not UTF-8 text" in cli.fails("send-many", "latin1.csv")

    def test_a_line_past_the_bound_stops_the_run(self, cli: CLI) -> None:
        """A line of more than 1 MiB is not read into memory as a row: the run stops there."""
        (cli.cwd / "huge.csv").write_text("recipient,content\n+420777123456," + "x" * (1024 * 1024 + 1) + "\n")
        assert "line 2: longer than 1024 KiB" in cli.fails("send-many", "huge.csv")
        assert not (cli.cwd / "smscore.db").exists() or not _stored(cli)

    def test_a_configuration_problem_is_reported_before_any_row(self, cli: CLI) -> None:
        """A storage that cannot be built: the one line says so, not which row it stopped at."""
        line = cli.fails("send-many", _write(cli, GOOD_AND_BAD), env={"SMSCORE_STORAGE": "bogus"})
        assert "storage: 'bogus'" in line
        assert "line" not in line

    def test_a_missing_file(self, cli: CLI) -> None:
        """A path that does not exist."""
        assert "cannot read missing.csv" in cli.fails("send-many", "missing.csv")
