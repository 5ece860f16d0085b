"""Events, for applications that react to what happens to their messages.

Every state change the service stores is announced as a :class:`StateChange` to each subscriber, in the order
the changes happened for that message. Every message a guard refuses (opted out, a country not allowed, a
recipient limit reached) is announced as a :class:`Refusal` to each refusal subscriber, so an application can
alert on a wave of refused one-time codes. Every SMS received and stored is announced as an
:class:`InboundReceived` to each inbound subscriber. Subscribers run after the fact; one that raises is logged and
never breaks sending, nor loses a received message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

import attrs

from smscore.inbound import InboundSMS
from smscore.states import SMSState

__all__ = [
    "InboundReceived",
    "InboundSubscriber",
    "Refusal",
    "RefusalSubscriber",
    "StateChange",
    "Subscriber",
    "notify",
    "notify_inbound",
    "notify_refusals",
]

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


@attrs.frozen(kw_only=True)
class Refusal:
    """A message a guard refused before anything was stored: to whom, with which tag, why (one of
    :data:`smscore.guards.REFUSAL_REASONS`), when, and the refusal's text."""

    recipient: str
    tag: str | None
    reason: str
    at: datetime
    error: str


RefusalSubscriber = Callable[[Refusal], object]


@attrs.frozen(kw_only=True)
class InboundReceived:
    """An SMS received and stored (``inbound``, with its id), and the kind of keyword it was (``"stop"``,
    ``"start"``, ``"help"``) or None. Sent once per stored message: a retried webhook announces nothing."""

    inbound: InboundSMS
    keyword: str | None


InboundSubscriber = Callable[[InboundReceived], object]


def notify_inbound(subscribers: Iterable[InboundSubscriber], event: InboundReceived) -> None:
    """Deliver ``event`` to every subscriber; a subscriber's exception is logged and swallowed."""
    for subscriber in subscribers:
        try:
            subscriber(event)
        except Exception:
            log.exception("inbound SMS subscriber %r failed for inbound SMS %s", subscriber, event.inbound.id)


def notify_refusals(subscribers: Iterable[RefusalSubscriber], refusals: Iterable[Refusal]) -> None:
    """Deliver ``refusals`` to every subscriber; a subscriber's exception is logged and swallowed."""
    _deliver(subscribers, refusals, lambda r: ("SMS refusal subscriber %r failed (%s, %s)", (r.reason, r.tag)))


def notify(subscribers: Iterable[Subscriber], events: Iterable[StateChange]) -> None:
    """Deliver ``events`` to every subscriber; a subscriber's exception is logged and swallowed."""
    _deliver(
        subscribers,
        events,
        lambda e: (
            "SMS state-change subscriber %r failed for message %s (%s -> %s)",
            (e.message_id, e.old_state, e.new_state),
        ),
    )


_E = TypeVar("_E")


def _deliver(
    subscribers: Iterable[Callable[[_E], object]],
    events: Iterable[_E],
    describe: Callable[[_E], tuple[str, tuple[object, ...]]],
) -> None:
    """Each event to each subscriber, in order; an exception is logged (``describe`` gives the log format and its
    arguments after the subscriber) and the next subscriber runs."""
    for event in events:
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                text, arguments = describe(event)
                log.exception(text, subscriber, *arguments)
