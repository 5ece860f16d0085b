"""A backend that sends nothing: every message ends in DEBUG. For development and tests."""

from __future__ import annotations

from typing import ClassVar

from providers.base import SMSBackend
from providers.options import OptionSpec
from smscore import Outcome, SMSMessage, SMSState

__all__ = ["DummySMSBackend"]


class DummySMSBackend(SMSBackend):
    """Sends nothing; sets each message to DEBUG with reference ``"dummy-<id>"``."""

    max_batch_size = 1000
    option_spec: ClassVar[OptionSpec | None] = OptionSpec("dummy")

    def publish_message(self, message: SMSMessage) -> Outcome:
        """Accept ``message`` in DEBUG without sending it."""
        return Outcome.accepted(SMSState.DEBUG, provider_ref=f"dummy-{message.id}")
