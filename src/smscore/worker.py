"""The outbox workers: run the service's ``process_outbox`` until told to stop, in threads (:class:`Worker`) or on
an event loop (:class:`AsyncWorker`).

Any number of workers, on any number of machines, can drain one outbox: claims never overlap. A worker stops
gracefully on SIGTERM or SIGINT: it finishes the batch in hand (publishes it and stores every outcome) and
claims nothing more. A worker killed without warning leaves its claimed messages leased; when the lease ends,
the next worker step recovers them (see ``SMSService.process_outbox``).

Delivery semantics, stated once: for providers that can be asked about a message by our own id (ATS,
SMS-operator) a message is sent at most once; a crash between the provider's acceptance and the write of the
outcome leaves it UNKNOWN until the delivery check resolves it. For the others (SNS, Twilio) delivery is at
least once: a crash in that same window, which lasts from the provider's answer to the commit of the outcome
(milliseconds), sends the message again after the lease expires (``lease_seconds``).

Both workers make the same decisions (when to step, when to wait, what to count and log), written once as a
flow (:mod:`smscore.flow`): the threaded worker runs it with the synchronous driver, the asyncio one awaits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any, Final, Generic, TypeVar, cast

import attrs

from smscore import flow
from smscore.async_ports import BlockingRunner
from smscore.flow import Call, Flow, Sleep
from smscore.service import OutboxReport, ProviderFailures, SMSService
from smscore.service.async_driver import AsyncDriver
from smscore.service.async_facade import AsyncSMSService
from smscore.states import SMSState

__all__ = ["AsyncWorker", "Worker", "WorkerStats"]

log = logging.getLogger("smscore.worker")

#: The signals that stop a worker after the batch in hand.
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)

_S = TypeVar("_S", SMSService, AsyncSMSService)
_T = TypeVar("_T")


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


class _Rounds(Generic[_S]):
    """What both workers decide, whatever runs them: ``concurrency`` loops, each claiming up to ``batch_size``
    messages per step, waiting ``idle_seconds`` when it found nothing to do (or the step failed), calling
    ``on_step`` after each step with the running totals (for progress output), until stopped."""

    def __init__(
        self,
        service: _S,
        *,
        concurrency: int = 1,
        batch_size: int | None = None,
        idle_seconds: float = 1.0,
        on_step: Callable[[WorkerStats], object] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.service: _S = service
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.stats = WorkerStats()
        self._on_step = on_step
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def stop(self) -> None:
        """Ask every loop to stop after the batch in hand."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopping.is_set()

    def _signalled(self, signum: int) -> bool:
        """Stop on a first stop signal (True); a repeated one changes nothing here (False)."""
        if self.stopping:
            return False
        log.info("signal %s received: finishing the batch in hand, then stopping", signum)
        self.stop()
        return True

    def _rounds(self, once: bool) -> Flow[None]:
        """One loop: step (the service's ``process_outbox``, performed by the driver), count, and wait when
        nothing was due or the step failed; with ``once``, end instead of waiting."""
        while not self.stopping:
            try:
                report = cast(OutboxReport, (yield Call(self.service.process_outbox, (self.batch_size,), {})))
            except Exception:
                log.exception("outbox step failed; retrying after %s s", self.idle_seconds)
                if once:
                    return
                yield Sleep(self.idle_seconds)
                continue
            with self._lock:
                self.stats.add(report)
                if self._on_step is not None:
                    self._on_step(self.stats)
            if report.claimed == 0:
                if once:
                    return
                yield Sleep(self.idle_seconds)


class Worker(_Rounds[SMSService]):
    """Drains the outbox of an :class:`~smscore.service.SMSService` with ``concurrency`` threads, each claiming up
    to ``batch_size`` messages per step.

    ``idle_seconds`` is how long a thread waits when it found nothing to do. ``on_step`` is called after each
    step with the running totals (for progress output).
    """

    def install_signal_handlers(self) -> None:
        """Stop gracefully on SIGTERM and SIGINT (call from the main thread)."""

        def handle(signum: int, frame: FrameType | None) -> None:
            self._signalled(signum)

        for signum in STOP_SIGNALS:
            signal.signal(signum, handle)

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
        flow.run(self._rounds(once), self._stopping.wait)


async def _awaited(fn: Callable[..., Awaitable[_T]], /, *args: Any, **kwargs: Any) -> _T:
    return await fn(*args, **kwargs)


#: How :class:`AsyncWorker`'s driver performs the loop's one call, the asyncio service's step: it awaits it.
_AWAIT_STEP = cast(BlockingRunner, _awaited)


class AsyncWorker(_Rounds[AsyncSMSService]):
    """Drains the outbox of an :class:`~smscore.service.AsyncSMSService` on the running event loop, with
    ``concurrency`` tasks, each claiming up to ``batch_size`` messages per step (whose provider requests go out
    up to ``max_in_flight`` at a time).

    The same decisions as :class:`Worker` (it runs the same loop). :meth:`stop` and the signal handlers belong
    to the loop's thread. A second SIGTERM or SIGINT cancels the steps in hand (:attr:`cancelled`): their
    messages whose outcome was not stored yet stay leased, and when the lease ends (``lease_seconds``) the next
    worker step recovers them as after a worker that died (UNKNOWN until a delivery check for providers asked by
    our id, due again for the others).
    """

    #: True once a second stop signal cancelled the steps in hand.
    cancelled: bool = False
    _tasks: tuple[asyncio.Task[None], ...] = ()

    @functools.cached_property
    def _wake(self) -> asyncio.Event:
        """Set by :meth:`stop`: ends the idle waits."""
        return asyncio.Event()

    def stop(self) -> None:
        """Ask every task to stop after the batch in hand (idle ones at once)."""
        super().stop()
        self._wake.set()

    def install_signal_handlers(self) -> None:
        """Stop gracefully on SIGTERM and SIGINT, cancel the steps in hand on a second one (call in the running
        loop; closing the loop removes them)."""
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self._signalled, signum)

    def _signalled(self, signum: int) -> bool:
        """Stop on a first stop signal; cancel the steps in hand on the second."""
        if super()._signalled(signum):
            return True
        if not self.cancelled:
            log.warning(
                "signal %s received again: cancelling the step in hand; its messages not stored yet stay leased "
                "until lease recovery (lease_seconds)",
                signum,
            )
            self.cancelled = True
            for task in self._tasks:
                task.cancel()
        return False

    async def run(self, *, once: bool = False) -> WorkerStats:
        """Run until :meth:`stop` (or, with ``once``, until the outbox has nothing due, or until a second stop
        signal cancels the steps in hand). Returns the totals."""
        drive = AsyncDriver(_AWAIT_STEP, max_in_flight=1, sleep=self._idle)
        async with asyncio.TaskGroup() as group:
            self._tasks = tuple(group.create_task(drive(self._rounds(once))) for _ in range(self.concurrency))
        return self.stats

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
