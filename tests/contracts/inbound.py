"""Contract suite of the store of received SMS, run against every adapter.

Subclass :class:`InboundRepositoryContract` and provide ``inbound``, a fresh, empty inbound repository.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smscore import DuplicateInboundError, InboundNotFoundError, InboundSMS
from smscore import InboundQuery as Q
from smscore.ports import InboundRepository

T0 = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def received(ref: str = "SM1", **changes: Any) -> InboundSMS:
    """A new inbound SMS with sensible defaults; keyword arguments override fields."""
    fields: dict[str, Any] = {
        "provider": "default",
        "sender": "+420777123456",
        "recipient": "+15005550006",
        "content": "Yes, see you at 10",
        "received_at": T0,
        "provider_ref": ref,
        "extra_data": {"FromCountry": "CZ"},
    }
    fields.update(changes)
    return InboundSMS(**fields)


class InboundRepositoryContract:
    """Behaviour every :class:`~smscore.ports.InboundRepository` must have."""

    @pytest.fixture
    def inbound(self) -> InboundRepository:
        raise NotImplementedError("an adapter's test class provides the inbound fixture")

    def test_an_added_sms_comes_back_with_an_id_and_every_field(self, inbound: InboundRepository) -> None:
        """add assigns an id; get returns the same value, datetimes aware and in UTC."""
        stored = inbound.add(received(content="Příliš žluťoučký kůň 🐎", reply_to=None))
        assert stored.id is not None
        assert inbound.get(stored.id) == stored
        assert stored.received_at == T0
        assert stored.received_at.utcoffset() == timedelta(0)
        assert stored.extra_data == {"FromCountry": "CZ"}

    def test_an_unknown_id_raises(self, inbound: InboundRepository) -> None:
        """get of an id never stored raises InboundNotFoundError (a LookupError)."""
        with pytest.raises(InboundNotFoundError) as caught:
            inbound.get(999)
        assert isinstance(caught.value, LookupError)

    def test_a_repeated_reference_is_stored_once(self, inbound: InboundRepository) -> None:
        """A second add with the provider's reference raises with the stored one; other providers are separate."""
        first = inbound.add(received("SM1"))
        with pytest.raises(DuplicateInboundError) as caught:
            inbound.add(received("SM1", content="a retry"))
        assert caught.value.existing == first
        other = inbound.add(received("SM1", provider="backup"))
        assert other.id != first.id
        assert inbound.count(Q()) == 2

    def test_find_reads_newest_first_with_every_filter(self, inbound: InboundRepository) -> None:
        """find filters on sender, provider, since (inclusive) and before_id, newest first, up to limit."""
        a = inbound.add(received("a", received_at=T0))
        b = inbound.add(received("b", received_at=T0 + timedelta(hours=1), sender="+420777000111"))
        c = inbound.add(received("c", received_at=T0 + timedelta(hours=2), provider="backup"))
        assert inbound.find(Q()) == [c, b, a]
        assert inbound.find(Q(sender="+420777123456")) == [c, a]
        assert inbound.find(Q(provider="default")) == [b, a]
        assert inbound.find(Q(since=T0 + timedelta(hours=1))) == [c, b]
        assert inbound.find(Q(before_id=c.id)) == [b, a]
        assert inbound.find(Q(limit=1)) == [c]
        assert inbound.find(Q(limit=0)) == []
        assert inbound.find(Q(sender="+420777123456", provider="default", limit=5)) == [a]
        assert inbound.count(Q(since=T0 + timedelta(hours=1))) == 2
        assert inbound.count(Q(provider="backup", limit=0)) == 1

    def test_the_replied_message_id_is_kept(self, inbound: InboundRepository, replied_id: int | None) -> None:
        """reply_to survives the round trip (an existing message's id where the store links them)."""
        stored = inbound.add(received(reply_to=replied_id))
        assert inbound.get(stored.id or 0).reply_to == replied_id

    @pytest.fixture
    def replied_id(self) -> int | None:
        """The id of a stored message an inbound SMS may answer (stores that link rows need it to exist)."""
        return 7

    def test_concurrent_adds_of_one_reference_store_one(self, inbound: InboundRepository) -> None:
        """Eight threads adding the same reference at once: one stores, the others get the stored one."""
        barrier = threading.Barrier(8)
        stored: list[InboundSMS] = []
        duplicates: list[InboundSMS] = []

        def add() -> None:
            barrier.wait()
            try:
                stored.append(inbound.add(received("SMrace")))
            except DuplicateInboundError as exc:
                duplicates.append(exc.existing)

        threads = [threading.Thread(target=add) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(stored) == 1
        assert duplicates == [stored[0]] * 7
        assert inbound.count(Q()) == 1
