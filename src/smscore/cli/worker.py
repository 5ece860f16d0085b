"""``smscore worker``: publish queued messages (outbox mode) until stopped, or once with ``--once``; with
``--async``, on an event loop through the asyncio service."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from smscore.cli.app import CLIError, Context, command
from smscore.cli.arguments import json_flag, positive_int
from smscore.cli.delivery import report_failures
from smscore.cli.output import format_table

if TYPE_CHECKING:
    from smscore.worker import WorkerStats

__all__ = ["worker"]


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="stop when nothing is due instead of waiting for more")
    parser.add_argument(
        "--async",
        dest="use_asyncio",
        action="store_true",
        help="run on an event loop (the asyncio service): up to max_in_flight provider requests at once",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=1,
        help="threads (with --async, tasks) claiming and publishing (default 1)",
    )
    parser.add_argument("--batch-size", type=positive_int, help="messages claimed per step (default: batch_size)")
    parser.add_argument("--idle", type=float, default=1.0, metavar="SECONDS", help="wait when nothing is due")
    json_flag(parser)


@command("worker", help="publish queued messages (outbox mode) until stopped", arguments=_worker_arguments)
def worker(ctx: Context, args: argparse.Namespace) -> int:
    """Drain the outbox; SIGTERM or Ctrl-C finishes the batch in hand, then stops (with ``--async``, a second
    one cancels it: its messages stay leased until lease recovery)."""
    from smscore.states import SMSState

    if args.idle <= 0:
        raise CLIError("--idle must be positive")
    config = ctx.config
    if not config.batch_sending:
        ctx.note(
            "batch_sending is off, so send publishes at once; the worker only picks up retries and scheduled messages"
        )
    # With --once the queue is the work to do; a running worker has no end, so only its rate is shown.
    total = ctx.service.messages.count(SMSState.WAITING) if args.once and ctx.draws_progress else None
    with ctx.log.folding(hold=args.once) as fold, ctx.progress("publishing", total=total) as progress:
        totals, cancelled = (_run_async if args.use_asyncio else _run)(
            ctx, args, lambda stats: progress.set_done(stats.claimed)
        )
        if totals.failures or cancelled:
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
    if cancelled:
        raise CLIError(
            "stopped by a second signal: the step in hand was cancelled; its messages stay leased until the lease "
            "ends (lease_seconds), then the next worker recovers them"
        )
    return 0


def _run(ctx: Context, args: argparse.Namespace, on_step: Callable[[WorkerStats], object]) -> tuple[WorkerStats, bool]:
    """The threaded worker on the synchronous service; it is never cancelled."""
    from smscore.worker import Worker

    runner = Worker(
        ctx.service, concurrency=args.concurrency, batch_size=args.batch_size, idle_seconds=args.idle, on_step=on_step
    )
    runner.install_signal_handlers()
    return runner.run(once=args.once), False


def _run_async(
    ctx: Context, args: argparse.Namespace, on_step: Callable[[WorkerStats], object]
) -> tuple[WorkerStats, bool]:
    """The asyncio worker on the asyncio service, built and closed in its own event loop; whether a second signal
    cancelled it."""
    import asyncio

    from smscore.bootstrap import build_async_service
    from smscore.worker import AsyncWorker

    async def work() -> tuple[WorkerStats, bool]:
        async with build_async_service(ctx.config) as service:
            runner = AsyncWorker(
                service,
                concurrency=args.concurrency,
                batch_size=args.batch_size,
                idle_seconds=args.idle,
                on_step=on_step,
            )
            runner.install_signal_handlers()
            return await runner.run(once=args.once), runner.cancelled

    return asyncio.run(work())
