"""Starting worker processes at one moment: each opens its storage, says it is ready, and waits for the signal."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_together(module: str, args: list[str], count: int, folder: Path) -> list[Any]:
    """Run ``python -m module *args READY GO`` ``count`` times; once every process has created its READY file (or
    a minute passed), create GO; return what each printed, read as JSON, after asserting they all succeeded."""
    go = folder / "go"
    ready = [folder / f"ready-{i}" for i in range(count)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", module, *args[:1], str(flag), str(go), *args[1:]],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
            if any(w.poll() is not None for w in workers):
                break
            time.sleep(0.01)
        go.touch()
        outputs = [w.communicate(timeout=120) for w in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    assert [w.returncode for w in workers] == [0] * count, [err for _, err in outputs]
    return [json.loads(out) for out, _ in outputs]


def wait_for(ready: Path, go: Path) -> bool:
    """In a worker: create ``ready``, then wait for ``go`` (a minute at most); whether it came."""
    ready.touch()
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True
