"""Every use case of the asyncio service on the SQLAlchemy storage built for the event loop: an SQLite file in a pool
of threads, PostgreSQL through psycopg's async mode."""

from __future__ import annotations

import asyncio

from adapters_sqlalchemy.storage import build_storage
from smscore import SMSConfig
from tests.async_scenario import every_use_case


def test_every_use_case_runs_on_the_asyncio_storage(database_url: str) -> None:
    storage = build_storage.build_async(SMSConfig.from_mapping({"storage": "sqlalchemy", "database_url": database_url}))
    asyncio.run(every_use_case(storage))
