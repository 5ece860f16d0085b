"""A project written only against django-pymess's documented SMS API runs unchanged with the compatibility
distribution installed: ``"pymess"`` in ``INSTALLED_APPS``, the ancestor's settings and backend paths."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.django.support import run_manage

SAMPLE = Path(__file__).resolve().parent / "sample_project"


def manage(*args: str, database: Path) -> str:
    return run_manage(SAMPLE, *args, env={"SAMPLE_DATABASE": str(database)})


@pytest.mark.slow
def test_the_sample_project_migrates_and_sends_unchanged(tmp_path: Path) -> None:
    """migrate creates smscore's tables through the "pymess" app entry; the shop's command sends with
    pymess.backend.sms.send and send_template and reads pymess.models.sms back."""
    database = tmp_path / "sample.sqlite3"
    manage("migrate", "--noinput", database=database)
    output = manage("notify_customers", database=database)
    assert output.splitlines() == [
        "+420777123456 debug None 'Objednavka prijata' failed=False extra={'number': 'S-1'} related=['S-1'] "
        "backend=providers.dummy.DummySMSBackend",
        "+420777123456 debug order-shipped 'Order S-1 shipped & on its way' failed=False extra={} related=['S-1'] "
        "backend=providers.dummy.DummySMSBackend",
        "linked to S-1: 2",
    ]
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        applied = {row[0] for row in connection.execute("SELECT app FROM django_migrations")}
    assert {"adapters_django_outputsmsmessage", "adapters_django_smstemplate", "eshop_order"} <= tables
    assert not any(name.startswith("pymess_") for name in tables)
    assert "pymess" not in applied
