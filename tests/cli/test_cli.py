"""The ``smscore`` command line, run as a real subprocess: every command, and every kind of bad input.

Bad input always means a non-zero exit status and exactly one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from adapters_sqlalchemy.schema import HEAD_REVISION
from tests.cli.conftest import CLI, SCRIPT

RECIPIENT = "+420777123456"


def _stored(cli: CLI) -> int:
    """How many messages the default database in the CLI's directory holds (0 when there is none)."""
    path = cli.cwd / "smscore.db"
    if not path.exists():
        return 0
    conn = sqlite3.connect(path)
    try:
        count: int = conn.execute("SELECT count(*) FROM smscore_message").fetchone()[0]
    finally:
        conn.close()
    return count


def _send_json(cli: CLI, *args: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(cli.ok("send", *args, "--json"))
    return data


class TestSend:
    def test_send_stores_the_message_in_smscore_db_with_the_dummy_provider(self, cli: CLI) -> None:
        """With no configuration: SQLite in the current directory, dummy provider, message in DEBUG."""
        out = cli.ok("send", RECIPIENT, "Your parcel is on its way", "--tag", "orders", "--extra", "order_id=42")
        assert "state         debug" in out
        assert (cli.cwd / "smscore.db").is_file()
        shown = json.loads(cli.ok("show", "1", "--json"))
        assert shown["content"] == "Your parcel is on its way"
        assert shown["state"] == "debug"
        assert shown["tag"] == "orders"
        assert shown["extra_data"] == {"order_id": 42}
        assert shown["provider"] == "default"

    def test_send_json_has_every_field(self, cli: CLI) -> None:
        """--json prints the stored message: id, E.164 recipient, state, times in UTC ISO 8601."""
        data = _send_json(cli, "+420 777 123 456", "Příliš žluťoučký kůň", "--priority", "1")
        assert data["id"] == 1
        assert data["recipient"] == RECIPIENT
        assert data["content"] == "Prilis zlutoucky kun"
        assert data["priority"] == 1
        assert str(data["created_at"]).endswith("+00:00")

    def test_an_idempotency_key_sends_once(self, cli: CLI) -> None:
        """The same key twice returns the first message."""
        first = _send_json(cli, RECIPIENT, "once", "--idempotency-key", "order-42")
        second = _send_json(cli, RECIPIENT, "twice", "--idempotency-key", "order-42")
        assert second["id"] == first["id"]
        assert second["content"] == "once"

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["123", "hi"], "is not a phone number"),
            (["not-a-number", "hi"], "is not a phone number"),
            ([RECIPIENT, ""], "empty"),
            ([RECIPIENT, "hi", "--tag", "no spaces!"], "tag"),
            ([RECIPIENT, "hi", "--extra", "priority=1"], "is an option of send"),
            ([RECIPIENT, "hi", "--extra", "a=1", "--extra", "a=2"], "given twice"),
            ([RECIPIENT, "x" * 2000], "SMS parts"),
        ],
    )
    def test_bad_messages_fail_with_one_line_and_store_nothing(self, cli: CLI, args: list[str], message: str) -> None:
        """Invalid input: exit status 1, one line naming the problem, nothing stored."""
        assert message in cli.fails("send", *args)
        assert _stored(cli) == 0

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            ([RECIPIENT, "hi", "--priority", "7"], "is not a priority"),
            ([RECIPIENT, "hi", "--priority", "high"], "is not a whole number"),
            ([RECIPIENT, "hi", "--extra", "novalue"], "expected KEY=VALUE"),
            ([RECIPIENT], "required: text"),
            ([RECIPIENT, "hi", "--colour", "red"], "unrecognized arguments"),
        ],
    )
    def test_a_command_line_that_cannot_be_parsed_exits_2(self, cli: CLI, args: list[str], message: str) -> None:
        """Usage errors: exit status 2, one line, and a pointer to --help."""
        line = cli.fails("send", *args, status=2)
        assert message in line
        assert "(see 'smscore" in line


