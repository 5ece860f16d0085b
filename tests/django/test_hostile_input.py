"""Hostile input through the service on the Django storage, SQLite and PostgreSQL (tests/contracts)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import smscore
from smscore import SMSService
from tests.contracts.hostile_input import SERVICE_CONFIG, HostileInputContract


@pytest.mark.django_db(transaction=True, databases=["default", "postgres"])
class TestDjangoStorage(HostileInputContract):
    HOSTILE_BODY = "{{ code|center:1000000000 }}"

    @pytest.fixture(params=["default", pytest.param("postgres", marks=pytest.mark.postgres)])
    def service(self, request: pytest.FixtureRequest) -> Iterator[SMSService]:
        if request.param == "postgres":
            request.getfixturevalue("postgres")
        config = {**SERVICE_CONFIG, "storage": "django", "storage_options": {"database": request.param}}
        with smscore.build_service(config) as service:
            yield service
