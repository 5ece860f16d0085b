"""``smscore worker``: publish queued messages (outbox mode) until stopped, or once with ``--once``."""

from __future__ import annotations

import argparse

import attrs

from smscore.cli.app import CLIError, Context, command
from smscore.cli.arguments import json_flag, positive_int
from smscore.cli.delivery import report_failures
from smscore.cli.output import format_table

__all__ = ["worker"]


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="stop when nothing is due instead of waiting for more")
    parser.add_argument(
        "--concurrency", type=positive_int, default=1, help="threads claiming and publishing (default 1)"
    )
    parser.add_argument("--batch-size", type=positive_int, help="messages claimed per step (default: batch_size)")
    parser.add_argument("--idle", type=float, default=1.0, metavar="SECONDS", help="wait when nothing is due")
    json_flag(parser)


@command("worker", help="publish queued messages (outbox mode) until stopped", arguments=_worker_arguments)
def worker(ctx: Context, args: argparse.Namespace) -> int:
    """Drain the outbox; SIGTERM or Ctrl-C finishes the batch in hand, then stops."""
    from smscore.states import SMSState
    from smscore.worker import Worker

    if args.idle <= 0:
        raise CLIError("--idle must be positive")
    service = ctx.service
    if not service.config.batch_sending:
        ctx.note(
            "batch_sending is off, so send publishes at once; the worker only picks up retries and scheduled messages"
        )
    # With --once the queue is the work to do; a running worker has no end, so only its rate is shown.
    total = service.messages.count(SMSState.WAITING) if args.once and ctx.draws_progress else None
    with ctx.log.folding(hold=args.once) as fold, ctx.progress("publishing", total=total) as progress:
        runner = Worker(
            service,
            concurrency=args.concurrency,
            batch_size=args.batch_size,
            idle_seconds=args.idle,
            on_step=lambda stats: progress.set_done(stats.claimed),
        )
        runner.install_signal_handlers()
        totals = runner.run(once=args.once)
        if totals.failures:
            fold.dismiss()
    states = {state.value: n for state, n in sorted(totals.states.items(), key=lambda item: item[0].value)}
    data = {
        "steps": totals.steps,
        "claimed": totals.claimed,
        "recovered": totals.recovered,
        "states": states,
        "failures": {name: attrs.asdict(failed) for name, failed in totals.failures.items()},
    }

    def table() -> str:
        rows = [("claimed", totals.claimed), ("recovered leases", totals.recovered)]
        rows += [(f"now {state}", n) for state, n in states.items()]
        return format_table(["RESULT", "MESSAGES"], rows, numeric=[1])

    ctx.emit(data, table)
    report_failures(
        ctx, totals.failures, "not published", "waiting messages are retried, unknown ones resolved by check-delivery"
    )
    return 0
