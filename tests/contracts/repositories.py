"""Contract suites for the storage ports, run against every adapter.

Subclass :class:`MessageRepositoryContract` (and :class:`TemplateRepositoryContract`) in an adapter's tests and
provide a ``repo`` fixture returning a fresh, empty repository; every test here then runs against it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smscore import (
    ConcurrentUpdateError,
    DuplicateIdempotencyKeyError,
    MessageNotFoundError,
    RelatedObject,
    SMSMessage,
    SMSService,
    SMSState,
    SMSTemplate,
    TemplateInactiveError,
    TemplateNotFoundError,
    TemplateRenderError,
)
from smscore.ports import MessageRepository, TemplateRepository
from smscore.query import MessageQuery
from smscore.testing import InMemoryMessageRepository, ScriptedProvider
from tests.contracts.guards import RecipientLimitContract

T0 = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def make_message(**changes: Any) -> SMSMessage:
    """A new, unsaved message with sensible defaults; keyword arguments override fields."""
    fields: dict[str, Any] = {
        "recipient": "+420777123456",
        "content": "Hello",
        "created_at": T0,
        "changed_at": T0,
        "provider": "default",
        "backend": "providers.dummy.DummySMSBackend",
    }
    fields.update(changes)
    return SMSMessage(**fields)


class MessageRepositoryContract(RecipientLimitContract):
    """Behaviour every :class:`~smscore.ports.MessageRepository` must have (recipient limits included)."""

    @pytest.fixture
    def repo(self) -> MessageRepository:
        raise NotImplementedError("an adapter's test class provides the repo fixture")

    # -- add and get --------------------------------------------------------------------------------

    def test_add_assigns_increasing_ids_and_get_returns_the_same_value(self, repo: MessageRepository) -> None:
        """Stored messages come back equal, with ids in insertion order."""
        first = repo.add(make_message(content="one"))
        second = repo.add(make_message(content="two"))
        assert first.id is not None
        assert second.id is not None
        assert second.id > first.id
        assert repo.get(first.id) == first
        assert repo.get(second.id) == second

    def test_get_of_a_missing_id_raises_not_found(self, repo: MessageRepository) -> None:
        """A missing id is a MessageNotFoundError, which is also a LookupError."""
        with pytest.raises(MessageNotFoundError) as info:
            repo.get(987654)
        assert isinstance(info.value, LookupError)

    def test_add_many_keeps_order_and_assigns_ids(self, repo: MessageRepository) -> None:
        """add_many returns the messages in the given order, each with its id, all readable."""
        stored = repo.add_many([make_message(content=f"m{i}") for i in range(5)])
        assert [m.content for m in stored] == [f"m{i}" for i in range(5)]
        ids = [m.id for m in stored]
        assert all(i is not None for i in ids)
        assert ids == sorted(ids)
        assert len(set(ids)) == 5
        assert [repo.get(m.id or 0) for m in stored] == stored

    def test_every_field_round_trips(self, repo: MessageRepository) -> None:
        """Unicode, JSON, related objects, prices and aware datetimes survive storage unchanged."""
        other_zone = timezone(timedelta(hours=2))
        message = make_message(
            content="Příliš žluťoučký kůň 🐎 <&>\"'",
            state=SMSState.SENDING,
            sent_at=datetime(2030, 1, 1, 14, 0, 1, 999999, tzinfo=other_zone),
            sender="ACME",
            template_slug="otp-code",
            error="earlier failure ✗",
            extra_data={"order_id": 42, "name": "Žofie", "nested": {"list": [1, 2.5, None, True]}},
            extra_sender_data={"uniq": "app-1", "code": 0},
            tag="welcome_2",
            related_objects=(RelatedObject("shop.order", 42), RelatedObject("auth.user", "a-b-c")),
            attempts=2,
            priority=1,
            provider_ref="SM" + "a" * 32,
            encoding="UCS-2",
            segments=3,
            idempotency_key="key-" + "x" * 200,
            next_attempt_at=T0 + timedelta(minutes=5),
            lease_expires_at=T0 + timedelta(minutes=1),
            send_at=datetime(2030, 1, 1, 15, 0, 0, 5, tzinfo=other_zone),
            deferred_reason="quiet hours of tag 'welcome_2': allowed 09:00-20:00 in Europe/Prague",
            price=Decimal("0.0075"),
            price_unit="USD",
        )
        stored = repo.add(message)
        loaded = repo.get(stored.id or 0)
        assert loaded == stored
        assert loaded == attrs.evolve(message, id=stored.id, version=stored.version)
        assert loaded.sent_at is not None
        assert loaded.sent_at.utcoffset() is not None
        assert loaded.sent_at == datetime(2030, 1, 1, 12, 0, 1, 999999, tzinfo=UTC)
        assert [r.object_id_int for r in loaded.related_objects] == [42, None]

    @pytest.mark.parametrize("state", list(SMSState))
    def test_every_state_round_trips(self, repo: MessageRepository, state: SMSState) -> None:
        """Each of the seven states is stored and read back as the same enum member."""
        stored = repo.add(make_message(state=state))
        assert repo.get(stored.id or 0).state is state

    # -- save (compare-and-set) ----------------------------------------------------------------------

    def test_save_bumps_the_version_and_persists_changes(self, repo: MessageRepository) -> None:
        """A save writes the new values and returns them with version + 1."""
        stored = repo.add(make_message())
        changed = stored.transition(SMSState.SENT, at=T0 + timedelta(seconds=1))
        saved = repo.save(changed)
        assert saved.version == stored.version + 1
        assert repo.get(stored.id or 0) == saved
        assert saved.state is SMSState.SENT
        assert saved.sent_at == T0 + timedelta(seconds=1)

    def test_a_stale_save_raises_and_leaves_the_stored_message_alone(self, repo: MessageRepository) -> None:
        """Two writers from the same read: the second gets ConcurrentUpdateError, the first write stands."""
        stored = repo.add(make_message())
        first = repo.save(stored.transition(SMSState.SENT, at=T0))
        with pytest.raises(ConcurrentUpdateError) as info:
            repo.save(stored.transition(SMSState.ERROR, at=T0, error="late writer"))
        assert info.value.message_ids == (stored.id,)
        assert repo.get(stored.id or 0) == first

    def test_save_of_a_missing_message_raises_not_found(self, repo: MessageRepository) -> None:
        """Saving a message that is not stored is a MessageNotFoundError."""
        with pytest.raises(MessageNotFoundError):
            repo.save(make_message(id=555555))

    def test_save_leaves_related_objects_as_added(self, repo: MessageRepository) -> None:
        """Related objects are written once, by add; a save never rewrites them."""
        links = (RelatedObject("shop.order", 1), RelatedObject("auth.user", "u"))
        stored = repo.add(make_message(related_objects=links))
        repo.save(attrs.evolve(stored.transition(SMSState.SENT, at=T0), related_objects=()))
        assert repo.get(stored.id or 0).related_objects == links

    def test_save_writes_only_the_fields_that_change_over_a_messages_life(self, repo: MessageRepository) -> None:
        """Recipient, content, tag, extra data and the other fields fixed at creation stay as added."""
        stored = repo.add(make_message(tag="t", extra_data={"a": 1}, priority=2, idempotency_key="k"))
        changed = stored.transition(SMSState.SENT, at=T0).replace(
            recipient="+420777000999", content="changed", tag="other", extra_data={}, priority=1, idempotency_key="z"
        )
        repo.save(changed)
        loaded = repo.get(stored.id or 0)
        assert loaded.state is SMSState.SENT
        assert (loaded.recipient, loaded.content, loaded.tag, loaded.extra_data, loaded.priority) == (
            stored.recipient,
            stored.content,
            "t",
            {"a": 1},
            2,
        )
        assert loaded.idempotency_key == "k"

    def test_save_many_writes_all_or_nothing(self, repo: MessageRepository) -> None:
        """One conflict in save_many writes nothing and names the conflicting id."""
        a, b = repo.add_many([make_message(), make_message()])
        repo.save(b.transition(SMSState.SENT, at=T0))
        with pytest.raises(ConcurrentUpdateError) as info:
            repo.save_many([a.transition(SMSState.SENT, at=T0), b.transition(SMSState.ERROR, at=T0, error="x")])
        assert info.value.message_ids == (b.id,)
        assert repo.get(a.id or 0) == a

    def test_save_many_saves_every_message(self, repo: MessageRepository) -> None:
        """save_many returns each message with its new version, in order, all persisted."""
        stored = repo.add_many([make_message(content=str(i)) for i in range(4)])
        saved = repo.save_many([m.transition(SMSState.DELIVERED, at=T0) for m in stored])
        assert [m.version for m in saved] == [m.version + 1 for m in stored]
        assert [repo.get(m.id or 0) for m in saved] == saved

    # -- queries -------------------------------------------------------------------------------------

    def test_find_filters_and_orders_newest_first(self, repo: MessageRepository) -> None:
        """find applies every filter and returns the newest first, up to the limit."""
        a = repo.add(make_message(tag="a", state=SMSState.SENT))
        b = repo.add(make_message(tag="b", state=SMSState.SENT, recipient="+420777000111"))
        c = repo.add(make_message(tag="a", state=SMSState.ERROR, provider="backup"))
        assert repo.find() == [c, b, a]
        assert repo.find(state=SMSState.SENT) == [b, a]
        assert repo.find(tag="a") == [c, a]
        assert repo.find(recipient="+420777000111") == [b]
        assert repo.find(provider="backup") == [c]
        assert repo.find(limit=2) == [c, b]
        assert repo.find(state=SMSState.SENT, tag="a") == [a]
        assert repo.find(tag="nothing") == []

    def test_count_and_stats(self, repo: MessageRepository) -> None:
        """count filters by state and provider; stats counts per (provider, state)."""
        repo.add_many([make_message(state=SMSState.SENT)] * 3 + [make_message(state=SMSState.ERROR, provider="b")])
        assert repo.count() == 4
        assert repo.count(SMSState.SENT) == 3
        assert repo.count(state=SMSState.ERROR, provider="b") == 1
        assert repo.count(SMSState.DELIVERED) == 0
        assert repo.stats() == {("default", SMSState.SENT): 3, ("b", SMSState.ERROR): 1}

    def test_idempotency_key_is_unique(self, repo: MessageRepository) -> None:
        """A second message with the same key is refused, carrying the stored one; nothing new is stored."""
        first = repo.add(make_message(idempotency_key="order-42"))
        with pytest.raises(DuplicateIdempotencyKeyError) as info:
            repo.add(make_message(idempotency_key="order-42", content="again"))
        assert info.value.existing == first
        assert repo.count() == 1
        assert repo.get_by_idempotency_key("order-42") == first
        assert repo.get_by_idempotency_key("other") is None

    def test_a_duplicate_key_in_add_many_stores_nothing(self, repo: MessageRepository) -> None:
        """add_many is all or nothing when one key is already used."""
        repo.add(make_message(idempotency_key="k1"))
        with pytest.raises(DuplicateIdempotencyKeyError):
            repo.add_many([make_message(), make_message(idempotency_key="k1")])
        assert repo.count() == 1

    def test_get_by_provider_ref(self, repo: MessageRepository) -> None:
        """Messages are found by the provider's reference, optionally per provider name."""
        a = repo.add(make_message(provider_ref="SM1", provider="twilio"))
        repo.add(make_message(provider_ref="SM2", provider="twilio"))
        assert repo.get_by_provider_ref("SM1") == a
        assert repo.get_by_provider_ref("SM1", provider="twilio") == a
        assert repo.get_by_provider_ref("SM1", provider="other") is None
        assert repo.get_by_provider_ref("nope") is None

    def test_scan_pages_by_id_with_filters(self, repo: MessageRepository) -> None:
        """scan returns matching messages in ascending id order after after_id, up to limit."""
        sent = [T0 + timedelta(minutes=i) for i in range(6)]
        stored = repo.add_many(
            [make_message(state=SMSState.SENDING if i % 2 == 0 else SMSState.SENT, sent_at=sent[i]) for i in range(6)]
        )
        sending = [m for m in stored if m.state is SMSState.SENDING]
        assert repo.scan(states={SMSState.SENDING}, limit=10) == sending
        page1 = repo.scan(states={SMSState.SENDING, SMSState.SENT}, limit=4)
        page2 = repo.scan(states={SMSState.SENDING, SMSState.SENT}, limit=4, after_id=page1[-1].id or 0)
        assert page1 + page2 == stored
        assert repo.scan(states={SMSState.SENDING}, limit=10, sent_before=sent[2]) == [stored[0]]
        assert repo.scan(states={SMSState.SENDING}, limit=10, sent_after=sent[2]) == [stored[2], stored[4]]
        assert repo.scan(states={SMSState.SENDING}, limit=10, provider="other") == []
        assert repo.scan(states={SMSState.DELIVERED}, limit=10) == []

    # One test method run by a class per adapter: the executors differ on purpose; the repository is filled once
    # per test and only read by the examples.
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
    )
    @given(data=st.data())
    def test_fetch_and_tally_read_a_query_as_its_own_matches_does(
        self, repo: MessageRepository, data: st.DataObject
    ) -> None:
        """Every filter of a MessageQuery, alone or combined, reads the same in the storage as in memory."""
        stored = repo.find(limit=1)
        if not stored:
            stored = repo.add_many(
                [
                    make_message(
                        state=list(SMSState)[i % len(SMSState)],
                        tag=("otp", "news", None)[i % 3],
                        recipient=("+420777000001", "+420777000002")[i % 2],
                        provider=("default", "backup")[i // 6 % 2],
                        sent_at=None if i % 4 == 0 else T0 + timedelta(minutes=i),
                        changed_at=T0 + timedelta(minutes=12 - i),
                    )
                    for i in range(12)
                ]
            )
        every = repo.find()
        moments = st.none() | st.integers(0, 13).map(lambda i: T0 + timedelta(minutes=i))
        query = MessageQuery(
            states=data.draw(st.none() | st.sets(st.sampled_from(SMSState))),
            tag=data.draw(st.sampled_from([None, "otp", "news", "other"])),
            recipient=data.draw(st.sampled_from([None, "+420777000001", "+420777000002"])),
            provider=data.draw(st.sampled_from([None, "default", "backup"])),
            after_id=data.draw(st.sampled_from([0, every[6].id or 0])),
            sent_before=data.draw(moments),
            sent_after=data.draw(moments),
            changed_before=data.draw(moments),
            limit=data.draw(st.none() | st.integers(0, 13)),
            newest_first=data.draw(st.booleans()),
        )
        expected = sorted((m for m in every if query.matches(m)), key=lambda m: m.id or 0)
        assert repo.tally(query) == len(expected)
        if query.newest_first:
            expected.reverse()
        assert repo.fetch(query) == expected[: query.limit]

    def test_a_naive_time_in_a_query_is_refused(self, repo: MessageRepository) -> None:
        """Stored times are UTC: a filter on a naive datetime raises instead of comparing wrongly."""
        with pytest.raises(ValueError, match="changed_before must be timezone-aware"):
            repo.count(changed_before=datetime(2030, 1, 1))

    # -- outbox ----------------------------------------------------------------------------------------

    def test_claim_takes_due_messages_by_priority_then_age_and_leases_them(self, repo: MessageRepository) -> None:
        """claim skips messages not yet due or not WAITING, orders by priority then id, and sets the lease."""
        low = repo.add(make_message(priority=3))
        high = repo.add(make_message(priority=1))
        repo.add(make_message(priority=1, next_attempt_at=T0 + timedelta(hours=1)))
        repo.add(make_message(priority=1, state=SMSState.SENT))
        due_now = repo.add(make_message(priority=2, next_attempt_at=T0))
        lease = T0 + timedelta(minutes=5)
        claimed = repo.claim(now=T0, lease_until=lease, limit=10)
        assert [m.id for m in claimed] == [high.id, due_now.id, low.id]
        assert all(m.lease_expires_at == lease for m in claimed)
        assert [repo.get(m.id or 0) for m in claimed] == claimed
        assert repo.claim(now=T0, lease_until=lease, limit=10) == []

    def test_claim_takes_each_priority_in_due_time_order(self, repo: MessageRepository) -> None:
        """Within a priority, the message due earliest is taken first, whatever its id; a message without a
        due time of its own is due when created."""
        later = repo.add(make_message(next_attempt_at=T0 - timedelta(minutes=1)))
        earlier = repo.add(make_message(next_attempt_at=T0 - timedelta(minutes=5)))
        created = repo.add(make_message(created_at=T0 - timedelta(minutes=3), changed_at=T0))
        urgent = repo.add(make_message(priority=2, next_attempt_at=T0))
        claimed = repo.claim(now=T0, lease_until=T0 + timedelta(minutes=5), limit=10)
        assert [m.id for m in claimed] == [urgent.id, earlier.id, created.id, later.id]

    def test_claim_never_takes_a_message_before_it_is_due(self, repo: MessageRepository) -> None:
        """A backlog due later, at every priority, is left alone while the messages due now are taken; each
        comes when its time does."""
        future = repo.add_many(
            [make_message(priority=1 + i % 3, next_attempt_at=T0 + timedelta(minutes=1 + i)) for i in range(30)]
        )
        due = repo.add_many([make_message(priority=3), make_message(priority=3)])
        lease = T0 + timedelta(hours=5)
        assert [m.id for m in repo.claim(now=T0, lease_until=lease, limit=10)] == [m.id for m in due]
        assert repo.claim(now=T0, lease_until=lease, limit=10) == []
        first = repo.claim(now=T0 + timedelta(minutes=2), lease_until=lease, limit=10)
        assert [m.id for m in first] == [future[0].id, future[1].id]  # priorities 1 and 2, due at +1 and +2 min
        rest = repo.claim(now=T0 + timedelta(hours=1), lease_until=lease, limit=100)
        assert len(rest) == 28

    def test_claim_respects_the_limit(self, repo: MessageRepository) -> None:
        """claim never returns more than limit, and the rest stay claimable."""
        repo.add_many([make_message() for _ in range(5)])
        first = repo.claim(now=T0, lease_until=T0 + timedelta(minutes=1), limit=3)
        second = repo.claim(now=T0, lease_until=T0 + timedelta(minutes=1), limit=3)
        assert len(first) == 3
        assert len(second) == 2
        assert {m.id for m in first}.isdisjoint(m.id for m in second)

    def test_a_claimed_message_saved_after_claim_keeps_compare_and_set(self, repo: MessageRepository) -> None:
        """The version returned by claim is the one to save against; the pre-claim version is stale."""
        stored = repo.add(make_message())
        (claimed,) = repo.claim(now=T0, lease_until=T0 + timedelta(minutes=1), limit=1)
        with pytest.raises(ConcurrentUpdateError):
            repo.save(stored.transition(SMSState.SENT, at=T0))
        saved = repo.save(claimed.transition(SMSState.SENT, at=T0))
        assert saved.lease_expires_at is None

    def test_find_expired_leases(self, repo: MessageRepository) -> None:
        """Only WAITING messages whose lease ended before now are reported."""
        expired = repo.add(make_message(lease_expires_at=T0 - timedelta(seconds=1)))
        repo.add(make_message(lease_expires_at=T0 + timedelta(seconds=1)))
        repo.add(make_message(state=SMSState.SENT, lease_expires_at=T0 - timedelta(seconds=1)))
        repo.add(make_message())
        assert repo.find_expired_leases(now=T0, limit=10) == [expired]

    def test_purge_deletes_old_messages_in_the_given_states(self, repo: MessageRepository) -> None:
        """purge removes up to limit old messages in the states given and reports how many."""
        old = T0 - timedelta(days=100)
        doomed = repo.add_many([make_message(state=SMSState.DELIVERED, changed_at=old) for _ in range(3)])
        keep_recent = repo.add(make_message(state=SMSState.DELIVERED))
        keep_waiting = repo.add(make_message(changed_at=old))
        assert repo.purge(states={SMSState.DELIVERED}, changed_before=T0 - timedelta(days=90), limit=2) == 2
        assert repo.purge(states={SMSState.DELIVERED}, changed_before=T0 - timedelta(days=90), limit=2) == 1
        for message in doomed:
            with pytest.raises(MessageNotFoundError):
                repo.get(message.id or 0)
        assert repo.get(keep_recent.id or 0) == keep_recent
        assert repo.get(keep_waiting.id or 0) == keep_waiting

    def test_count_what_a_purge_would_delete(self, repo: MessageRepository) -> None:
        """count with changed_before counts exactly what purge with the same cut-off then deletes."""
        old, cutoff = T0 - timedelta(days=100), T0 - timedelta(days=90)
        repo.add_many([make_message(state=SMSState.DELIVERED, changed_at=old) for _ in range(3)])
        repo.add(make_message(state=SMSState.DELIVERED, changed_at=cutoff))  # not before the cut-off
        repo.add(make_message(state=SMSState.ERROR, changed_at=old, provider="b"))
        repo.add(make_message(changed_at=old))
        assert repo.count(SMSState.DELIVERED, changed_before=cutoff) == 3
        assert repo.count(SMSState.ERROR, changed_before=cutoff, provider="b") == 1
        assert repo.count(changed_before=cutoff) == 5
        assert repo.count(SMSState.DELIVERED, changed_before=old) == 0
        assert repo.purge(states={SMSState.DELIVERED}, changed_before=cutoff, limit=10) == 3
        assert repo.count(SMSState.DELIVERED, changed_before=cutoff) == 0

    def test_count_what_a_scan_from_a_send_time_would_read(self, repo: MessageRepository) -> None:
        """count with sent_after counts the messages sent at or after it, as scan reads them; unsent ones never."""
        window = T0 - timedelta(hours=1)
        repo.add(make_message(state=SMSState.SENT, sent_at=T0))
        repo.add(make_message(state=SMSState.SENT, sent_at=window))  # inclusive
        repo.add(make_message(state=SMSState.SENT, sent_at=window - timedelta(seconds=1)))
        repo.add(make_message(state=SMSState.SENT, sent_at=T0, provider="b"))
        repo.add(make_message())  # never sent
        assert repo.count(SMSState.SENT, sent_after=window, provider="default") == 2
        assert repo.count(sent_after=window) == 3
        scanned = repo.scan(states={SMSState.SENT}, limit=10, provider="default", sent_after=window)
        assert len(scanned) == 2


class TemplateRepositoryContract:
    """Behaviour every :class:`~smscore.ports.TemplateRepository` must have."""

    @pytest.fixture
    def templates(self) -> TemplateRepository:
        raise NotImplementedError("an adapter's test class provides the templates fixture")

    def test_save_then_get(self, templates: TemplateRepository) -> None:
        """A saved template is found by slug with its body and timestamps."""
        saved = templates.save(SMSTemplate(slug="otp", body="Code {{ code }} ✓"))
        loaded = templates.get("otp")
        assert loaded.slug == "otp"
        assert loaded.body == "Code {{ code }} ✓"
        assert loaded.created_at is not None
        assert loaded.changed_at is not None
        assert loaded == saved

    def test_get_of_a_missing_slug_raises(self, templates: TemplateRepository) -> None:
        """A missing slug is a TemplateNotFoundError naming the slug."""
        with pytest.raises(TemplateNotFoundError, match="nope"):
            templates.get("nope")

    def test_save_replaces_the_body_and_keeps_created_at(self, templates: TemplateRepository) -> None:
        """Saving an existing slug replaces the body; the creation time stays."""
        first = templates.save(SMSTemplate(slug="otp", body="old"))
        second = templates.save(SMSTemplate(slug="otp", body="new"))
        assert templates.get("otp").body == "new"
        assert second.created_at == first.created_at

    def test_delete_and_list(self, templates: TemplateRepository) -> None:
        """list is sorted by slug; delete removes one; deleting a missing slug raises."""
        for slug in ("b", "a", "c"):
            templates.save(SMSTemplate(slug=slug, body=slug))
        assert [t.slug for t in templates.list()] == ["a", "b", "c"]
        templates.delete("b")
        assert [t.slug for t in templates.list()] == ["a", "c"]
        with pytest.raises(TemplateNotFoundError):
            templates.delete("b")

    def test_is_active_round_trips(self, templates: TemplateRepository) -> None:
        """A template is active unless saved inactive; the flag survives get, list and a later save."""
        assert templates.save(SMSTemplate(slug="on", body="x")).is_active is True
        saved = templates.save(SMSTemplate(slug="off", body="x", is_active=False))
        assert saved.is_active is False
        assert templates.get("off").is_active is False
        assert [(t.slug, t.is_active) for t in templates.list()] == [("off", False), ("on", True)]
        templates.save(SMSTemplate(slug="off", body="y", is_active=True))
        assert templates.get("off").is_active is True

    def test_send_template_of_an_inactive_template_raises_and_stores_nothing(
        self, templates: TemplateRepository
    ) -> None:
        """An inactive template refuses to send: TemplateInactiveError naming it, no message, no provider call;
        switched on again, it sends."""
        templates.save(SMSTemplate(slug="off", body="Code {{ code }}", is_active=False))
        messages = InMemoryMessageRepository()
        provider = ScriptedProvider()
        service = SMSService(messages=messages, templates=templates, providers={"default": provider})
        with pytest.raises(TemplateInactiveError, match="'off'") as info:
            service.send_template("+420777123456", "off", {"code": "1"})
        assert info.value.slug == "off"
        assert not isinstance(info.value, TemplateNotFoundError)
        assert messages.count() == 0
        assert provider.published == []
        templates.save(SMSTemplate(slug="off", body="Code {{ code }}", is_active=True))
        sent = service.send_template("+420777123456", "off", {"code": "1"})
        assert sent is not None
        assert sent.content == "Code 1"

    @pytest.mark.parametrize("body", ["Code {% if %}", "{% endfor %}", "{% for x in xs %}"])
    def test_a_body_that_does_not_compile_is_refused_and_nothing_is_stored(
        self, templates: TemplateRepository, body: str
    ) -> None:
        """save checks the body first: a syntax error is a TemplateRenderError and the stored template stays."""
        templates.save(SMSTemplate(slug="otp", body="Code {{ code }}"))
        with pytest.raises(TemplateRenderError, match="syntax"):
            templates.save(SMSTemplate(slug="otp", body=body))
        with pytest.raises(TemplateRenderError):
            templates.save(SMSTemplate(slug="new", body=body))
        assert [(t.slug, t.body) for t in templates.list()] == [("otp", "Code {{ code }}")]
