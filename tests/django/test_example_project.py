"""The example project under examples/django_project runs with the two commands its README gives."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.django.support import run_manage

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "django_project"


def manage(*args: str, database: Path) -> str:
    return run_manage(EXAMPLE, *args, env={"DEMO_DATABASE": str(database)})


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
