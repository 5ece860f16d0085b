"""Many worker processes drain one outbox on PostgreSQL: every message reaches the gateway exactly once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from smscore import SMSState
from tests.outbox.harness import Children, all_messages, build, outbox_config, recipients, state_counts, uniq
from tests.providers.fake_gateways import ATSGateway

MESSAGES = 5000
PROCESSES = 4


@pytest.mark.postgres
class TestFourWorkerProcesses:
    def test_drain_5000_messages_each_sent_exactly_once(
        self, postgres_url: str, gateways: Callable[..., ATSGateway], children: Children, tmp_path: Path
    ) -> None:
        """4 processes of 2 threads each, started together on 5,000 queued messages: each message is claimed by
        one worker, reaches the gateway once, and ends SENDING; none is left WAITING or leased."""
        gateway = gateways(keep_requests=False)
        config = outbox_config(postgres_url, gateway, batch_size=50, lease_seconds=120)
        with build(config) as service:
            queued = service.send_many(recipients(MESSAGES), "Your code is 1234")
        assert {m.state for m in queued} == {SMSState.WAITING}

        go = tmp_path / "go"
        workers = [
            children.worker(f"worker-{i}", config, once=True, concurrency=2, go=go, idle=0.05) for i in range(PROCESSES)
        ]
        for worker in workers:
            children.wait_ready(worker)
        started = time.monotonic()
        go.touch()
        totals = [worker.wait_ok(timeout=180) for worker in workers]
        elapsed = time.monotonic() - started

        # Every process took a share: the claims really ran side by side.
        claimed = [t["claimed"] for t in totals]
        assert sum(claimed) == MESSAGES
        assert all(c > 0 for c in claimed), claimed
        assert sum(t["states"].get("sending", 0) for t in totals) == MESSAGES

        # The gateway saw every message exactly once, and nothing else.
        counts = Counter(sms.uniq for sms in gateway.received)
        assert counts == Counter({uniq(m.id): 1 for m in queued})
        assert {sms.code for sms in gateway.received} == {0}

        with build(config) as service:
            stored = all_messages(service)
        assert len(stored) == MESSAGES
        assert state_counts(stored) == {"sending": MESSAGES}
        assert all(m.lease_expires_at is None and m.attempts == 1 for m in stored)
        assert all(m.provider_ref == uniq(m.id) and m.provider == "ats" for m in stored)
        print(
            f"drain: {MESSAGES} messages, {PROCESSES} processes x 2 threads, claimed per process {claimed}, "
            f"{gateway.request_count} gateway requests, {elapsed:.1f} s"
        )
