"""The committed migrations match the models and apply from an empty database, with the shipped template model
and with a project's own (``PYMESS_SMS_TEMPLATE_MODEL``, which fixes the foreign key's target at start-up, so
that case runs in subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_the_migrations_match_the_models() -> None:
    """makemigrations --check finds nothing to write (it exits non-zero otherwise)."""
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def run(args: list[str], database: Path) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.django.settings_own_template",
        "SMSCORE_TEST_DB": str(database),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_a_projects_own_template_model_migrates_and_sends(tmp_path: Path) -> None:
    """With PYMESS_SMS_TEMPLATE_MODEL set: migrations are clean and apply from empty (and back), the foreign key
    follows the model, its can_send and rendering overrides apply, and the admin shows it with the preview."""
    database = tmp_path / "own.sqlite3"
    run(["-m", "django", "makemigrations", "--check", "--dry-run"], database)
    run(["-m", "django", "migrate", "--noinput", "-v", "0"], database)
    seen = json.loads(run(["-m", "tests.django.own_template_scenario"], database))
    assert seen == {
        "template_model": "GuardedSMSTemplate",
        "shipped_model_swapped": "testapp.GuardedSMSTemplate",
        "refused": True,
        "stored_after_refusal": 0,
        "content": "HELLO Eve -- ACME",
        "template_fk": True,
        "fk_target": "GuardedSMSTemplate",
        "missing": "DoesNotExist",
        "admin": "SMSTemplateAdmin",
        "check_ids": [],
    }
    run(["-m", "django", "migrate", "adapters_django", "zero", "--noinput", "-v", "0"], database)
