"""A backend that sends nothing: every message ends in DEBUG. For development and tests."""

from __future__ import annotations

from providers.base import SMSBackend
from smscore import Outcome, SMSMessage, SMSState

__all__ = ["DummySMSBackend"]


class DummySMSBackend(SMSBackend):
    """Sends nothing; sets each message to DEBUG with reference ``"dummy-<id>"``."""

    max_batch_size = 1000

    def publish_message(self, message: SMSMessage) -> Outcome:
        """Accept ``message`` in DEBUG without sending it."""
        return Outcome.accepted(SMSState.DEBUG, provider_ref=f"dummy-{message.id}")
