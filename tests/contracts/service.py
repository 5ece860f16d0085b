"""Contract suite: the use cases that depend on what a storage does, run against every message repository.

Subclass :class:`ServiceStorageContract` in an adapter's tests and provide a ``repo`` fixture returning a fresh,
empty :class:`~smscore.ports.MessageRepository`; every test here then runs the service on it.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

import pytest

from smscore import (
    Outcome,
    OutcomeNotStoredError,
    SMSConfig,
    SMSMessage,
    SMSService,
    SMSState,
    StorageError,
)
from smscore.ports import MessageRepository
from smscore.testing import FixedClock, InMemoryTemplateRepository, ScriptedProvider

RECIPIENT = "+420777123456"


class FailingWrites:
    """A message repository whose saves fail with :class:`StorageError` the next ``failures`` times (the database
    went away after the provider accepted); everything else is the wrapped repository's."""

    def __init__(self, repo: MessageRepository) -> None:
        self._repo = repo
        self.failures = 0
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def save(self, message: SMSMessage) -> SMSMessage:
        self._fail()
        return self._repo.save(message)

    def save_many(self, messages: Sequence[SMSMessage]) -> list[SMSMessage]:
        self._fail()
        return self._repo.save_many(messages)

    def _fail(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            self.refused += 1
            raise StorageError("the database connection was lost")


class ServiceStorageContract:
    """What the service guarantees on any storage."""

    @pytest.fixture
    def repo(self) -> MessageRepository:
        raise NotImplementedError("an adapter's test class provides the repo fixture")

    def _service(self, repo: Any, provider: ScriptedProvider, **config: Any) -> tuple[SMSService, list[float]]:
        sleeps: list[float] = []
        service = SMSService(
            messages=repo,
            templates=InMemoryTemplateRepository(),
            providers={"default": provider},
            config=SMSConfig.from_mapping(config),
            clock=FixedClock(),
            sleep=sleeps.append,
        )
        return service, sleeps

    def test_a_delivery_check_asks_about_each_message_once(self, repo: MessageRepository) -> None:
        """A message that a report moves from SENDING to SENT is not asked about again in the same run, and
        ``checked`` counts messages; the next run asks again, once."""
        provider = ScriptedProvider(default_state=SMSState.SENDING)
        provider.will(Outcome.accepted(SMSState.SENDING), Outcome.ambiguous("timed out"))
        service, _ = self._service(repo, provider)
        sending, unknown, sent = (service.send(RECIPIENT, f"hi {n}") for n in range(3))
        provider.report(sent.id or 0, Outcome.accepted(SMSState.SENT))
        service.check_delivery()  # the third is SENT now
        provider.checked.clear()
        for message in (sending, unknown):
            provider.report(message.id or 0, Outcome.accepted(SMSState.SENT))
        report = service.check_delivery()
        asks = collections.Counter(m.id for m in provider.checked)
        assert asks == {sending.id: 1, unknown.id: 1, sent.id: 1}
        assert (report.checked, report.changed) == (3, 2)
        assert {service.messages.get(m.id or 0).state for m in (sending, unknown, sent)} == {SMSState.SENT}
        provider.checked.clear()
        assert service.check_delivery().checked == 3
        assert collections.Counter(m.id for m in provider.checked) == {sending.id: 1, unknown.id: 1, sent.id: 1}

    def test_an_outcome_that_cannot_be_stored_is_a_distinct_error(self, repo: MessageRepository) -> None:
        """The provider accepted, every write of the outcome failed for the whole retry time: OutcomeNotStoredError
        names the message and the provider's reference; a retry with the same idempotency key sends nothing."""
        provider = ScriptedProvider(default_state=SMSState.SENDING)
        failing = FailingWrites(repo)
        service, sleeps = self._service(failing, provider, outcome_retry_seconds=1)
        failing.failures = 100
        with pytest.raises(OutcomeNotStoredError) as info:
            service.send(RECIPIENT, "Your code is 1234", idempotency_key="otp-1")
        error = info.value
        stored = repo.get(error.message_id or 0)
        assert error.provider_ref == f"scripted-{stored.id}"
        assert isinstance(error, StorageError)
        assert [m.state for m in error.messages] == [SMSState.SENDING]
        assert (stored.state, stored.provider_ref) == (SMSState.WAITING, None)
        assert 0 < sum(sleeps) <= 1
        assert failing.refused == len(sleeps) + 1
        failing.failures = 0
        again = service.send(RECIPIENT, "Your code is 1234", idempotency_key="otp-1")
        assert again.id == stored.id
        assert len(provider.published) == 1

    def test_a_storage_failure_that_heals_in_time_stores_the_outcome(self, repo: MessageRepository) -> None:
        """Two failed writes, then the database is back: the outcome is stored as if nothing happened."""
        provider = ScriptedProvider(default_state=SMSState.SENDING)
        failing = FailingWrites(repo)
        service, sleeps = self._service(failing, provider)
        failing.failures = 2
        message = service.send(RECIPIENT, "hello")
        assert (message.state, message.provider_ref) == (SMSState.SENDING, f"scripted-{message.id}")
        assert repo.get(message.id or 0) == message
        assert len(sleeps) == 2

    def test_without_a_provider_taking_it_the_storage_error_is_plain(self, repo: MessageRepository) -> None:
        """The provider refused: nothing was sent, so the storage's own error reaches the caller, not
        OutcomeNotStoredError."""
        provider = ScriptedProvider()
        provider.will(Outcome.rejected("blocked"))
        failing = FailingWrites(repo)
        service, _ = self._service(failing, provider, outcome_retry_seconds=0)
        failing.failures = 100
        with pytest.raises(StorageError) as info:
            service.send(RECIPIENT, "hello")
        assert not isinstance(info.value, OutcomeNotStoredError)
