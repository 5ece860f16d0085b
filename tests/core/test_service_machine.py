"""A Hypothesis state machine over the outbox: no message is ever lost or sent twice.

The provider answers from a script (accept, reject, transient, ambiguous, raise); workers may die after the
provider accepted but before the outcome was stored. The model counts, per message, the publish calls that may
have reached a real phone (accepted, ambiguous or raised). With a provider that can be asked by our id that count
never exceeds one, and every message is always stored in a state that explains it.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from smscore import Outcome, SMSConfig, SMSService, SMSState
from smscore.testing import FixedClock, InMemoryMessageRepository, InMemoryTemplateRepository, ScriptedProvider
from tests.async_twin import twin

ANSWERS = {
    "accept": lambda: Outcome.accepted(SMSState.SENDING),
    "reject": lambda: Outcome.rejected("invalid number"),
    "transient": lambda: Outcome.transient("HTTP 503"),
    "ambiguous": lambda: Outcome.ambiguous("read timeout"),
    "raise": lambda: ConnectionResetError("reset"),
}
MAY_HAVE_SENT = {"accept", "ambiguous", "raise"}
MAX_ATTEMPTS = 3


class RecordingProvider(ScriptedProvider):
    """Remembers which scripted answer each message handed to it got (read from the script itself)."""

    KIND_OF_STATE = {
        SMSState.SENDING: "accept",
        SMSState.ERROR: "reject",
        SMSState.WAITING: "transient",
        SMSState.UNKNOWN: "ambiguous",
    }

    def __init__(self) -> None:
        super().__init__(default_state=SMSState.SENDING, max_batch_size=4, can_check_by_our_id=True)
        self.log: list[tuple[int, str]] = []

    def queue(self, kind: str) -> None:
        self.will(ANSWERS[kind]())

    def publish(self, messages):  # type: ignore[no-untyped-def]
        upcoming = [
            "raise" if isinstance(answer, BaseException) else self.KIND_OF_STATE[answer.state]
            for answer in self._script[: len(messages)]
        ]
        upcoming += ["accept"] * (len(messages) - len(upcoming))
        for message, kind in zip(messages, upcoming, strict=True):
            # A raise interrupts the batch: later messages of it never reach the provider.
            self.log.append((message.id or 0, kind))
            if kind == "raise":
                break
        return super().publish(messages)


class Outbox(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock()
        self.provider = RecordingProvider()
        self.service = SMSService(
            messages=InMemoryMessageRepository(),
            templates=InMemoryTemplateRepository(),
            providers={"default": self.provider},
            config=SMSConfig.from_mapping(
                {
                    "batch_sending": True,
                    "max_attempts": MAX_ATTEMPTS,
                    "retry_backoff_seconds": 1,
                    "lease_seconds": 60,
                    "batch_size": 5,
                    "idle_timeout_minutes": 60,
                }
            ),
            clock=self.clock,
        )
        self.ids: list[int] = []

    @rule(count=st.integers(1, 4))
    def send(self, count: int) -> None:
        for _ in range(count):
            self.ids.append(self.service.send("+420777123456", "x").id or 0)

    @rule(kinds=st.lists(st.sampled_from(sorted(ANSWERS)), min_size=1, max_size=4))
    def script(self, kinds: list[str]) -> None:
        for kind in kinds:
            self.provider.queue(kind)

    @rule()
    def worker_step(self) -> None:
        self.service.process_outbox()

    @precondition(lambda self: self.ids)
    @rule()
    def worker_dies_after_the_provider_answered(self) -> None:
        now = self.clock.now()
        claimed = self.service.messages.claim(now=now, lease_until=now + timedelta(seconds=60), limit=3)
        if claimed:
            with contextlib.suppress(ConnectionResetError):
                self.provider.publish(claimed)

    @rule(seconds=st.sampled_from([1, 30, 61, 3700]))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)

    @rule(data=st.data())
    def delivery_reports(self, data: st.DataObject) -> None:
        in_flight = [m for m in self.service.messages.find() if m.state in {SMSState.SENDING, SMSState.UNKNOWN}]
        for message in in_flight:
            if data.draw(st.booleans()):
                self.provider.report(message.id or 0, Outcome.accepted(SMSState.DELIVERED))
        self.service.check_delivery()

    @invariant()
    def nothing_is_lost(self) -> None:
        stored = {m.id for m in self.service.messages.find()}
        assert stored == set(self.ids)

    @invariant()
    def nothing_is_sent_twice(self) -> None:
        maybe_sent = Counter(mid for mid, kind in self.provider.log if kind in MAY_HAVE_SENT)
        assert all(count <= 1 for count in maybe_sent.values()), maybe_sent

    @invariant()
    def states_explain_what_happened(self) -> None:
        published = Counter(mid for mid, _ in self.provider.log)
        for message in self.service.messages.find():
            assert message.attempts <= MAX_ATTEMPTS
            assert published[message.id] <= MAX_ATTEMPTS
            if message.state is SMSState.WAITING and message.lease_expires_at is None:
                # only messages never tried or tried with a transient failure wait
                kinds = [kind for mid, kind in self.provider.log if mid == message.id]
                assert all(kind == "transient" for kind in kinds), kinds


Outbox.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestOutbox = Outbox.TestCase


class AsyncOutbox(Outbox):
    """The same machine against ``AsyncSMSService`` (on the same flows, awaited): the same guarantees hold."""

    def __init__(self) -> None:
        super().__init__()
        self.service = twin(self.service)  # type: ignore[assignment]

    def teardown(self) -> None:
        self.service.close()


AsyncOutbox.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestAsyncOutbox = AsyncOutbox.TestCase
