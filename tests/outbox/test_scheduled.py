"""Scheduled messages and cancels under four worker processes on PostgreSQL: nothing reaches the gateway before
its time or twice, a backlog due later is left alone, and a cancel racing the workers has exactly one winner."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from smscore import MessageNotCancellableError, SMSState
from tests.outbox.harness import Children, all_messages, build, outbox_config, recipients, uniq
from tests.providers.fake_gateways import ATSGateway

PROCESSES = 4


class TimedList(list[Any]):
    """The gateway's list of received messages, noting when each arrived (by the uniq it carries)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def append(self, item: Any) -> None:
        with self._lock:
            self.arrived.setdefault(item.uniq, datetime.now(UTC))
            super().append(item)


def _until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.postgres
class TestScheduledUnderFourWorkers:
    def test_each_message_goes_once_and_never_before_its_time(
        self, postgres_url: str, gateways: Callable[..., ATSGateway], children: Children, tmp_path: Path
    ) -> None:
        """Four worker processes of two threads are running when 600 messages due over the next few seconds at
        random priorities and 300 due in an hour are queued: each of the first is published exactly once, none
        before its time, none much later, and the others are left WAITING."""
        gateway = gateways(keep_requests=False)
        gateway.received = arrivals = TimedList()
        config = outbox_config(postgres_url, gateway, batch_size=20, lease_seconds=120)
        with build(config):
            pass  # the schema, before the workers start on it
        workers = [children.worker(f"worker-{i}", config, concurrency=2, idle=0.05) for i in range(PROCESSES)]
        for worker in workers:
            children.wait_ready(worker)
        start = datetime.now(UTC) + timedelta(seconds=2)
        rng = random.Random(17)
        soon = [
            {
                "recipient": r,
                "send_at": start + timedelta(milliseconds=rng.randrange(4000)),
                "priority": rng.randint(1, 3),
            }
            for r in recipients(600)
        ]
        later = [{"recipient": r, "send_at": start + timedelta(hours=1)} for r in recipients(300, start=600)]
        with build(config) as service:
            queued = service.send_many([*later, *soon], "Your table is ready")
        due_at = {uniq(m.id): m.send_at for m in queued}
        assert {m.state for m in queued} == {SMSState.WAITING}
        _until(lambda: len(arrivals.arrived) >= len(soon), timeout=120)
        time.sleep(1)  # a last chance for anything sent twice, or early from the later backlog, to show
        totals = [worker.stop() for worker in workers]
        assert totals == [0] * PROCESSES

        counts = Counter(sms.uniq for sms in arrivals)
        assert set(counts.values()) == {1}
        assert len(counts) == len(soon)
        lateness = []
        for key, arrived in arrivals.arrived.items():
            due = due_at[key]
            assert due is not None
            assert arrived >= due, f"{key} arrived {due - arrived} early"
            lateness.append((arrived - due).total_seconds())
        lateness.sort()
        assert max(lateness) < 10, lateness[-10:]

        with build(config) as service:
            stored = all_messages(service)
        states = Counter(m.state for m in stored)
        assert states == {SMSState.SENDING: len(soon), SMSState.WAITING: len(later)}
        assert all(m.lease_expires_at is None for m in stored)
        median = lateness[len(lateness) // 2]
        print(f"scheduled: {len(soon)} messages over 4 s, lateness median {median:.2f} s, max {lateness[-1]:.2f} s")

    def test_a_cancel_racing_the_workers_has_exactly_one_winner(
        self, postgres_url: str, gateways: Callable[..., ATSGateway], children: Children, tmp_path: Path
    ) -> None:
        """While four worker processes publish 400 messages, the test cancels every one of them: each cancel
        either succeeds (the message ends cancelled and never reaches the gateway) or raises (the message reaches
        the gateway once); never both, never neither."""
        gateway = gateways(keep_requests=False)
        config = outbox_config(postgres_url, gateway, batch_size=5, lease_seconds=120)
        with build(config) as service:
            queued = service.send_many(recipients(400), "Your code is 1234")
        go = tmp_path / "go"
        workers = [children.worker(f"worker-{i}", config, once=True, go=go, idle=0.05) for i in range(PROCESSES)]
        for worker in workers:
            children.wait_ready(worker)
        cancelled: set[int] = set()
        refused: set[int] = set()
        with build(config) as service:
            go.touch()
            # From the newest: the workers take the oldest first, so the two meet in the middle of the queue.
            for message in reversed(queued):
                try:
                    service.cancel(message.id or 0)
                except MessageNotCancellableError:
                    refused.add(message.id or 0)
                else:
                    cancelled.add(message.id or 0)
            for worker in workers:
                worker.wait_ok(timeout=120)
            stored = {m.id: m for m in all_messages(service)}

        sent = Counter(sms.uniq for sms in gateway.received)
        assert set(sent.values()) <= {1}
        assert cancelled | refused == {m.id for m in queued}
        assert cancelled.isdisjoint(refused)
        for message_id in cancelled:
            assert (stored[message_id].state, stored[message_id].error) == (SMSState.ERROR, "cancelled")
            assert uniq(message_id) not in sent
        for message_id in refused:
            assert stored[message_id].state is SMSState.SENDING
            assert sent[uniq(message_id)] == 1
        assert cancelled
        assert refused, "the workers never won: the race did not happen"
        print(f"cancel race: {len(cancelled)} cancelled, {len(refused)} published first")
