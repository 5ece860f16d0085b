"""Providers for the tests, configured by dotted path like any backend."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections

from smscore import Outcome, SMSMessage
from smscore.testing import ScriptedProvider


class TransactionSpyProvider(ScriptedProvider):
    """A scripted provider that also records, at each publish, whether any database connection was inside a
    transaction (it never should be)."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.in_transaction: list[bool] = []

    def publish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        self.in_transaction.append(any(connections[alias].in_atomic_block for alias in connections))
        return super().publish(messages)


class BrokenCheckProvider(ScriptedProvider):
    """Accepts messages in SENDING; asking about delivery always fails."""

    def bulk_check_sms_states(self, messages: Sequence[SMSMessage]) -> list[Outcome | None]:
        raise ConnectionError("the delivery report service is down")
