"""Retention: deleting the messages that are finished and older than the retention period, and counting what a
purge would delete."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Final

from smscore.flow import Flow, call
from smscore.service.context import ServiceContext
from smscore.states import FINAL_STATES, SMSState

__all__ = ["PURGEABLE", "purge", "purgeable"]

#: The states a purge deletes: the final ones, and SENT.
PURGEABLE: Final = FINAL_STATES | {SMSState.SENT}


def purge(
    ctx: ServiceContext,
    older_than: timedelta,
    *,
    batch_size: int = 1000,
    progress: Callable[[int], object] | None = None,
) -> Flow[int]:
    """See :meth:`smscore.service.SMSService.purge`."""
    before = ctx.clock.now() - older_than
    total = 0
    while True:
        deleted = yield from call(ctx.messages.purge, states=PURGEABLE, changed_before=before, limit=batch_size)
        total += deleted
        if progress is not None and deleted:
            progress(deleted)
        if deleted < batch_size:
            return total


def purgeable(ctx: ServiceContext, older_than: timedelta) -> Flow[dict[SMSState, int]]:
    """See :meth:`smscore.service.SMSService.purgeable`."""
    before = ctx.clock.now() - older_than
    counts: dict[SMSState, int] = {}
    for state in SMSState:
        if state in PURGEABLE:
            counts[state] = yield from call(ctx.messages.count, state, changed_before=before)
    return {state: n for state, n in counts.items() if n}
