"""Spend per provider and day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from smscore import Outcome, SMSConfig, SMSService, SMSState
from smscore.reports import SpendRow, spend_by_day
from smscore.testing import FixedClock, InMemoryMessageRepository, InMemoryTemplateRepository, ScriptedProvider


def test_prices_add_up_per_provider_day_and_currency() -> None:
    """Two days, two providers, one unpriced message: one row per group, unpriced counted apart."""
    clock = FixedClock(datetime(2030, 5, 1, 23, 0, tzinfo=UTC))
    twilio, sns = ScriptedProvider(), ScriptedProvider()
    service = SMSService(
        messages=InMemoryMessageRepository(),
        templates=InMemoryTemplateRepository(),
        providers={"twilio": twilio, "sns": sns},
        config=SMSConfig.from_mapping(
            {"providers": {"twilio": {"backend": "dummy"}, "sns": {"backend": "dummy"}}, "default_provider": "twilio"}
        ),
        clock=clock,
    )
    twilio.will(
        Outcome.accepted(SMSState.SENT, price=Decimal("-0.0079"), price_unit="USD", segments=2),
        Outcome.accepted(SMSState.SENT, price=Decimal("-0.0079"), price_unit="USD", segments=1),
        Outcome.accepted(SMSState.SENT),
    )
    for _ in range(3):
        service.send("+420777123456", "x")
    clock.advance(hours=2)
    sns.will(Outcome.accepted(SMSState.SENT, price=Decimal("0.00645"), price_unit="USD"))
    service.send("+420777123456", "x", provider="sns")
    rows = spend_by_day(service.messages)
    assert rows == [
        SpendRow("twilio", datetime(2030, 5, 1).date(), None, Decimal(0), 0, 0, 1),
        SpendRow("twilio", datetime(2030, 5, 1).date(), "USD", Decimal("0.0158"), 2, 3, 0),
        SpendRow("sns", datetime(2030, 5, 2).date(), "USD", Decimal("0.00645"), 1, 1, 0),
    ]
    assert [r.provider for r in spend_by_day(service.messages, since=clock.now() - timedelta(minutes=5))] == ["sns"]
