"""Running the real ``smscore`` console script in a subprocess, in a temporary directory.

Every run gets a clean environment (no ``SMSCORE_*`` variables from the caller) and the temporary directory as
its working directory, so the embedded default (``./smscore.db``) lands there.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import attrs
import pytest

from tests.sqlalchemy.conftest import fresh_postgres_url

__all__ = ["CLI", "Result", "command", "environment", "fresh_postgres_url"]

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


def command() -> list[str]:
    """The command line that runs ``smscore``: the console script, or ``python -m smscore.cli`` without it."""
    return [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "smscore.cli"]


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``SMSCORE_*`` variables, plus ``extra``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMSCORE_")}
    return clean | dict(extra or {})


@attrs.define
class CLI:
    """Runs ``smscore ARGS`` in ``cwd`` with ``env`` (added to a clean environment)."""

    cwd: Path
    env: dict[str, str] = attrs.field(factory=dict)

    def __call__(self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> Result:
        done = subprocess.run(
            [*command(), *args],
            cwd=self.cwd,
            env=environment({**self.env, **(env or {})}),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def on_terminal(self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> Result:
        """Run with stderr on a pseudo-terminal (as a person at a terminal sees it; stdout stays a pipe).

        ``stderr`` of the result is everything the terminal received, escape sequences included.
        """
        main, secondary = pty.openpty()
        try:
            done = subprocess.run(
                [*command(), *args],
                cwd=self.cwd,
                env=environment({**self.env, **(env or {})}),
                stdout=subprocess.PIPE,
                stderr=secondary,
                text=True,
                timeout=timeout,
            )
            os.close(secondary)
            terminal = _read_all(main)
        finally:
            os.close(main)
        return Result(done.returncode, done.stdout, terminal)

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


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # the terminal closed with the child
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode()


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    """The command line, run in an empty temporary directory."""
    return CLI(cwd=tmp_path)
