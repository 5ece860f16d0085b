"""``manage.py import_pymess [--dry-run] [--batch-size=N] [--send-deadline=SECONDS]``: copy a django-pymess
project's templates, messages and related objects from the ancestor's tables into this app's.

Safe to run twice (nothing is copied twice) and to interrupt (each batch is one transaction); the ancestor's
tables are only read. See :mod:`adapters_django.pymess_import` for what each row becomes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from adapters_django.management import positive_int
from adapters_django.pymess_import import ANCESTOR_STATES, ImportReport, PymessImporter
from adapters_django.wiring import get_service


class Command(BaseCommand):
    help = "Copy django-pymess's SMS templates, messages and related objects into smscore's tables."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="read and report, write nothing")
        parser.add_argument("--batch-size", type=positive_int, default=500, help="messages per transaction (500)")
        parser.add_argument(
            "--send-deadline",
            type=positive_int,
            default=None,
            help="seconds after creation a WAITING / ERROR_RETRY message may still be sent; older ones are copied "
            "as ERROR (default: PYMESS_SMS_BATCH_MAX_SECONDS_TO_SEND, else the ancestor's 3600)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        service = get_service()
        using = getattr(service.messages, "using", None) or "default"
        deadline = options["send_deadline"]
        importer = PymessImporter(
            service,
            using=using,
            batch_size=options["batch_size"],
            dry_run=options["dry_run"],
            send_deadline=timedelta(seconds=deadline) if deadline is not None else None,
            progress=self.stdout.write,
        )
        missing = importer.missing_tables()
        if missing:
            raise CommandError(f"django-pymess table(s) not found in database {using!r}: {', '.join(missing)}")
        report = importer.run()
        for line in summary(report, dry_run=options["dry_run"]):
            self.stdout.write(line)


def summary(report: ImportReport, *, dry_run: bool) -> list[str]:
    """The lines the command ends with: counts, per-state counts, and everything not carried over as it was."""
    verb = "would copy" if dry_run else "copied"
    lines = [
        f"templates: {verb} {report.templates_copied}, already here {report.templates_present}",
        f"messages: {verb} {report.messages_copied} of {report.messages_total}, already here {report.messages_present}",
    ]
    if not dry_run:
        lines.append(f"related objects: copied {report.related_objects_copied}")
    for (number, state), count in sorted(report.states.items(), key=lambda item: (item[0][0], item[0][1].value)):
        lines.append(f"  state {number} {ANCESTOR_STATES[number][0]} -> {state.value}: {count}")
    notes = [
        *(f"template {slug!r} has no body: not copied" for slug in report.templates_without_body),
        *(
            f"state {number} is not a django-pymess state: {n} message(s) not copied"
            for number, n in sorted(report.unknown_states.items())
        ),
        *(
            f"backend {path!r} is not configured: {n} message(s) kept it, with no provider"
            for path, n in sorted(report.unknown_backends.items())
        ),
    ]
    if report.expired_waiting:
        notes.append(f"{report.expired_waiting} waiting message(s) past the send deadline: copied as error")
    if report.renumbered:
        notes.append(f"{report.renumbered} message(s) got a new id (theirs was taken)")
    if report.unresolvable_in_flight:
        notes.append(
            f"{report.unresolvable_in_flight} in-flight ATS / SMS-operator message(s) cannot be asked about "
            "(new id or another UNIQ_PREFIX): the idle timeout ends them"
        )
    lines.extend(f"note: {note}" for note in notes)
    return lines
