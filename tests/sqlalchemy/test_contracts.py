"""The SQLAlchemy repositories pass the storage contract suites on SQLite (file and memory) and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from adapters_sqlalchemy import SQLAlchemyMessageRepository, SQLAlchemyTemplateRepository
from adapters_sqlalchemy.guards import SQLAlchemyOptOutRepository, SQLAlchemyRefusalCounter
from adapters_sqlalchemy.inbound import SQLAlchemyInboundRepository
from adapters_sqlalchemy.rate_limit import SQLAlchemyRateLimiter
from smscore import Storage
from tests.contracts.guarded_service import GuardedServiceContract
from tests.contracts.guards import OptOutRepositoryContract, RefusalCounterContract
from tests.contracts.inbound import InboundRepositoryContract
from tests.contracts.repositories import MessageRepositoryContract, TemplateRepositoryContract
from tests.contracts.scheduling import SchedulingContract
from tests.contracts.screening import OptOutScreeningContract, Screening
from tests.contracts.service import ServiceStorageContract


class TestSQLiteFileMessageRepository(MessageRepositoryContract):
    @pytest.fixture
    def repo(self, sqlite_file_engine: Engine) -> SQLAlchemyMessageRepository:
        return SQLAlchemyMessageRepository(sqlite_file_engine)


class TestSQLiteMemoryMessageRepository(MessageRepositoryContract):
    @pytest.fixture
    def repo(self, sqlite_memory_engine: Engine) -> SQLAlchemyMessageRepository:
        return SQLAlchemyMessageRepository(sqlite_memory_engine)


@pytest.mark.postgres
class TestPostgresMessageRepository(MessageRepositoryContract):
    @pytest.fixture
    def repo(self, postgres_engine: Engine) -> SQLAlchemyMessageRepository:
        return SQLAlchemyMessageRepository(postgres_engine)


class TestServiceOnSQLAlchemy(ServiceStorageContract):
    @pytest.fixture
    def repo(self, engine: Engine) -> SQLAlchemyMessageRepository:
        return SQLAlchemyMessageRepository(engine)


class TestSchedulingOnSQLAlchemy(SchedulingContract):
    @pytest.fixture
    def repo(self, engine: Engine) -> SQLAlchemyMessageRepository:
        return SQLAlchemyMessageRepository(engine)


class TestSQLiteFileTemplateRepository(TemplateRepositoryContract):
    @pytest.fixture
    def templates(self, sqlite_file_engine: Engine) -> SQLAlchemyTemplateRepository:
        return SQLAlchemyTemplateRepository(sqlite_file_engine)


class TestSQLiteMemoryTemplateRepository(TemplateRepositoryContract):
    @pytest.fixture
    def templates(self, sqlite_memory_engine: Engine) -> SQLAlchemyTemplateRepository:
        return SQLAlchemyTemplateRepository(sqlite_memory_engine)


@pytest.mark.postgres
class TestPostgresTemplateRepository(TemplateRepositoryContract):
    @pytest.fixture
    def templates(self, postgres_engine: Engine) -> SQLAlchemyTemplateRepository:
        return SQLAlchemyTemplateRepository(postgres_engine)


class TestSQLAlchemyOptOutRepository(OptOutRepositoryContract):
    @pytest.fixture
    def opt_outs(self, engine: Engine) -> SQLAlchemyOptOutRepository:
        return SQLAlchemyOptOutRepository(engine)


class TestSQLAlchemyRefusalCounter(RefusalCounterContract):
    @pytest.fixture
    def refusals(self, engine: Engine) -> SQLAlchemyRefusalCounter:
        return SQLAlchemyRefusalCounter(engine)


class TestSQLAlchemyOptOutScreening(OptOutScreeningContract):
    @pytest.fixture
    def screening(self, engine: Engine) -> Screening:
        return SQLAlchemyMessageRepository(engine), SQLAlchemyOptOutRepository(engine)


class TestGuardsOnSQLAlchemy(GuardedServiceContract):
    @pytest.fixture
    def storage(self, engine: Engine) -> Storage:
        return Storage(
            messages=SQLAlchemyMessageRepository(engine),
            templates=SQLAlchemyTemplateRepository(engine),
            rate_limiter=SQLAlchemyRateLimiter(engine),
            opt_outs=SQLAlchemyOptOutRepository(engine),
            refusals=SQLAlchemyRefusalCounter(engine),
        )


class TestSQLAlchemyInboundRepository(InboundRepositoryContract):
    # Not on in-memory SQLite: its one shared connection cannot hold the concurrent transactions the suite starts.
    @pytest.fixture(params=["sqlite_file", pytest.param("postgres", marks=pytest.mark.postgres)])
    def inbound(self, request: pytest.FixtureRequest) -> SQLAlchemyInboundRepository:
        return SQLAlchemyInboundRepository(request.getfixturevalue(f"{request.param}_engine"))
