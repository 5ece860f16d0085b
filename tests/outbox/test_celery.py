"""A real Celery worker process on the Redis broker publishes queued messages: one task per message (queued by
the ``SMSTasks.enqueue`` subscriber) and outbox drains (``smscore.drain_outbox``); the delivery-check task
finishes the job."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from smscore import SMSService, SMSState
from tests.conftest import REDIS_URL, require_service
from tests.outbox.celery_app import make_app
from tests.outbox.harness import CONFIG_VARIABLE, Children, all_messages, build, outbox_config, recipients, uniq
from tests.providers.fake_gateways import ATSGateway

pytestmark = pytest.mark.redis


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue name of this run; its keys are deleted from Redis at the end."""
    require_service("Redis", "127.0.0.1", 6379)
    name = f"smscore-outbox-{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    try:
        stale = list(client.scan_iter(match=f"*{name}*"))
        if stale:
            client.delete(*stale)
    finally:
        client.close()


def wait_for(service: SMSService, ids: set[int | None], state: SMSState, timeout: float = 60) -> None:
    """Wait until every message in ``ids`` is in ``state``."""
    deadline = time.monotonic() + timeout
    while True:
        states = Counter(m.state for m in all_messages(service) if m.id in ids)
        if states == Counter({state: len(ids)}):
            return
        assert time.monotonic() < deadline, f"still {dict(states)} after {timeout} s"
        time.sleep(0.1)


def test_a_celery_worker_publishes_by_message_task_and_by_drain(
    queue: str, gateways: Callable[..., ATSGateway], children: Children, tmp_path: Path
) -> None:
    """Messages queued with the enqueue subscriber go out one task each (four worker threads; a task delivered
    three times sends once);
    messages queued without it go out through drain tasks; the check task marks them all delivered. The
    gateway gets each message exactly once."""
    gateway = gateways()
    config = outbox_config(f"sqlite:///{tmp_path / 'celery.db'}", gateway, batch_size=25)
    worker_config = {**config, "storage_options": {"migrate": "never"}}
    environment = {
        "SMSCORE_CELERY_BROKER": REDIS_URL,
        "SMSCORE_CELERY_QUEUE": queue,
        CONFIG_VARIABLE: json.dumps(worker_config),
    }
    with build(config) as service, build(config) as quiet:
        app, tasks = make_app(REDIS_URL, queue, config)
        try:
            worker = children.start(
                "celery",
                [
                    *(sys.executable, "-m", "celery", "-A", "tests.outbox.celery_app", "worker"),
                    *(
                        "--pool=threads",
                        "--concurrency=4",
                        "--loglevel=WARNING",
                        "-Q",
                        queue,
                        f"--hostname=outbox-{queue}@%h",
                    ),
                    *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                ],
                env=environment,
            )
            # One task per message, queued by the subscriber as each message is stored.
            service.subscribe(tasks.enqueue)
            singles = [service.send(number, "one task per message") for number in recipients(10)]
            many = service.send_many(recipients(10, 10), "one task per message, stored together")
            # Each task delivered twice more, run side by side: the compare-and-set claim sends each message once.
            for message in singles:
                tasks.publish_message.delay(message.id)
                tasks.publish_message.delay(message.id)
            by_task = {m.id for m in [*singles, *many]}
            wait_for(service, by_task, SMSState.SENDING)
            assert worker.alive(), worker.stderr()[-3000:]

            # Messages queued without the subscriber wait for drains: three of 25 take all 60.
            drained = {m.id for m in quiet.send_many(recipients(60, 100), "sent by a drain")}
            assert quiet.messages.count(SMSState.WAITING) == 60
            for _ in range(3):
                tasks.drain_outbox.delay(25)
            wait_for(service, drained, SMSState.SENDING)

            tasks.check_delivery.delay()
            wait_for(service, by_task | drained, SMSState.DELIVERED)
            assert worker.stop() == 0, worker.stderr()[-3000:]
        finally:
            app.close()
        stored = all_messages(service)

    assert len(stored) == 80
    assert {m.state for m in stored} == {SMSState.DELIVERED}
    assert all(m.attempts == 1 and m.lease_expires_at is None for m in stored)
    assert Counter(s.uniq for s in gateway.received) == Counter({uniq(m.id): 1 for m in stored})
    assert "Traceback" not in worker.stderr()
