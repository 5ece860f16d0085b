"""Running the real ``smscore`` console script in a subprocess, in a temporary directory.

Every run gets a clean environment (no ``SMSCORE_*`` variables from the caller) and the temporary directory as
its working directory, so the embedded default (``./smscore.db``) lands there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs
import pytest

from tests.sqlalchemy.conftest import fresh_postgres_url

__all__ = ["CLI", "Result", "fresh_postgres_url"]

#: The console script the package installs next to the interpreter; ``python -m smscore.cli`` if it is missing.
SCRIPT = Path(sys.executable).with_name("smscore")


@attrs.frozen
class Result:
    """What one run of the command line did."""

    status: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        """The single line on stderr (asserting there is exactly one, and no traceback)."""
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got:\n{self.stderr}"
        assert "Traceback" not in self.stderr
        return lines[0]


@attrs.define
class CLI:
    """Runs ``smscore ARGS`` in ``cwd`` with ``env`` (added to a clean environment)."""

    cwd: Path
    env: dict[str, str] = attrs.field(factory=dict)

    def __call__(self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> Result:
        command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "smscore.cli"]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SMSCORE_")}
        environment.update(self.env)
        environment.update(env or {})
        done = subprocess.run(
            [*command, *args], cwd=self.cwd, env=environment, capture_output=True, text=True, timeout=timeout
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run and assert success with nothing on stderr; return stdout."""
        result = self(*args, env=env)
        assert result.status == 0, result
        assert "Traceback" not in result.stderr
        return result.stdout

    def fails(self, *args: str, status: int = 1, env: Mapping[str, str] | None = None) -> str:
        """Run and assert the exit status and a single-line error; return that line."""
        result = self(*args, env=env)
        assert result.status == status, result
        return result.error_line()


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    """The command line, run in an empty temporary directory."""
    return CLI(cwd=tmp_path)