class TestTemplates:
    def test_add_list_show_send_replace_delete(self, cli: CLI) -> None:
        """The whole life of a template through the command line."""
        assert "template 'welcome' added" in cli.ok("template", "add", "welcome", "Hello {{ name }}!")
        listing = cli.ok("template", "list")
        assert listing.splitlines()[0].split() == ["SLUG", "CHANGED", "(UTC)", "BODY"]
        assert "welcome" in listing
        assert "Hello {{ name }}!" in listing
        assert "Hello {{ name }}!" in cli.ok("template", "show", "welcome")
        sent = json.loads(cli.ok("send-template", RECIPIENT, "welcome", "--var", "name=Eva", "--json"))
        assert sent["content"] == "Hello Eva!"
        assert sent["template_slug"] == "welcome"
        assert "replaced" in cli.ok("template", "add", "welcome", "Hi {{ name }}")
        assert json.loads(cli.ok("template", "show", "welcome", "--json"))["body"] == "Hi {{ name }}"
        assert "deleted" in cli.ok("template", "delete", "welcome")
        assert "no templates" in cli.ok("template", "list")
        assert json.loads(cli.ok("template", "list", "--json")) == []

    def test_unknown_templates_fail_with_one_line(self, cli: CLI) -> None:
        """show, delete and send-template of a missing slug: exit 1, naming the slug."""
        for args in (
            ["template", "show", "nope"],
            ["template", "delete", "nope"],
            ["send-template", RECIPIENT, "nope"],
        ):
            assert "no SMS template with slug 'nope'" in cli.fails(*args)

    def test_rendering_problems_fail_with_one_line(self, cli: CLI) -> None:
        """A missing variable or a syntax error in the body: exit 1, nothing sent."""
        cli.ok("template", "add", "greet", "Hello {{ name }}")
        assert "syntax" in cli.fails("template", "add", "broken", "Hello {{ name ")
        # A broken body can still arrive by another way (another tool writing the table): sending refuses it.
        conn = sqlite3.connect(cli.cwd / "smscore.db")
        try:
            conn.execute(
                "INSERT INTO smscore_template (slug, body, created_at, changed_at) SELECT 'broken', "
                "'Hello {{ name ', created_at, changed_at FROM smscore_template WHERE slug = 'greet'"
            )
            conn.commit()
        finally:
            conn.close()
        assert "missing" in cli.fails("send-template", RECIPIENT, "greet")
        assert "syntax" in cli.fails("send-template", RECIPIENT, "broken", "--var", "name=x")
        assert "KEY=VALUE" in cli.fails("send-template", RECIPIENT, "greet", "--var", "name", status=2)
        assert _stored(cli) == 0

    def test_a_slug_that_is_not_a_slug_is_refused(self, cli: CLI) -> None:
        """Template keys are slugs."""
        assert "not a slug" in cli.fails("template", "add", "not a slug", "body")


class TestMessages:
    @pytest.fixture
    def three(self, cli: CLI) -> CLI:
        """Three messages: two tagged a (one to another number), one tagged b."""
        cli.ok("send", RECIPIENT, "first", "--tag", "a")
        cli.ok("send", "+420777000111", "second", "--tag", "a")
        cli.ok("send", RECIPIENT, "third", "--tag", "b")
        return cli

    def test_the_table_lists_newest_first_in_aligned_columns(self, three: CLI) -> None:
        """A header, a rule, one row per message; every value starts under its header."""
        lines = three.ok("messages").splitlines()
        header = lines[0]
        assert header.split()[:5] == ["ID", "STATE", "RECIPIENT", "PROVIDER", "TAG"]
        assert set(lines[1].replace(" ", "")) == {"-"}
        rows = lines[2:]
        assert [row.split()[0] for row in rows] == ["3", "2", "1"]
        for column, values in (("STATE", ["debug"] * 3), ("TAG", ["b", "a", "a"])):
            start = header.index(column)
            assert [row[start:].split()[0] for row in rows] == values

    def test_filters_and_limit(self, three: CLI) -> None:
        """--tag, --recipient (normalised), --state and --limit narrow the list."""

        def ids(*args: str) -> list[int]:
            return [m["id"] for m in json.loads(three.ok("messages", "--json", *args))]

        assert ids() == [3, 2, 1]
        assert ids("--tag", "a") == [2, 1]
        assert ids("--recipient", "+420 777 123 456") == [3, 1]
        assert ids("--state", "DEBUG") == [3, 2, 1]
        assert ids("--state", "sent") == []
        assert ids("--limit", "1") == [3]
        assert ids("--tag", "a", "--recipient", "+420777000111") == [2]
        assert "no messages" in three.ok("messages", "--tag", "zzz")

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--limit", "abc"], "'abc' is not a whole number"),
            (["--limit", "0"], "must be at least 1"),
            (["--limit", "-3"], "must be at least 1"),
            (["--state", "lost"], "'lost' is not a state"),
        ],
    )
    def test_bad_filters_exit_2(self, cli: CLI, args: list[str], message: str) -> None:
        """Numbers and states are checked before anything runs."""
        assert message in cli.fails("messages", *args, status=2)

    def test_a_recipient_filter_that_is_not_a_number_fails(self, cli: CLI) -> None:
        """The recipient filter is normalised like a recipient, with the same error."""
        assert "is not a phone number" in cli.fails("messages", "--recipient", "bob")

    def test_show_prints_every_field(self, three: CLI) -> None:
        """show ID: one labelled line per field that has a value."""
        out = three.ok("show", "2")
        assert out.splitlines()[0].split() == ["id", "2"]
        assert "recipient     +420777000111" in out
        assert "content       second" in out
        assert "provider ref  dummy-2" in out

    def test_show_of_a_missing_or_bad_id(self, cli: CLI) -> None:
        """A missing id is exit 1; an id that is not a number is exit 2."""
        assert "no SMS message with id 999" in cli.fails("show", "999")
        assert "'x' is not a whole number" in cli.fails("show", "x", status=2)
        assert "must be at least 1" in cli.fails("show", "0", status=2)


