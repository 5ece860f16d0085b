"""``manage.py check_sms_delivery``: the seed's cron command.

Asks every backend that can report delivery about the messages it has in flight, then applies the idle timeout
(``PYMESS_SMS_IDLE_MESSAGES_TIMEOUT_MINUTES``). Exits with an error when a backend request failed; the messages
concerned are asked about again on the next run.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from adapters_django.wiring import get_service


class Command(BaseCommand):
    help = "Update the delivery state of sent SMS messages and time out idle ones (run it periodically)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = get_service().check_delivery()
        self.stdout.write(
            f"checked {report.checked} message(s): {report.changed} changed, {report.timed_out} timed out, "
            f"{report.recovered} recovered from stopped workers"
        )
        if report.failed_chunks:
            raise CommandError(
                f"{report.failed_chunks} delivery check request(s) failed (see the log); "
                "their messages are checked again on the next run"
            )
