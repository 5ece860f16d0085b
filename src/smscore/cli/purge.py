"""``smscore purge``: delete finished messages older than an age (the retention period), or with ``--dry-run``
count what would go."""

from __future__ import annotations

import argparse

from smscore.cli.app import Context, command
from smscore.cli.arguments import duration, json_flag, positive_int
from smscore.cli.output import format_table

__all__ = ["purge"]


def _purge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--older-than", type=duration, required=True, metavar="AGE", help="e.g. 90d, 12h, 2w")
    parser.add_argument("--batch-size", type=positive_int, default=1000, help="messages deleted per transaction")
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted, per state, and delete nothing"
    )
    json_flag(parser)


@command("purge", help="delete finished messages older than an age (retention)", arguments=_purge_arguments)
def purge(ctx: Context, args: argparse.Namespace) -> int:
    """Delete DELIVERED, DEBUG, ERROR and SENT messages last changed longer ago than --older-than."""
    service = ctx.service
    if args.dry_run:
        counts = {state.value: n for state, n in service.purgeable(args.older_than).items()}
        total = sum(counts.values())

        def table() -> str:
            rows = [*counts.items(), ("total", total)]
            return f"would delete {total} finished message(s)\n" + format_table(
                ["STATE", "MESSAGES"], rows, numeric=[1]
            )

        ctx.emit({"would_delete": total, "states": counts}, table)
        return 0
    ahead = sum(service.purgeable(args.older_than).values()) if ctx.draws_progress else None
    with ctx.progress("purging", total=ahead) as progress:
        deleted = service.purge(args.older_than, batch_size=args.batch_size, progress=progress.advance)
    ctx.emit({"deleted": deleted}, lambda: f"deleted {deleted} finished message(s)")
    return 0
