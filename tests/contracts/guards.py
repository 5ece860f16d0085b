"""Contract suites of the guards' storage, run against every adapter.

- :class:`OptOutRepositoryContract`: subclass and provide ``opt_outs``, a fresh, empty opt-out repository.
- :class:`RefusalCounterContract`: subclass and provide ``refusals``, a fresh refusal counter.
- :class:`RecipientLimitContract`: mixed into :class:`~tests.contracts.repositories.MessageRepositoryContract`, so
  ``add_within_limits`` runs wherever the message repository contract runs (its ``repo`` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smscore import DuplicateIdempotencyKeyError, OptOut, RecipientLimit, SMSMessage
from smscore.ports import MessageRepository, OptOutRepository, RefusalCounter

T0 = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
OTP = {"otp": RecipientLimit(count=3, per=timedelta(hours=1))}


def opt_out(number: str = "+420777123456", **changes: Any) -> OptOut:
    """An opt-out entry with sensible defaults; keyword arguments override fields."""
    fields: dict[str, Any] = {"recipient": number, "reason": "STOP", "source": "test", "created_at": T0}
    fields.update(changes)
    return OptOut(**fields)


def limited(at: datetime = T0, **changes: Any) -> SMSMessage:
    """A new ``otp`` message to +420777123456 created ``at``."""
    fields: dict[str, Any] = {
        "recipient": "+420777123456",
        "content": "Your code is 1234",
        "tag": "otp",
        "created_at": at,
        "changed_at": at,
        "provider": "default",
    }
    fields.update(changes)
    return SMSMessage(**fields)


class OptOutRepositoryContract:
    """Behaviour every :class:`~smscore.ports.OptOutRepository` must have."""

    @pytest.fixture
    def opt_outs(self) -> OptOutRepository:
        raise NotImplementedError("an adapter's test class provides the opt_outs fixture")

    def test_an_added_number_is_on_the_list_with_its_reason_source_and_time(self, opt_outs: OptOutRepository) -> None:
        """add stores the entry as given; get, contains and list find it."""
        entry = opt_out(reason="asked by phone", source="cli")
        assert opt_outs.add(entry) == entry
        assert opt_outs.get("+420777123456") == entry
        assert opt_outs.contains("+420777123456")
        assert not opt_outs.contains("+420777000000")
        assert opt_outs.get("+420777000000") is None
        assert opt_outs.list() == [entry]
        assert opt_outs.count() == 1

    def test_adding_again_keeps_the_first_entry(self, opt_outs: OptOutRepository) -> None:
        """An opt-out is kept as first recorded: a second add returns the stored entry and changes nothing."""
        first = opt_outs.add(opt_out(reason="first"))
        again = opt_outs.add(opt_out(reason="second", created_at=T0 + timedelta(days=1)))
        assert again == first
        assert opt_outs.list() == [first]

    def test_a_reason_may_be_missing(self, opt_outs: OptOutRepository) -> None:
        """An entry without a reason comes back without one."""
        entry = opt_outs.add(opt_out(reason=None))
        assert opt_outs.get(entry.recipient) == entry

    def test_remove_returns_the_entry_and_takes_the_number_off(self, opt_outs: OptOutRepository) -> None:
        """remove gives back what it removed; removing a number not on the list gives None."""
        entry = opt_outs.add(opt_out())
        assert opt_outs.remove(entry.recipient) == entry
        assert not opt_outs.contains(entry.recipient)
        assert opt_outs.remove(entry.recipient) is None
        assert opt_outs.count() == 0

    def test_add_many_counts_only_new_numbers(self, opt_outs: OptOutRepository) -> None:
        """add_many stores every new number once (duplicates in the call too) and says how many were new."""
        opt_outs.add(opt_out("+420777000001", reason="kept"))
        numbers = [f"+42077700{i:04d}" for i in range(1, 1201)]
        added = opt_outs.add_many([opt_out(n) for n in numbers] + [opt_out(numbers[5])])
        assert added == 1199
        assert opt_outs.count() == 1200
        assert opt_outs.get("+420777000001") == opt_out("+420777000001", reason="kept")

    def test_among_returns_the_listed_numbers_of_a_large_set(self, opt_outs: OptOutRepository) -> None:
        """among answers for many numbers at once (more than one chunk)."""
        opt_outs.add_many([opt_out(f"+42077700{i:04d}") for i in range(0, 1500, 3)])
        asked = {f"+42077700{i:04d}" for i in range(1500)}
        assert opt_outs.among(asked) == {f"+42077700{i:04d}" for i in range(0, 1500, 3)}
        assert opt_outs.among(set()) == set()

    def test_list_pages_by_number(self, opt_outs: OptOutRepository) -> None:
        """list is ordered by number; after and limit page through it without gaps or repeats."""
        numbers = [f"+4207770000{i:02d}" for i in range(25)]
        opt_outs.add_many([opt_out(n) for n in reversed(numbers)])
        seen: list[str] = []
        after = None
        while page := opt_outs.list(limit=10, after=after):
            seen.extend(entry.recipient for entry in page)
            after = page[-1].recipient
        assert seen == numbers
        assert opt_outs.list(limit=0) == []


class RefusalCounterContract:
    """Behaviour every :class:`~smscore.ports.RefusalCounter` must have."""

    @pytest.fixture
    def refusals(self) -> RefusalCounter:
        raise NotImplementedError("an adapter's test class provides the refusals fixture")

    def test_counts_add_up_per_reason_and_tag(self, refusals: RefusalCounter) -> None:
        """Totals are kept per (reason, tag); a missing tag is its own key; nothing refused is left out."""
        assert refusals.totals() == {}
        refusals.add({("opted_out", None): 2, ("rate_limited", "otp"): 1})
        refusals.add({("rate_limited", "otp"): 4, ("not_allowed", "otp"): 1})
        assert refusals.totals() == {("opted_out", None): 2, ("rate_limited", "otp"): 5, ("not_allowed", "otp"): 1}


class RecipientLimitContract:
    """``add_within_limits``: at most ``count`` messages per recipient and tag within ``per``, counted from what
    is stored and from the call's own messages."""

    def test_messages_within_the_limit_are_stored_and_the_excess_is_not(self, repo: MessageRepository) -> None:
        """Three otp messages to one number pass, the fourth is refused and stored nowhere."""
        results = [repo.add_within_limits([limited(T0 + timedelta(minutes=i))], OTP)[0] for i in range(4)]
        assert all(isinstance(r, SMSMessage) and r.id is not None for r in results[:3])
        assert results[3] is None
        assert len(repo.find(recipient="+420777123456")) == 3

    def test_the_window_rolls(self, repo: MessageRepository) -> None:
        """A message older than the window no longer counts; one exactly at its start does not either."""
        repo.add_within_limits(
            [limited(T0), limited(T0 + timedelta(minutes=30)), limited(T0 + timedelta(minutes=40))], OTP
        )
        assert repo.add_within_limits([limited(T0 + timedelta(minutes=50))], OTP) == [None]
        [message] = repo.add_within_limits([limited(T0 + timedelta(hours=1))], OTP)
        assert message is not None
        assert repo.add_within_limits([limited(T0 + timedelta(hours=1, minutes=1))], OTP) == [None]

    def test_a_batch_counts_its_own_messages(self, repo: MessageRepository) -> None:
        """Five otp messages to one number in one call: the first three are stored, in order."""
        batch = [limited(content=f"code {i}") for i in range(5)]
        results = repo.add_within_limits(batch, OTP)
        assert [r.content if r else None for r in results] == ["code 0", "code 1", "code 2", None, None]

    def test_other_recipients_tags_and_untagged_messages_are_not_limited(self, repo: MessageRepository) -> None:
        """The limit is per recipient and per tag; a tag without a limit and no tag pass."""
        repo.add_within_limits([limited() for _ in range(3)], OTP)
        others = [
            limited(recipient="+420777000000"),
            limited(tag="welcome"),
            limited(tag=None),
            limited(tag="otp"),
        ]
        results = repo.add_within_limits(others, OTP)
        assert [r is not None for r in results] == [True, True, True, False]

    def test_a_duplicate_idempotency_key_stores_nothing(self, repo: MessageRepository) -> None:
        """The call is all or nothing for its admitted messages, as add_many is."""
        held = repo.add(limited(idempotency_key="k", tag="welcome"))
        with pytest.raises(DuplicateIdempotencyKeyError) as info:
            repo.add_within_limits([limited(), limited(idempotency_key="k")], OTP)
        assert info.value.existing == held
        assert [m.id for m in repo.find()] == [held.id]

    def test_nothing_to_store(self, repo: MessageRepository) -> None:
        """An empty call stores nothing; a call where every message is refused returns only Nones."""
        assert repo.add_within_limits([], OTP) == []
        repo.add_within_limits([limited() for _ in range(3)], OTP)
        assert repo.add_within_limits([limited(), limited()], OTP) == [None, None]
