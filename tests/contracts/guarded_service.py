"""The guards as a user meets them, on every storage: subclass :class:`GuardedServiceContract` and provide a
``storage`` fixture, a fresh :class:`~smscore.ports.Storage` with its opt-out list and refusal totals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from smscore import (
    RecipientNotAllowedError,
    RecipientOptedOutError,
    RecipientRateLimitedError,
    Refusal,
    SMSConfig,
    SMSService,
    SMSState,
    SMSTemplate,
    Storage,
)
from smscore.testing import FixedClock, ScriptedProvider

CZ = "+420777123456"
OTHER_CZ = "+420777000111"
SK = "+421905123456"
DE = "+4915112345678"


class GuardedServiceContract:
    """send, send_template and send_many refuse what the guards refuse, store nothing for it, count it and tell."""

    @pytest.fixture
    def storage(self) -> Storage:
        raise NotImplementedError("a storage's test class provides the storage fixture")

    @pytest.fixture
    def provider(self) -> ScriptedProvider:
        return ScriptedProvider()

    @pytest.fixture
    def refusals(self) -> list[Refusal]:
        return []

    @pytest.fixture
    def clock(self) -> FixedClock:
        return FixedClock()

    @pytest.fixture
    def service(
        self, storage: Storage, provider: ScriptedProvider, refusals: list[Refusal], clock: FixedClock
    ) -> SMSService:
        config = SMSConfig.from_mapping(
            {
                "default_region": "CZ",
                "allowed_countries": ["CZ", "+421"],
                "opt_out_exempt_tags": ["otp"],
                "recipient_limits": {"otp": {"count": 3, "per": "1h"}, "welcome": {"count": 1, "per": "1d"}},
            }
        )
        return SMSService(
            messages=storage.messages,
            templates=storage.templates,
            providers={"default": provider},
            config=config,
            clock=clock,
            opt_outs=storage.opt_outs,
            refusals=storage.refusals,
            refusal_subscribers=[refusals.append],
        )

    def test_send_to_an_opted_out_number_raises_and_stores_and_sends_nothing(
        self, service: SMSService, provider: ScriptedProvider, refusals: list[Refusal]
    ) -> None:
        """The number is read as sending reads it (a national number and the E.164 one are the same)."""
        service.opt_outs.add("777 123 456", reason="STOP", source="test")
        with pytest.raises(RecipientOptedOutError) as info:
            service.send(CZ, "Spring sale", tag="marketing")
        assert (info.value.recipient, info.value.tag, info.value.reason) == (CZ, "marketing", "opted_out")
        assert service.messages.find() == []
        assert provider.published == []
        assert service.refusals.totals() == {("opted_out", "marketing"): 1}
        assert [(r.recipient, r.tag, r.reason) for r in refusals] == [(CZ, "marketing", "opted_out")]

    def test_a_message_waiting_for_its_time_is_not_sent_to_a_number_that_opted_out_meanwhile(
        self, service: SMSService, provider: ScriptedProvider, refusals: list[Refusal], clock: FixedClock
    ) -> None:
        """The guards are asked again when the outbox takes a stored message: one scheduled before its number
        opted out ends in ERROR, counted and told like any refusal; an exempt tag still goes out."""
        later = clock.now() + timedelta(hours=2)
        reminder = service.send(CZ, "Your appointment is tomorrow", tag="reminder", send_at=later)
        code = service.send(CZ, "Your code is 1234", tag="otp", send_at=later)
        service.opt_outs.add(CZ, reason="STOP", source="test")
        clock.advance(hours=3)
        report = service.process_outbox()
        assert report.claimed == 2
        ended = service.messages.get(reminder.id or 0)
        assert ended.state is SMSState.ERROR
        assert "opted out" in (ended.error or "")
        assert [m.id for m in provider.published] == [code.id]
        assert service.refusals.totals() == {("opted_out", "reminder"): 1}
        assert [(r.recipient, r.tag, r.reason) for r in refusals] == [(CZ, "reminder", "opted_out")]

    def test_send_template_to_an_opted_out_number_raises(self, service: SMSService) -> None:
        """send_template refuses as send does, before anything is stored."""
        service.templates.save(SMSTemplate(slug="sale", body="Sale: {{ what }}"))
        service.opt_outs.add(CZ)
        with pytest.raises(RecipientOptedOutError):
            service.send_template(CZ, "sale", {"what": "shoes"})
        assert service.messages.find() == []

    def test_an_exempt_tag_reaches_an_opted_out_number(self, service: SMSService) -> None:
        """A one-time code the person asked for still goes out."""
        service.opt_outs.add(CZ)
        assert service.send(CZ, "Your code is 1234", tag="otp").state is SMSState.SENT

    def test_removing_the_opt_out_lets_messages_through_again(self, service: SMSService) -> None:
        """Off the list, the number gets messages again."""
        service.opt_outs.add(CZ)
        assert service.opt_outs.remove("777123456") is not None
        assert service.send(CZ, "Welcome back").state is SMSState.SENT

    def test_a_country_not_allowed_is_refused(self, service: SMSService, refusals: list[Refusal]) -> None:
        """Regions and calling codes both allow; anything else raises RecipientNotAllowedError."""
        assert service.send(SK, "Ahoj").state is SMSState.SENT
        with pytest.raises(RecipientNotAllowedError):
            service.send(DE, "Hallo", tag="otp")
        assert [m.recipient for m in service.messages.find()] == [SK]
        assert service.refusals.totals() == {("not_allowed", "otp"): 1}
        assert refusals[0].reason == "not_allowed"

    def test_the_recipient_limit_refuses_the_excess_until_the_window_rolls(
        self, service: SMSService, refusals: list[Refusal], clock: FixedClock
    ) -> None:
        """Three otp messages an hour to one number: the fourth is refused; an hour later one goes again."""
        for _ in range(3):
            service.send(CZ, "Your code is 1234", tag="otp")
            clock.advance(minutes=1)
        with pytest.raises(RecipientRateLimitedError) as info:
            service.send(CZ, "Your code is 1234", tag="otp")
        assert (info.value.count, info.value.per.total_seconds()) == (3, 3600)
        assert service.send(OTHER_CZ, "Your code is 1234", tag="otp").state is SMSState.SENT
        assert service.send(CZ, "Not limited", tag="orders").state is SMSState.SENT
        clock.advance(minutes=58)
        assert service.send(CZ, "Your code is 1234", tag="otp").state is SMSState.SENT
        assert len(service.messages.find(recipient=CZ, tag="otp")) == 4
        assert service.refusals.totals() == {("rate_limited", "otp"): 1}
        assert [r.reason for r in refusals] == ["rate_limited"]

    def test_a_retry_with_the_idempotency_key_returns_the_stored_message(self, service: SMSService) -> None:
        """A message admitted once is returned by its key even after the number opts out: nothing new is sent."""
        first = service.send(CZ, "Your order shipped", idempotency_key="order-1")
        service.opt_outs.add(CZ)
        assert service.send(CZ, "Your order shipped", idempotency_key="order-1") == first

    def test_send_many_skips_refused_items_and_sends_the_others(
        self, service: SMSService, provider: ScriptedProvider
    ) -> None:
        """Opted out, not allowed and over the limit are reported by index; the rest is stored and sent."""
        service.opt_outs.add(OTHER_CZ)
        items: list[Any] = [
            CZ,
            OTHER_CZ,
            DE,
            {"recipient": SK, "tag": "welcome"},
            {"recipient": SK, "tag": "welcome"},
            {"recipient": OTHER_CZ, "tag": "otp", "content": "Your code is 99"},
        ]
        sent = service.send_many(items, "Hello")
        assert [(m.recipient, m.tag) for m in sent] == [(CZ, None), (SK, "welcome"), (OTHER_CZ, "otp")]
        assert {m.state for m in sent} == {SMSState.SENT}
        assert [(r.index, r.recipient, r.error.reason) for r in sent.refused] == [
            (1, OTHER_CZ, "opted_out"),
            (2, DE, "not_allowed"),
            (4, SK, "rate_limited"),
        ]
        assert len(service.messages.find()) == 3
        assert len(provider.published) == 3
        assert service.refusals.totals() == {
            ("opted_out", None): 1,
            ("not_allowed", None): 1,
            ("rate_limited", "welcome"): 1,
        }

    def test_a_message_refused_as_opted_out_counts_toward_no_limit(
        self, service: SMSService, refusals: list[Refusal]
    ) -> None:
        """One welcome a day: refused while the number is opted out (by send and by send_many), the one welcome
        still goes out once the number is off the list; the next is over the limit."""
        service.opt_outs.add(SK)
        with pytest.raises(RecipientOptedOutError):
            service.send(SK, "Welcome", tag="welcome")
        batch = service.send_many([{"recipient": SK, "tag": "welcome"}, {"recipient": SK, "tag": "welcome"}], "Hi")
        assert [(r.index, r.error.reason) for r in batch.refused] == [(0, "opted_out"), (1, "opted_out")]
        service.opt_outs.remove(SK)
        assert service.send(SK, "Welcome", tag="welcome").state is SMSState.SENT
        with pytest.raises(RecipientRateLimitedError):
            service.send(SK, "Welcome", tag="welcome")
        assert service.refusals.totals() == {("opted_out", "welcome"): 3, ("rate_limited", "welcome"): 1}
        assert [m.recipient for m in service.messages.find()] == [SK]

    def test_send_many_with_every_item_refused_stores_nothing(self, service: SMSService) -> None:
        """An empty result with every item in ``refused``; nothing stored, nothing sent."""
        sent = service.send_many([DE, DE], "Hallo")
        assert list(sent) == []
        assert [r.index for r in sent.refused] == [0, 1]
        assert service.messages.find() == []

    def test_the_outbox_refuses_before_storing_too(self, storage: Storage) -> None:
        """With batch sending, a refused message is never stored WAITING."""
        service = SMSService(
            messages=storage.messages,
            templates=storage.templates,
            providers={"default": ScriptedProvider()},
            config=SMSConfig.from_mapping({"batch_sending": True}),
            opt_outs=storage.opt_outs,
            refusals=storage.refusals,
        )
        service.opt_outs.add(CZ)
        with pytest.raises(RecipientOptedOutError):
            service.send(CZ, "Hello")
        assert service.messages.find() == []
