"""Fixtures of the Django adapter's tests.

Tests marked ``postgres`` run on the ``postgres`` database alias, which the settings define whenever the server is
reachable (and always under CI, where an unreachable server fails the run instead of skipping).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from adapters_django.wiring import get_service, reset_service
from smscore import SMSService
from tests.conftest import require_service
from tests.django.support import install_spy
from tests.django.testapp.providers import TransactionSpyProvider


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if "postgres" in settings.DATABASES:
        return
    skip = pytest.mark.skip(reason="PostgreSQL is not reachable on 127.0.0.1:5432")
    for item in items:
        if item.nodeid.startswith("tests/django/") and item.get_closest_marker("postgres") is not None:
            item.add_marker(skip)


@pytest.fixture
def postgres() -> str:
    """The PostgreSQL database alias (skips, or fails under CI, when the server is down)."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return "postgres"


@pytest.fixture(autouse=True)
def fresh_service() -> Iterator[None]:
    """Every test starts with a service built from its own settings, and leaves none behind."""
    reset_service()
    yield
    reset_service()


@pytest.fixture
def service() -> SMSService:
    """The project's SMS service, as ``adapters_django`` builds it from the settings."""
    return get_service()


@pytest.fixture
def spy(settings: Any) -> TransactionSpyProvider:
    """The scripted spy backend, installed as ``default`` (see :func:`install_spy`)."""
    return install_spy(settings)
