"""Retention: deleting the messages that are finished and older than the retention period."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from smscore.service.context import ServiceContext
from smscore.states import FINAL_STATES, SMSState

__all__ = ["purge"]

_PURGEABLE: Final = FINAL_STATES | {SMSState.SENT}


def purge(ctx: ServiceContext, older_than: timedelta, *, batch_size: int = 1000) -> int:
    """See :meth:`smscore.service.SMSService.purge`."""
    before = ctx.clock.now() - older_than
    total = 0
    while True:
        deleted = ctx.messages.purge(states=_PURGEABLE, changed_before=before, limit=batch_size)
        total += deleted
        if deleted < batch_size:
            return total
