"""A backend that sends nothing: every message ends in DEBUG. For development and tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import ClassVar

from providers.base import SMSBackend
from providers.options import OptionSpec
from smscore import Outcome, SMSMessage, SMSState

__all__ = ["DummySMSBackend"]


class DummySMSBackend(SMSBackend):
    """Sends nothing; sets each message to DEBUG with reference ``"dummy-<id>"``.

    It plays the asyncio roles too (:class:`smscore.async_ports.AsyncPublisher`): :meth:`apublish` gives the same
    outcomes without a thread or a client.
    """

    max_batch_size = 1000
    option_spec: ClassVar[OptionSpec | None] = OptionSpec("dummy")

    def publish_message(self, message: SMSMessage) -> Outcome:
        """Accept ``message`` in DEBUG without sending it."""
        return Outcome.accepted(SMSState.DEBUG, provider_ref=f"dummy-{message.id}")

    def publish_messages(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        """Accept every message (never unavailable, so there is no rest to leave untried)."""
        return [self.publish_message(message) for message in messages]

    async def apublish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        """:meth:`publish` as a coroutine. It yields to the loop once, as a real provider's request would, so
        other tasks run between batches and a cancelled task stops here."""
        await asyncio.sleep(0)
        return self.publish(messages)

    async def aclose(self) -> None:
        """Nothing to release."""
