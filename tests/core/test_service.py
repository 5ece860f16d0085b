"""The use cases, end to end on the shipped fakes: send, send_template, send_many, outbox, delivery checks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest

import smscore
from smscore import (
    ConfigurationError,
    InvalidContentError,
    InvalidExtraDataError,
    InvalidMessageError,
    InvalidRecipientError,
    InvalidTagError,
    Outcome,
    RelatedObject,
    SMSConfig,
    SMSService,
    SMSState,
    SMSTemplate,
    StateChange,
    TemplateNotFoundError,
    TemplateRenderError,
)
from smscore.testing import (
    FixedClock,
    InMemoryMessageRepository,
    InMemoryRateLimiter,
    InMemoryTemplateRepository,
    ScriptedProvider,
)

Factory = Callable[..., SMSService]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def provider() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture
def make_service(clock: FixedClock, provider: ScriptedProvider, flavoured: Callable[[SMSService], Any]) -> Factory:
    """Services on the shipped fakes: each test runs against ``SMSService`` and against its asyncio twin."""

    def make(providers: Mapping[str, Any] | None = None, **config: Any) -> SMSService:
        service = SMSService(
            messages=InMemoryMessageRepository(),
            templates=InMemoryTemplateRepository(clock=clock.now),
            providers=providers or {"default": provider},
            config=SMSConfig.from_mapping(config),
            clock=clock,
        )
        return flavoured(service)  # type: ignore[no-any-return]

    return make


@pytest.fixture
def service(make_service: Factory) -> SMSService:
    return make_service()


class TestReadmeExample:
    def test_the_readme_example_runs_as_written(self) -> None:
        """The quick-start example of the README, verbatim."""
        service = smscore.build_service({"storage": "memory", "provider": "dummy", "use_accent": False})
        msg = service.send("+420 777 123 456", "Příliš žluťoučký kůň", tag="welcome", order_id=42)
        assert msg.state is smscore.SMSState.DEBUG
        assert msg.content == "Prilis zlutoucky kun"
        assert msg.recipient == "+420777123456"
        assert msg.extra_data == {"order_id": 42}
        assert not msg.failed
        service.templates.save(smscore.SMSTemplate(slug="otp", body="Your code is {{ code }}"))
        msg = service.send_template("+420777123456", "otp", {"code": "1234"})
        assert msg is not None
        assert msg.content == "Your code is 1234"
        assert msg.template_slug == "otp"
        assert service.messages.get(msg.id or 0) == msg


class TestSend:
    def test_a_sent_message_is_stored_with_everything_the_provider_said(
        self, service: SMSService, provider: ScriptedProvider, clock: FixedClock
    ) -> None:
        """State, reference, attempt, send time, provider name and backend path are recorded."""
        message = service.send("+420777123456", "Hello", tag="t1", priority=1)
        assert message.state is SMSState.SENT
        assert message.provider_ref == f"scripted-{message.id}"
        assert message.attempts == 1
        assert message.sent_at == clock.now()
        assert message.provider == "default"
        assert message.backend == "smscore.testing.ScriptedProvider"
        assert message.priority == 1
        assert message.lease_expires_at is None
        assert service.messages.get(message.id or 0) == message
        assert [m.id for m in provider.published] == [message.id]

    def test_accents_are_kept_when_configured(self, make_service: Factory) -> None:
        """use_accent keeps the text and sends it as UCS-2."""
        message = make_service(use_accent=True).send("+420777123456", "Příliš žluťoučký kůň")
        assert message.content == "Příliš žluťoučký kůň"
        assert message.encoding == "UCS-2"
        assert message.segments == 1

    def test_related_objects_are_linked(self, service: SMSService) -> None:
        """Any object with an id (or a RelatedObject) becomes a related object, once each."""

        @attrs.frozen
        class Order:
            id: int

        message = service.send(
            "+420777123456", "x", related_objects=[Order(7), Order(7), RelatedObject("auth.user", "u1")]
        )
        assert message.related_objects == (
            RelatedObject(f"{Order.__module__}.{Order.__qualname__}", "7"),
            RelatedObject("auth.user", "u1"),
        )

    def test_a_rejection_is_a_failed_message_with_the_reason(
        self, service: SMSService, provider: ScriptedProvider
    ) -> None:
        """ERROR with the provider's reason and code; failed is True."""
        provider.will(Outcome.rejected("number blocked", error_code="21610"))
        message = service.send("+420777123456", "x")
        assert message.failed
        assert message.error == "number blocked"
        assert message.extra_sender_data == {"error_code": "21610"}

    def test_a_provider_that_raises_leaves_the_message_unknown(
        self, service: SMSService, provider: ScriptedProvider, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An exception from the provider may come after it accepted: UNKNOWN, never lost, never re-sent."""
        provider.will(RuntimeError("socket closed"))
        with caplog.at_level(logging.ERROR, logger="smscore"):
            message = service.send("+420777123456", "x")
        assert message.state is SMSState.UNKNOWN
        assert message.error == "provider raised RuntimeError while publishing"
        assert service.messages.get(message.id or 0).state is SMSState.UNKNOWN
        assert "raised while publishing" in caplog.text

    def test_an_ambiguous_outcome_is_unknown(self, service: SMSService, provider: ScriptedProvider) -> None:
        """A read timeout reported by the provider is UNKNOWN with its reason."""
        provider.will(Outcome.ambiguous("read timeout"))
        assert service.send("+420777123456", "x").state is SMSState.UNKNOWN

    def test_a_transient_failure_without_an_outbox_fails_and_says_why(
        self, service: SMSService, provider: ScriptedProvider
    ) -> None:
        """Without batch sending nobody would retry, so the message fails with a reason instead of waiting forever."""
        provider.will(Outcome.transient("HTTP 503"))
        message = service.send("+420777123456", "x")
        assert message.failed
        assert message.error == "HTTP 503 (not retried: retries need batch_sending and retry_sending)"

    def test_a_provider_answering_the_wrong_number_of_outcomes_is_unknown(self, make_service: Factory) -> None:
        """A broken provider cannot lose messages: its messages become UNKNOWN."""

        class Broken:
            max_batch_size = 10
            can_check_by_our_id = False

            def publish(self, messages: object) -> list[Outcome]:
                return []

            def close(self) -> None:
                pass

        message = make_service(providers={"default": Broken()}).send("+420777123456", "x")
        assert message.state is SMSState.UNKNOWN
        assert message.error == "provider gave an unusable answer"


class TestBadInput:
    @pytest.mark.parametrize(
        ("kwargs", "error", "text"),
        [
            ({"content": ""}, InvalidContentError, "empty"),
            ({"content": "   "}, InvalidContentError, "empty"),
            ({"content": "x" * 1600}, InvalidContentError, "limit is 10"),
            ({"recipient": "not a number"}, InvalidRecipientError, "not a phone number"),
            ({"recipient": "+420 12"}, InvalidRecipientError, "not a possible phone number"),
            ({"tag": "not a slug"}, InvalidTagError, "tag 'not a slug' is not a slug"),
            ({"tag": "x" * 51}, InvalidTagError, "at most 50"),
            ({"blob": object()}, InvalidExtraDataError, "not JSON-serialisable"),
            ({"nan": float("nan")}, InvalidExtraDataError, "not JSON-serialisable"),
            ({"priority": 4}, InvalidMessageError, "priority must be"),
            ({"provider": "nope"}, InvalidMessageError, "provider 'nope' is not configured"),
            ({"idempotency_key": ""}, InvalidMessageError, "idempotency_key"),
        ],
    )
    def test_bad_input_raises_its_error_and_stores_nothing(
        self, service: SMSService, provider: ScriptedProvider, kwargs: dict[str, Any], error: type, text: str
    ) -> None:
        """Each problem has its typed error naming it; no row is stored and nothing is published."""
        arguments: dict[str, Any] = {"recipient": "+420777123456", "content": "Hello"}
        arguments.update(kwargs)
        with pytest.raises(error, match=text):
            service.send(**arguments)
        assert service.messages.count() == 0
        assert provider.published == []

    def test_extra_data_is_stored_as_json_would_give_it_back(self, service: SMSService) -> None:
        """Tuples become lists at once, so what is returned equals what storage gives back later."""
        message = service.send("+420777123456", "x", pair=(1, 2), text="Žluť")
        assert message.extra_data == {"pair": [1, 2], "text": "Žluť"}


class TestSendTemplate:
    def test_unknown_slug_raises_and_stores_nothing(self, service: SMSService) -> None:
        """A missing template is TemplateNotFoundError (a LookupError), never a bare None."""
        with pytest.raises(TemplateNotFoundError, match="missing"):
            service.send_template("+420777123456", "missing", {})
        assert service.messages.count() == 0

    @pytest.mark.parametrize(("body", "match"), [("{{ 'a' * 10**9 }}", "render budget"), ("{{ nope }}", "missing")])
    def test_render_errors_store_nothing(self, service: SMSService, body: str, match: str) -> None:
        """A spent render budget and missing variables are TemplateRenderError; nothing is stored (syntax errors
        are refused when the template is saved)."""
        service.templates.save(SMSTemplate(slug="bad", body=body))
        with pytest.raises(TemplateRenderError, match=match):
            service.send_template("+420777123456", "bad", {"code": 1})
        assert service.messages.count() == 0

    def test_can_send_refusing_returns_none_and_stores_nothing(
        self, service: SMSService, provider: ScriptedProvider
    ) -> None:
        """The template decides; a refusal is None, with the normalised recipient passed to can_send."""
        seen = []

        class OnlyCzech(SMSTemplate):
            def can_send(self, recipient: str, context: Mapping[str, Any]) -> bool:
                seen.append(recipient)
                return recipient.startswith("+420")

        service.templates.save(OnlyCzech(slug="cz", body="Ahoj {{ name }}"))
        assert service.send_template("+44 20 7946 0958", "cz", {"name": "x"}) is None
        assert service.messages.count() == 0
        assert provider.published == []
        sent = service.send_template("+420 777 123 456", "cz", {"name": "Eva"})
        assert sent is not None
        assert sent.content == "Ahoj Eva"
        assert seen == ["+442079460958", "+420777123456"]

    def test_template_options_pass_through(self, service: SMSService) -> None:
        """Priority, tag, related objects and extra data work for templates too (the ancestor had none)."""
        service.templates.save(SMSTemplate(slug="otp", body="{{ code }}"))
        message = service.send_template(
            "+420777123456", "otp", {"code": "1"}, [RelatedObject("a.b", 1)], "login", priority=1, extra_data={"k": 1}
        )
        assert message is not None
        assert (message.tag, message.priority, message.extra_data) == ("login", 1, {"k": 1})
        assert message.related_objects == (RelatedObject("a.b", 1),)


class TestIdempotency:
    def test_a_repeated_key_returns_the_first_message_and_sends_once(
        self, service: SMSService, provider: ScriptedProvider
    ) -> None:
        """The second call is a no-op returning the first message."""
        first = service.send("+420777123456", "x", idempotency_key="order-42")
        again = service.send("+420777123456", "different", idempotency_key="order-42")
        assert again == first
        assert len(provider.published) == 1

    def test_concurrent_calls_with_one_key_send_once(self, service: SMSService, provider: ScriptedProvider) -> None:
        """Eight threads racing on one key: one message, one publish."""
        results: list[smscore.SMSMessage] = []
        barrier = threading.Barrier(8)

        def worker() -> None:
            barrier.wait()
            results.append(service.send("+420777123456", "x", idempotency_key="race"))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len({m.id for m in results}) == 1
        assert service.messages.count() == 1
        assert len(provider.published) == 1


class TestRouting:
    def test_prefix_and_tag_rules_choose_the_named_provider(self) -> None:
        """The router sends +420 numbers to one provider, a tag to another, the rest to the default."""
        czech, otp, default = ScriptedProvider(), ScriptedProvider(), ScriptedProvider()
        service = SMSService(
            messages=InMemoryMessageRepository(),
            templates=InMemoryTemplateRepository(),
            providers={"default": default, "czech": czech, "otp": otp},
            config=SMSConfig.from_mapping(
                {
                    "providers": {n: {"backend": "dummy"} for n in ("default", "czech", "otp")},
                    "router": {"prefixes": {"+420": "czech"}, "tags": {"otp": "otp"}},
                }
            ),
            clock=FixedClock(),
        )
        assert service.send("+420777123456", "x").provider == "czech"
        assert service.send("+420777123456", "x", tag="otp").provider == "otp"
        assert service.send("+442079460958", "x").provider == "default"
        assert service.send("+442079460958", "x", provider="czech").provider == "czech"
        assert (len(czech.published), len(otp.published), len(default.published)) == (2, 1, 1)


class TestSendMany:
    def test_messages_are_published_in_provider_sized_batches(self, make_service: Factory) -> None:
        """250 messages to a provider taking 100 per call: three calls, all sent, in order."""
        provider = ScriptedProvider(max_batch_size=100)
        service = make_service(providers={"default": provider})
        recipients = [f"+42077712{i:04d}" for i in range(250)]
        messages = service.send_many(recipients, "Sale!", tag="campaign")
        assert [m.recipient for m in messages] == recipients
        assert all(m.state is SMSState.SENT for m in messages)
        assert provider.batches == [100, 100, 50]

    def test_items_may_override_shared_arguments(self, service: SMSService) -> None:
        """Mappings carry their own content, tag and extra data."""
        messages = service.send_many(
            ["+420777000001", {"recipient": "+420777000002", "content": "own", "tag": "vip", "extra_data": {"a": 1}}],
            "shared",
        )
        assert [(m.content, m.tag, m.extra_data) for m in messages] == [("shared", None, {}), ("own", "vip", {"a": 1})]

    def test_shared_content_and_data_are_checked_once_but_never_shared_between_messages(
        self, service: SMSService
    ) -> None:
        """Items repeating the shared content and extra data get equal values, each message its own copy; an
        item's own content is prepared for it (transliterated, counted)."""
        shared = {"campaign": "spring"}
        messages = service.send_many(
            ["+420777000001", "+420777000002", {"recipient": "+420777000003", "content": "Žluťoučký kůň"}],
            "Sale!",
            **shared,
        )
        first, second, third = messages
        assert first.extra_data == second.extra_data == third.extra_data == shared
        assert first.extra_data is not second.extra_data
        assert (first.content, second.content, third.content) == ("Sale!", "Sale!", "Zlutoucky kun")
        assert third.segments == 1

    def test_a_batch_is_created_at_one_instant(self, make_service: Factory, clock: FixedClock) -> None:
        """Messages stored together share their creation time, however long validating the items took."""

        class Ticking(FixedClock):
            def now(self) -> datetime:
                return self.advance(seconds=1)

        ticking = Ticking(clock.now())
        service = make_service()
        service.clock = ticking
        messages = service.send_many(["+420777000001", "+420777000002", "+420777000003"], "x", send_immediately=False)
        assert len({m.created_at for m in messages}) == 1
        assert messages[0].created_at < ticking.now()

    def test_one_bad_item_stores_nothing_and_names_the_item(self, service: SMSService) -> None:
        """Validation of every item comes first; the error names the index."""
        with pytest.raises(InvalidRecipientError, match="item 2"):
            service.send_many(["+420777000001", "+420777000002", "junk"], "x")
        assert service.messages.count() == 0


class TestOutbox:
    @pytest.fixture
    def outbox(self, make_service: Factory) -> SMSService:
        return make_service(batch_sending=True, max_attempts=3, retry_backoff_seconds=10)

    def test_send_only_stores_and_a_worker_publishes_by_priority(
        self, outbox: SMSService, provider: ScriptedProvider
    ) -> None:
        """In outbox mode send returns WAITING; process_outbox publishes the highest priority first."""
        low = outbox.send("+420777123456", "low", priority=3)
        high = outbox.send("+420777123456", "high", priority=1)
        assert low.state is SMSState.WAITING
        assert provider.published == []
        report = outbox.process_outbox()
        assert report.claimed == 2
        assert report.states == {SMSState.SENT: 2}
        assert [m.content for m in provider.published] == ["high", "low"]
        assert outbox.messages.get(high.id or 0).state is SMSState.SENT

    def test_send_immediately_bypasses_the_outbox(self, outbox: SMSService) -> None:
        """send_immediately=True publishes at once even in outbox mode."""
        assert outbox.send("+420777123456", "x", send_immediately=True).state is SMSState.SENT

    def test_transient_failures_back_off_and_give_up_after_exactly_max_attempts(
        self, outbox: SMSService, provider: ScriptedProvider, clock: FixedClock
    ) -> None:
        """max_attempts=3 means three attempts, not four; each retry waits longer."""
        message = outbox.send("+420777123456", "x")
        provider.will(*[Outcome.transient("HTTP 503")] * 3)
        outbox.process_outbox()
        first = outbox.messages.get(message.id or 0)
        assert (first.state, first.attempts) == (SMSState.WAITING, 1)
        assert first.next_attempt_at is not None
        assert timedelta(seconds=5) <= first.next_attempt_at - clock.now() <= timedelta(seconds=10)
        assert outbox.process_outbox().claimed == 0
        clock.set(first.next_attempt_at)
        outbox.process_outbox()
        second = outbox.messages.get(message.id or 0)
        assert second.attempts == 2
        assert second.next_attempt_at is not None
        assert timedelta(seconds=10) <= second.next_attempt_at - clock.now() <= timedelta(seconds=20)
        clock.set(second.next_attempt_at)
        outbox.process_outbox()
        final = outbox.messages.get(message.id or 0)
        assert final.failed
        assert final.attempts == 3
        assert final.error == "gave up after 3 attempts: HTTP 503"
        assert len(provider.published) == 3

    def test_a_message_past_its_deadline_fails_with_that_reason(self, make_service: Factory, clock: FixedClock) -> None:
        """max_seconds_to_send: a message the workers reach too late is not sent."""
        service = make_service(batch_sending=True, max_seconds_to_send=60)
        message = service.send("+420777123456", "x")
        clock.advance(seconds=61)
        service.process_outbox()
        stored = service.messages.get(message.id or 0)
        assert stored.failed
        assert stored.error == "not sent within the send deadline of 60 seconds"

    @pytest.mark.parametrize(("checkable", "state"), [(True, SMSState.UNKNOWN), (False, SMSState.SENT)])
    def test_a_dead_workers_lease_is_recovered(
        self, make_service: Factory, clock: FixedClock, checkable: bool, state: SMSState
    ) -> None:
        """After a crash mid-publish: UNKNOWN when the provider can be asked by our id, else sent again."""
        provider = ScriptedProvider(can_check_by_our_id=checkable)
        service = make_service(providers={"default": provider}, batch_sending=True, lease_seconds=30)
        message = service.send("+420777123456", "x")
        service.messages.claim(now=clock.now(), lease_until=clock.now() + timedelta(seconds=30), limit=10)
        clock.advance(seconds=31)
        report = service.process_outbox()
        assert report.recovered == 1
        if not checkable:
            clock.advance(hours=1)
            service.process_outbox()
        recovered = service.messages.get(message.id or 0)
        assert recovered.state is state
        assert "worker stopped while publishing" in (recovered.error or "worker stopped while publishing")


class TestCheckDelivery:
    def test_reports_move_messages_and_the_idle_timeout_fails_the_rest(
        self, make_service: Factory, clock: FixedClock
    ) -> None:
        """Delivered reports apply; a message silent for longer than the idle timeout becomes ERROR."""
        provider = ScriptedProvider(default_state=SMSState.SENDING)
        service = make_service(providers={"default": provider}, idle_timeout_minutes=60)
        delivered = service.send("+420777123456", "a")
        silent = service.send("+420777123456", "b")
        provider.report(delivered.id or 0, Outcome.accepted(SMSState.DELIVERED))
        report = service.check_delivery()
        assert (report.checked, report.changed, report.timed_out) == (2, 1, 0)
        assert service.messages.get(delivered.id or 0).state is SMSState.DELIVERED
        clock.advance(minutes=61)
        assert service.check_delivery().timed_out == 1
        failed = service.messages.get(silent.id or 0)
        assert failed.failed
        assert failed.error == "timed out: no delivery report within 60 minutes of sending"

    @pytest.mark.parametrize("set_error", [True, False])
    def test_the_idle_timeout_pages_through_each_in_flight_state(
        self,
        make_service: Factory,
        clock: FixedClock,
        provider: ScriptedProvider,
        caplog: pytest.LogCaptureFixture,
        set_error: bool,
    ) -> None:
        """5 SENDING and 3 UNKNOWN idle messages, interleaved, with pages of 2: every one is timed out and
        counted once, each page asking for one state."""
        provider.default_state = SMSState.SENDING
        service = make_service(idle_timeout_minutes=60, check_chunk_size=2, set_error_to_idle_messages=set_error)
        sent = []
        for unknown in (False, True, False, True, False, True, False, False):
            if unknown:
                provider.will(Outcome.ambiguous("read timeout"))
            sent.append(service.send("+420777123456", "x"))
        assert [m.state for m in sent].count(SMSState.UNKNOWN) == 3
        scans: list[frozenset[SMSState]] = []
        original = service.messages.scan

        def recording(**kwargs: Any) -> list[smscore.SMSMessage]:
            if kwargs.get("sent_before") is not None:
                scans.append(frozenset(kwargs["states"]))
            return original(**kwargs)

        service.messages.scan = recording  # type: ignore[method-assign]
        clock.advance(minutes=61)
        with caplog.at_level(logging.WARNING, logger="smscore"):
            assert service.check_delivery().timed_out == 8
        assert all(len(states) == 1 for states in scans), scans
        stored = [service.messages.get(m.id or 0) for m in sent]
        if set_error:
            assert {m.state for m in stored} == {SMSState.ERROR}
            assert service.check_delivery().timed_out == 0
        else:
            assert [m.state for m in stored] == [m.state for m in sent]
            assert "8 SMS message(s) were SENDING or UNKNOWN for more than 60 minutes; left as they are" in caplog.text
            assert service.check_delivery().timed_out == 8

    def test_checks_go_in_chunks(self, make_service: Factory) -> None:
        """1,050 SENDING messages with chunks of 500: three provider calls."""
        provider = ScriptedProvider(default_state=SMSState.SENDING, max_batch_size=1000)
        service = make_service(providers={"default": provider}, check_chunk_size=500)
        service.send_many([f"+42077712{i:04d}" for i in range(1050)], "x")
        calls: list[int] = []
        original = provider.bulk_check_sms_states

        def counting(messages: Any) -> list[Outcome | None]:
            calls.append(len(messages))
            return original(messages)

        provider.bulk_check_sms_states = counting  # type: ignore[method-assign]
        service.check_delivery()
        assert calls == [500, 500, 50]

    def test_a_failing_chunk_does_not_stop_the_other_providers(
        self, make_service: Factory, caplog: pytest.LogCaptureFixture
    ) -> None:
        """One provider raising during a check is logged; the other is still checked."""
        good, bad = ScriptedProvider(default_state=SMSState.SENDING), ScriptedProvider(default_state=SMSState.SENDING)

        def explode(messages: Any) -> list[Outcome | None]:
            raise ConnectionError("down")

        bad.bulk_check_sms_states = explode  # type: ignore[method-assign]
        service = make_service(providers={"default": good, "bad": bad})
        ok = service.send("+420777123456", "x")
        service.send("+420777123456", "x", provider="bad")
        good.report(ok.id or 0, Outcome.accepted(SMSState.DELIVERED))
        report = service.check_delivery()
        assert report.failed_chunks == 1
        assert service.messages.get(ok.id or 0).state is SMSState.DELIVERED
        assert "delivery check of 1 message(s) by provider 'bad' failed" in caplog.text


class TestEvents:
    def test_subscribers_see_every_change_once_in_order(
        self, make_service: Factory, provider: ScriptedProvider
    ) -> None:
        """Creation, publication and a delivery report, for one message, in order."""
        provider.default_state = SMSState.SENDING
        service = make_service()
        events: list[StateChange] = []
        service.subscribe(events.append)
        message = service.send("+420777123456", "x")
        provider.report(message.id or 0, Outcome.accepted(SMSState.DELIVERED))
        service.check_delivery()
        service.check_delivery()
        assert [(e.old_state, e.new_state) for e in events] == [
            (None, SMSState.WAITING),
            (SMSState.WAITING, SMSState.SENDING),
            (SMSState.SENDING, SMSState.DELIVERED),
        ]
        assert {e.message_id for e in events} == {message.id}

    def test_a_failing_subscriber_is_logged_and_sending_goes_on(
        self, service: SMSService, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A subscriber that raises never breaks a send."""

        def broken(event: StateChange) -> None:
            raise ValueError("bug in subscriber")

        service.subscribe(broken)
        assert service.send("+420777123456", "x").state is SMSState.SENT
        assert "subscriber" in caplog.text


class TestPurge:
    def test_old_final_messages_are_deleted(self, service: SMSService, clock: FixedClock) -> None:
        """Only finished messages older than the cut-off go."""
        old = service.send("+420777123456", "old")
        clock.advance(days=100)
        recent = service.send("+420777123456", "recent")
        assert service.purge(timedelta(days=90), batch_size=1) == 1
        assert [m.id for m in service.messages.find()] == [recent.id]
        assert old.id != recent.id


class TestConstruction:
    def test_no_provider_is_a_configuration_error(self) -> None:
        """A service needs at least one provider."""
        with pytest.raises(ConfigurationError):
            SMSService(messages=InMemoryMessageRepository(), templates=InMemoryTemplateRepository(), providers={})


class TestFailover:
    @pytest.fixture
    def pair(self, clock: FixedClock) -> tuple[SMSService, ScriptedProvider, ScriptedProvider]:
        main, backup = ScriptedProvider(), ScriptedProvider()
        service = SMSService(
            messages=InMemoryMessageRepository(),
            templates=InMemoryTemplateRepository(),
            providers={"main": main, "backup": backup},
            config=SMSConfig.from_mapping(
                {
                    "providers": {"main": {"backend": "dummy"}, "backup": {"backend": "dummy"}},
                    "default_provider": "main",
                    "failover": ["backup"],
                    "batch_sending": True,
                    "circuit_breaker_threshold": 2,
                    "circuit_breaker_cooldown_seconds": 30,
                }
            ),
            clock=clock,
        )
        return service, main, backup

    def test_an_unavailable_provider_fails_over_and_the_message_says_who_sent_it(
        self, pair: tuple[SMSService, ScriptedProvider, ScriptedProvider]
    ) -> None:
        """main answers 503: the message goes out through backup, recorded as backup's."""
        service, main, backup = pair
        main.will(Outcome.transient("HTTP 503"))
        message = service.send("+420777123456", "x", send_immediately=True)
        assert message.state is SMSState.SENT
        assert message.provider == "backup"
        assert message.attempts == 1
        assert [m.provider for m in backup.published] == ["backup"]

    def test_an_ambiguous_answer_never_fails_over(
        self, pair: tuple[SMSService, ScriptedProvider, ScriptedProvider]
    ) -> None:
        """main may have sent it: no second copy through backup."""
        service, main, backup = pair
        main.will(Outcome.ambiguous("read timeout"))
        assert service.send("+420777123456", "x", send_immediately=True).state is SMSState.UNKNOWN
        assert backup.published == []

    def test_the_circuit_opens_skips_the_provider_and_closes_after_the_cooldown(
        self, pair: tuple[SMSService, ScriptedProvider, ScriptedProvider], clock: FixedClock
    ) -> None:
        """Two whole-call failures open main; it is skipped for 30 s; afterwards a success closes it."""
        service, main, backup = pair
        main.will(Outcome.transient("503"), Outcome.transient("503"))
        service.send("+420777123456", "1", send_immediately=True)
        service.send("+420777123456", "2", send_immediately=True)
        service.send("+420777123456", "3", send_immediately=True)
        assert [m.content for m in main.published] == ["1", "2"]
        assert [m.content for m in backup.published] == ["1", "2", "3"]
        clock.advance(seconds=31)
        assert service.send("+420777123456", "4", send_immediately=True).provider == "main"
        assert service.send("+420777123456", "5", send_immediately=True).provider == "main"


def test_check_delivery_reports_progress_per_chunk(make_service: Factory) -> None:
    """The progress callback hears about every checked message, chunk by chunk."""
    provider = ScriptedProvider(default_state=SMSState.SENDING, max_batch_size=1000)
    service = make_service(providers={"default": provider}, check_chunk_size=40)
    service.send_many([f"+42077712{i:04d}" for i in range(100)], "x")
    seen: list[int] = []
    service.check_delivery(progress=seen.append)
    assert seen == [40, 40, 20]


class TestRateLimits:
    def test_publishing_waits_for_the_providers_send_slots(self) -> None:
        """At 10 messages/s, batches of 5 go out 0.5 s apart; the waits follow the shared limiter."""
        clock = FixedClock()
        provider = ScriptedProvider(max_batch_size=5)
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            clock.advance(seconds=seconds)

        limiter = InMemoryRateLimiter()
        service = SMSService(
            messages=InMemoryMessageRepository(),
            templates=InMemoryTemplateRepository(),
            providers={"default": provider},
            config=SMSConfig.from_mapping({"rate_limits": {"default": 10}}),
            clock=clock,
            rate_limiter=limiter,
            sleep=sleep,
        )
        sent = service.send_many([f"+4207771{i:05d}" for i in range(15)], "x")
        assert all(m.state is SMSState.SENT for m in sent)
        assert provider.batches == [5, 5, 5]
        assert waits == pytest.approx([0.5, 0.5])
        # another process sharing the limiter now waits behind these 15 slots
        assert limiter.reserve("default", 1, interval=0.1, now=clock.now()) == clock.now() + timedelta(seconds=0.5)

    def test_rate_limits_need_a_limiter_and_known_names(self) -> None:
        """Without a limiter, or for an unknown provider, the configuration is refused."""
        with pytest.raises(ConfigurationError, match="rate limiter"):
            SMSService(
                messages=InMemoryMessageRepository(),
                templates=InMemoryTemplateRepository(),
                providers={"default": ScriptedProvider()},
                config=SMSConfig.from_mapping({"rate_limits": {"default": 5}}),
            )
        with pytest.raises(ConfigurationError) as info:
            SMSConfig.from_mapping({"rate_limits": {"ghost": 5}})
        assert info.value.key == "rate_limits.ghost"

    def test_build_service_wires_the_storages_limiter(self) -> None:
        """Memory storage brings its limiter, so rate_limits work from configuration alone."""
        service = smscore.build_service({"rate_limits": {"default": 1000}})
        assert service.send("+420777123456", "x").state is SMSState.DEBUG
