"""What a provider answers, in the core's vocabulary.

A provider never returns a bool and never lets its SDK's exceptions out: it answers each message with an
:class:`Outcome`, whose ``state`` says where the message goes next.

======================  =========================================================================
``Outcome.state``       meaning
======================  =========================================================================
SENDING / SENT /        accepted (see :mod:`smscore.states` for the difference)
DELIVERED / DEBUG
ERROR                   rejected for good (bad number, blocked, invalid content, auth failure...)
WAITING                 when publishing: a transient failure, safe to try again later;
                        when checking delivery: the provider confirms it never received the message
UNKNOWN                 ambiguous: the request may have reached the provider; never re-sent blindly
======================  =========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from smscore.states import SMSState

__all__ = ["Outcome"]


@attrs.frozen(kw_only=True)
class Outcome:
    """One provider's answer about one message.

    ``provider_ref`` is the provider's id for the message; ``error`` a human-readable reason (never containing
    credentials); ``error_code`` the provider's raw code, kept verbatim; ``extra_sender_data`` JSON data merged
    into the message's; ``price``, ``price_unit`` and ``segments`` when the provider reports them.
    """

    state: SMSState
    provider_ref: str | None = None
    error: str | None = None
    error_code: str | None = None
    extra_sender_data: Mapping[str, Any] = attrs.field(factory=dict)
    price: Decimal | None = None
    price_unit: str | None = None
    segments: int | None = None

    @classmethod
    def accepted(cls, state: SMSState = SMSState.SENDING, **kwargs: Any) -> Outcome:
        """The provider took the message; ``state`` is SENDING, SENT, DELIVERED or DEBUG."""
        if state not in _ACCEPTED:
            raise ValueError(f"an accepted outcome cannot be {state.name}")
        return cls(state=state, **kwargs)

    @classmethod
    def rejected(cls, error: str, **kwargs: Any) -> Outcome:
        """The provider refused the message for good (ERROR)."""
        return cls(state=SMSState.ERROR, error=error, **kwargs)

    @classmethod
    def transient(cls, error: str, **kwargs: Any) -> Outcome:
        """The provider did not take the message but may later (WAITING, to be retried)."""
        return cls(state=SMSState.WAITING, error=error, **kwargs)

    @classmethod
    def ambiguous(cls, error: str, **kwargs: Any) -> Outcome:
        """Nobody knows whether the provider got the message (UNKNOWN)."""
        return cls(state=SMSState.UNKNOWN, error=error, **kwargs)


#: The states an accepted outcome may take (built once: every accepted message asks).
_ACCEPTED = frozenset({SMSState.SENDING, SMSState.SENT, SMSState.DELIVERED, SMSState.DEBUG})
