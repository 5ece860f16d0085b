"""Idempotency keys under concurrency on PostgreSQL: eight callers, each with a service of its own (own engine,
own HTTP client), send with the same key at the same moment: one row, one request to the gateway."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event

from smscore import SMSMessage, SMSService, SMSState
from tests.outbox.harness import all_messages, build, outbox_config, recipients, uniq
from tests.providers.fake_gateways import ATSGateway

CALLERS = 8
KEYS = 10

pytestmark = pytest.mark.postgres


def race(services: list[SMSService], send: Callable[[SMSService], SMSMessage]) -> list[SMSMessage]:
    """Call ``send`` once per service, all released together by a barrier; return the results."""
    barrier = threading.Barrier(len(services))
    results: list[Any] = [None] * len(services)

    def call(index: int) -> None:
        barrier.wait()
        try:
            results[index] = send(services[index])
        except BaseException as exc:  # reported by the assertion below
            results[index] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(services))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(isinstance(r, SMSMessage) for r in results), results
    return results


@pytest.mark.parametrize("batch_sending", [False, True], ids=["immediate", "outbox"])
def test_eight_concurrent_sends_with_one_key_store_one_message_and_send_it_once(
    postgres_url: str, gateways: Callable[..., ATSGateway], batch_sending: bool
) -> None:
    """For each of 10 keys, 8 services send at once with that key; every caller gets the same message, one row
    per key is stored, and the gateway receives each message once (in outbox mode after a worker step)."""
    gateway = gateways()
    config = outbox_config(postgres_url, gateway, batch_sending=batch_sending)
    with build(config) as first:
        services = [first, *(build({**config, "storage_options": {"migrate": "never"}}) for _ in range(CALLERS - 1))]
        refused_inserts = Counter[str]()
        for service in services:
            engine = service.messages.engine  # type: ignore[attr-defined]
            event.listen(
                engine,
                "handle_error",
                lambda context: refused_inserts.update([type(context.original_exception).__name__]),
            )
        try:
            winners = []
            for index, number in enumerate(recipients(KEYS)):
                results = race(
                    services, lambda s, n=number, k=f"order-{index}": s.send(n, "Your code", idempotency_key=k)
                )
                assert len({m.id for m in results}) == 1, results
                winners.append(results[0])
            if batch_sending:
                assert first.process_outbox().claimed == KEYS
            stored = all_messages(first)
        finally:
            for service in services[1:]:
                service.close()

    assert len(stored) == KEYS
    assert sorted(m.idempotency_key or "" for m in stored) == sorted(f"order-{i}" for i in range(KEYS))
    assert {m.id for m in stored} == {m.id for m in winners}
    assert {m.state for m in stored} == {SMSState.SENDING}
    assert Counter(s.uniq for s in gateway.received) == Counter({uniq(m.id): 1 for m in stored})
    print(
        f"idempotency ({'outbox' if batch_sending else 'immediate'}): {KEYS} keys x {CALLERS} concurrent callers, "
        f"{len(stored)} rows, {len(gateway.received)} messages at the gateway; inserts refused by the unique "
        f"constraint: {sum(refused_inserts.values())} ({dict(refused_inserts)})"
    )
