"""Worker processes killed with SIGKILL at every kind of moment: nothing is lost, nothing reaches ATS twice.

ATS can be asked about a message by our own id (``can_check_by_our_id``), so the worker's docstring promises at
most once: a worker that dies after the gateway took a message but before the outcome was stored leaves the
message UNKNOWN (when its lease ends), and the delivery check resolves it from what the gateway remembers:
DELIVERED when the gateway has it, WAITING (sent again) when it never arrived.

Each of the 20 kills is one of three kinds:

* ``before-publish``: the victim's send request is cut off as it reaches the gateway, unprocessed: the process
  dies holding claimed messages the provider never saw (at its second request, mid-batch: the first part of the
  batch is stored, the rest never sent);
* ``after-accept``: the gateway processes the victim's first, second or third send request (it remembers the
  messages) and the victim dies before the answer arrives: accepted by the provider, outcome never stored;
* ``random``: at a random moment within 0.6 s of the victim's start (claiming, publishing, storing, idle).

A long-running survivor worker drains the same outbox throughout and ends the dead workers' leases as it goes.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from smscore import SMSState
from tests.outbox.harness import (
    Child,
    Children,
    all_messages,
    ats_options,
    build,
    outbox_config,
    recipients,
    state_counts,
    uniq,
)
from tests.providers.fake_gateways import ATSGateway, RecordedRequest, Reply

LEASE_SECONDS = 1.5
VICTIM_SENDER = "66666"
KINDS = ["random", "after-accept", "before-publish"]


class KillingGateway(ATSGateway):
    """The fake ATS gateway, which also kills the armed victim process at its ``nth`` send request: before
    processing it (``before-publish``: the request is dropped unread) or after (``after-accept``: the answer
    never leaves). It tracks the victim's send requests and how many of them are in flight."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.victim: Child | None = None
        self.kind = ""
        self.nth = 0
        self.victim_sends = 0
        self.victim_in_flight = 0
        self.in_flight_at_kill = 0
        self.killed = False

    def arm(self, victim: Child, kind: str, nth: int) -> None:
        with self._lock:
            self.victim, self.kind, self.nth = victim, kind, nth
            self.victim_sends = self.victim_in_flight = self.in_flight_at_kill = 0
            self.killed = False

    def kill_now(self) -> None:
        """Kill the victim at once (a kill at a random moment)."""
        with self._lock:
            if self.victim is not None and not self.killed:
                self._kill_victim()

    def disarm(self) -> tuple[int, int]:
        """Forget the victim; return its send requests and how many of them were taken and unanswered when it
        was killed."""
        with self._lock:
            self.victim = None
            return self.victim_sends, self.in_flight_at_kill

    def _kill_victim(self) -> None:
        assert self.victim is not None
        os.kill(self.victim.pid, signal.SIGKILL)
        self.killed = True
        self.in_flight_at_kill = self.victim_in_flight

    def _serve(self, handler: Any, request: RecordedRequest) -> None:
        from_victim = f'sender="{VICTIM_SENDER}"'.encode() in request.body
        with self._lock:
            armed = from_victim and self.victim is not None and not self.killed
            if armed:
                self.victim_sends += 1
                if self.kind == "before-publish" and self.victim_sends == self.nth:
                    self._kill_victim()
                    handler.close_connection = True
                    return
                self.victim_in_flight += 1
        try:
            super()._serve(handler, request)
        finally:
            if armed:
                with self._lock:
                    self.victim_in_flight -= 1

    def answer(self, request: RecordedRequest, reply: Reply) -> bytes:
        body = super().answer(request, reply)
        from_victim = f'sender="{VICTIM_SENDER}"'.encode() in request.body
        armed = from_victim and self.victim is not None and not self.killed
        if armed and self.kind == "after-accept" and self.victim_sends == self.nth:
            self._kill_victim()
        return body


@attrs.frozen
class Plan:
    """A database, how many messages are queued and how many workers are killed."""

    database: str
    messages: int
    kills: int


PLANS = [
    pytest.param(Plan("postgres", 3000, 20), marks=pytest.mark.postgres, id="postgres"),
    pytest.param(Plan("sqlite", 3000, 20), id="sqlite"),
]


@pytest.fixture(params=PLANS)
def plan(request: pytest.FixtureRequest) -> Plan:
    found: Plan = request.param
    return found


