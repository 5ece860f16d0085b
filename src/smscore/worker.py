"""The outbox worker: runs :meth:`SMSService.process_outbox` until told to stop.

Any number of workers, on any number of machines, can drain one outbox: claims never overlap. A worker stops
gracefully on SIGTERM or SIGINT: it finishes the batch in hand (publishes it and stores every outcome) and
claims nothing more. A worker killed without warning leaves its claimed messages leased; when the lease ends,
the next worker step recovers them (see ``SMSService.process_outbox``).

Delivery semantics, stated once: for providers that can be asked about a message by our own id (ATS,
SMS-operator) a message is sent at most once; a crash between the provider's acceptance and the write of the
outcome leaves it UNKNOWN until the delivery check resolves it. For the others (SNS, Twilio) delivery is at
least once: a crash in that same window, which lasts from the provider's answer to the commit of the outcome
(milliseconds), sends the message again after the lease expires (``lease_seconds``).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

import attrs

from smscore.service import OutboxReport, ProviderFailures, SMSService
from smscore.states import SMSState

__all__ = ["Worker", "WorkerStats"]

log = logging.getLogger("smscore.worker")


@attrs.define
class WorkerStats:
    """Totals over a worker's life: steps run, messages claimed, recovered, per final state, and per provider
    the claimed messages it did not take (with the last error)."""

    steps: int = 0
    claimed: int = 0
    recovered: int = 0
    states: dict[SMSState, int] = attrs.field(factory=dict)
    failures: dict[str, ProviderFailures] = attrs.field(factory=dict)

    def add(self, report: OutboxReport) -> None:
        """Count one step's report."""
        self.steps += 1
        self.claimed += report.claimed
        self.recovered += report.recovered
        for state, count in report.states.items():
            self.states[state] = self.states.get(state, 0) + count
        for name, failed in report.failures.items():
            before = self.failures.get(name)
            total = failed.messages + (before.messages if before else 0)
            self.failures[name] = ProviderFailures(messages=total, last_error=failed.last_error)


class Worker:
    """Drains the outbox with ``concurrency`` threads, each claiming up to ``batch_size`` messages per step.

    ``idle_seconds`` is how long a thread waits when it found nothing to do. ``on_step`` is called after each
    step with the running totals (for progress output).
    """

    def __init__(
        self,
        service: SMSService,
        *,
        concurrency: int = 1,
        batch_size: int | None = None,
        idle_seconds: float = 1.0,
        on_step: Callable[[WorkerStats], object] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.service = service
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.stats = WorkerStats()
        self._on_step = on_step
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def stop(self) -> None:
        """Ask every thread to stop after the batch in hand."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopping.is_set()

    def install_signal_handlers(self) -> None:
        """Stop gracefully on SIGTERM and SIGINT (call from the main thread)."""

        def handle(signum: int, frame: FrameType | None) -> None:
            log.info("signal %s received: finishing the batch in hand, then stopping", signum)
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self, *, once: bool = False) -> WorkerStats:
        """Run until :meth:`stop` (or, with ``once``, until the outbox has nothing due). Returns the totals."""
        threads = [
            threading.Thread(target=self._loop, args=(once,), name=f"smscore-worker-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            # join with a timeout so the main thread stays responsive to signals
            while thread.is_alive():
                thread.join(timeout=0.2)
        return self.stats

    def _loop(self, once: bool) -> None:
        while not self._stopping.is_set():
            try:
                report = self.service.process_outbox(self.batch_size)
            except Exception:
                log.exception("outbox step failed; retrying after %s s", self.idle_seconds)
                if once:
                    return
                self._stopping.wait(self.idle_seconds)
                continue
            with self._lock:
                self.stats.add(report)
                if self._on_step is not None:
                    self._on_step(self.stats)
            if report.claimed == 0:
                if once:
                    return
                self._stopping.wait(self.idle_seconds)