class TestStats:
    def test_counts_per_provider_and_state(self, cli: CLI) -> None:
        """A row per provider, a column per state, and totals."""
        assert "no messages yet" in cli.ok("stats")
        cli.ok("send", RECIPIENT, "one")
        cli.ok("send", RECIPIENT, "two")
        lines = cli.ok("stats").splitlines()
        assert lines[0].split() == [
            "PROVIDER",
            "WAITING",
            "UNKNOWN",
            "SENDING",
            "SENT",
            "ERROR",
            "DEBUG",
            "DELIVERED",
            "TOTAL",
        ]
        assert lines[2].split() == ["default", "0", "0", "0", "0", "0", "2", "0", "2"]
        assert lines[3].split() == ["TOTAL", "0", "0", "0", "0", "0", "2", "0", "2"]
        assert json.loads(cli.ok("stats", "--json")) == [{"provider": "default", "state": "debug", "count": 2}]


SCRIPTED = 'provider = "smscore.testing:ScriptedProvider"\n'


class TestCheckDelivery:
    def test_with_the_dummy_provider_only_idle_timeouts_apply(self, cli: CLI) -> None:
        """The dummy provider cannot be asked about delivery; the command says so on stderr and succeeds."""
        result = cli("check-delivery")
        assert result.status == 0
        assert "no configured provider reports delivery" in result.error_line()
        assert "checked" in result.stdout

    def test_a_checking_provider_is_asked_about_sent_messages(self, cli: CLI) -> None:
        """With a provider that reports delivery, every SENT message is checked."""
        (cli.cwd / "smscore.toml").write_text(SCRIPTED)
        for text in ("one", "two", "three"):
            assert json.loads(cli.ok("send", RECIPIENT, text, "--json"))["state"] == "sent"
        report = json.loads(cli.ok("check-delivery", "--json"))
        assert report == {
            "checked": 3,
            "changed": 0,
            "timed_out": 0,
            "recovered": 0,
            "failed_chunks": 0,
            "failures": {},
        }

    def test_a_terminal_gets_a_progress_bar_on_stderr(self, cli: CLI) -> None:
        """On a terminal, stderr shows the progress bar; stdout keeps the report."""
        (cli.cwd / "smscore.toml").write_text(SCRIPTED)
        cli.ok("send", RECIPIENT, "one")
        cli.ok("send", RECIPIENT, "two")
        done = cli.on_terminal("check-delivery")
        assert done.status == 0
        assert "checking delivery [" in done.stderr
        assert "] 2/2" in done.stderr
        assert "Traceback" not in done.stderr
        assert "checked" in done.stdout

    def test_the_progress_total_is_what_the_check_asks_about(self, cli: CLI) -> None:
        """A message SENT longer ago than the idle timeout is not asked about; the progress total leaves it out."""
        (cli.cwd / "smscore.toml").write_text(SCRIPTED)
        for text in ("one", "two", "long ago"):
            cli.ok("send", RECIPIENT, text)
        with sqlite3.connect(cli.cwd / "smscore.db") as conn:
            conn.execute("UPDATE smscore_message SET sent_at = '2000-01-01 00:00:00.000000' WHERE content = 'long ago'")
        conn.close()
        done = cli.on_terminal("check-delivery")
        assert done.status == 0
        assert "] 2/2  100%" in done.stderr
        assert "/3" not in done.stderr

    def test_json_on_a_terminal_draws_no_progress(self, cli: CLI) -> None:
        """--json: nothing is drawn on the terminal, and stdout is the JSON report alone."""
        (cli.cwd / "smscore.toml").write_text(SCRIPTED)
        cli.ok("send", RECIPIENT, "one")
        done = cli.on_terminal("check-delivery", "--json")
        assert done.status == 0
        assert done.stderr == ""
        assert json.loads(done.stdout)["checked"] == 1


