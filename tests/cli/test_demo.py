"""``make demo``: the command line on the embedded default, readable, and durable across runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _demo(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCORE_")}
    return subprocess.run(
        [sys.executable, "-m", "smscore.demo"], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


def test_the_demo_sends_lists_and_counts_and_its_messages_outlive_it(tmp_path: Path) -> None:
    """Two messages per run (one from a template it creates once), listed and counted; a second run adds two."""
    first = _demo(tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert "$ smscore template add welcome" in first.stdout
    assert "Hello Eva, welcome to smscore!" in first.stdout
    assert "default         0        0        0     0      0      2          0      2" in first.stdout
    assert (tmp_path / "smscore.db").is_file()
    script = Path(sys.executable).with_name("smscore")
    activate = script.with_name("activate")
    assert (
        first.stdout.splitlines()[-1]
        == f"Next: '{script} --help' (or 'source {activate}' once, then 'smscore --help')."
    )
    second = _demo(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "already stored" in second.stdout
    assert "$ smscore template add" not in second.stdout
    assert "default         0        0        0     0      0      4          0      4" in second.stdout
