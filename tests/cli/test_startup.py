"""A command loads only what it uses: no migration tool unless migrating, no template engine unless rendering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import environment

RECIPIENT = "+420777123456"

_PROBE = """
import json, sys
from smscore.cli import main
status = main(sys.argv[1:], stdout=open("/dev/null", "w"))
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"jinja2", "alembic"})
print(json.dumps({"status": status, "loaded": heavy}), file=sys.stderr)
"""


def _loaded(cwd: Path, *args: str) -> list[str]:
    """The heavy packages a run of ``smscore ARGS`` imported."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], cwd=cwd, env=environment(), capture_output=True, text=True, timeout=120
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["status"] == 0, done.stderr
    loaded: list[str] = result["loaded"]
    return loaded


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["stats"], []),
        (["messages"], []),
        (["send", RECIPIENT, "plain text"], []),
        (["worker", "--once"], []),
        (["template", "add", "hi", "Hello {{ name }}"], ["jinja2"]),
    ],
)
def test_each_command_loads_only_what_it_uses(tmp_path: Path, args: list[str], expected: list[str]) -> None:
    """On a database already created: stats, messages, a plain send and the worker need neither Alembic nor
    Jinja2; template add loads Jinja2 (to check the body). Creating the database is migrating: Alembic."""
    assert _loaded(tmp_path, "db", "upgrade") == ["alembic"]
    assert _loaded(tmp_path, *args) == expected
