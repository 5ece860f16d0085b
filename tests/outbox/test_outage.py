"""A provider outage of 30 s, live: messages wait and go out after it, or go out through the failover provider
while the circuit breaker keeps the broken provider aside, and the breaker closes again when it recovers.

Two outboxes run side by side through the same outage (one SQLite file and one worker process each), so the
scenario costs the outage once:

* ``plain``: one provider, no failover. Its messages stay WAITING, retried with backoff, and go out after the
  outage, each exactly once.
* ``failover``: ``main`` fails over to ``backup``. During the outage messages go out at once through ``backup``;
  after it (and the breaker's cool-down) through ``main`` again.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smscore import SMSMessage, SMSState
from tests.outbox.harness import Children, all_messages, ats_options, build, recipients, uniq
from tests.providers.fake_gateways import ATSGateway, RecordedRequest, Reply

OUTAGE_SECONDS = 30.0
COOLDOWN_SECONDS = 3.0
THRESHOLD = 3
BACKOFF_MAX_SECONDS = 2.0
CONCURRENCY = 2


class OutageGateway(ATSGateway):
    """The fake ATS gateway with an outage: between the :meth:`outage` start and end (wall clock) every request
    is answered HTTP 503 and nothing is processed. It notes when requests were refused or served, which of our
    ids each refused request carried, and when each message was accepted."""

    def __init__(self, **kwargs: Any) -> None:
        self.down_from = math.inf
        self.down_until = -math.inf
        self.refused: list[float] = []
        self.refused_uniqs: Counter[str] = Counter()
        self.served: list[float] = []
        self.accepted_at: dict[str, float] = {}
        self._normal = Reply()
        self._current = threading.local()
        super().__init__(**kwargs)

    def outage(self, start: float, end: float) -> None:
        with self._lock:
            self.down_from, self.down_until = start, end

    def _serve(self, handler: Any, request: RecordedRequest) -> None:
        self._current.request = request
        super()._serve(handler, request)

    @property  # type: ignore[override]
    def default(self) -> Reply:
        """Read once per request (under the gateway's lock) when nothing is scripted: 503 during the outage."""
        now = time.time()
        if self.down_from <= now < self.down_until:
            self.refused.append(now)
            self.refused_uniqs.update(u.decode() for u in re.findall(rb'uniq="([^"]+)"', self._current.request.body))
            return Reply(status=503)
        self.served.append(now)
        return self._normal

    @default.setter
    def default(self, reply: Reply) -> None:
        self._normal = reply

    def answer(self, request: RecordedRequest, reply: Reply) -> bytes:
        before = set(self.messages)
        body = super().answer(request, reply)
        now = time.time()
        for new in set(self.messages) - before:
            self.accepted_at[new] = now
        return body


def config(database: Path, providers: dict[str, ATSGateway], **keys: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "storage": "sqlalchemy",
        "database_url": f"sqlite:///{database}",
        "batch_sending": True,
        "batch_size": 20,
        "lease_seconds": 30,
        "max_attempts": 1000,
        "retry_backoff_seconds": 0.5,
        "retry_backoff_max_seconds": BACKOFF_MAX_SECONDS,
        "circuit_breaker_threshold": THRESHOLD,
        "circuit_breaker_cooldown_seconds": COOLDOWN_SECONDS,
        "providers": {name: {"backend": "ats", "options": ats_options(g)} for name, g in providers.items()},
    }
    result.update(keys)
    return result


def created(message: SMSMessage) -> float:
    return message.created_at.timestamp()


@pytest.mark.slow
def test_messages_wait_out_an_outage_or_fail_over_and_the_breaker_closes_again(
    gateways: Callable[..., ATSGateway], children: Children, tmp_path: Path
) -> None:
    """30 s of HTTP 503 from the main gateways while messages keep coming (four a second): without failover
    they wait and leave after the outage, each once; with failover they leave through the backup during the
    outage, the breaker keeps the broken gateway to a few probes, and after it the main gateway is used again."""
    plain_gateway: OutageGateway = gateways(OutageGateway, keep_requests=False)
    main_gateway: OutageGateway = gateways(OutageGateway, keep_requests=False)
    backup_gateway: OutageGateway = gateways(OutageGateway, keep_requests=False)
    plain_config = config(tmp_path / "plain.db", {"main": plain_gateway})
    failover_config = config(
        tmp_path / "failover.db", {"main": main_gateway, "backup": backup_gateway}, failover=["backup"]
    )
    with build(plain_config) as plain, build(failover_config) as failover:
        for service in (plain, failover):
            service.send_many(recipients(20), "queued before the outage")
        go = tmp_path / "go"
        workers = [
            children.worker(name, {**cfg, "storage_options": {"migrate": "never"}}, concurrency=CONCURRENCY, go=go)
            for name, cfg in (("plain", plain_config), ("failover", failover_config))
        ]
        for worker in workers:
            children.wait_ready(worker)

        start = time.time()
        end = start + OUTAGE_SECONDS
        plain_gateway.outage(start, end)
        main_gateway.outage(start, end)
        go.touch()
        # Four messages a second to each outbox, through the outage and past the breaker's cool-down after it.
        number = 20
        while time.time() < end + COOLDOWN_SECONDS + 3:
            for service in (plain, failover):
                service.send(recipients(1, number)[0], "sent during the scenario")
            number += 1
            time.sleep(0.25)
        deadline = time.time() + 15
        while time.time() < deadline and (
            plain.messages.count(SMSState.WAITING) or failover.messages.count(SMSState.WAITING)
        ):
            time.sleep(0.1)
        for worker in workers:
            assert worker.stop() == 0, worker.stderr()[-3000:]
        plain_messages = all_messages(plain)
        failover_messages = all_messages(failover)

    # Without failover: nothing got through during the outage (the messages waited, retried or deferred while
    # the breaker was open); afterwards every message went out exactly once.
    assert {m.state for m in plain_messages} == {SMSState.SENDING}
    assert Counter(s.uniq for s in plain_gateway.received) == Counter({uniq(m.id): 1 for m in plain_messages})
    assert min(plain_gateway.accepted_at.values()) >= end
    waited = [m for m in plain_messages if created(m) < end - 1]
    assert sum(m.attempts > 1 for m in waited) >= 20, "the messages queued before the outage were retried"
    last_out = max(plain_gateway.accepted_at[uniq(m.id)] for m in waited) - end
    assert last_out < COOLDOWN_SECONDS + BACKOFF_MAX_SECONDS + 5
    # Every attempt counted was a request: the refused ones that carried the message, and the one that took it.
    assert all(m.attempts == plain_gateway.refused_uniqs[uniq(m.id)] + 1 for m in plain_messages)

    # With failover: every message went out once, at its first attempt; during the outage through the backup.
    assert {m.state for m in failover_messages} == {SMSState.SENDING}
    received = Counter(s.uniq for s in main_gateway.received) + Counter(s.uniq for s in backup_gateway.received)
    assert received == Counter({uniq(m.id): 1 for m in failover_messages})
    assert {m.attempts for m in failover_messages} == {1}
    during = [m for m in failover_messages if created(m) < end - 3]
    assert {m.provider for m in during} == {"backup"}
    assert all(uniq(m.id) in backup_gateway.messages for m in during)
    # The breaker kept the broken gateway to the first failures and one probe per thread per cool-down.
    probes_allowed = THRESHOLD + CONCURRENCY * (math.ceil(OUTAGE_SECONDS / COOLDOWN_SECONDS) + 1)
    assert len(main_gateway.refused) <= probes_allowed
    # After the outage and the cool-down, the breaker is closed again: the main gateway takes the traffic.
    after = [m for m in failover_messages if created(m) > end + COOLDOWN_SECONDS + 1.5]
    assert after
    assert {m.provider for m in after} == {"main"}
    assert all(uniq(m.id) in main_gateway.messages for m in after)

    plain_attempts = Counter(m.attempts for m in waited)
    print(
        f"outage: plain {len(plain_messages)} messages, {len(plain_gateway.refused)} requests refused, "
        f"attempts of those queued during the outage {sorted(plain_attempts.items())}, last one out "
        f"{last_out:.1f} s after the outage; failover "
        f"{len(failover_messages)} messages ({Counter(m.provider for m in failover_messages)}), "
        f"main refused {len(main_gateway.refused)} requests (at most {probes_allowed} allowed), "
        f"backup served {len(backup_gateway.served)}, first main acceptance after the outage "
        f"{min(t for t in main_gateway.accepted_at.values()) - end:.1f} s after it; {time.time() - start:.1f} s"
    )


def test_messages_no_provider_took_keep_their_route_and_leave_through_it_when_it_recovers(
    gateways: Callable[..., ATSGateway], children: Children, tmp_path: Path
) -> None:
    """``main`` is down for 3 s and its failover ``backup`` stays down: the messages wait (both circuits open
    in turn, and a skipped turn is not an attempt), stay routed to ``main``, and leave through it, each once,
    as soon as it is back."""
    main_gateway: OutageGateway = gateways(OutageGateway, keep_requests=False)
    backup_gateway: OutageGateway = gateways(OutageGateway, keep_requests=False)
    settings = config(
        tmp_path / "both-down.db",
        {"main": main_gateway, "backup": backup_gateway},
        failover=["backup"],
        retry_backoff_seconds=0.2,
        retry_backoff_max_seconds=0.5,
        circuit_breaker_threshold=2,
        circuit_breaker_cooldown_seconds=1,
    )
    with build(settings) as service:
        queued = service.send_many(recipients(30), "both providers down")
        go = tmp_path / "go"
        worker = children.worker(
            "worker", {**settings, "storage_options": {"migrate": "never"}}, concurrency=CONCURRENCY, go=go
        )
        children.wait_ready(worker)
        start = time.time()
        main_gateway.outage(start, start + 3)
        backup_gateway.outage(start, math.inf)
        go.touch()
        deadline = start + 15
        while time.time() < deadline and service.messages.count(SMSState.WAITING):
            time.sleep(0.1)
        assert worker.stop() == 0, worker.stderr()[-3000:]
        stored = all_messages(service)

    assert {m.state for m in stored} == {SMSState.SENDING}
    assert {m.provider for m in stored} == {"main"}
    assert Counter(s.uniq for s in main_gateway.received) == Counter({uniq(m.id): 1 for m in queued})
    assert backup_gateway.received == []
    assert min(main_gateway.accepted_at.values()) >= start + 3
    # Each attempt counted carried the message in at least one refused request (or the one that took it).
    tried = main_gateway.refused_uniqs + backup_gateway.refused_uniqs
    assert all(2 <= m.attempts <= tried[uniq(m.id)] + 1 for m in stored)
    print(
        f"both down: {len(stored)} messages, main refused {len(main_gateway.refused)} and backup "
        f"{len(backup_gateway.refused)} requests, attempts {sorted(Counter(m.attempts for m in stored).items())}, "
        f"all out through main {max(main_gateway.accepted_at.values()) - start - 3:.1f} s after it was back"
    )
