"""The state machine: the table, its hand-checked edges, and a Hypothesis machine over messages."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from smscore import FINAL_STATES, TRANSITIONS, InvalidStateTransitionError, Outcome, SMSMessage, SMSState
from smscore.states import can_transition, check_transition

W, U, SG, ST, E, DB, DL = (
    SMSState.WAITING,
    SMSState.UNKNOWN,
    SMSState.SENDING,
    SMSState.SENT,
    SMSState.ERROR,
    SMSState.DEBUG,
    SMSState.DELIVERED,
)

#: ARCHITECTURE.md section 3, edge by edge, written out by hand to check the table against.
EDGES = {
    (W, W), (W, SG), (W, ST), (W, DL), (W, DB), (W, E), (W, U),
    (U, SG), (U, ST), (U, DL), (U, E), (U, W),
    (SG, ST), (SG, DL), (SG, E),
    (ST, DL), (ST, E),
}  # fmt: skip

T0 = datetime(2030, 1, 1, tzinfo=UTC)


class TestTable:
    def test_the_table_is_exactly_the_documented_edges(self) -> None:
        """Every edge of the table is documented and every documented edge is in the table."""
        table_edges = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
        assert table_edges == EDGES

    def test_states_are_exactly_the_seven_of_the_seed(self) -> None:
        """The enum holds the seed's seven states, no more."""
        assert {s.name for s in SMSState} == {"WAITING", "UNKNOWN", "SENDING", "SENT", "ERROR", "DEBUG", "DELIVERED"}

    def test_final_states_are_derived_from_the_table(self) -> None:
        """DELIVERED, DEBUG and ERROR are final because the table gives them no way out."""
        assert {DL, DB, E} == FINAL_STATES
        assert all(s.is_final == (not TRANSITIONS[s]) for s in SMSState)

    @pytest.mark.parametrize(("a", "b"), [(a, b) for a in SMSState for b in SMSState])
    def test_check_transition_agrees_with_the_table(self, a: SMSState, b: SMSState) -> None:
        """check_transition raises, naming both states, exactly for the moves the table forbids."""
        assert can_transition(a, b) == ((a, b) in EDGES)
        if (a, b) in EDGES:
            check_transition(a, b)
        else:
            with pytest.raises(InvalidStateTransitionError, match=f"{a.name} to {b.name}"):
                check_transition(a, b, message_id=7)

    def test_failed_is_true_exactly_in_error(self) -> None:
        """failed is the seed's 'ended in ERROR'."""
        for state in SMSState:
            message = SMSMessage(recipient="+420777123456", content="x", state=state, created_at=T0, changed_at=T0)
            assert message.failed == (state is E)


class TestReports:
    def _message(self, state: SMSState) -> SMSMessage:
        return SMSMessage(id=1, recipient="+420777123456", content="x", state=state, created_at=T0, changed_at=T0)

    def test_a_late_report_never_downgrades(self) -> None:
        """SENT arriving after DELIVERED, or SENDING after SENT, is ignored."""
        delivered = self._message(DL)
        assert delivered.apply_report(Outcome.accepted(ST), at=T0 + timedelta(1)) is delivered
        sent = self._message(ST)
        assert sent.apply_report(Outcome.accepted(SG), at=T0 + timedelta(1)) is sent

    def test_a_duplicate_report_is_a_no_op(self) -> None:
        """The same report twice changes nothing the second time."""
        once = self._message(SG).apply_report(Outcome.accepted(DL, provider_ref="r"), at=T0)
        assert once.apply_report(Outcome.accepted(DL, provider_ref="r"), at=T0 + timedelta(1)) is once

    def test_a_report_merges_provider_data_without_losing_old_keys(self) -> None:
        """extra_sender_data is merged, not replaced (the ancestor lost older keys)."""
        message = attrs_evolve(self._message(SG), extra_sender_data={"uniq": "p-1"})
        after = message.apply_report(Outcome.rejected("undelivered", error_code="24"), at=T0)
        assert after.state is E
        assert after.extra_sender_data == {"uniq": "p-1", "error_code": "24"}
        assert after.error == "undelivered"


def attrs_evolve(message: SMSMessage, **changes: object) -> SMSMessage:
    import attrs

    return attrs.evolve(message, **changes)


