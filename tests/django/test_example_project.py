"""The example project under examples/django_project runs with the two commands its README gives."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "django_project"


def manage(*args: str, database: Path) -> str:
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    env["DEMO_DATABASE"] = str(database)
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_migrate_then_send_demo_sms(tmp_path: Path) -> None:
    """migrate builds an empty SQLite file from the migrations; send_demo_sms stores two DEBUG messages."""
    database = tmp_path / "demo.sqlite3"
    manage("migrate", "--noinput", database=database)
    output = manage("send_demo_sms", database=database)
    assert "DEBUG to +420777123456 [order-placed] 'Dekujeme za objednavku!'" in output
    assert "'Hello Zofie Novakova, your order DEMO-1 is on its way & arrives tomorrow.'" in output
    assert "messages linked to order DEMO-1: 2" in output
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT state, template_slug, provider FROM adapters_django_outputsmsmessage ORDER BY id"
        ).fetchall()
        links = connection.execute("SELECT COUNT(*) FROM adapters_django_outputsmsrelatedobject").fetchone()
    assert rows == [("debug", None, "default"), ("debug", "order-shipped", "default")]
    assert links == (2,)
