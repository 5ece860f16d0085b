"""Which stored messages a read wants: one filter value that every storage translates, so each filter is
spelled once (here) and read the same way by the memory, SQL and Django repositories."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import attrs

from smscore.message import SMSMessage
from smscore.states import SMSState

__all__ = ["MessageQuery"]


def _states(value: Collection[SMSState | str] | None) -> frozenset[SMSState] | None:
    return None if value is None else frozenset(SMSState(s) for s in value)


def _aware(instance: MessageQuery, attribute: attrs.Attribute[datetime | None], value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{attribute.name} must be timezone-aware, not {value.isoformat()}")


@attrs.frozen(kw_only=True)
class MessageQuery:
    """Messages matching every filter given (``None`` filters nothing).

    ``states`` is a set of states (an empty set matches no message); ``after_id`` keeps ids above it (keyset
    paging); ``sent_before`` and ``changed_before`` are exclusive, ``sent_after`` inclusive, and a message never
    sent matches neither send-time filter. Results come in ascending id order, or highest id first with
    ``newest_first``, at most ``limit`` of them. Naive datetimes raise :class:`ValueError`: stored times are UTC.
    """

    states: frozenset[SMSState] | None = attrs.field(default=None, converter=_states)
    tag: str | None = None
    recipient: str | None = None
    provider: str | None = None
    after_id: int = 0
    sent_before: datetime | None = attrs.field(default=None, validator=_aware)
    sent_after: datetime | None = attrs.field(default=None, validator=_aware)
    changed_before: datetime | None = attrs.field(default=None, validator=_aware)
    limit: int | None = None
    newest_first: bool = False

    @property
    def is_empty(self) -> bool:
        """Whether no message can match (an empty set of states, or a limit of zero or less)."""
        return self.states == frozenset() or (self.limit is not None and self.limit <= 0)

    def matches(self, message: SMSMessage) -> bool:
        """Whether ``message`` passes every filter (``limit`` and order aside): the in-memory reading."""
        sent = message.sent_at
        return (
            (self.states is None or message.state in self.states)
            and (message.id or 0) > self.after_id
            and (self.tag is None or message.tag == self.tag)
            and (self.recipient is None or message.recipient == self.recipient)
            and (self.provider is None or message.provider == self.provider)
            and (self.sent_before is None or (sent is not None and sent < self.sent_before))
            and (self.sent_after is None or (sent is not None and sent >= self.sent_after))
            and (self.changed_before is None or message.changed_at < self.changed_before)
        )