class MessageLifecycle(RuleBasedStateMachine):
    """Random moves on random messages: illegal ones raise and change nothing; legal ones follow the table."""

    messages = Bundle("messages")

    def __init__(self) -> None:
        super().__init__()
        self.clock = T0
        self.history: dict[int, list[SMSMessage]] = {}
        self.next_id = 1

    def _tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    @rule(target=messages)
    def new_message(self) -> int:
        message = SMSMessage(
            id=self.next_id, recipient="+420777123456", content="x", created_at=self.clock, changed_at=self.clock
        )
        self.history[self.next_id] = [message]
        self.next_id += 1
        return message.id or 0

    @rule(message_id=messages, target_state=st.sampled_from(list(SMSState)), error=st.none() | st.text(max_size=5))
    def move(self, message_id: int, target_state: SMSState, error: str | None) -> None:
        current = self.history[message_id][-1]
        if target_state in TRANSITIONS[current.state]:
            moved = current.transition(target_state, at=self._tick(), error=error)
            assert moved.state is target_state
            assert moved.error == error
            self.history[message_id].append(moved)
        else:
            with pytest.raises(InvalidStateTransitionError):
                current.transition(target_state, at=self._tick(), error=error)
            assert self.history[message_id][-1] is current

    @rule(
        message_id=messages,
        target_state=st.sampled_from(list(SMSState)),
        publish=st.booleans(),
    )
    def provider_answer(self, message_id: int, target_state: SMSState, publish: bool) -> None:
        current = self.history[message_id][-1]
        outcome = Outcome(state=target_state, error=None if target_state is not E else "no")
        if publish:
            if target_state not in TRANSITIONS[current.state]:
                with pytest.raises(InvalidStateTransitionError):
                    current.record_attempt(outcome, at=self._tick())
                return
            after = current.record_attempt(outcome, at=self._tick())
            assert after.attempts == current.attempts + 1
        else:
            after = current.apply_report(outcome, at=self._tick())
            if target_state is not current.state and target_state not in TRANSITIONS[current.state]:
                assert after is current
        self.history[message_id].append(after)

    @invariant()
    def histories_follow_the_table(self) -> None:
        for history in self.history.values():
            for before, after in itertools.pairwise(history):
                if before.state is not after.state:
                    assert after.state in TRANSITIONS[before.state]
                assert after.attempts >= before.attempts
                if before.state in FINAL_STATES:
                    assert after.state is before.state
                if before.sent_at is not None:
                    assert after.sent_at == before.sent_at
                assert after.failed == (after.state is E)


TestMessageLifecycle = MessageLifecycle.TestCase


class TestReplace:
    def test_replace_equals_attrs_evolve(self) -> None:
        """The fast copy gives exactly what attrs.evolve gives, and refuses unknown fields."""
        import attrs

        message = SMSMessage(id=3, recipient="+420777123456", content="x", created_at=T0, changed_at=T0)
        assert message.replace(attempts=2, tag="t") == attrs.evolve(message, attempts=2, tag="t")
        assert message.replace() == message
        with pytest.raises(TypeError, match="no field 'colour'"):
            message.replace(colour="red")

    def test_replace_copies_every_field_and_changes_only_the_one_named(self) -> None:
        import attrs

        message = SMSMessage(id=3, recipient="+420777123456", content="x", created_at=T0, changed_at=T0, tag="t")
        for field in attrs.fields(SMSMessage):
            marker = object()
            copy = message.replace(**{field.name: marker})
            for other in attrs.fields(SMSMessage):
                expected = marker if other is field else getattr(message, other.name)
                assert getattr(copy, other.name) is expected, (field.name, other.name)

    def test_replace_leaves_the_original_untouched_and_frozen(self) -> None:
        """A copy is a new value: changing it changes nothing in the message copied, and it stays frozen."""
        import attrs

        message = SMSMessage(id=3, recipient="+420777123456", content="x", created_at=T0, changed_at=T0)
        copy = message.replace(tag="new")
        assert (message.tag, copy.tag) == (None, "new")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            copy.tag = "again"  # type: ignore[misc]


class TestFromFields:
    def test_a_whole_mapping_of_fields_gives_the_message_the_constructor_gives(self) -> None:
        """from_fields takes every field by name, as storages read whole rows; the result equals a message built
        with keywords, and is frozen like one."""
        import attrs

        message = SMSMessage(id=3, recipient="+420777123456", content="x", created_at=T0, changed_at=T0, tag="t")
        fields = attrs.asdict(message, recurse=False)
        rebuilt = SMSMessage.from_fields(fields)
        assert rebuilt == message
        fields["tag"] = "changed later"
        assert rebuilt.tag == "t"
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            rebuilt.tag = "x"  # type: ignore[misc]

    def test_a_missing_or_unknown_field_is_refused_by_name(self) -> None:
        """A row without a field, or with one the message does not have, is a TypeError naming both."""
        import attrs

        fields = attrs.asdict(
            SMSMessage(recipient="+420777123456", content="x", created_at=T0, changed_at=T0), recurse=False
        )
        del fields["version"]
        fields["colour"] = "red"
        with pytest.raises(TypeError, match=r"missing \['version'\], unknown \['colour'\]"):
            SMSMessage.from_fields(fields)
