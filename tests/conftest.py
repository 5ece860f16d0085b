"""Shared test helpers: reaching the real services on 127.0.0.1.

Tests that need PostgreSQL or Redis call :func:`require_service`. Under CI (``CI=true``) an unreachable
service fails the test; elsewhere the test is skipped with the reason shown.
"""

from __future__ import annotations

import os
import socket

import pytest

#: ``flavoured``: run a suite written for ``SMSService`` against its asyncio twin too (tests/async_twin.py).
pytest_plugins = ["tests.async_twin"]

POSTGRES_URL = os.environ.get("SMSCORE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SMSCORE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or fail under CI) unless a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        message = f"{name} is not reachable on {host}:{port} ({exc})"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{message}; CI requires it")
        pytest.skip(message)
