"""The dummy provider under the provider contract.

The dummy has no peer: what it is handed is all that "reaches the wire", so the harness records the messages
handed to it (and passes them on unchanged). A peer that refuses, fails or times out cannot exist for it; those
contract tests are skipped, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import smscore
from providers.dummy import DummySMSBackend
from smscore import Outcome, SMSMessage, SMSState
from tests.contracts.providers import ProviderContract, wire_message

NO_PEER = "the dummy provider sends nothing: there is no peer that could refuse, fail or time out"


class RecordingDummy:
    """The dummy provider, with what it was handed kept as "the wire"."""

    def __init__(self) -> None:
        self.backend = DummySMSBackend()
        self.max_batch_size = self.backend.max_batch_size
        self.can_check_by_our_id = self.backend.can_check_by_our_id
        self.handed: list[SMSMessage] = []

    def publish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        self.handed.extend(messages)
        return self.backend.publish(messages)

    def close(self) -> None:
        self.backend.close()

    async def apublish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        self.handed.extend(messages)
        return await self.backend.apublish(messages)

    async def aclose(self) -> None:
        await self.backend.aclose()


class DummyHarness:
    """The dummy provider for the provider contract."""

    def __init__(self) -> None:
        self.provider = RecordingDummy()

    def peer_accepts(self) -> None:
        """The dummy always accepts."""

    def peer_rejects(self) -> None:
        pytest.skip(NO_PEER)

    def peer_fails_transiently(self) -> None:
        pytest.skip(NO_PEER)

    def peer_times_out_after_receiving(self) -> None:
        pytest.skip(NO_PEER)

    def peer_holds_the_request(self) -> None:
        pytest.skip(NO_PEER)

    def received(self) -> list[tuple[str, str]]:
        return [(message.recipient, message.content) for message in self.provider.handed]


class TestDummyContract(ProviderContract):
    """The provider contract, against the dummy provider."""

    @pytest.fixture
    def harness(self) -> DummyHarness:
        return DummyHarness()


class TestDummy:
    """What the dummy does beyond the contract."""

    def test_every_message_ends_in_debug_with_a_reference(self) -> None:
        """DEBUG, reference ``dummy-<id>``, one outcome per message."""
        messages = [wire_message(), wire_message()]
        outcomes = DummySMSBackend().publish(messages)
        assert [(o.state, o.provider_ref) for o in outcomes] == [(SMSState.DEBUG, f"dummy-{m.id}") for m in messages]

    def test_through_the_service(self) -> None:
        """``build_service`` with the ``dummy`` alias stores the message in DEBUG."""
        with smscore.build_service({"provider": "dummy"}) as service:
            message = service.send("+420777123456", "hello")
        assert message.state is SMSState.DEBUG