class TestDatabase:
    def test_upgrade_then_check(self, cli: CLI) -> None:
        """db upgrade creates the schema; db check then passes."""
        assert f"revision {HEAD_REVISION}" in cli.ok("db", "upgrade")
        assert "matches the models" in cli.ok("db", "check")

    def test_check_of_a_database_that_was_never_upgraded_fails(self, cli: CLI) -> None:
        """db check does not create the schema; it says to run db upgrade."""
        assert "run 'smscore db upgrade'" in cli.fails("db", "check")
        assert not (cli.cwd / "smscore.db").exists()

    def test_check_fails_when_the_tables_differ(self, cli: CLI) -> None:
        """A table changed behind the migrations' back: one line naming the difference."""
        cli.ok("db", "upgrade")
        with sqlite3.connect(cli.cwd / "smscore.db") as conn:
            conn.execute("ALTER TABLE smscore_message ADD COLUMN surprise INTEGER")
        conn.close()
        assert "surprise" in cli.fails("db", "check")

    def test_storage_without_a_schema_is_refused(self, cli: CLI) -> None:
        """The in-memory storage has no schema to manage."""
        line = cli.fails("db", "upgrade", env={"SMSCORE_STORAGE": "memory"})
        assert "has no database schema to manage" in line

    @pytest.mark.postgres
    def test_postgres_through_the_environment(self, cli: CLI, fresh_postgres_url: str) -> None:
        """SMSCORE_DATABASE_URL points every command at PostgreSQL."""
        env = {"SMSCORE_DATABASE_URL": fresh_postgres_url}
        assert f"revision {HEAD_REVISION}" in cli.ok("db", "upgrade", env=env)
        cli.ok("send", RECIPIENT, "via postgres", env=env)
        assert [m["content"] for m in json.loads(cli.ok("messages", "--json", env=env))] == ["via postgres"]
        assert "matches the models" in cli.ok("db", "check", env=env)
        assert not (cli.cwd / "smscore.db").exists()


