"""``smscore check-delivery``: one delivery check over every provider that reports delivery."""

from __future__ import annotations

import argparse

import attrs

from smscore.cli.app import CLIError, Context, command
from smscore.cli.arguments import json_flag
from smscore.cli.output import format_table
from smscore.ports import DeliveryChecker
from smscore.service import DeliveryCheckReport
from smscore.states import SMSState

__all__ = ["check_delivery"]


def _report_table(report: DeliveryCheckReport) -> str:
    rows = [
        ("checked", report.checked),
        ("changed", report.changed),
        ("timed out", report.timed_out),
        ("recovered leases", report.recovered),
        ("failed requests", report.failed_chunks),
    ]
    return format_table(["RESULT", "MESSAGES"], rows, numeric=[1])


@command("check-delivery", help="ask the providers what became of sent messages", arguments=json_flag)
def check_delivery(ctx: Context, args: argparse.Namespace) -> int:
    """Run one delivery check, with a progress line on a terminal."""
    service = ctx.service
    checkers = [name for name, provider in service.providers.items() if isinstance(provider, DeliveryChecker)]
    if not checkers:
        ctx.note("no configured provider reports delivery; only idle timeouts are applied")
    repository = service.messages
    in_flight = (SMSState.SENDING, SMSState.UNKNOWN, SMSState.SENT)
    total = sum(repository.count(state, provider=name) for name in checkers for state in in_flight)
    with ctx.log.folding(), ctx.progress("checking delivery", total=total) as progress:
        report = service.check_delivery(progress=progress.advance)
    ctx.emit(attrs.asdict(report), lambda: _report_table(report))
    if report.failed_chunks:
        raise CLIError(
            f"{report.failed_chunks} provider request(s) failed; their messages are asked about again on the next run"
        )
    return 0
