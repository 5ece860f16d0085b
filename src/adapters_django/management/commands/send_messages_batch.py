"""``manage.py send_messages_batch [--type=sms] [--limit=N]``: one run of the outbox worker.

Publishes due WAITING messages (priority first, then age) in provider batches until ``--limit`` messages were
handled or none is due; ends the leases of workers that stopped mid-publish first. Any number of runs may go at
once, on any number of machines: a message is never claimed twice. Run it from cron when
``PYMESS_SMS_BATCH_SENDING`` is on; with it off it still publishes messages left WAITING by a process that died
between a commit and its ``on_commit`` publish.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from adapters_django.management import positive_int
from adapters_django.wiring import get_service

#: The ancestor's message types; only SMS lives here.
_TYPES = ("sms", "email", "push-notification", "dialer")


class Command(BaseCommand):
    help = "Publish waiting SMS messages (the outbox worker step)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--type", default="sms", choices=_TYPES, help="message type (accepted for compatibility; only sms)"
        )
        parser.add_argument(
            "--limit", type=positive_int, default=None, help="most messages to handle (default: PYMESS_SMS_BATCH_SIZE)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["type"] != "sms":
            raise CommandError(f"--type={options['type']}: this command sends only SMS messages (--type=sms)")
        service = get_service()
        limit = options["limit"] or service.config.batch_size
        handled = recovered = 0
        states: Counter[str] = Counter()
        while handled < limit:
            report = service.process_outbox(limit=min(service.config.batch_size, limit - handled))
            recovered += report.recovered
            if not report.claimed:
                break
            handled += report.claimed
            states.update({state.value: count for state, count in report.states.items()})
        summary = ", ".join(f"{state}={count}" for state, count in sorted(states.items())) or "nothing due"
        self.stdout.write(f"handled {handled} message(s): {summary}; {recovered} recovered from stopped workers")
