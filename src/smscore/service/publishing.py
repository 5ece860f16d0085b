"""Publishing stored messages: the provider call, failover, circuit breaker, rate slots, retries and the send
deadline, and storing each outcome."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs

from smscore.errors import (
    ConcurrentUpdateError,
    DuplicateIdempotencyKeyError,
    MessageNotFoundError,
    OutcomeNotStoredError,
    StorageError,
)
from smscore.flow import Flow, call, concurrently, publish_on, sleep
from smscore.message import SMSMessage
from smscore.outcome import Outcome
from smscore.ports import SMSProvider
from smscore.service.context import ServiceContext, backend_path
from smscore.service.recording import store
from smscore.states import SMSState

__all__ = ["after_attempt", "deadline_error", "past_deadline", "publish"]

log = logging.getLogger("smscore")

#: Storage errors that another try cannot cure.
_NOT_TRANSIENT: Final = (ConcurrentUpdateError, MessageNotFoundError, DuplicateIdempotencyKeyError)
#: Outcomes after which the provider has (or may have) the message: losing them is worth a distinct error.
_TAKEN: Final = frozenset({SMSState.SENDING, SMSState.SENT, SMSState.DELIVERED, SMSState.UNKNOWN, SMSState.DEBUG})
_FIRST_STORE_RETRY_SECONDS: Final = 0.05
_LAST_STORE_RETRY_SECONDS: Final = 1.0


def publish(ctx: ServiceContext, messages: Sequence[SMSMessage]) -> Flow[list[SMSMessage]]:
    """Publish leased messages through their providers in provider-sized batches; return them as stored, in order.

    A message whose provider is no longer configured ends in ERROR. Up to ``ctx.in_flight`` provider requests of a
    provider are made at the same time (by the asyncio service); their outcomes are stored together.
    """
    results: dict[int | None, SMSMessage] = {}
    groups: dict[str | None, list[SMSMessage]] = {}
    for message in messages:
        groups.setdefault(message.provider, []).append(message)
    for name, group in groups.items():
        provider = ctx.providers.get(name) if name is not None else None
        if provider is None or name is None:
            now = ctx.clock.now()
            error = f"provider {name!r} is no longer configured"
            saved = yield from store(ctx, group, [m.transition(SMSState.ERROR, at=now, error=error) for m in group])
            results.update((m.id, m) for m in saved)
            continue
        for chunk in _chunks(group, max(1, provider.max_batch_size) * ctx.in_flight):
            results.update((m.id, m) for m in (yield from _publish_with_failover(ctx, name, chunk)))
    return [results[m.id] for m in messages]


def _chunks(items: Sequence[SMSMessage], size: int) -> Iterable[Sequence[SMSMessage]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _publish_with_failover(ctx: ServiceContext, name: str, chunk: Sequence[SMSMessage]) -> Flow[list[SMSMessage]]:
    """Publish through ``name``; when it is down (every message transient, or its circuit is open), try the
    failover providers in order. Ambiguous answers never fail over: the first provider may have sent.

    A message records the provider that took it; one that no provider took keeps its own route. In outbox
    mode, when every candidate's circuit is open nothing is tried and no attempt is counted: the messages
    wait until the first cool-down ends."""
    candidates = [name, *(f for f in ctx.config.failover if f != name)]
    batch: list[SMSMessage] = list(chunk)
    outcomes: list[Outcome] = []
    for index, candidate in enumerate(candidates):
        last = index == len(candidates) - 1
        provider = ctx.providers[candidate]
        if candidate != name:
            path = backend_path(provider)
            batch = [m.replace(provider=candidate, backend=path) for m in chunk]
        if ctx.breaker.is_open(candidate, ctx.clock.now()):
            if not last:
                continue
            if ctx.config.batch_sending:
                if not outcomes:
                    return (yield from _wait_for_circuits(ctx, chunk, candidates))
                break
        outcomes = yield from _call_chunked(ctx, candidate, provider, batch)
        down = all(o.state is SMSState.WAITING for o in outcomes)
        ctx.breaker.record(candidate, ok=not down, now=ctx.clock.now())
        if not down or last:
            break
        log.warning("provider %r is unavailable for %d message(s); trying the failover", candidate, len(batch))
    now = ctx.clock.now()
    updated = [
        after_attempt(ctx, own if outcome.state is SMSState.WAITING else tried, outcome, now)
        for own, tried, outcome in zip(chunk, batch, outcomes, strict=True)
    ]
    return (yield from _store_outcomes(ctx, chunk, updated))


def _store_outcomes(
    ctx: ServiceContext, old: Sequence[SMSMessage], new: Sequence[SMSMessage]
) -> Flow[list[SMSMessage]]:
    """Store what the provider said, retrying for ``outcome_retry_seconds`` while the storage fails: the provider
    has been called, and giving up loses its answer.

    Raises :class:`~smscore.errors.OutcomeNotStoredError` when that time runs out and the provider took any of
    the messages (the storage's own error when it took none: nothing was sent).
    """
    budget = ctx.config.outcome_retry_seconds
    deadline = time.monotonic() + budget
    delay, waited = _FIRST_STORE_RETRY_SECONDS, 0.0
    while True:
        try:
            return (yield from store(ctx, old, new))
        except _NOT_TRANSIENT:
            raise
        except StorageError as exc:
            # Both the planned waits and the clock bound it: a failing write may itself take long.
            if waited + delay > budget or time.monotonic() + delay > deadline:
                taken = [m for m in new if m.state in _TAKEN]
                if not taken:
                    raise
                raise OutcomeNotStoredError(taken, str(exc)) from exc
            log.warning("storing the outcome of %d SMS message(s) failed, retrying: %s", len(new), exc)
        yield from sleep(delay)
        waited += delay
        delay = min(delay * 2, _LAST_STORE_RETRY_SECONDS)


def _wait_for_circuits(
    ctx: ServiceContext, chunk: Sequence[SMSMessage], candidates: Sequence[str]
) -> Flow[list[SMSMessage]]:
    """Every candidate is cooling down: keep the messages WAITING, attempts unchanged, until the first
    cool-down ends (ERROR when that is past their send deadline)."""
    now = ctx.clock.now()
    due = min((ctx.breaker.open_until(c) or now for c in candidates), default=now)
    names = ", ".join(repr(c) for c in candidates)
    reason = f"{'provider' if len(candidates) == 1 else 'providers'} {names} skipped: too many failures in a row"
    updated = [
        m.transition(SMSState.ERROR, at=now, error=f"{deadline_error(ctx)}: {reason}")
        if past_deadline(ctx, m, due)
        else m.transition(SMSState.WAITING, at=now, error=reason).replace(next_attempt_at=due)
        for m in chunk
    ]
    return (yield from store(ctx, chunk, updated))


def _call_chunked(
    ctx: ServiceContext, name: str, provider: SMSProvider, batch: Sequence[SMSMessage]
) -> Flow[list[Outcome]]:
    parts = list(_chunks(batch, max(1, provider.max_batch_size)))
    answers = yield from concurrently([_call_part(ctx, name, provider, part) for part in parts])
    return [outcome for answer in answers for outcome in answer]


def _call_part(
    ctx: ServiceContext, name: str, provider: SMSProvider, part: Sequence[SMSMessage]
) -> Flow[list[Outcome]]:
    yield from _wait_for_slots(ctx, name, len(part))
    return (yield from _call(name, provider, part))


def _wait_for_slots(ctx: ServiceContext, name: str, count: int) -> Flow[None]:
    """Honour ``rate_limits``: book ``count`` send slots of provider ``name`` in the shared limiter and
    wait for the first. Keep ``lease_seconds`` above the longest such wait (messages claimed by all workers
    divided by the rate), or a lease could end while its messages wait."""
    rate = ctx.config.rate_limits.get(name)
    if rate is None or ctx.rate_limiter is None:
        return
    now = ctx.clock.now()
    start = yield from call(ctx.rate_limiter.reserve, name, count, interval=1.0 / rate, now=now)
    wait = (start - now).total_seconds()
    if wait > 0:
        yield from sleep(wait)


def _call(name: str | None, provider: SMSProvider, chunk: Sequence[SMSMessage]) -> Flow[list[Outcome]]:
    try:
        outcomes = list((yield from publish_on(provider, chunk)))
    except Exception as exc:
        # It may have reached the provider before failing: ambiguous, never re-sent blindly.
        log.exception("provider %r raised while publishing %d message(s)", name, len(chunk))
        return [Outcome.ambiguous(f"provider raised {type(exc).__name__} while publishing")] * len(chunk)
    if len(outcomes) != len(chunk) or not all(isinstance(o, Outcome) for o in outcomes):
        log.error("provider %r answered %d outcomes for %d messages", name, len(outcomes), len(chunk))
        return [Outcome.ambiguous("provider gave an unusable answer")] * len(chunk)
    return outcomes


def after_attempt(ctx: ServiceContext, message: SMSMessage, outcome: Outcome, now: datetime) -> SMSMessage:
    """``message`` after one publishing attempt ended in ``outcome``: recorded, or due again later with backoff
    when the failure was transient and retries (outbox mode), attempts and the send deadline allow it."""
    if outcome.state is not SMSState.WAITING:
        return message.record_attempt(outcome, at=now)
    config = ctx.config
    error = outcome.error or "transient failure"
    attempts = message.attempts + 1
    if not (config.batch_sending and config.retry_sending):
        final = f"{error} (not retried: retries need batch_sending and retry_sending)"
    elif attempts >= config.max_attempts:
        final = f"gave up after {attempts} attempts: {error}"
    else:
        delay = min(config.retry_backoff_max_seconds, config.retry_backoff_seconds * 2 ** (attempts - 1))
        due = now + timedelta(seconds=delay * ctx.rng.uniform(0.5, 1.0))
        if not past_deadline(ctx, message, due):
            return message.retry_later(at=now, due=due, error=error)
        final = f"{deadline_error(ctx)}: {error}"
    return message.record_attempt(attrs.evolve(outcome, state=SMSState.ERROR, error=final), at=now)


def past_deadline(ctx: ServiceContext, message: SMSMessage, at: datetime) -> bool:
    """Whether ``at`` is past ``message``'s send deadline (``max_seconds_to_send`` after its creation)."""
    limit = ctx.config.max_seconds_to_send
    return limit is not None and at > message.created_at + timedelta(seconds=limit)


def deadline_error(ctx: ServiceContext) -> str:
    """The error of a message that missed its send deadline."""
    return f"not sent within the send deadline of {ctx.config.max_seconds_to_send:g} seconds"
