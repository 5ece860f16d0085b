"""Hostile input through the service on the in-memory storage (the contract suite of tests/contracts)."""

from __future__ import annotations

import pytest

import smscore
from smscore import SMSService
from tests.contracts.hostile_input import SERVICE_CONFIG, HostileInputContract


class TestMemoryStorage(HostileInputContract):
    @pytest.fixture
    def service(self) -> SMSService:
        return smscore.build_service({**SERVICE_CONFIG, "storage": "memory"})
