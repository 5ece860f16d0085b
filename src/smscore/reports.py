"""Reports over stored messages that no single query port gives: spend per provider and day.

Providers report prices when they know them (Twilio ``price``, SNS delivery logs' ``priceInUSD``); this adds
them up per provider, day (UTC, by send time) and currency, paging through the repository with ``scan`` so
memory stays flat however many messages there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import attrs

from smscore.message import SMSMessage
from smscore.ports import MessageRepository
from smscore.states import SMSState

__all__ = ["SpendRow", "spend_by_day"]

_PAGE = 1000


@attrs.frozen
class SpendRow:
    """What one provider cost on one day in one currency: the sum of known prices, over how many messages
    (and segments); ``unpriced`` counts that day's messages whose price is not known (yet)."""

    provider: str | None
    day: date
    currency: str | None
    amount: Decimal
    messages: int
    segments: int
    unpriced: int


def _sent(repository: MessageRepository, since: datetime | None) -> Iterator[SMSMessage]:
    after_id = 0
    while True:
        page = repository.scan(states=set(SMSState), limit=_PAGE, after_id=after_id, sent_after=since)
        if not page:
            return
        after_id = page[-1].id or 0
        yield from (message for message in page if message.sent_at is not None)


def spend_by_day(repository: MessageRepository, *, since: datetime | None = None) -> list[SpendRow]:
    """Spend per (provider, UTC day of sending, currency), sorted by day then provider, for messages sent
    at or after ``since`` (all when None). Messages without a price are counted in ``unpriced``."""
    totals: dict[tuple[str | None, date, str | None], list[Decimal | int]] = {}
    for message in _sent(repository, since):
        assert message.sent_at is not None  # _sent yields sent messages only
        day = message.sent_at.astimezone(UTC).date()
        unit = message.price_unit if message.price is not None else None
        row = totals.setdefault((message.provider, day, unit), [Decimal(0), 0, 0, 0])
        if message.price is None:
            row[3] += 1
        else:
            row[0] += abs(message.price)
            row[1] += 1
            row[2] += message.segments
    rows = [
        SpendRow(
            provider=provider,
            day=day,
            currency=unit,
            amount=Decimal(values[0]),
            messages=int(values[1]),
            segments=int(values[2]),
            unpriced=int(values[3]),
        )
        for (provider, day, unit), values in totals.items()
    ]
    return sorted(rows, key=lambda r: (r.day, r.provider or "", r.currency or ""))
