"""Fixtures of the compatibility distribution's tests: each test builds the SMS service from its own settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters_django.wiring import reset_service


@pytest.fixture(autouse=True)
def fresh_service() -> Iterator[None]:
    """Every test starts with a service built from its own settings, and leaves none behind."""
    reset_service()
    yield
    reset_service()
