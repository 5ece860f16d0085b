"""Storing what a step changed (compare-and-set, one by one after a conflict) and telling the subscribers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from smscore.errors import ConcurrentUpdateError, MessageNotFoundError
from smscore.events import StateChange, notify
from smscore.flow import Flow, call
from smscore.message import SMSMessage
from smscore.service.context import ServiceContext
from smscore.states import SMSState

__all__ = ["announce_new", "notify_changes", "store"]

log = logging.getLogger("smscore")


def store(ctx: ServiceContext, old: Sequence[SMSMessage], new: Sequence[SMSMessage]) -> Flow[list[SMSMessage]]:
    """Save ``new`` (the changed versions of ``old``) and announce the state changes; return what is stored.

    A message someone else changed meanwhile keeps their write: it comes back as stored, and the loss is logged.
    """
    if not new:
        return []
    try:
        saved = yield from call(ctx.messages.save_many, new)
    except ConcurrentUpdateError:
        saved = []
        for message in new:
            saved.append((yield from _save_one(ctx, message)))
    notify_changes(ctx, old, saved)
    return saved


def _save_one(ctx: ServiceContext, message: SMSMessage) -> Flow[SMSMessage]:
    try:
        return (yield from call(ctx.messages.save, message))
    except (ConcurrentUpdateError, MessageNotFoundError) as exc:
        # Someone else changed it since we read it: their write stands, ours is dropped and said so.
        log.error("SMS message %s: outcome %s not stored: %s", message.id, message.state, exc)
        if isinstance(exc, ConcurrentUpdateError):
            return (yield from call(ctx.messages.get, message.id or 0))
        return message


def notify_changes(ctx: ServiceContext, old: Sequence[SMSMessage], saved: Sequence[SMSMessage]) -> None:
    """Tell the subscribers of each message whose state or attempts differ between ``old`` and ``saved``."""
    if not ctx.subscribers:
        return
    before = {m.id: m for m in old}
    changes = []
    for m in saved:
        was = before.get(m.id)
        if was is not None and (was.state is not m.state or was.attempts != m.attempts):
            changes.append(_change(m, old_state=was.state, at=m.changed_at))
    notify(ctx.subscribers, changes)


def announce_new(ctx: ServiceContext, stored: Sequence[SMSMessage]) -> None:
    """Tell the subscribers about newly stored messages."""
    if ctx.subscribers:
        notify(ctx.subscribers, (_change(m, old_state=None, at=m.created_at) for m in stored))


def _change(message: SMSMessage, *, old_state: SMSState | None, at: datetime) -> StateChange:
    return StateChange(
        message_id=message.id or 0,
        old_state=old_state,
        new_state=message.state,
        provider=message.provider,
        error=message.error if old_state is not None else None,
        at=at,
    )
