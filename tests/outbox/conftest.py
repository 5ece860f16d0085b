"""Fixtures of the outbox scenarios: child processes, loopback gateways, a PostgreSQL schema of its own."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, require_service
from tests.outbox.harness import PASSWORD, Children
from tests.providers.fake_gateways import ATSGateway


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Children]:
    """Child processes, every one killed at the end."""
    manager = Children(tmp_path)
    try:
        yield manager
    finally:
        manager.close()


@pytest.fixture
def gateways() -> Iterator[Callable[..., ATSGateway]]:
    """A factory of loopback ATS gateways (``factory(cls=ATSGateway, **kwargs)``), all closed at the end."""
    made: list[ATSGateway] = []

    def make(cls: type[ATSGateway] = ATSGateway, **kwargs: Any) -> ATSGateway:
        gateway = cls(username="user", password=PASSWORD, **kwargs)
        made.append(gateway)
        return gateway

    try:
        yield make
    finally:
        for gateway in made:
            gateway.close()


def _admin(sql: str) -> None:
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET lock_timeout = '30s'"))
            conn.execute(text(sql))
    finally:
        engine.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The test database's URL with a new, empty schema first on the search path (dropped at the end).

    Request it before ``children`` so the worker processes are gone before the schema is dropped.
    """
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"smscore_outbox_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        _admin(f'DROP SCHEMA "{schema}" CASCADE')
