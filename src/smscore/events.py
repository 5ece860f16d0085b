"""State-change events, for applications that react to delivery.

Every state change the service stores is announced as a :class:`StateChange` to each subscriber, in the order
the changes happened for that message. Subscribers run after the change is stored; one that raises is logged
and never breaks sending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

import attrs

from smscore.states import SMSState

__all__ = ["StateChange", "Subscriber", "notify"]

log = logging.getLogger("smscore.events")


@attrs.frozen(kw_only=True)
class StateChange:
    """One stored state change of one message."""

    message_id: int
    old_state: SMSState | None
    new_state: SMSState
    provider: str | None
    error: str | None
    at: datetime


Subscriber = Callable[[StateChange], object]


def notify(subscribers: Iterable[Subscriber], events: Iterable[StateChange]) -> None:
    """Deliver ``events`` to every subscriber; a subscriber's exception is logged and swallowed."""
    for event in events:
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception(
                    "SMS state-change subscriber %r failed for message %s (%s -> %s)",
                    subscriber,
                    event.message_id,
                    event.old_state,
                    event.new_state,
                )
