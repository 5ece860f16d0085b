"""Contract suite for the provider port, run against every provider.

Subclass :class:`ProviderContract` and provide a ``harness`` fixture: an object implementing
:class:`ProviderHarness`, wrapping the provider under test and the peer it talks to (a loopback fake gateway,
moto, a fake HTTP layer under the real SDK). The peer is told how to behave for the next request; what reached
it is read back, so the tests assert what went over the wire, not which functions were called.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Protocol

import pytest

from smscore import Outcome, SMSMessage, SMSProvider, SMSState
from smscore.text import count_segments, detect_encoding

ACCEPTED = {SMSState.SENDING, SMSState.SENT, SMSState.DELIVERED, SMSState.DEBUG}
_ids = itertools.count(1000)


def wire_message(content: str = "Hello", recipient: str = "+420777123456", **changes: object) -> SMSMessage:
    """A stored-looking message (with an id) ready to publish."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    encoding = detect_encoding(content)
    fields: dict[str, object] = {
        "id": next(_ids),
        "recipient": recipient,
        "content": content,
        "created_at": now,
        "changed_at": now,
        "encoding": encoding,
        "segments": count_segments(content, encoding),
    }
    fields.update(changes)
    return SMSMessage(**fields)  # type: ignore[arg-type]


class ProviderHarness(Protocol):
    """A provider and the peer it talks to."""

    provider: SMSProvider

    def peer_accepts(self) -> None:
        """The peer accepts every message of the next request."""

    def peer_rejects(self) -> None:
        """The peer refuses the messages of the next request for good (invalid number, say)."""

    def peer_fails_transiently(self) -> None:
        """The peer is unavailable for the next request (HTTP 503, throttling) before accepting anything."""

    def peer_times_out_after_receiving(self) -> None:
        """The peer receives the next request but the answer never arrives in time."""

    def received(self) -> list[tuple[str, str]]:
        """(recipient, text) of every message that reached the peer, in order."""


class ProviderContract:
    """Behaviour every provider must have."""

    @pytest.fixture
    def harness(self) -> ProviderHarness:
        raise NotImplementedError("a provider's test class provides the harness fixture")

    def test_an_accepted_message_gets_an_accepted_state(self, harness: ProviderHarness) -> None:
        """The peer accepts: one outcome, in an accepted state, without error."""
        harness.peer_accepts()
        (outcome,) = harness.provider.publish([wire_message()])
        assert isinstance(outcome, Outcome)
        assert outcome.state in ACCEPTED
        assert outcome.error is None
        assert harness.received() == [("+420777123456", "Hello")]

    def test_a_rejected_message_is_an_error_with_a_reason(self, harness: ProviderHarness) -> None:
        """The peer refuses: ERROR with a reason, never an exception."""
        harness.peer_rejects()
        (outcome,) = harness.provider.publish([wire_message()])
        assert outcome.state is SMSState.ERROR
        assert outcome.error

    def test_a_transient_outage_is_retryable(self, harness: ProviderHarness) -> None:
        """The peer is unavailable: WAITING (to be retried), never an exception."""
        harness.peer_fails_transiently()
        (outcome,) = harness.provider.publish([wire_message()])
        assert outcome.state is SMSState.WAITING
        assert outcome.error

    def test_a_timeout_after_the_request_left_is_ambiguous(self, harness: ProviderHarness) -> None:
        """The answer never comes: UNKNOWN, so the message is never re-sent blindly."""
        harness.peer_times_out_after_receiving()
        (outcome,) = harness.provider.publish([wire_message()])
        assert outcome.state is SMSState.UNKNOWN
        assert outcome.error

    @pytest.mark.parametrize(
        "text",
        [
            "Plain GSM text @£$¥ with {extension} [chars] ~ | ^ € \\",
            "Příliš žluťoučký kůň úpěl ďábelské ódy",
            "Emoji 🎉 and 漢字 and Кириллица",
            "XML-hostile <b>&amp;</b> \"quotes\" 'apostrophes' & ampersands",
            "x" * 459,
        ],
    )
    def test_bodies_reach_the_wire_unchanged(self, harness: ProviderHarness, text: str) -> None:
        """GSM-7 and unicode bodies arrive at the peer exactly as given."""
        harness.peer_accepts()
        (outcome,) = harness.provider.publish([wire_message(text)])
        assert outcome.state in ACCEPTED
        assert harness.received() == [("+420777123456", text)]

    def test_close_can_be_repeated(self, harness: ProviderHarness) -> None:
        """``close`` is part of the port: it releases the provider's resources, and a second call does nothing."""
        assert isinstance(harness.provider, SMSProvider)
        harness.provider.close()
        harness.provider.close()

    def test_a_batch_gets_one_outcome_per_message_in_order(self, harness: ProviderHarness) -> None:
        """Many messages: as many outcomes, in order, every message delivered to the peer."""
        harness.peer_accepts()
        size = min(25, harness.provider.max_batch_size)
        messages = [wire_message(f"message {i}", recipient=f"+42077712{i:04d}") for i in range(size)]
        outcomes = harness.provider.publish(messages)
        assert len(outcomes) == size
        assert all(o.state in ACCEPTED for o in outcomes)
        assert sorted(harness.received()) == sorted((m.recipient, m.content) for m in messages)
        refs = [o.provider_ref for o in outcomes]
        assert None not in refs
        assert len(set(refs)) == size
