"""Celery tasks for the smscore outbox, for applications that already run Celery.

::

    from celery import Celery
    from adapters_celery import register_tasks

    app = Celery("shop", broker="redis://127.0.0.1:6379/0")
    sms = register_tasks(app)                     # service from smscore.toml / SMSCORE_* variables
    # or: register_tasks(app, service_factory=lambda: smscore.build_service({...}))

This registers three tasks: ``smscore.drain_outbox`` (one outbox step; scheduled every ``drain_every`` seconds
by Celery beat), ``smscore.publish_message`` (publish one WAITING message by id; claimed with compare-and-set
so a task delivered twice sends once) and ``smscore.check_delivery`` (scheduled every ``check_every``
seconds). ``sms.enqueue`` is a state-change subscriber that queues ``publish_message`` for each new WAITING
message, so messages leave at once instead of at the next drain: ``service.subscribe(sms.enqueue)`` in the
process that sends. A message scheduled for later (``send_at``, quiet hours) is left alone by its
``publish_message`` task, which finds it not yet due, and published by the first drain after its time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import attrs
from celery import Celery

import smscore
from smscore import SMSService, SMSState, StateChange

__all__ = ["SMSTasks", "register_tasks"]


@attrs.frozen
class SMSTasks:
    """The registered tasks and the subscriber that queues per-message publishing."""

    drain_outbox: Any
    publish_message: Any
    check_delivery: Any

    def enqueue(self, event: StateChange) -> None:
        """Subscriber: queue ``publish_message`` for each message that was just stored WAITING."""
        if event.old_state is None and event.new_state is SMSState.WAITING:
            self.publish_message.delay(event.message_id)


def register_tasks(
    app: Celery,
    service_factory: Callable[[], SMSService] | None = None,
    *,
    drain_every: float = 5.0,
    check_every: float = 300.0,
) -> SMSTasks:
    """Register the smscore tasks on ``app`` and their beat schedule; return them.

    ``service_factory`` builds the service once per worker process (default: :func:`smscore.build_service`
    from the file and environment configuration).
    """
    factory = service_factory or smscore.build_service
    holder: dict[str, SMSService] = {}
    lock = threading.Lock()

    def service() -> SMSService:
        with lock:
            if "service" not in holder:
                holder["service"] = factory()
            return holder["service"]

    @app.task(name="smscore.drain_outbox", ignore_result=True)  # type: ignore[untyped-decorator]
    def drain_outbox(limit: int | None = None) -> int:
        """One outbox step; returns how many messages were claimed."""
        return service().process_outbox(limit).claimed

    @app.task(name="smscore.publish_message", ignore_result=True)  # type: ignore[untyped-decorator]
    def publish_message(message_id: int) -> str:
        """Publish one WAITING message; returns its state afterwards."""
        return service().publish_waiting(message_id).state.value

    @app.task(name="smscore.check_delivery", ignore_result=True)  # type: ignore[untyped-decorator]
    def check_delivery() -> int:
        """Run the delivery check; returns how many messages changed."""
        return service().check_delivery().changed

    schedule = dict(app.conf.beat_schedule or {})
    schedule.setdefault("smscore-drain-outbox", {"task": "smscore.drain_outbox", "schedule": drain_every})
    schedule.setdefault("smscore-check-delivery", {"task": "smscore.check_delivery", "schedule": check_every})
    app.conf.beat_schedule = schedule
    return SMSTasks(drain_outbox=drain_outbox, publish_message=publish_message, check_delivery=check_delivery)
