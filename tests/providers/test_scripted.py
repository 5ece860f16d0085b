"""``smscore.testing.ScriptedProvider`` through the provider contract, like the real adapters: a test written
against the fake says something true about the providers it stands in for."""

from __future__ import annotations

import attrs
import pytest

from smscore import Outcome
from smscore.testing import ScriptedProvider
from tests.contracts.providers import ProviderContract


@attrs.define
class ScriptedHarness:
    """The scripted provider is its own peer: the script is what the peer will answer."""

    provider: ScriptedProvider = attrs.field(factory=ScriptedProvider)

    def peer_accepts(self) -> None:
        """An empty script accepts every message."""

    def peer_rejects(self) -> None:
        self.provider.will(Outcome.rejected("the number is blocked", error_code="21610"))

    def peer_fails_transiently(self) -> None:
        self.provider.will(Outcome.transient("HTTP 503", error_code="503"))

    def peer_times_out_after_receiving(self) -> None:
        self.provider.will(Outcome.ambiguous("no answer in time after the request was sent"))

    def received(self) -> list[tuple[str, str]]:
        return [(message.recipient, message.content) for message in self.provider.published]


class TestScriptedProviderContract(ProviderContract):
    """The provider contract, against the scripted fake."""

    @pytest.fixture
    def harness(self) -> ScriptedHarness:
        return ScriptedHarness()
