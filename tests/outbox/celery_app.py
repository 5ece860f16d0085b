"""The Celery application of the Celery scenario: the smscore tasks on a Redis broker, configured from the
environment, run by a real worker process::

    SMSCORE_CELERY_BROKER=redis://127.0.0.1:6379/0 SMSCORE_CELERY_QUEUE=q SMSCORE_OUTBOX_CONFIG='{...}' \
        python -m celery -A tests.outbox.celery_app worker --pool=threads -Q q

``SMSCORE_CELERY_BROKER`` is the broker URL (the test Redis by default), ``SMSCORE_CELERY_QUEUE`` the one queue
every task goes to (one per test run, so runs never see each other's tasks), ``SMSCORE_OUTBOX_CONFIG`` the
service's configuration as JSON (the mapping :func:`smscore.build_service` takes). The service is built on the
first task, in the worker process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from celery import Celery

import smscore
from adapters_celery import SMSTasks, register_tasks

DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "smscore-outbox-test"


def make_app(broker: str, queue: str, config: Mapping[str, Any]) -> tuple[Celery, SMSTasks]:
    """A Celery app on ``broker`` sending every task to ``queue``, with the smscore tasks registered on a service
    built from ``config``."""
    app = Celery("smscore-outbox-test", broker=broker, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        broker_connection_retry_on_startup=True,
        worker_enable_remote_control=False,
        worker_hijack_root_logger=False,
        worker_prefetch_multiplier=1,
    )
    tasks = register_tasks(app, service_factory=lambda: smscore.build_service(dict(config)))
    return app, tasks


app, sms = make_app(
    os.environ.get("SMSCORE_CELERY_BROKER", DEFAULT_BROKER),
    os.environ.get("SMSCORE_CELERY_QUEUE", DEFAULT_QUEUE),
    json.loads(os.environ.get("SMSCORE_OUTBOX_CONFIG", '{"storage": "memory"}')),
)
