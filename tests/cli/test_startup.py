"""A command loads only what it uses: no migration tool unless migrating, no template engine unless rendering, no
HTTP client or provider SDK unless a provider that needs one is built, no storage for the help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import environment

RECIPIENT = "+420777123456"

#: What a command may load only when it needs it: the migration tool, the template engine, the HTTP client and
#: the provider SDKs, the phone-number data, the ORM and the use cases.
WATCHED = ["alembic", "jinja2", "httpx", "boto3", "botocore", "twilio", "phonenumbers", "sqlalchemy", "smscore.service"]

#: What opening the default storage (SQLite through SQLAlchemy) and building the service load.
SERVICE = ["smscore.service", "sqlalchemy"]

_PROBE = """
import json, sys
from smscore.cli import main
status = main(sys.argv[2:], stdout=open("/dev/null", "w"))
loaded = [name for name in json.loads(sys.argv[1]) if name in sys.modules]
print(json.dumps({"status": status, "loaded": loaded}), file=sys.stderr)
"""


def _loaded(cwd: Path, *args: str) -> list[str]:
    """The watched modules a run of ``smscore ARGS`` (the default configuration: SQLite, dummy provider) loaded."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(WATCHED), *args],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["status"] == 0, done.stderr
    return sorted(result["loaded"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["stats"], SERVICE),
        (["messages"], SERVICE),
        (["send", RECIPIENT, "plain text"], ["phonenumbers", *SERVICE]),
        (["worker", "--once"], SERVICE),
        (["check-delivery"], SERVICE),
        (["template", "add", "hi", "Hello {{ name }}"], ["jinja2", *SERVICE]),
    ],
)
def test_each_command_loads_only_what_it_uses(tmp_path: Path, args: list[str], expected: list[str]) -> None:
    """On a database already created: stats, messages, a plain send, the worker and a delivery check need
    neither Alembic nor Jinja2 nor any HTTP client or SDK (the provider is the dummy); only send reads a phone
    number; template add loads Jinja2 (to check the body). Creating the database is migrating: Alembic."""
    assert _loaded(tmp_path, "db", "upgrade") == sorted(["alembic", *SERVICE])
    assert _loaded(tmp_path, *args) == sorted(expected)


def test_the_first_command_creates_the_database_with_the_migrations_and_the_next_ones_only_read_its_revision(
    tmp_path: Path,
) -> None:
    """Without a database file, ``smscore stats`` creates the schema by running the shipped migrations (Alembic);
    once it is at the newest revision, the check at start-up reads the revision without Alembic."""
    assert _loaded(tmp_path, "stats") == sorted(["alembic", *SERVICE])
    assert _loaded(tmp_path, "stats") == SERVICE


@pytest.mark.parametrize("args", [["--help"], ["stats", "--help"], ["template", "add", "--help"]])
def test_the_help_opens_no_storage_and_loads_no_use_case(tmp_path: Path, args: list[str]) -> None:
    """The help of the command line and of a command builds only the parser: no ORM, no use cases."""
    assert _loaded(tmp_path, *args) == []
    assert not (tmp_path / "smscore.db").exists()
