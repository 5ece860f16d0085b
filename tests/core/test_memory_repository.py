"""The shipped in-memory repositories pass the storage contract suites."""

from __future__ import annotations

import pytest

from smscore.testing import (
    InMemoryInboundRepository,
    InMemoryMessageRepository,
    InMemoryOptOutRepository,
    InMemoryRateLimiter,
    InMemoryRefusalCounter,
    InMemoryTemplateRepository,
)
from tests.contracts.guards import OptOutRepositoryContract, RefusalCounterContract
from tests.contracts.inbound import InboundRepositoryContract
from tests.contracts.rate_limiters import RateLimiterContract
from tests.contracts.repositories import MessageRepositoryContract, TemplateRepositoryContract
from tests.contracts.scheduling import SchedulingContract
from tests.contracts.service import ServiceStorageContract


class TestInMemoryMessageRepository(MessageRepositoryContract):
    @pytest.fixture
    def repo(self) -> InMemoryMessageRepository:
        return InMemoryMessageRepository()


class TestServiceOnMemory(ServiceStorageContract):
    @pytest.fixture
    def repo(self) -> InMemoryMessageRepository:
        return InMemoryMessageRepository()


class TestSchedulingOnMemory(SchedulingContract):
    @pytest.fixture
    def repo(self) -> InMemoryMessageRepository:
        return InMemoryMessageRepository()


class TestInMemoryTemplateRepository(TemplateRepositoryContract):
    @pytest.fixture
    def templates(self) -> InMemoryTemplateRepository:
        return InMemoryTemplateRepository()


class TestInMemoryRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self) -> InMemoryRateLimiter:
        return InMemoryRateLimiter()


class TestInMemoryOptOutRepository(OptOutRepositoryContract):
    @pytest.fixture
    def opt_outs(self) -> InMemoryOptOutRepository:
        return InMemoryOptOutRepository()


class TestInMemoryRefusalCounter(RefusalCounterContract):
    @pytest.fixture
    def refusals(self) -> InMemoryRefusalCounter:
        return InMemoryRefusalCounter()


class TestInMemoryInboundRepository(InboundRepositoryContract):
    @pytest.fixture
    def inbound(self) -> InMemoryInboundRepository:
        return InMemoryInboundRepository()
