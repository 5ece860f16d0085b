"""``smscore purge``: delete finished messages older than an age (the retention period)."""

from __future__ import annotations

import argparse

from smscore.cli.app import Context, command
from smscore.cli.arguments import duration, json_flag, positive_int

__all__ = ["purge"]


def _purge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--older-than", type=duration, required=True, metavar="AGE", help="e.g. 90d, 12h, 2w")
    parser.add_argument("--batch-size", type=positive_int, default=1000, help="messages deleted per transaction")
    json_flag(parser)


@command("purge", help="delete finished messages older than an age (retention)", arguments=_purge_arguments)
def purge(ctx: Context, args: argparse.Namespace) -> int:
    """Delete DELIVERED, DEBUG, ERROR and SENT messages last changed longer ago than --older-than."""
    deleted = ctx.service.purge(args.older_than, batch_size=args.batch_size)
    ctx.emit({"deleted": deleted}, lambda: f"deleted {deleted} finished message(s)")
    return 0
