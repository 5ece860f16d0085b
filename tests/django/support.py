"""Helpers shared by the Django adapter's tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters_django.wiring import get_service
from tests.django.testapp.providers import TransactionSpyProvider

SPY_BACKEND = "tests.django.testapp.providers:TransactionSpyProvider"


def install_spy(settings: Any) -> TransactionSpyProvider:
    """Configure the scripted spy backend as ``default`` and return the service's instance of it.

    Call it after every other settings change of the test: a changed setting rebuilds the service.
    """
    settings.PYMESS_SMS_BACKENDS = {"default": {"backend": SPY_BACKEND}}
    provider = get_service().providers["default"]
    assert isinstance(provider, TransactionSpyProvider)
    return provider


def run_manage(project: Path, *args: str, env: Mapping[str, str]) -> str:
    """Run ``manage.py`` of the Django project in ``project`` in a subprocess with ``env`` added to this
    environment (without this suite's settings); return its output, failing the test if it fails."""
    environment = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    environment.update(env)
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout
