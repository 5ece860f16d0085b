"""Receiving SMS through the service: stored once, linked to the message it answers, keywords acted on (opt-out,
opt-in, help and their replies) and announced to subscribers, on the in-memory storage with a provider that
receives without signatures (the signed providers have their own tests)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import smscore
from smscore import (
    CallbackError,
    InboundQuery,
    InboundReceived,
    InboundReport,
    InboundSMS,
    SMSService,
    SMSState,
    WebhookRequest,
)
from smscore.inbound import REPLY_TAG, inbound_keywords
from smscore.testing import FixedClock, ScriptedProvider
from tests.async_twin import under_test

OURS = "+15005550006"
PERSON = "+420777123456"


class ReceivingProvider(ScriptedProvider):
    """A scripted provider that also receives SMS: the request body is the report as JSON (no signature)."""

    def parse_inbound(self, request: WebhookRequest) -> InboundReport | None:
        fields = json.loads(request.body)
        return None if fields is None else InboundReport(**fields)


def webhook(content: str, ref: str = "SM1", sender: str = PERSON, **more: Any) -> WebhookRequest:
    fields = {"sender": sender, "recipient": OURS, "content": content, "provider_ref": ref, **more}
    return WebhookRequest("https://sms.example.com/inbound/default/", json.dumps(fields).encode())


pytestmark = pytest.mark.usefixtures("both_services")


def make_service(**config: Any) -> tuple[SMSService, ReceivingProvider, FixedClock]:
    provider, clock = ReceivingProvider(), FixedClock()
    keywords = config.pop("inbound_keywords", {})
    service = SMSService(
        messages=smscore.testing.InMemoryMessageRepository(),
        templates=smscore.testing.InMemoryTemplateRepository(),
        providers={"default": provider},
        config=smscore.SMSConfig.from_mapping({"inbound_keywords": keywords, **config}),
        clock=clock,
    )
    return under_test(service), provider, clock


REPLIES = {
    "stop": {"reply": "You will get no more SMS. Text START to undo."},
    "start": {"reply": "Welcome back."},
    "help": {"reply": "Call +420 800 123 456."},
}


class TestStoring:
    def test_a_received_sms_is_stored_with_the_provider_name_and_time(self) -> None:
        """handle_inbound returns the stored SMS; service.inbound finds it."""
        service, _, clock = make_service()
        sms = service.handle_inbound("default", webhook("See you at 10", extra_data={"FromCountry": "CZ"}))
        assert isinstance(sms, InboundSMS)
        assert sms.id is not None
        assert (sms.provider, sms.sender, sms.recipient, sms.content) == ("default", PERSON, OURS, "See you at 10")
        assert sms.received_at == clock.now()
        assert sms.extra_data == {"FromCountry": "CZ"}
        assert service.inbound.get(sms.id) == sms
        assert service.inbound.count(InboundQuery()) == 1

    def test_a_retried_webhook_returns_the_stored_sms_and_does_nothing_more(self) -> None:
        """The same provider reference twice: one row, one event, one opt-out, one reply."""
        service, provider, _ = make_service(inbound_keywords=REPLIES)
        events: list[InboundReceived] = []
        service.subscribe_inbound(events.append)
        first = service.handle_inbound("default", webhook("STOP"))
        again = service.handle_inbound("default", webhook("STOP"))
        assert again == first
        assert service.inbound.count(InboundQuery()) == 1
        assert len(events) == 1
        assert len(provider.published) == 1

    def test_a_provider_that_receives_nothing_is_refused(self) -> None:
        """An unknown name, or a provider without the role, raises CallbackError; nothing is stored."""
        service = smscore.build_service({"storage": "memory", "provider": "dummy"})
        with pytest.raises(CallbackError):
            service.handle_inbound("default", webhook("hi"))
        with pytest.raises(CallbackError):
            service.handle_inbound("nope", webhook("hi"))
        assert service.inbound.count(InboundQuery()) == 0

    def test_a_request_without_a_message_stores_nothing(self) -> None:
        """A receiver answering None (a subscription confirmation) stores nothing and returns None."""
        service, _, _ = make_service()
        assert service.handle_inbound("default", WebhookRequest("https://x/", b"null")) is None
        assert service.inbound.count(InboundQuery()) == 0


class TestReplyLinking:
    def test_the_latest_message_sent_to_the_sender_from_that_number_is_linked(self) -> None:
        """Of the messages to the sender, the newest sent within the window from the number written to."""
        service, _, clock = make_service()
        service.send(PERSON, "Reminder: tomorrow at 10", sender=OURS)
        latest = service.send(PERSON, "Reply YES to confirm", sender=OURS)
        service.send(PERSON, "From another number", sender="+15005550009")
        service.send("+420777000111", "To someone else", sender=OURS)
        clock.advance(hours=2)
        sms = service.handle_inbound("default", webhook("Yes"))
        assert sms is not None
        assert sms.reply_to == latest.id

    def test_a_message_sent_without_a_sender_counts_for_the_same_provider(self) -> None:
        """Sent with the provider's own number (no sender), it is the one answered."""
        service, _, _ = make_service()
        sent = service.send(PERSON, "Reply YES to confirm")
        sms = service.handle_inbound("default", webhook("Yes"))
        assert sms is not None
        assert sms.reply_to == sent.id

    def test_nothing_is_linked_outside_the_window_or_with_a_zero_window(self) -> None:
        """A message sent longer ago than inbound_reply_window is not linked; 0 links nothing."""
        service, _, clock = make_service(inbound_reply_window="1h")
        service.send(PERSON, "Reply YES to confirm", sender=OURS)
        clock.advance(hours=2)
        assert service.handle_inbound("default", webhook("Yes")).reply_to is None  # type: ignore[union-attr]
        service, _, _ = make_service(inbound_reply_window=0)
        service.send(PERSON, "Reply YES to confirm", sender=OURS)
        assert service.handle_inbound("default", webhook("Yes")).reply_to is None  # type: ignore[union-attr]

    def test_the_message_the_provider_names_wins(self) -> None:
        """A report naming the provider reference of a message we sent links that one."""
        service, _, _ = make_service()
        named = service.send(PERSON, "First", sender=OURS)
        service.send(PERSON, "Second", sender=OURS)
        sms = service.handle_inbound("default", webhook("Yes", replies_to_ref=named.provider_ref))
        assert sms is not None
        assert sms.reply_to == named.id


class TestKeywords:
    @pytest.mark.parametrize(
        "content", ["STOP", "stop", "  Stop\n", "\tunsubscribe ", "Quit", "cancel", "END", "stopall"]
    )
    def test_stop_words_in_any_case_and_spacing_opt_the_sender_out(self, content: str) -> None:
        """The whole message, any case, surrounding whitespace ignored: the sender is on the list, source inbound."""
        service, _, _ = make_service()
        service.handle_inbound("default", webhook(content))
        entry = service.opt_outs.get(PERSON)
        assert entry is not None
        assert entry.source == "inbound"
        with pytest.raises(smscore.RecipientOptedOutError):
            service.send(PERSON, "Sale!")

    @pytest.mark.parametrize("content", ["Please STOP sending me these", "stop it", "STOP!", "don't stop", "S T O P"])
    def test_a_longer_message_with_the_word_is_not_a_keyword(self, content: str) -> None:
        """A sentence that contains STOP is stored and announced, and opts nobody out."""
        service, provider, _ = make_service(inbound_keywords=REPLIES)
        events: list[InboundReceived] = []
        service.subscribe_inbound(events.append)
        service.handle_inbound("default", webhook(content))
        assert PERSON not in service.opt_outs
        assert events[0].keyword is None
        assert provider.published == []

    def test_stop_is_confirmed_once_and_then_nothing_more_reaches_the_number(self) -> None:
        """The one confirmation goes out (tagged, from the number written to) although the number is now opted
        out; a HELP or a second STOP afterwards gets no reply."""
        service, provider, _ = make_service(inbound_keywords=REPLIES)
        service.handle_inbound("default", webhook("STOP", ref="SM1"))
        [confirmation] = provider.published
        assert confirmation.content == REPLIES["stop"]["reply"]
        assert (confirmation.recipient, confirmation.sender, confirmation.tag) == (PERSON, OURS, REPLY_TAG)
        assert service.messages.get(confirmation.id or 0).state is SMSState.SENT
        service.handle_inbound("default", webhook("STOP", ref="SM2"))
        service.handle_inbound("default", webhook("HELP", ref="SM3"))
        assert len(provider.published) == 1
        assert service.refusals.totals() == {("opted_out", REPLY_TAG): 1}
        assert service.inbound.count(InboundQuery()) == 3

    def test_start_opts_back_in_and_is_confirmed(self) -> None:
        """START takes the number off the list and replies; a START from a number not on the list gets none."""
        service, provider, _ = make_service(inbound_keywords=REPLIES)
        service.opt_outs.add(PERSON, reason="STOP")
        service.handle_inbound("default", webhook(" yes ", ref="SM1"))
        assert PERSON not in service.opt_outs
        assert [m.content for m in provider.published] == ["Welcome back."]
        service.handle_inbound("default", webhook("START", ref="SM2"))
        assert len(provider.published) == 1

    def test_help_is_answered_and_changes_nothing(self) -> None:
        """HELP or INFO gets the help text; the opt-out list is untouched."""
        service, provider, _ = make_service(inbound_keywords=REPLIES)
        service.handle_inbound("default", webhook("info"))
        assert [m.content for m in provider.published] == ["Call +420 800 123 456."]
        assert service.opt_outs.count() == 0

    def test_without_replies_keywords_still_act_and_nothing_is_sent(self) -> None:
        """The defaults have no reply text: STOP opts out silently."""
        service, provider, _ = make_service()
        service.handle_inbound("default", webhook("STOP"))
        assert PERSON in service.opt_outs
        assert provider.published == []

    def test_configured_words_replace_the_defaults(self) -> None:
        """inbound_keywords.stop.words replaces STOP and the others; an empty list switches the kind off."""
        service, _, _ = make_service(inbound_keywords={"stop": {"words": ["ODHLASIT"]}, "help": {"words": []}})
        service.handle_inbound("default", webhook("STOP", ref="SM1"))
        assert PERSON not in service.opt_outs
        service.handle_inbound("default", webhook("odhlasit", ref="SM2"))
        assert PERSON in service.opt_outs

    def test_bad_keyword_tables_name_the_key(self) -> None:
        """An unknown kind, a word with a space, a word of two kinds: ConfigurationError naming the key."""
        for value, key in [
            ({"later": {}}, "inbound_keywords.later"),
            ({"stop": {"words": ["two words"]}}, "inbound_keywords.stop.words"),
            ({"help": {"words": ["STOP"]}}, "inbound_keywords"),
        ]:
            with pytest.raises(smscore.ConfigurationError) as caught:
                inbound_keywords(value, "inbound_keywords")
            assert caught.value.key == key


