"""The outbox: claiming due messages for publishing (a step, or one message by id), cancelling a message before a
worker takes it, and ending the leases of workers that died mid-publish."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import attrs

from smscore.errors import ConcurrentUpdateError, MessageNotCancellableError, MessageNotFoundError
from smscore.flow import Flow, call
from smscore.message import SMSMessage
from smscore.outcome import Outcome
from smscore.quiet_hours import defer
from smscore.service import guarding
from smscore.service.context import ServiceContext
from smscore.service.publishing import after_attempt, deadline_error, past_deadline, publish
from smscore.service.recording import notify_changes, store
from smscore.states import SMSState

__all__ = [
    "CANCELLED",
    "OutboxReport",
    "ProviderFailures",
    "cancel",
    "process_outbox",
    "publish_waiting",
    "recover_expired_leases",
]

#: The error of a cancelled message.
CANCELLED: Final = "cancelled"
#: Reads a cancel makes of a message that others keep writing, before it gives up.
_CANCEL_TRIES: Final = 100

log = logging.getLogger("smscore")


@attrs.frozen
class ProviderFailures:
    """What one provider failed to handle in a run: how many messages, and the last error given."""

    messages: int
    last_error: str


@attrs.frozen
class OutboxReport:
    """What one :meth:`SMSService.process_outbox` step did: messages claimed, recovered from dead workers,
    the state each claimed message ended in, and per configured provider name the claimed messages it did not
    take (left WAITING for a retry, or UNKNOWN) with the last error."""

    claimed: int
    recovered: int
    states: Mapping[SMSState, int]
    failures: Mapping[str, ProviderFailures] = attrs.field(factory=dict)


def process_outbox(ctx: ServiceContext, limit: int | None = None) -> Flow[OutboxReport]:
    """See :meth:`smscore.service.SMSService.process_outbox`."""
    now = ctx.clock.now()
    recovered = yield from recover_expired_leases(ctx, now)
    lease_until = now + timedelta(seconds=ctx.config.lease_seconds)
    claimed = yield from call(
        ctx.messages.claim, now=now, lease_until=lease_until, limit=limit or ctx.config.batch_size
    )
    done, due = yield from _end_unsendable(ctx, claimed, now)
    done.extend((yield from publish(ctx, due)))
    states: dict[SMSState, int] = {}
    for message in done:
        states[message.state] = states.get(message.state, 0) + 1
    return OutboxReport(claimed=len(claimed), recovered=recovered, states=states, failures=_failures(done))


def _failures(published: Sequence[SMSMessage]) -> dict[str, ProviderFailures]:
    """Per provider, the published messages it did not take: WAITING again (a retry) or UNKNOWN."""
    failures: dict[str, ProviderFailures] = {}
    for message in published:
        if message.state in (SMSState.WAITING, SMSState.UNKNOWN):
            name = message.provider or "-"
            before = failures.get(name, ProviderFailures(messages=0, last_error=""))
            failures[name] = ProviderFailures(before.messages + 1, message.error or before.last_error)
    return failures


def publish_waiting(ctx: ServiceContext, message_id: int) -> Flow[SMSMessage]:
    """See :meth:`smscore.service.SMSService.publish_waiting`."""
    now = ctx.clock.now()
    message = yield from call(ctx.messages.get, message_id)
    due = message.next_attempt_at is not None and message.next_attempt_at <= now
    if message.state is not SMSState.WAITING or message.lease_expires_at is not None or not due:
        return message
    lease_until = now + timedelta(seconds=ctx.config.lease_seconds)
    try:
        claimed = yield from call(ctx.messages.save, message.replace(lease_expires_at=lease_until))
    except ConcurrentUpdateError:
        return (yield from call(ctx.messages.get, message_id))
    ended, sendable = yield from _end_unsendable(ctx, [claimed], now)
    return ended[0] if ended else (yield from publish(ctx, sendable))[0]


def _end_unsendable(
    ctx: ServiceContext, claimed: Sequence[SMSMessage], now: datetime
) -> Flow[tuple[list[SMSMessage], list[SMSMessage]]]:
    """Store as ERROR the claimed messages that may no longer go out, and return them with the rest, to publish.

    No longer sendable: past the send deadline, or refused by a guard asked again now (the number opted out, or
    its country is no longer allowed, since the message was stored, e.g. while it waited for its send time);
    such refusals are counted and announced as at sending. Messages now in the quiet hours of their tag are put
    back for later and returned with the ended ones."""
    late = [message for message in claimed if past_deadline(ctx, message, now)]
    waiting = [message for message in claimed if not past_deadline(ctx, message, now)]
    kept, refused = yield from guarding.screen(ctx, waiting)
    ended = late + [waiting[item.index] for item in refused]
    errors = [deadline_error(ctx) for _ in late] + [str(item.error) for item in refused]
    done = yield from store(
        ctx, ended, [m.transition(SMSState.ERROR, at=now, error=e) for m, e in zip(ended, errors, strict=True)]
    )
    yield from guarding.refuse(ctx, [item.error for item in refused])
    held, sendable = yield from _hold_in_quiet_hours(ctx, [waiting[index] for index in kept], now)
    return done + held, sendable


def _hold_in_quiet_hours(
    ctx: ServiceContext, messages: Sequence[SMSMessage], now: datetime
) -> Flow[tuple[list[SMSMessage], list[SMSMessage]]]:
    """Put back, due at their next allowed time and unleased, the messages whose tag is in its quiet hours now
    (a retry, or a worker behind on its backlog, reaching them later than planned); return them stored, and the
    rest."""
    config = ctx.config
    if not config.quiet_hours:
        return [], list(messages)
    fallback = ZoneInfo(config.quiet_hours_zone)
    held: list[SMSMessage] = []
    rest: list[SMSMessage] = []
    for message in messages:
        hours = config.quiet_hours.get(message.tag) if message.tag is not None else None
        allowed, reason = defer(now, message.recipient, message.tag or "", hours, fallback) if hours else (now, None)
        if reason is None:
            rest.append(message)
        else:
            held.append(
                message.replace(next_attempt_at=allowed, send_at=allowed, deferred_reason=reason, lease_expires_at=None)
            )
    return (yield from store(ctx, held, held)), rest


def cancel(ctx: ServiceContext, message_id: int) -> Flow[SMSMessage]:
    """See :meth:`smscore.service.SMSService.cancel`."""
    for _ in range(_CANCEL_TRIES):
        message = yield from call(ctx.messages.get, message_id)
        if message.state is not SMSState.WAITING or message.lease_expires_at is not None:
            raise MessageNotCancellableError(message_id, message.state, leased=message.lease_expires_at is not None)
        cancelled = message.transition(SMSState.ERROR, at=ctx.clock.now(), error=CANCELLED)
        try:
            # Compare-and-set: a claim bumps the version, so either it or this write is first, never both.
            saved = yield from call(ctx.messages.save, cancelled)
        except ConcurrentUpdateError:
            continue  # written meanwhile (claimed, or any other change): look again
        notify_changes(ctx, [message], [saved])
        return saved
    raise ConcurrentUpdateError([message_id])


def recover_expired_leases(ctx: ServiceContext, now: datetime) -> Flow[int]:
    """End the expired leases of dead workers; return how many this call ended. Workers running this at the
    same moment race harmlessly: the first write wins, the others look again (and count nothing)."""
    total = conflicts = 0
    while conflicts < 10:
        expired = yield from call(ctx.messages.find_expired_leases, now=now, limit=ctx.config.batch_size)
        if not expired:
            break
        updated = [_after_dead_worker(ctx, message, now) for message in expired]
        try:
            saved = yield from call(ctx.messages.save_many, updated)
        except (ConcurrentUpdateError, MessageNotFoundError):
            # Another worker ended some of these leases first (its write ends the lease): look again.
            conflicts += 1
            continue
        notify_changes(ctx, expired, saved)
        total += len(saved)
        log.warning("ended %d expired lease(s) of SMS messages whose worker stopped mid-publish", len(saved))
    return total


def _after_dead_worker(ctx: ServiceContext, message: SMSMessage, now: datetime) -> SMSMessage:
    provider = ctx.providers.get(message.provider) if message.provider else None
    retry = ctx.config.batch_sending and ctx.config.retry_sending
    if (provider is not None and provider.can_check_by_our_id) or not retry:
        return message.transition(
            SMSState.UNKNOWN,
            at=now,
            error="the worker stopped while publishing; outcome unknown until a delivery check",
        )
    return after_attempt(
        ctx, message, Outcome.transient("the worker stopped while publishing; sent again (may duplicate)"), now
    )
