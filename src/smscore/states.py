"""The lifecycle of a message, as one table.

A message is born WAITING: stored, not yet handed to a provider. Publishing moves it on. A provider that
accepted it puts it in SENDING (delivery still to be learned), SENT (handed to the carrier, nothing more will be
reported) or straight to DELIVERED; the dummy provider puts it in DEBUG. A rejection is ERROR. A transient
failure (throttling, 5xx, a timeout before the request left) keeps it WAITING with one more attempt counted. When
nobody can tell whether the provider got it (a read timeout, a crash mid-publish) it becomes UNKNOWN, which a
delivery check or a callback resolves, and which goes back to WAITING only when the provider confirms that it
never saw the message. Delivery reports move SENDING and SENT on to DELIVERED or ERROR.

DELIVERED, DEBUG and ERROR are final: the table gives them no way out, so a late or out-of-order report can
never downgrade them. :data:`FINAL_STATES` is derived from the table, never listed separately.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from smscore.errors import InvalidStateTransitionError

__all__ = ["FINAL_STATES", "TRANSITIONS", "SMSState", "can_transition", "check_transition"]


class SMSState(enum.StrEnum):
    """The seven states of an SMS message. Values are the lower-case names, as stored."""

    WAITING = "waiting"
    UNKNOWN = "unknown"
    SENDING = "sending"
    SENT = "sent"
    ERROR = "error"
    DEBUG = "debug"
    DELIVERED = "delivered"

    @property
    def is_final(self) -> bool:
        """True for the states the table gives no way out of."""
        return self in FINAL_STATES


_W, _U, _SG, _ST, _E, _DB, _DL = (
    SMSState.WAITING,
    SMSState.UNKNOWN,
    SMSState.SENDING,
    SMSState.SENT,
    SMSState.ERROR,
    SMSState.DEBUG,
    SMSState.DELIVERED,
)

#: Every allowed move: state -> the states it may move to. WAITING -> WAITING is a transient failure.
TRANSITIONS: Mapping[SMSState, frozenset[SMSState]] = MappingProxyType(
    {
        _W: frozenset({_W, _SG, _ST, _DL, _DB, _E, _U}),
        _U: frozenset({_SG, _ST, _DL, _E, _W}),
        _SG: frozenset({_ST, _DL, _E}),
        _ST: frozenset({_DL, _E}),
        _DL: frozenset(),
        _DB: frozenset(),
        _E: frozenset(),
    }
)

#: States with no way out, derived from :data:`TRANSITIONS`.
FINAL_STATES: frozenset[SMSState] = frozenset(state for state, targets in TRANSITIONS.items() if not targets)


def can_transition(current: SMSState, target: SMSState) -> bool:
    """Whether the table allows moving from ``current`` to ``target``."""
    return target in TRANSITIONS[current]


def check_transition(current: SMSState, target: SMSState, message_id: int | None = None) -> None:
    """Raise :class:`~smscore.errors.InvalidStateTransitionError` unless the move is allowed."""
    if target not in TRANSITIONS[current]:
        raise InvalidStateTransitionError(current, target, message_id)