@pytest.fixture
def database_url(plan: Plan, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An SQLite file or a PostgreSQL schema of its own."""
    if plan.database == "sqlite":
        yield f"sqlite:///{tmp_path / 'outbox.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


def test_killed_workers_lose_nothing_and_send_nothing_twice(
    plan: Plan, database_url: str, gateways: Callable[..., ATSGateway], children: Children, tmp_path: Path
) -> None:
    """20 SIGKILLs of worker processes while a survivor drains the outbox; then clean workers and delivery
    checks: every message DELIVERED, every one received by the gateway exactly once, and each UNKNOWN resolved
    as the gateway's memory says."""
    started = time.monotonic()
    rng = random.Random(os.environ.get("SMSCORE_FAULT_SEED", "6"))
    gateway: KillingGateway = gateways(KillingGateway, keep_requests=False)
    gateway.default = Reply(delay=0.1)

    def ats(sender: str) -> dict[str, Any]:
        # Ten messages per request: a claimed batch of 30 goes out in three requests, stored after each.
        options = ats_options(gateway, output_sender_number=sender, max_batch_size=10)
        return {"ats": {"backend": "ats", "options": options}}

    config = outbox_config(
        database_url, gateway, batch_size=30, lease_seconds=LEASE_SECONDS, max_attempts=5, providers=ats("90099")
    )
    worker_config = {**config, "storage_options": {"migrate": "never"}}
    victim_config = {**worker_config, "providers": ats(VICTIM_SENDER)}

    with build(config) as service:
        queued = service.send_many(recipients(plan.messages), "Your code is 1234")
        ids = {m.id for m in queued}

        survivor = children.worker("survivor", worker_config, concurrency=1, batch_size=2, idle=0.05, forked=True)
        children.wait_ready(survivor)

        # Each victim is forked while the one before it runs, and waits for a go file.
        def spawn(index: int) -> tuple[Child, Path]:
            go = tmp_path / f"go-{index}"
            return children.worker(f"victim-{index}", victim_config, concurrency=2, go=go, idle=0.05, forked=True), go

        pending = [spawn(0)]
        kills: list[dict[str, Any]] = []
        for index in range(plan.kills):
            victim, go = pending.pop(0)
            if index + 1 < plan.kills:
                pending.append(spawn(index + 1))
            children.wait_ready(victim)
            kind = KINDS[index % 3]
            nth = 1 + (index // 3) % (2 if kind == "before-publish" else 3)
            if kind != "random":
                gateway.arm(victim, kind, nth)
            else:
                gateway.arm(victim, "watch", 0)
            go.touch()
            deadline = time.monotonic() + (rng.uniform(0.0, 0.6) if kind == "random" else 10.0)
            while victim.alive() and time.monotonic() < deadline:
                time.sleep(0.002)
            gateway.kill_now()
            sends, in_flight = gateway.disarm()
            assert victim.wait(30) == -signal.SIGKILL, f"{victim.name} ended on its own"
            assert gateway.killed, f"{victim.name} ended before it was killed"
            assert kind == "random" or sends >= nth, f"{victim.name} never made send request {nth}"
            kills.append({"kind": kind, "nth": nth, "sends": sends, "in_flight": in_flight})
        kill_phase = time.monotonic() - started

        assert survivor.stop() == 0, survivor.stderr()[-3000:]
        survivor_totals = survivor.stats()
        time.sleep(LEASE_SECONDS + 0.2)
        before = all_messages(service)
        leased = [m for m in before if m.state is SMSState.WAITING and m.lease_expires_at is not None]
        in_doubt_before_recovery = len(leased) + sum(m.state is SMSState.UNKNOWN for m in before)

        # Clean workers and delivery checks until nothing is in flight.
        gateway.default = Reply()
        rounds: list[dict[str, Any]] = []
        unknown_resolution: Counter[str] = Counter()
        for round_number in range(4):
            totals = children.worker(
                f"clean-{round_number}", worker_config, once=True, concurrency=2, forked=True
            ).wait_ok(60)
            unknown = {m.id: m for m in all_messages(service) if m.state is SMSState.UNKNOWN}
            assert all(m.error for m in unknown.values())
            report = service.check_delivery()
            after = {m.id: m for m in all_messages(service)}
            for message_id in unknown:
                known = uniq(message_id) in gateway.messages
                expected = SMSState.DELIVERED if known else SMSState.WAITING
                assert after[message_id].state is expected, (after[message_id], known)
                unknown_resolution[f"{'held' if known else 'never received'} -> {expected.value}"] += 1
            rounds.append({"worker": totals, "unknown": len(unknown), "check": report})
            if all(m.is_final for m in after.values()):
                break

    stored = list(after.values())
    # None lost: every message created is stored, in a final state (here all delivered), no lease left.
    assert len(stored) == plan.messages
    assert {m.id for m in stored} == ids
    assert state_counts(stored) == {"delivered": plan.messages}
    assert all(m.lease_expires_at is None for m in stored)
    # At most once at the gateway (and, since all were delivered, exactly once): no uniq arrived twice.
    received = Counter(sms.uniq for sms in gateway.received)
    duplicates = {u: n for u, n in received.items() if n > 1}
    assert duplicates == {}
    assert set(received) == {uniq(i) for i in ids}
    assert 310 not in {sms.code for sms in gateway.received}

    kinds = Counter(k["kind"] for k in kills)
    # Every after-accept kill found the victim's request taken and unanswered (random kills may too).
    with_accepted_in_flight = sum(k["in_flight"] > 0 for k in kills)
    assert with_accepted_in_flight >= kinds["after-accept"]
    before_any_request = sum(k["sends"] == 0 for k in kills)
    print(
        f"faults on {plan.database}: {plan.messages} messages, {len(kills)} kills {dict(kinds)} "
        f"({with_accepted_in_flight} with an accepted request unanswered, {before_any_request} before any request) "
        f"in {kill_phase:.1f} s; "
        f"survivor claimed {survivor_totals['claimed']} and recovered {survivor_totals['recovered']}; "
        f"{in_doubt_before_recovery} in doubt after the kills; UNKNOWN resolved {dict(unknown_resolution)}; "
        f"rounds {[(r['unknown'], r['worker']['claimed'], r['worker']['recovered']) for r in rounds]}; "
        f"duplicates at the gateway: {len(duplicates)}; {time.monotonic() - started:.1f} s"
    )
