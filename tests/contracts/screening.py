"""Contract suite of the :class:`~smscore.ports.OptOutScreening` role: subclass :class:`OptOutScreeningContract` and
provide ``screening``, a fresh message repository with the role and the opt-out repository it screens against."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smscore import DuplicateIdempotencyKeyError, RecipientLimit, RelatedObject, SMSMessage
from smscore.ports import MessageRepository, OptOutRepository, OptOutScreening
from tests.contracts.guards import OTP, opt_out
from tests.contracts.repositories import make_message

LISTED = "+420777000001"
FREE = "+420777000002"

#: A message repository with the role, and the opt-out repository it screens against.
Screening = tuple[MessageRepository, OptOutRepository]


def _repo(screening: Screening) -> Any:
    """The message repository of the pair (a :class:`MessageRepository` with the role)."""
    repo = screening[0]
    assert isinstance(repo, OptOutScreening)
    return repo


def _stored(results: list[SMSMessage | str]) -> list[SMSMessage]:
    return [result for result in results if isinstance(result, SMSMessage)]


class OptOutScreeningContract:
    """``add_screened`` stores what ``add_within_limits`` would, less the screened messages to listed numbers."""

    @pytest.fixture
    def screening(self) -> Screening:
        raise NotImplementedError("an adapter's test class provides the screening fixture")

    def test_it_screens_against_its_own_list(self, screening: Screening) -> None:
        """The repository answers for the opt-out repository it shares a storage with."""
        repo, opt_outs = _repo(screening), screening[1]
        assert repo.screens(opt_outs)

    def test_only_screened_messages_to_listed_numbers_are_left_out(self, screening: Screening) -> None:
        """A listed number is left out where its flag is set and stored where not; the rest keep their order and
        get ascending ids, as add_many gives them."""
        repo, opt_outs = _repo(screening), screening[1]
        opt_outs.add(opt_out(LISTED))
        batch = [
            make_message(recipient=FREE, content="a"),
            make_message(recipient=LISTED, content="b"),
            make_message(recipient=LISTED, content="c", tag="otp"),
            make_message(recipient=FREE, content="d"),
            make_message(recipient=LISTED, content="e"),
        ]
        results = repo.add_screened(batch, [True, True, False, True, True], {})
        assert [r if isinstance(r, str) else r.content for r in results] == ["a", "opted_out", "c", "d", "opted_out"]
        stored = _stored(results)
        ids = [message.id or 0 for message in stored]
        assert ids == sorted(ids)
        assert len(set(ids)) == 3
        assert [repo.get(i) for i in ids] == stored
        assert sorted(m.content for m in repo.find()) == ["a", "c", "d"]

    def test_a_number_off_the_list_is_stored(self, screening: Screening) -> None:
        """Screening reads the list as it is at the call: removed numbers pass again."""
        repo, opt_outs = _repo(screening), screening[1]
        opt_outs.add(opt_out(LISTED))
        assert repo.add_screened([make_message(recipient=LISTED)], [True], {}) == ["opted_out"]
        opt_outs.remove(LISTED)
        [message] = repo.add_screened([make_message(recipient=LISTED)], [True], {})
        assert isinstance(message, SMSMessage)
        assert repo.get(message.id or 0) == message

    def test_a_message_left_out_counts_toward_no_limit(self, screening: Screening) -> None:
        """Opted out comes before the limit: the listed number's messages are ``opted_out``, and the limit counts
        only the stored ones (three otp an hour)."""
        repo, opt_outs = _repo(screening), screening[1]
        opt_outs.add(opt_out(LISTED))
        batch = [make_message(recipient=LISTED, tag="otp") for _ in range(2)]
        batch += [make_message(recipient=FREE, tag="otp", content=str(i)) for i in range(4)]
        batch.append(make_message(recipient=LISTED, tag="otp", content="exempt"))
        results = repo.add_screened(batch, [True] * 6 + [False], OTP)
        assert [r if isinstance(r, str) else r.content for r in results] == [
            "opted_out",
            "opted_out",
            "0",
            "1",
            "2",
            "rate_limited",
            "exempt",
        ]
        assert repo.count() == 4

    def test_limits_count_what_is_stored_already(self, screening: Screening) -> None:
        """A limited tag counts the messages stored before the call, as add_within_limits does."""
        repo = _repo(screening)
        limits = {"otp": RecipientLimit(count=1, per=timedelta(hours=1))}
        repo.add(make_message(recipient=FREE, tag="otp"))
        assert repo.add_screened([make_message(recipient=FREE, tag="otp")], [True], limits) == ["rate_limited"]

    def test_related_objects_are_stored_with_the_kept_messages(self, screening: Screening) -> None:
        repo, opt_outs = _repo(screening), screening[1]
        opt_outs.add(opt_out(LISTED))
        related = (RelatedObject("shop.order", 7), RelatedObject("auth.user", "u-1"))
        results = repo.add_screened(
            [make_message(recipient=LISTED, related_objects=related), make_message(related_objects=related)],
            [True, True],
            {},
        )
        assert results[0] == "opted_out"
        kept = results[1]
        assert isinstance(kept, SMSMessage)
        assert repo.get(kept.id or 0).related_objects == related

    def test_a_taken_idempotency_key_stores_nothing(self, screening: Screening) -> None:
        """All or nothing, as add_many: the error names the message holding the key."""
        repo = _repo(screening)
        held = repo.add(make_message(idempotency_key="k"))
        with pytest.raises(DuplicateIdempotencyKeyError) as info:
            repo.add_screened([make_message(recipient=FREE), make_message(idempotency_key="k")], [True, True], {})
        assert info.value.existing == held
        assert repo.count() == 1

    def test_flags_and_messages_must_pair_up(self, screening: Screening) -> None:
        """A flag list of another length is a programming error: ValueError, nothing stored."""
        repo = _repo(screening)
        with pytest.raises(ValueError, match="flags"):
            repo.add_screened([make_message(), make_message()], [True], {})
        assert repo.count() == 0

    def test_nothing_to_store(self, screening: Screening) -> None:
        assert _repo(screening).add_screened([], [], {}) == []

    def test_a_batch_larger_than_one_statement(self, screening: Screening) -> None:
        """Two thousand five hundred messages, one listed number spread over them: every page screens alike."""
        repo, opt_outs = _repo(screening), screening[1]
        opt_outs.add(opt_out(LISTED))
        batch = [make_message(recipient=LISTED if i % 7 == 0 else FREE, content=str(i)) for i in range(2500)]
        results = repo.add_screened(batch, [True] * len(batch), {})
        assert [r == "opted_out" for r in results] == [i % 7 == 0 for i in range(2500)]
        stored = _stored(results)
        assert [m.content for m in stored] == [str(i) for i in range(2500) if i % 7]
        # Newest first: each id holds the content it was returned with.
        assert [(m.id, m.content) for m in reversed(repo.find(recipient=FREE))] == [(m.id, m.content) for m in stored]

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        rows=st.lists(st.tuples(st.integers(0, 4), st.booleans()), max_size=12),
        listed=st.sets(st.integers(0, 4)),
    )
    def test_any_batch_matches_a_look_up_then_an_insert(
        self, screening: Screening, rows: list[tuple[int, bool]], listed: set[int]
    ) -> None:
        """Whatever the numbers, flags and list: left out exactly where flagged and listed, the rest stored with
        their own content."""
        repo, opt_outs = _repo(screening), screening[1]
        numbers = [f"+42077700010{n}" for n in range(5)]
        for number in numbers:
            opt_outs.remove(number)
        opt_outs.add_many([opt_out(numbers[n]) for n in listed])
        batch = [make_message(recipient=numbers[n], content=f"{i}") for i, (n, _) in enumerate(rows)]
        results = repo.add_screened(batch, [flag for _, flag in rows], {})
        expected = ["opted_out" if flag and n in listed else str(i) for i, (n, flag) in enumerate(rows)]
        assert [r if isinstance(r, str) else r.content for r in results] == expected
        for result in _stored(results):
            assert repo.get(result.id or 0).content == result.content
