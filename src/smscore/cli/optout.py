"""``smscore optout add|remove|list|import|sync``: the opt-out list (numbers that get no SMS).

Thin commands over :attr:`smscore.SMSService.opt_outs`: numbers are read as ``send`` reads them
(``default_region`` for national ones); ``import`` reads a text or CSV file (one number a line, an optional reason
in a second column) and names each line it could not use; ``sync`` copies a provider's own list (Amazon SNS).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from smscore.cli.app import CLIError, Context, command
from smscore.cli.arguments import json_flag, positive_int
from smscore.cli.files import lines, opened
from smscore.cli.output import format_table

if TYPE_CHECKING:
    from smscore.guards import OptOut
    from smscore.service.opt_outs import OptOutImport

__all__ = ["optout_add", "optout_import", "optout_list", "optout_remove", "optout_sync"]


def _entry_json(entry: OptOut) -> dict[str, object]:
    return {
        "recipient": entry.recipient,
        "reason": entry.reason,
        "source": entry.source,
        "created_at": entry.created_at.isoformat(),
    }


def _number_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipient", help="the phone number (+420777123456, or national with default_region)")
    json_flag(parser)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    _number_argument(parser)
    parser.add_argument("--reason", help="why, in a few words (kept with the number)")


@command("optout add", help="put a number on the opt-out list", arguments=_add_arguments)
def optout_add(ctx: Context, args: argparse.Namespace) -> int:
    """Opt RECIPIENT out; a number already on the list keeps its first entry."""
    entry = ctx.service.opt_outs.add(args.recipient, reason=args.reason, source="cli")
    ctx.emit(_entry_json(entry), lambda: f"{entry.recipient} is opted out (since {entry.created_at:%Y-%m-%d %H:%M})")
    return 0


@command("optout remove", help="take a number off the opt-out list", arguments=_number_argument)
def optout_remove(ctx: Context, args: argparse.Namespace) -> int:
    """Opt RECIPIENT back in; a number not on the list is an error."""
    entry = ctx.service.opt_outs.remove(args.recipient)
    if entry is None:
        raise CLIError(f"{args.recipient} is not on the opt-out list")
    ctx.emit(_entry_json(entry), lambda: f"{entry.recipient} removed from the opt-out list")
    return 0


def _list_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=positive_int, default=100, help="show at most N numbers (default 100)")
    parser.add_argument("--after", metavar="NUMBER", help="start after this number (E.164), to page")
    json_flag(parser)


@command("optout list", help="list the opted-out numbers", arguments=_list_arguments)
def optout_list(ctx: Context, args: argparse.Namespace) -> int:
    """Show the opted-out numbers in number order, with why, where from and since when."""
    found = ctx.service.opt_outs.list(limit=args.limit, after=args.after)

    def table() -> str:
        if not found:
            return "no opted-out numbers"
        rows = [(e.recipient, e.created_at, e.source, e.reason or "-") for e in found]
        return format_table(["RECIPIENT", "SINCE (UTC)", "SOURCE", "REASON"], rows)

    ctx.emit([_entry_json(e) for e in found], table)
    return 0


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="a text or CSV file, or - for standard input")
    parser.add_argument("--reason", help="reason for the lines that give none")
    json_flag(parser)


@command("optout import", help="add the numbers of a file to the opt-out list", arguments=_import_arguments)
def optout_import(ctx: Context, args: argparse.Namespace) -> int:
    """Add every number of FILE (one a line; ``number,reason``; a ``recipient`` header and ``#`` comments are
    skipped); a line that is not a number is named on stderr and the exit status is 1."""
    ctx.service  # noqa: B018  # a configuration or database problem is reported before any line is read
    with opened(args.file) as stream:
        report = ctx.service.opt_outs.import_lines(lines(stream), reason=args.reason)
    return _report(ctx, report, "line")


def _sync_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--provider", required=True, metavar="NAME", help="the configured provider to read (one that keeps a list)"
    )
    json_flag(parser)


@command("optout sync", help="copy a provider's own opt-out list (Amazon SNS)", arguments=_sync_arguments)
def optout_sync(ctx: Context, args: argparse.Namespace) -> int:
    """Add the numbers that opted out at provider NAME; run it from cron to keep the lists together."""
    return _report(ctx, ctx.service.opt_outs.sync(args.provider), "number")


def _report(ctx: Context, report: OptOutImport, what: str) -> int:
    for line, error in report.refused:
        ctx.note(f"{what} {line}: {error}")
    data = {
        "read": report.read,
        "added": report.added,
        "already": report.already,
        "refused": [{what: line, "error": error} for line, error in report.refused],
    }
    rows = [("read", report.read), ("added", report.added), ("already listed", report.already)]
    rows.append(("refused", report.refused_count))
    ctx.emit(data, lambda: format_table(["NUMBERS", "COUNT"], rows, numeric=[1]))
    if report.refused_count:
        raise CLIError(f"{report.refused_count} of {report.read} {what}(s) refused; the others were added")
    return 0
