"""``manage.py purge_sms_messages --older-than 90d``: retention for stored SMS.

Deletes finished messages (DELIVERED, DEBUG, ERROR, and SENT) last changed longer ago than the given age,
in batches so no transaction grows large. Run it periodically.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from adapters_django.wiring import get_service
from smscore.durations import parse_duration


class Command(BaseCommand):
    help = "Delete finished SMS messages older than the given age (e.g. --older-than 90d)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", required=True, help="age such as 90d, 12h, 2w")
        parser.add_argument("--batch-size", type=int, default=1000, help="messages deleted per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            age = parse_duration(options["older_than"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        deleted = get_service().purge(age, batch_size=options["batch_size"])
        self.stdout.write(f"deleted {deleted} finished message(s) older than {options['older_than']}")
