"""``smscore check-delivery``: one delivery check over every provider that reports delivery."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from smscore.cli.app import CLIError, Context, command
from smscore.cli.arguments import json_flag
from smscore.cli.output import format_table

if TYPE_CHECKING:
    from smscore.service import DeliveryCheckReport, ProviderFailures

__all__ = ["check_delivery", "report_failures"]


def _report_table(report: DeliveryCheckReport) -> str:
    rows = [
        ("checked", report.checked),
        ("changed", report.changed),
        ("timed out", report.timed_out),
        ("recovered leases", report.recovered),
        ("failed requests", report.failed_chunks),
    ]
    return format_table(["RESULT", "MESSAGES"], rows, numeric=[1])


def report_failures(ctx: Context, failures: Mapping[str, ProviderFailures], what: str, then: str) -> None:
    """One line per provider that failed (``smscore: provider 'ats': 40 message(s) not checked: ...``), then
    raise :class:`CLIError` saying what happens next, so that the exit status is 1."""
    if not failures:
        return
    for name, failed in sorted(failures.items()):
        print(f"smscore: provider {name!r}: {failed.messages} message(s) {what}: {failed.last_error}", file=ctx.stderr)
    names = ", ".join(repr(name) for name in sorted(failures))
    raise CLIError(f"requests to {names} failed; {then} (-v shows each request)")


@command("check-delivery", help="ask the providers what became of sent messages", arguments=json_flag)
def check_delivery(ctx: Context, args: argparse.Namespace) -> int:
    """Run one delivery check, with a progress line on a terminal. Exit status 1 when a request failed."""
    from smscore.ports import DeliveryChecker

    service = ctx.service
    if not any(isinstance(provider, DeliveryChecker) for provider in service.providers.values()):
        ctx.note("no configured provider reports delivery; only idle timeouts are applied")
    total = service.pending_delivery_checks() if ctx.draws_progress else None
    with ctx.log.folding(hold=True) as fold, ctx.progress("checking delivery", total=total) as progress:
        report = service.check_delivery(progress=progress.advance)
        if report.failures:
            fold.dismiss()
    ctx.emit(attrs.asdict(report), lambda: _report_table(report))
    report_failures(ctx, report.failures, "not checked", "their messages are asked about again on the next run")
    return 0
