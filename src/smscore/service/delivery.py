"""Delivery checks: asking the providers what became of sent messages (all in flight, or the ones chosen), and
the idle timeout of messages that never get an answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs

from smscore.errors import MessageNotFoundError
from smscore.flow import Flow, call, check
from smscore.message import SMSMessage
from smscore.outcome import Outcome
from smscore.ports import DeliveryChecker
from smscore.service.context import ServiceContext
from smscore.service.outbox import ProviderFailures, recover_expired_leases
from smscore.service.recording import store
from smscore.states import TRANSITIONS, SMSState

__all__ = [
    "CHECKED_STATES",
    "DeliveryCheckReport",
    "SelectedCheckReport",
    "check_delivery",
    "check_delivery_of",
    "pending_checks",
]

log = logging.getLogger("smscore")

_IN_FLIGHT: Final = (SMSState.SENDING, SMSState.UNKNOWN)


def _check_order(states: frozenset[SMSState]) -> tuple[SMSState, ...]:
    """``states`` ordered so that each comes after every state it can move to (through the others): a message
    a report moves is then never met again by the same check run, whose walks follow this order."""

    def reachable(state: SMSState) -> set[SMSState]:
        seen: set[SMSState] = set()
        todo = [state]
        while todo:
            for target in TRANSITIONS[todo.pop()] & states:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    return tuple(sorted(states, key=lambda state: (len(reachable(state)), state.value)))


#: The states a delivery check asks about: recently SENT first, then SENDING, then UNKNOWN (see _check_order).
CHECKED_STATES: Final = _check_order(frozenset({SMSState.SENDING, SMSState.UNKNOWN, SMSState.SENT}))


@attrs.frozen
class DeliveryCheckReport:
    """What :meth:`SMSService.check_delivery` did.

    ``checked``: messages asked about (each at most once per run); ``changed``: messages whose state or data
    changed; ``timed_out``: moved to ERROR by the idle timeout (or only counted, when that is off);
    ``recovered``: leases of dead workers ended; ``failed_chunks``: provider requests that failed (their messages are retried on the next run);
    ``failures``: per configured provider name, the messages of its failed requests and the last error.
    """

    checked: int
    changed: int
    timed_out: int
    recovered: int
    failed_chunks: int
    failures: Mapping[str, ProviderFailures] = attrs.field(factory=dict)


@attrs.define
class _Tally:
    checked: int = 0
    changed: int = 0
    failed: int = 0
    failures: dict[str, ProviderFailures] = attrs.field(factory=dict)

    def fail(self, name: str, chunk: Sequence[SMSMessage], error: str) -> None:
        self.failed += 1
        before = self.failures.get(name, ProviderFailures(messages=0, last_error=""))
        self.failures[name] = ProviderFailures(messages=before.messages + len(chunk), last_error=error)


def check_delivery(ctx: ServiceContext, progress: Callable[[int], object] | None = None) -> Flow[DeliveryCheckReport]:
    """See :meth:`smscore.service.SMSService.check_delivery`."""
    now = ctx.clock.now()
    recovered = yield from recover_expired_leases(ctx, now)
    cutoff = now - timedelta(minutes=ctx.config.idle_timeout_minutes)
    tally = _Tally()
    for name, provider in ctx.providers.items():
        if isinstance(provider, DeliveryChecker):
            yield from _check_provider(ctx, name, provider, cutoff, tally, progress)
    timed_out = yield from _time_out_idle(ctx, cutoff)
    return DeliveryCheckReport(
        checked=tally.checked,
        changed=tally.changed,
        timed_out=timed_out,
        recovered=recovered,
        failed_chunks=tally.failed,
        failures=tally.failures,
    )


def pending_checks(ctx: ServiceContext) -> Flow[int]:
    """See :meth:`smscore.service.SMSService.pending_delivery_checks`."""
    cutoff = ctx.clock.now() - timedelta(minutes=ctx.config.idle_timeout_minutes)
    total = 0
    for name, provider in ctx.providers.items():
        if isinstance(provider, DeliveryChecker):
            for state in CHECKED_STATES:
                total += yield from call(
                    ctx.messages.count, state, provider=name, sent_after=_sent_after(state, cutoff)
                )
    return total


def _sent_after(state: SMSState, cutoff: datetime) -> datetime | None:
    """SENT messages are asked about only while recent: nothing else would ever end their checks."""
    return cutoff if state is SMSState.SENT else None


@attrs.frozen
class SelectedCheckReport:
    """What :meth:`SMSService.check_delivery_of` did with each message it was given.

    ``changed``: ``(before, after)`` for each message a provider's answer changed, ``after`` as stored;
    ``unchanged``: messages asked about whose answer changed nothing; ``skipped``: ``(message, reason)`` for
    messages not asked about (not sent yet, already final, or their provider cannot be asked); ``failed``:
    messages whose provider could not be asked (the request failed: ask again later); ``missing``: ids of no
    stored message.
    """

    changed: tuple[tuple[SMSMessage, SMSMessage], ...] = ()
    unchanged: tuple[SMSMessage, ...] = ()
    skipped: tuple[tuple[SMSMessage, str], ...] = ()
    failed: tuple[SMSMessage, ...] = ()
    missing: tuple[int, ...] = ()


def check_delivery_of(ctx: ServiceContext, message_ids: Iterable[int]) -> Flow[SelectedCheckReport]:
    """See :meth:`smscore.service.SMSService.check_delivery_of`."""
    missing: list[int] = []
    skipped: list[tuple[SMSMessage, str]] = []
    asked: dict[str, list[SMSMessage]] = {}
    for message_id in dict.fromkeys(message_ids):
        try:
            message = yield from call(ctx.messages.get, message_id)
        except MessageNotFoundError:
            missing.append(message_id)
            continue
        reason = _why_not_asked(ctx, message)
        if reason is None:
            asked.setdefault(message.provider or "", []).append(message)
        else:
            skipped.append((message, reason))
    changed: list[tuple[SMSMessage, SMSMessage]] = []
    unchanged: list[SMSMessage] = []
    failed: list[SMSMessage] = []
    tally = _Tally()  # the failures' errors are logged by _ask; the report names the messages
    for name, messages in asked.items():
        provider = ctx.providers[name]
        assert isinstance(provider, DeliveryChecker)  # _why_not_asked let only these through
        for start in range(0, len(messages), ctx.config.check_chunk_size):
            chunk = messages[start : start + ctx.config.check_chunk_size]
            reports = yield from _ask(name, provider, chunk, tally)
            if reports is None:
                failed.extend(chunk)
                continue
            at = ctx.clock.now()
            pairs = [(m, m if r is None else m.apply_report(r, at=at)) for m, r in zip(chunk, reports, strict=True)]
            moved = [(old, new) for old, new in pairs if new is not old]
            unchanged.extend(old for old, new in pairs if new is old)
            saved = yield from store(ctx, [old for old, _ in moved], [new for _, new in moved])
            changed.extend(zip((old for old, _ in moved), saved, strict=True))
    return SelectedCheckReport(
        changed=tuple(changed),
        unchanged=tuple(unchanged),
        skipped=tuple(skipped),
        failed=tuple(failed),
        missing=tuple(missing),
    )


def _why_not_asked(ctx: ServiceContext, message: SMSMessage) -> str | None:
    """Why a delivery check does not ask about ``message``, or None when it does."""
    if message.state is SMSState.WAITING:
        return "not sent yet"
    if message.is_final:
        return f"already final ({message.state.name.capitalize()})"
    provider = ctx.providers.get(message.provider or "")
    if provider is None:
        return f"its provider {message.provider!r} is not configured"
    if not isinstance(provider, DeliveryChecker):
        return f"its provider {message.provider!r} cannot be asked about delivery"
    return None


def _check_provider(
    ctx: ServiceContext,
    name: str,
    provider: DeliveryChecker,
    cutoff: datetime,
    tally: _Tally,
    progress: Callable[[int], object] | None,
) -> Flow[None]:
    # One walk per state, in CHECKED_STATES' order: each message is asked about at most once per run, with
    # nothing remembered between walks.
    for state in CHECKED_STATES:
        after_id = 0
        while chunk := (yield from _page(ctx, state, after_id, provider=name, sent_after=_sent_after(state, cutoff))):
            after_id = chunk[-1].id or 0
            tally.checked += len(chunk)
            reports = yield from _ask(name, provider, chunk, tally)
            if progress is not None:
                progress(len(chunk))
            if reports is None:
                continue
            at = ctx.clock.now()
            pairs = [
                (message, message.apply_report(report, at=at))
                for message, report in zip(chunk, reports, strict=True)
                if report is not None
            ]
            pairs = [(old, new) for old, new in pairs if new is not old]
            yield from store(ctx, [old for old, _ in pairs], [new for _, new in pairs])
            tally.changed += len(pairs)


def _ask(
    name: str, provider: DeliveryChecker, chunk: Sequence[SMSMessage], tally: _Tally
) -> Flow[list[Outcome | None] | None]:
    try:
        reports = list((yield from check(provider, chunk)))
    except Exception as exc:
        log.exception("delivery check of %d message(s) by provider %r failed", len(chunk), name)
        tally.fail(name, chunk, f"{type(exc).__name__}: {exc}")
        return None
    if len(reports) != len(chunk) or not all(r is None or isinstance(r, Outcome) for r in reports):
        log.error("provider %r answered %d reports for %d messages", name, len(reports), len(chunk))
        tally.fail(name, chunk, f"{len(reports)} reports for {len(chunk)} messages")
        return None
    return reports


def _page(
    ctx: ServiceContext,
    state: SMSState,
    after_id: int,
    *,
    provider: str | None = None,
    sent_before: datetime | None = None,
    sent_after: datetime | None = None,
) -> Flow[list[SMSMessage]]:
    """The next ``check_chunk_size`` messages in ``state`` after the id ``after_id`` (and of ``provider``, sent in
    the window given), in id order; empty at the end. A walk reads each page when the previous one is handled.

    One state per walk: a database can then page through its (state, provider) or (state, id) index in id
    order, where several states would make it sort every remaining row for each page.
    """
    page = yield from call(
        ctx.messages.scan,
        states={state},
        after_id=after_id,
        limit=ctx.config.check_chunk_size,
        provider=provider,
        sent_before=sent_before,
        sent_after=sent_after,
    )
    return page


def _time_out_idle(ctx: ServiceContext, cutoff: datetime) -> Flow[int]:
    config = ctx.config
    minutes = f"{config.idle_timeout_minutes:g}"
    error = f"timed out: no delivery report within {minutes} minutes of sending"
    total = 0
    for state in _IN_FLIGHT:
        after_id = 0
        while chunk := (yield from _page(ctx, state, after_id, sent_before=cutoff)):
            after_id = chunk[-1].id or 0
            total += len(chunk)
            if config.set_error_to_idle_messages:
                now = ctx.clock.now()
                yield from store(ctx, chunk, [m.transition(SMSState.ERROR, at=now, error=error) for m in chunk])
    if total and config.log_idle_messages:
        action = "moved to ERROR" if config.set_error_to_idle_messages else "left as they are"
        log.warning(
            "%d SMS message(s) were SENDING or UNKNOWN for more than %s minutes; %s",
            total,
            minutes,
            action,
        )
    return total