class TestSubscribers:
    def test_subscribers_get_the_stored_sms_and_its_keyword(self) -> None:
        """An InboundReceived with the stored SMS (with its id) and the keyword's kind."""
        service, _, _ = make_service()
        events: list[InboundReceived] = []
        service.subscribe_inbound(events.append)
        sms = service.handle_inbound("default", webhook("Help "))
        assert events == [InboundReceived(inbound=sms, keyword="help")]  # type: ignore[arg-type]

    def test_a_failing_subscriber_is_logged_and_the_sms_is_kept(self, caplog: pytest.LogCaptureFixture) -> None:
        """The subscriber's exception is logged; the SMS is stored and returned; later subscribers still run."""
        service, _, _ = make_service()
        later: list[InboundReceived] = []

        def broken(event: InboundReceived) -> None:
            raise RuntimeError("receiver bug")

        service.subscribe_inbound(broken)
        service.subscribe_inbound(later.append)
        with caplog.at_level(logging.ERROR, logger="smscore.events"):
            sms = service.handle_inbound("default", webhook("hello"))
        assert sms is not None
        assert service.inbound.get(sms.id or 0) == sms
        assert len(later) == 1
        assert "inbound SMS subscriber" in caplog.text

    def test_subscribers_are_configured_by_dotted_path(self) -> None:
        """inbound_subscribers names callables that build_service subscribes."""
        service = smscore.build_service(
            {"storage": "memory", "provider": "dummy", "inbound_subscribers": ["tests.core.test_inbound.collect"]}
        )
        assert service._ctx.inbound_subscribers == [collect]


COLLECTED: list[InboundReceived] = []


def collect(event: InboundReceived) -> None:
    """An inbound subscriber named by dotted path."""
    COLLECTED.append(event)


KEYWORDS = inbound_keywords({}, "inbound_keywords")
WORDS = sorted(word for words in KEYWORDS.words.values() for word in words)


class TestKeywordMatching:
    @given(
        word=st.sampled_from(WORDS),
        case=st.lists(st.booleans(), min_size=11, max_size=11),
        before=st.text(" \t\r\n", max_size=5),
        after=st.text(" \t\r\n", max_size=5),
    )
    def test_a_keyword_in_any_case_with_any_surrounding_whitespace_matches(
        self, word: str, case: list[bool], before: str, after: str
    ) -> None:
        """Each letter in either case, spaces, tabs and newlines around: the word's kind."""
        typed = "".join(c.lower() if lower else c for c, lower in zip(word, case, strict=False))
        kind = KEYWORDS.match(before + typed + after)
        assert kind is not None
        assert word in KEYWORDS.words[kind]

    @given(word=st.sampled_from(WORDS), other=st.from_regex(r"[A-Za-z!?.]{1,10}", fullmatch=True), first=st.booleans())
    def test_a_keyword_with_anything_more_is_no_keyword(self, word: str, other: str, first: bool) -> None:
        """The word with another word or punctuation next to it is an ordinary message."""
        text = f"{word} {other}" if first else f"{other} {word}"
        assert KEYWORDS.match(text) is None
        assert KEYWORDS.match(word + other) is None or (word + other).upper() in WORDS
