"""Many workers ending a dead worker's leases at the same moment: each lease is ended once, counted once, and
the losers of the race neither log errors nor announce the change a second time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from smscore import SMSConfig, SMSMessage, SMSService, SMSState, StateChange
from smscore.testing import FixedClock, InMemoryMessageRepository, InMemoryTemplateRepository, ScriptedProvider
from tests.outbox.harness import Children, all_messages, build, outbox_config, recipients
from tests.providers.fake_gateways import ATSGateway

WORKERS = 4
LEASED = 600


class RacingRepository(InMemoryMessageRepository):
    """The in-memory repository, where a rival worker ends the expired leases right after this worker found
    them (and before it writes): the race of two workers starting together, made certain."""

    rival: SMSService | None = None

    def find_expired_leases(self, *, now: datetime, limit: int) -> list[SMSMessage]:
        found = super().find_expired_leases(now=now, limit=limit)
        rival, self.rival = self.rival, None
        if rival is not None and found:
            rival.process_outbox()
        return found


class TestTwoWorkersRace:
    def test_the_leases_are_ended_once_and_the_loser_says_nothing(self, caplog: pytest.LogCaptureFixture) -> None:
        """The rival ends the five leases first: the worker that found them too ends none, logs no error, and
        every subscriber hears of each change once."""
        clock = FixedClock()
        repository = RacingRepository()
        heard: list[StateChange] = []
        services = [
            SMSService(
                messages=repository,
                templates=InMemoryTemplateRepository(),
                providers={"default": ScriptedProvider(can_check_by_our_id=True)},
                config=SMSConfig.from_mapping({"batch_sending": True}),
                clock=clock,
                subscribers=[heard.append],
            )
            for _ in range(2)
        ]
        worker, rival = services
        queued = worker.send_many(recipients(5), "x")
        claimed = repository.claim(now=clock.now(), lease_until=clock.now() + timedelta(seconds=1), limit=10)
        assert len(claimed) == 5
        heard.clear()
        clock.advance(seconds=2)
        repository.rival = rival
        with caplog.at_level(logging.WARNING):
            report = worker.process_outbox()

        assert report.recovered == 0
        stored = [repository.get(m.id or 0) for m in queued]
        assert {m.state for m in stored} == {SMSState.UNKNOWN}
        assert [m.version for m in stored] == [m.version + 1 for m in claimed]
        assert sorted(e.message_id for e in heard) == sorted(m.id or 0 for m in queued)
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An SQLite file or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'outbox.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


def test_four_worker_processes_end_600_dead_leases_once_each(
    database_url: str, gateways: Callable[..., ATSGateway], children: Children, tmp_path: Path
) -> None:
    """A worker claimed 600 messages and died before publishing; four worker processes (two threads each) start
    together after its lease ran out: together they end 600 leases, each message UNKNOWN once, nothing sent, no
    error logged; the delivery check then sends every one back to WAITING (the gateway never had them)."""
    gateway = gateways()
    config = outbox_config(database_url, gateway, lease_seconds=1, batch_size=50)
    with build(config) as service:
        service.send_many(recipients(LEASED), "claimed by a worker that died")
        now = service.clock.now()
        assert len(service.messages.claim(now=now, lease_until=now + timedelta(seconds=1), limit=LEASED)) == LEASED
        go = tmp_path / "go"
        worker_config = {**config, "storage_options": {"migrate": "never"}}
        workers = [
            children.worker(f"worker-{i}", worker_config, once=True, concurrency=2, go=go, forked=True)
            for i in range(WORKERS)
        ]
        for worker in workers:
            children.wait_ready(worker)
        time.sleep(max(0.0, 1.1 - (time.time() - now.timestamp())))
        go.touch()
        totals = [worker.wait_ok(60) for worker in workers]
        stored = all_messages(service)
        assert {m.state for m in stored} == {SMSState.UNKNOWN}
        report = service.check_delivery()
        after = all_messages(service)

    assert sum(t["recovered"] for t in totals) == LEASED
    assert sum(t["claimed"] for t in totals) == 0
    assert all(m.error and "worker stopped" in m.error for m in stored)
    assert gateway.received == []
    for worker in workers:
        assert "not stored" not in worker.stderr()
    assert report.changed == LEASED
    assert {m.state for m in after} == {SMSState.WAITING}
    print(f"lease recovery: {LEASED} dead leases ended by {WORKERS} processes: {[t['recovered'] for t in totals]}")
