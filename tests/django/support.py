"""Helpers shared by the Django adapter's tests."""

from __future__ import annotations

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