class TestConfiguration:
    def test_a_config_file_chooses_the_database(self, cli: CLI) -> None:
        """--config FILE: its database_url is used."""
        (cli.cwd / "conf.toml").write_text('[smscore]\ndatabase_url = "sqlite:///elsewhere.db"\n')
        cli.ok("--config", "conf.toml", "send", RECIPIENT, "hi")
        assert (cli.cwd / "elsewhere.db").is_file()
        assert not (cli.cwd / "smscore.db").exists()

    def test_environment_variables_are_read(self, cli: CLI) -> None:
        """SMSCORE_* variables configure the command line."""
        cli.ok("send", RECIPIENT, "hi", env={"SMSCORE_DATABASE_URL": "sqlite:///from-env.db"})
        assert (cli.cwd / "from-env.db").is_file()

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("storage = [", "is not valid TOML"),
            ('colour = "blue"', "unknown configuration key 'colour'"),
            ('provider = "dummy"\n[provider_options]\npassword = "hunter2"', "secrets may not be stored"),
            ('provider = "no.such.Backend"', "cannot import 'no.such'"),
            ('database_url = "sqlite:///no/such/folder/sms.db"', "does not exist"),
            ('database_url = "postgresql://me:hunter2@127.0.0.1:1/x"', "set SMSCORE_DATABASE_URL instead"),
            ('database_url = "postgresql://me@127.0.0.1:1/x"', "database unavailable"),
            ('max_segments = "many"', "max_segments must be an integer"),
        ],
    )
    def test_bad_configuration_fails_with_one_line(self, cli: CLI, content: str, message: str) -> None:
        """Every configuration problem: exit 1, one line naming it, no secret repeated."""
        (cli.cwd / "smscore.toml").write_text(content + "\n")
        line = cli.fails("stats")
        assert message in line
        assert "hunter2" not in line

    def test_an_unknown_storage_lists_the_known_ones(self, cli: CLI) -> None:
        """SMSCORE_STORAGE=bogus names memory, sqlalchemy and django; a near miss gets a suggestion."""
        line = cli.fails("stats", env={"SMSCORE_STORAGE": "bogus"})
        assert "'bogus' is neither a known name (django, memory, sqlalchemy) nor a dotted path" in line
        assert "did you mean 'sqlalchemy'?" in cli.fails("stats", env={"SMSCORE_STORAGE": "sqlalchmy"})

    def test_the_password_of_an_unavailable_database_is_not_repeated(self, cli: CLI) -> None:
        """The URL comes from the environment, where its password belongs: one line, without the password."""
        line = cli.fails("stats", env={"SMSCORE_DATABASE_URL": "postgresql://me:hunter2@127.0.0.1:1/x"})
        assert "database unavailable" in line
        assert "hunter2" not in line

    def test_an_unreadable_config_file(self, cli: CLI) -> None:
        """A --config path that does not exist."""
        assert "cannot read configuration file" in cli.fails("--config", "missing.toml", "stats")

    def test_a_locked_database(self, cli: CLI) -> None:
        """Another process holds the write lock past the busy timeout: exit 1, 'database is locked'."""
        cli.ok("db", "upgrade")
        holder = sqlite3.connect(cli.cwd / "smscore.db", isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            line = cli.fails("send", RECIPIENT, "hi", env={"SMSCORE_STORAGE_OPTIONS__BUSY_TIMEOUT": "0.2"})
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert "database is locked" in line

    def test_a_file_that_is_not_a_database(self, cli: CLI) -> None:
        """smscore.db holding something else."""
        (cli.cwd / "smscore.db").write_text("not a database\n" * 100)
        assert "not a database" in cli.fails("stats")

    def test_a_database_path_that_is_a_folder(self, cli: CLI) -> None:
        """The database path names a folder."""
        (cli.cwd / "smscore.db").mkdir()
        assert "unable to open database file" in cli.fails("stats")

    def test_a_database_that_cannot_be_written(self, cli: CLI) -> None:
        """A database opened read-only (as an unwritable file would be): reading works, writing fails clearly."""
        cli.ok("send", RECIPIENT, "before")
        read_only = {"SMSCORE_DATABASE_URL": "sqlite:///file:smscore.db?mode=ro&uri=true"}
        assert "before" in cli.ok("messages", env=read_only)
        assert "readonly database" in cli.fails("send", RECIPIENT, "after", env=read_only)

    @pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
    def test_a_folder_that_cannot_be_written(self, cli: CLI) -> None:
        """No permission to create the database file."""
        locked = cli.cwd / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            line = cli.fails("stats", env={"SMSCORE_DATABASE_URL": f"sqlite:///{locked}/sms.db"})
        finally:
            locked.chmod(0o700)
        assert "database" in line


class TestHelp:
    def test_help_lists_every_command(self, cli: CLI) -> None:
        """--help shows each subcommand."""
        out = cli.ok("--help")
        for name in ("send", "send-template", "template", "messages", "show", "check-delivery", "stats", "db"):
            assert name in out

    def test_no_command_is_a_usage_error(self, cli: CLI) -> None:
        """Running smscore alone: exit 2, one line."""
        assert "required: COMMAND" in cli.fails(status=2)
        assert "required: ACTION" in cli.fails("template", status=2)
        assert "invalid choice" in cli.fails("frobnicate", status=2)

    def test_version(self, cli: CLI) -> None:
        """--version prints the installed version."""
        assert cli.ok("--version").startswith("smscore ")


def test_the_console_script_is_installed() -> None:
    """The tests run the real console script, as users do."""
    assert SCRIPT.exists(), f"{SCRIPT} is missing: install the package (make test does)"
    assert Path(SCRIPT).read_text().count("smscore.cli") == 1
