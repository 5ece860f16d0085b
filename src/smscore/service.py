"""The use cases: the only place that orders the steps of sending and checking.

Sending (ARCHITECTURE section 4): validate and prepare everything first, so bad input raises before anything is
stored; store the message WAITING; unless the outbox is on, call the provider outside any transaction; turn its
answer into a transition and store it with compare-and-set; return the stored message.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Final

import attrs

from smscore.breaker import CircuitBreaker
from smscore.clock import SystemClock
from smscore.config import SMSConfig
from smscore.errors import (
    CallbackError,
    ConcurrentUpdateError,
    ConfigurationError,
    DuplicateIdempotencyKeyError,
    InvalidExtraDataError,
    InvalidMessageError,
    InvalidTagError,
    MessageNotFoundError,
)
from smscore.events import StateChange, Subscriber, notify
from smscore.message import RelatedObject, SMSMessage
from smscore.outcome import Outcome
from smscore.phone import normalize_recipient
from smscore.ports import (
    Clock,
    DeliveryChecker,
    MessageRepository,
    RateLimiter,
    SMSProvider,
    StatusCallbackReceiver,
    TemplateRepository,
)
from smscore.states import FINAL_STATES, SMSState
from smscore.templates import JinjaRenderer, TemplateRenderer, validate_slug
from smscore.text import PreparedText, prepare_text

__all__ = ["DeliveryCheckReport", "OutboxReport", "Router", "SMSService"]

log = logging.getLogger("smscore")

Router = Callable[[SMSMessage], "str | None"]

#: Keyword names of ``send`` that are options, not extra data.
RESERVED_KEYWORDS: Final = frozenset({"priority", "idempotency_key", "send_immediately", "sender", "provider"})
_MAX_EXTRA_DATA_BYTES: Final = 64 * 1024
_IN_FLIGHT: Final = (SMSState.SENDING, SMSState.UNKNOWN)
_PURGEABLE: Final = FINAL_STATES | {SMSState.SENT}


@attrs.frozen
class OutboxReport:
    """What one :meth:`SMSService.process_outbox` step did: messages claimed, recovered from dead workers,
    and the state each claimed message ended in."""

    claimed: int
    recovered: int
    states: Mapping[SMSState, int]


@attrs.frozen
class DeliveryCheckReport:
    """What :meth:`SMSService.check_delivery` did.

    ``checked``: messages asked about; ``changed``: messages whose state or data changed; ``timed_out``: moved to
    ERROR by the idle timeout (or only counted, when that is off); ``recovered``: leases of dead workers ended;
    ``failed_chunks``: provider requests that failed (their messages are retried on the next run).
    """

    checked: int
    changed: int
    timed_out: int
    recovered: int
    failed_chunks: int


def _rule_router(rules: Mapping[str, Mapping[str, str]]) -> Router:
    prefixes = sorted(rules.get("prefixes", {}).items(), key=lambda item: -len(item[0]))
    tags = dict(rules.get("tags", {}))

    def route(message: SMSMessage) -> str | None:
        if message.tag is not None and message.tag in tags:
            return tags[message.tag]
        for prefix, name in prefixes:
            if message.recipient.startswith(prefix):
                return name
        return None

    return route


class _BatchMemo:
    """Checks shared by the items of one ``send_many``: each distinct content and extra data is checked once
    (items usually differ only in their recipient). Scoped to the call, so no message text outlives it."""

    def __init__(self, now: datetime) -> None:
        #: The batch's creation time, shared by its messages: they are stored together, in one transaction.
        self.now = now
        self._texts: dict[str, PreparedText] = {}
        # By identity: the caller's mapping itself is kept alongside, so its id cannot be reused meanwhile.
        self._data: dict[int, tuple[Mapping[str, Any], dict[str, Any]]] = {}

    def text(self, content: str, prepare: Callable[[str], PreparedText]) -> PreparedText:
        """``prepare(content)``, once per distinct content (anything but a string is left to ``prepare``)."""
        if not isinstance(content, str):
            return prepare(content)
        found = self._texts.get(content)
        if found is None:
            found = self._texts[content] = prepare(content)
        return found

    def data(self, extra: Mapping[str, Any], check: Callable[[Mapping[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """``check(extra)`` once per mapping; every message still gets a dict of its own."""
        seen = self._data.get(id(extra))
        if seen is None or seen[0] is not extra:
            seen = self._data[id(extra)] = (extra, check(extra))
        return dict(seen[1])


def _backend_path(provider: SMSProvider) -> str:
    cls = type(provider)
    return f"{cls.__module__}.{cls.__qualname__}"


def _chunks(items: Sequence[SMSMessage], size: int) -> Iterable[Sequence[SMSMessage]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SMSService:
    """Send SMS, keep their record, learn what became of them.

    Build it with :func:`smscore.build_service` (from configuration) or directly from a message repository,
    a template repository and named providers. ``messages`` and ``templates`` are the repositories.
    """

    def __init__(
        self,
        *,
        messages: MessageRepository,
        templates: TemplateRepository,
        providers: Mapping[str, SMSProvider],
        config: SMSConfig | None = None,
        clock: Clock | None = None,
        router: Router | None = None,
        subscribers: Iterable[Subscriber] = (),
        renderer: TemplateRenderer | None = None,
        on_close: Callable[[], None] | None = None,
        rng: random.Random | None = None,
        rate_limiter: RateLimiter | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.config = config or SMSConfig()
        if not providers:
            raise ConfigurationError("at least one provider is needed", key="providers")
        default = self.config.default_provider
        if default not in providers:
            if len(providers) != 1:
                raise ConfigurationError(f"default provider {default!r} is not among providers", key="default_provider")
            default = next(iter(providers))
        self._default = default
        self.messages = messages
        self.templates = templates
        self.providers: Mapping[str, SMSProvider] = MappingProxyType(dict(providers))
        self.clock: Clock = clock or SystemClock()
        if router is None and isinstance(self.config.router, Mapping):
            router = _rule_router(self.config.router)
        self._router = router
        self._subscribers: list[Subscriber] = list(subscribers)
        self.renderer: TemplateRenderer = renderer or JinjaRenderer()
        self._on_close = on_close
        self._rng = rng or random.Random()
        if self.config.rate_limits and rate_limiter is None:
            raise ConfigurationError("rate_limits need a storage that provides a rate limiter", key="rate_limits")
        self._rate_limiter = rate_limiter
        self._sleep = sleep
        self._breaker = CircuitBreaker(
            threshold=self.config.circuit_breaker_threshold,
            cooldown_seconds=self.config.circuit_breaker_cooldown_seconds,
        )

    # -- public use cases -------------------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` with a :class:`~smscore.events.StateChange` for every stored state change."""
        self._subscribers.append(subscriber)

    def send(
        self,
        recipient: str,
        content: str,
        related_objects: Iterable[object] | None = None,
        tag: str | None = None,
        *,
        priority: int | None = None,
        idempotency_key: str | None = None,
        send_immediately: bool | None = None,
        sender: str | None = None,
        provider: str | None = None,
        **extra_data: Any,
    ) -> SMSMessage:
        """Send ``content`` to ``recipient`` and return the stored message.

        ``related_objects`` are linked to the message (see :meth:`RelatedObject.of`); ``tag`` is a slug stored
        with it; every other keyword goes to ``extra_data`` (JSON). Options: ``priority`` (1 highest .. 3),
        ``idempotency_key`` (a second send with the same key returns the first message and sends nothing),
        ``send_immediately`` (publish now even in outbox mode), ``sender`` and ``provider`` (a configured
        provider name, instead of the router's choice).

        In outbox mode (``batch_sending``) the message is returned WAITING and workers publish it. Raises an
        :class:`~smscore.errors.InvalidMessageError` subclass for bad input, before anything is stored.
        """
        draft = self._prepare(
            recipient=recipient,
            content=content,
            related_objects=related_objects,
            tag=tag,
            priority=priority,
            idempotency_key=idempotency_key,
            sender=sender,
            provider=provider,
            extra_data=extra_data,
            immediate=self._immediate(send_immediately),
        )
        return self._submit_one(draft)

    def send_template(
        self,
        recipient: str,
        slug: str,
        context_data: Mapping[str, Any] | None = None,
        related_objects: Iterable[object] | None = None,
        tag: str | None = None,
        *,
        priority: int | None = None,
        idempotency_key: str | None = None,
        send_immediately: bool | None = None,
        sender: str | None = None,
        provider: str | None = None,
        extra_data: Mapping[str, Any] | None = None,
    ) -> SMSMessage | None:
        """Render the template ``slug`` with ``context_data`` and send it like :meth:`send`.

        Returns ``None``, storing nothing, when the template's ``can_send(recipient, context_data)`` refuses.
        Raises :class:`~smscore.errors.TemplateNotFoundError`, :class:`~smscore.errors.TemplateRenderError`
        and the errors of :meth:`send`.
        """
        context = dict(context_data or {})
        template = self.templates.get(slug)
        normalized = normalize_recipient(recipient, default_region=self.config.default_region)
        if not template.can_send(normalized, context):
            return None
        content = template.render_body(context, self.renderer)
        draft = self._prepare(
            recipient=normalized,
            content=content,
            related_objects=related_objects,
            tag=tag,
            priority=priority,
            idempotency_key=idempotency_key,
            sender=sender,
            provider=provider,
            extra_data=dict(extra_data or {}),
            immediate=self._immediate(send_immediately),
            template_slug=template.slug,
        )
        return self._submit_one(draft)

    def send_many(
        self,
        recipients: Iterable[str | Mapping[str, Any]],
        content: str | None = None,
        related_objects: Iterable[object] | None = None,
        tag: str | None = None,
        *,
        priority: int | None = None,
        send_immediately: bool | None = None,
        sender: str | None = None,
        provider: str | None = None,
        **extra_data: Any,
    ) -> list[SMSMessage]:
        """Send many messages: stored in one batch, published in provider-sized batches.

        Each item is a recipient (then ``content`` is required) or a mapping with ``recipient`` and optionally
        ``content``, ``tag``, ``priority``, ``sender``, ``provider``, ``related_objects`` and ``extra_data``
        overriding the shared arguments. Every item is validated before anything is stored: one bad item raises
        (naming its index) and nothing is stored. Returns the messages in the order given.
        """
        immediate = self._immediate(send_immediately)
        drafts = []
        memo = _BatchMemo(self.clock.now())
        for index, item in enumerate(recipients):
            fields: dict[str, Any] = {
                "content": content,
                "related_objects": related_objects,
                "tag": tag,
                "priority": priority,
                "sender": sender,
                "provider": provider,
                "extra_data": extra_data,
            }
            if isinstance(item, Mapping):
                unknown = set(item) - {"recipient", *fields}
                if unknown or "recipient" not in item:
                    problem = f"unknown keys {sorted(unknown)}" if unknown else "no recipient"
                    raise InvalidMessageError(f"item {index}: {problem}")
                fields.update(item)
            else:
                fields["recipient"] = item
            if fields["content"] is None:
                raise InvalidMessageError(f"item {index}: no content")
            try:
                drafts.append(self._prepare(idempotency_key=None, immediate=immediate, memo=memo, **fields))
            except InvalidMessageError as exc:
                raise type(exc)(f"item {index}: {exc}") from exc
        if not drafts:
            return []
        stored = self.messages.add_many(drafts)
        self._announce_new(stored)
        if not immediate:
            return stored
        return self._publish(stored)

    def process_outbox(self, limit: int | None = None) -> OutboxReport:
        """One outbox step: end dead workers' leases, claim due messages, publish them in provider batches.

        Safe to run from any number of workers at once (claims never overlap). Returns what happened.
        """
        now = self.clock.now()
        recovered = self._recover_expired_leases(now)
        lease_until = now + timedelta(seconds=self.config.lease_seconds)
        claimed = self.messages.claim(now=now, lease_until=lease_until, limit=limit or self.config.batch_size)
        late: list[SMSMessage] = []
        due: list[SMSMessage] = []
        for message in claimed:
            (late if self._past_deadline(message, now) else due).append(message)
        done = self._store(
            late,
            [m.transition(SMSState.ERROR, at=now, error=self._deadline_error()) for m in late],
        )
        done.extend(self._publish(due))
        states: dict[SMSState, int] = {}
        for message in done:
            states[message.state] = states.get(message.state, 0) + 1
        return OutboxReport(claimed=len(claimed), recovered=recovered, states=states)

    def publish_waiting(self, message_id: int) -> SMSMessage:
        """Publish one stored WAITING message now: the step of a per-message task queue (Celery).

        The message is claimed with compare-and-set, so two tasks for the same id send it once. A message that
        is not WAITING, is held by a worker, or is not yet due is returned as stored, untouched. Raises
        :class:`~smscore.errors.MessageNotFoundError`.
        """
        now = self.clock.now()
        message = self.messages.get(message_id)
        due = message.next_attempt_at is None or message.next_attempt_at <= now
        if message.state is not SMSState.WAITING or message.lease_expires_at is not None or not due:
            return message
        lease_until = now + timedelta(seconds=self.config.lease_seconds)
        try:
            claimed = self.messages.save(message.replace(lease_expires_at=lease_until))
        except ConcurrentUpdateError:
            return self.messages.get(message_id)
        if self._past_deadline(claimed, now):
            return self._store([claimed], [claimed.transition(SMSState.ERROR, at=now, error=self._deadline_error())])[0]
        return self._publish([claimed])[0]

    def check_delivery(self, progress: Callable[[int], object] | None = None) -> DeliveryCheckReport:
        """Ask each delivery-checking provider (by configured name) about SENDING, UNKNOWN and recently SENT
        messages, in chunks of ``check_chunk_size`` with a constant number of queries per chunk; then apply
        the idle timeout. One failing chunk or provider does not stop the others.

        ``progress``, when given, is called with the size of each chunk once it has been checked.
        """
        now = self.clock.now()
        recovered = self._recover_expired_leases(now)
        cutoff = now - timedelta(minutes=self.config.idle_timeout_minutes)
        checked = changed = failed = 0
        for name, provider in self.providers.items():
            if not isinstance(provider, DeliveryChecker):
                continue
            pages = itertools.chain(
                self._pages(SMSState.SENDING, provider=name),
                self._pages(SMSState.UNKNOWN, provider=name),
                self._pages(SMSState.SENT, provider=name, sent_after=cutoff),
            )
            for chunk in pages:
                checked += len(chunk)
                reports = self._ask(name, provider, chunk)
                if progress is not None:
                    progress(len(chunk))
                if reports is None:
                    failed += 1
                    continue
                at = self.clock.now()
                pairs = [
                    (message, message.apply_report(report, at=at))
                    for message, report in zip(chunk, reports, strict=True)
                    if report is not None
                ]
                pairs = [(old, new) for old, new in pairs if new is not old]
                self._store([old for old, _ in pairs], [new for _, new in pairs])
                changed += len(pairs)
        timed_out = self._time_out_idle(cutoff)
        return DeliveryCheckReport(
            checked=checked, changed=changed, timed_out=timed_out, recovered=recovered, failed_chunks=failed
        )

    def handle_status_callback(
        self,
        provider: str,
        url: str,
        params: Mapping[str, str | Sequence[str]],
        headers: Mapping[str, str],
    ) -> SMSMessage | None:
        """Apply a status report pushed by the provider named ``provider`` (a webhook request).

        The provider verifies the signature (raising :class:`~smscore.errors.InvalidSignatureError`, nothing
        changed) and reads the report; the message is found by the provider's reference and the report applied
        through the transition table, so replayed and out-of-order reports are harmless. Concurrent reports for
        one message are applied one after the other (compare-and-set, re-read on conflict). Returns the stored
        message, or None when no message has that reference.
        """
        receiver = self.providers.get(provider)
        if not isinstance(receiver, StatusCallbackReceiver):
            raise CallbackError(f"provider {provider!r} is not configured or takes no status callbacks")
        report = receiver.parse_status_callback(url, params, headers)
        for _ in range(10):
            message = self.messages.get_by_provider_ref(report.provider_ref, provider=provider)
            if message is None:
                log.warning("status callback from %r for unknown reference %r", provider, report.provider_ref)
                return None
            updated = message.apply_report(report.outcome, at=self.clock.now())
            if updated == message:
                return message
            try:
                saved = self.messages.save(updated)
            except ConcurrentUpdateError:
                continue
            self._notify_changes([message], [saved])
            return saved
        raise CallbackError(f"message with reference {report.provider_ref!r} kept changing; report not applied")

    def purge(self, older_than: timedelta, *, batch_size: int = 1000) -> int:
        """Delete finished messages last changed more than ``older_than`` ago, in batches of ``batch_size``;
        return how many were deleted.

        Finished means a final state, or SENT: a retention period is far longer than any delivery report takes,
        and keeping SENT texts (often one-time codes) forever is what retention exists to prevent.
        """
        before = self.clock.now() - older_than
        total = 0
        while True:
            deleted = self.messages.purge(states=_PURGEABLE, changed_before=before, limit=batch_size)
            total += deleted
            if deleted < batch_size:
                return total

    def close(self) -> None:
        """Release the storage's and the providers' resources (connections, HTTP clients)."""
        for provider in self.providers.values():
            close = getattr(provider, "close", None)
            if callable(close):
                close()
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> SMSService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- preparing --------------------------------------------------------------------------------------

    def _immediate(self, send_immediately: bool | None) -> bool:
        return (not self.config.batch_sending) if send_immediately is None else bool(send_immediately)

    def _prepare(
        self,
        *,
        recipient: str,
        content: str,
        related_objects: Iterable[object] | None,
        tag: str | None,
        priority: int | None,
        idempotency_key: str | None,
        sender: str | None,
        provider: str | None,
        extra_data: Mapping[str, Any],
        immediate: bool,
        template_slug: str | None = None,
        memo: _BatchMemo | None = None,
    ) -> SMSMessage:
        number = normalize_recipient(recipient, default_region=self.config.default_region)
        prepare = functools.partial(
            prepare_text, use_accent=self.config.use_accent, max_segments=self.config.max_segments
        )
        text = memo.text(content, prepare) if memo is not None else prepare(content)
        if tag is not None:
            try:
                validate_slug(tag, what="tag", max_length=50)
            except InvalidMessageError as exc:
                raise InvalidTagError(str(exc)) from None
        if priority is None:
            priority = self.config.default_priority
        if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 3:
            raise InvalidMessageError(f"priority must be 1 (highest), 2 or 3 (lowest), not {priority!r}")
        if idempotency_key is not None and (
            not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 255
        ):
            raise InvalidMessageError("idempotency_key must be a string of 1 to 255 characters")
        if sender is not None and (not isinstance(sender, str) or not 0 < len(sender) <= 20):
            raise InvalidMessageError("sender must be a string of 1 to 20 characters")
        if provider is not None and provider not in self.providers:
            raise InvalidMessageError(f"provider {provider!r} is not configured (known: {sorted(self.providers)})")
        data = memo.data(extra_data, self._json_data) if memo is not None else self._json_data(extra_data)
        try:
            related = tuple(dict.fromkeys(RelatedObject.of(obj) for obj in related_objects or ()))
        except ValueError as exc:
            raise InvalidMessageError(str(exc)) from exc
        now = memo.now if memo is not None else self.clock.now()
        # The router sees the message without a provider; a provider asked for by name is never routed.
        router = self._router if provider is None else None
        draft = SMSMessage(
            recipient=number,
            content=text.content,
            encoding=text.encoding,
            segments=text.segments,
            created_at=now,
            changed_at=now,
            sender=sender,
            template_slug=template_slug,
            extra_data=data,
            tag=tag,
            related_objects=related,
            priority=priority,
            idempotency_key=idempotency_key,
            lease_expires_at=now + timedelta(seconds=self.config.lease_seconds) if immediate else None,
            provider=None if router else (provider or self._default),
            backend=None if router else _backend_path(self.providers[provider or self._default]),
        )
        if router is None:
            return draft
        name = router(draft) or self._default
        if name not in self.providers:
            raise ConfigurationError(f"router chose unknown provider {name!r}", key="router")
        return draft.replace(provider=name, backend=_backend_path(self.providers[name]))

    @staticmethod
    def _json_data(extra_data: Mapping[str, Any]) -> dict[str, Any]:
        if not extra_data:
            return {}
        try:
            text = json.dumps(dict(extra_data), allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise InvalidExtraDataError(f"extra data is not JSON-serialisable: {exc}") from None
        if len(text.encode()) > _MAX_EXTRA_DATA_BYTES:
            raise InvalidExtraDataError(f"extra data is larger than {_MAX_EXTRA_DATA_BYTES} bytes as JSON")
        data: dict[str, Any] = json.loads(text)
        return data

    # -- storing and publishing -------------------------------------------------------------------------

    def _submit_one(self, draft: SMSMessage) -> SMSMessage:
        if draft.idempotency_key is not None:
            existing = self.messages.get_by_idempotency_key(draft.idempotency_key)
            if existing is not None:
                return existing
        try:
            stored = self.messages.add(draft)
        except DuplicateIdempotencyKeyError as exc:
            return exc.existing
        self._announce_new([stored])
        if stored.lease_expires_at is None:
            return stored
        return self._publish([stored])[0]

    def _publish(self, messages: Sequence[SMSMessage]) -> list[SMSMessage]:
        results: dict[int | None, SMSMessage] = {}
        groups: dict[str | None, list[SMSMessage]] = {}
        for message in messages:
            groups.setdefault(message.provider, []).append(message)
        for name, group in groups.items():
            provider = self.providers.get(name) if name is not None else None
            if provider is None or name is None:
                now = self.clock.now()
                error = f"provider {name!r} is no longer configured"
                saved = self._store(group, [m.transition(SMSState.ERROR, at=now, error=error) for m in group])
                results.update((m.id, m) for m in saved)
                continue
            for chunk in _chunks(group, max(1, provider.max_batch_size)):
                results.update((m.id, m) for m in self._publish_with_failover(name, chunk))
        return [results[m.id] for m in messages]

    def _publish_with_failover(self, name: str, chunk: Sequence[SMSMessage]) -> list[SMSMessage]:
        """Publish through ``name``; when it is down (every message transient, or its circuit is open), try the
        failover providers in order. Ambiguous answers never fail over: the first provider may have sent.

        A message records the provider that took it; one that no provider took keeps its own route. In outbox
        mode, when every candidate's circuit is open nothing is tried and no attempt is counted: the messages
        wait until the first cool-down ends."""
        candidates = [name, *(f for f in self.config.failover if f != name)]
        batch: list[SMSMessage] = list(chunk)
        outcomes: list[Outcome] = []
        for index, candidate in enumerate(candidates):
            last = index == len(candidates) - 1
            provider = self.providers[candidate]
            if candidate != name:
                path = _backend_path(provider)
                batch = [m.replace(provider=candidate, backend=path) for m in chunk]
            if self._breaker.is_open(candidate, self.clock.now()):
                if not last:
                    continue
                if self.config.batch_sending:
                    if not outcomes:
                        return self._wait_for_circuits(chunk, candidates)
                    break
            outcomes = self._call_chunked(candidate, provider, batch)
            down = all(o.state is SMSState.WAITING for o in outcomes)
            self._breaker.record(candidate, ok=not down, now=self.clock.now())
            if not down or last:
                break
            log.warning("provider %r is unavailable for %d message(s); trying the failover", candidate, len(batch))
        now = self.clock.now()
        updated = [
            self._after_attempt(own if outcome.state is SMSState.WAITING else tried, outcome, now)
            for own, tried, outcome in zip(chunk, batch, outcomes, strict=True)
        ]
        return self._store(chunk, updated)

    def _wait_for_circuits(self, chunk: Sequence[SMSMessage], candidates: Sequence[str]) -> list[SMSMessage]:
        """Every candidate is cooling down: keep the messages WAITING, attempts unchanged, until the first
        cool-down ends (ERROR when that is past their send deadline)."""
        now = self.clock.now()
        due = min((self._breaker.open_until(c) or now for c in candidates), default=now)
        names = ", ".join(repr(c) for c in candidates)
        reason = f"{'provider' if len(candidates) == 1 else 'providers'} {names} skipped: too many failures in a row"
        updated = [
            m.transition(SMSState.ERROR, at=now, error=f"{self._deadline_error()}: {reason}")
            if self._past_deadline(m, due)
            else m.transition(SMSState.WAITING, at=now, error=reason).replace(next_attempt_at=due)
            for m in chunk
        ]
        return self._store(chunk, updated)

    def _call_chunked(self, name: str, provider: SMSProvider, batch: Sequence[SMSMessage]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for part in _chunks(batch, max(1, provider.max_batch_size)):
            self._wait_for_slots(name, len(part))
            outcomes.extend(self._call(name, provider, part))
        return outcomes

    def _wait_for_slots(self, name: str, count: int) -> None:
        """Honour ``rate_limits``: book ``count`` send slots of provider ``name`` in the shared limiter and
        wait for the first. Keep ``lease_seconds`` above the longest such wait (messages claimed by all workers
        divided by the rate), or a lease could end while its messages wait."""
        rate = self.config.rate_limits.get(name)
        if rate is None or self._rate_limiter is None:
            return
        now = self.clock.now()
        start = self._rate_limiter.reserve(name, count, interval=1.0 / rate, now=now)
        wait = (start - now).total_seconds()
        if wait > 0:
            self._sleep(wait)

    def _call(self, name: str | None, provider: SMSProvider, chunk: Sequence[SMSMessage]) -> list[Outcome]:
        try:
            outcomes = list(provider.publish(chunk))
        except Exception as exc:
            # It may have reached the provider before failing: ambiguous, never re-sent blindly.
            log.exception("provider %r raised while publishing %d message(s)", name, len(chunk))
            return [Outcome.ambiguous(f"provider raised {type(exc).__name__} while publishing")] * len(chunk)
        if len(outcomes) != len(chunk) or not all(isinstance(o, Outcome) for o in outcomes):
            log.error("provider %r answered %d outcomes for %d messages", name, len(outcomes), len(chunk))
            return [Outcome.ambiguous("provider gave an unusable answer")] * len(chunk)
        return outcomes

    def _after_attempt(self, message: SMSMessage, outcome: Outcome, now: datetime) -> SMSMessage:
        if outcome.state is not SMSState.WAITING:
            return message.record_attempt(outcome, at=now)
        error = outcome.error or "transient failure"
        attempts = message.attempts + 1
        if not (self.config.batch_sending and self.config.retry_sending):
            final = f"{error} (not retried: retries need batch_sending and retry_sending)"
        elif attempts >= self.config.max_attempts:
            final = f"gave up after {attempts} attempts: {error}"
        else:
            delay = min(self.config.retry_backoff_max_seconds, self.config.retry_backoff_seconds * 2 ** (attempts - 1))
            due = now + timedelta(seconds=delay * self._rng.uniform(0.5, 1.0))
            if self._past_deadline(message, due):
                final = f"{self._deadline_error()}: {error}"
            else:
                return message.retry_later(at=now, due=due, error=error)
        return message.record_attempt(attrs.evolve(outcome, state=SMSState.ERROR, error=final), at=now)

    def _past_deadline(self, message: SMSMessage, at: datetime) -> bool:
        limit = self.config.max_seconds_to_send
        return limit is not None and at > message.created_at + timedelta(seconds=limit)

    def _deadline_error(self) -> str:
        return f"not sent within the send deadline of {self.config.max_seconds_to_send:g} seconds"

    def _ask(self, name: str, provider: DeliveryChecker, chunk: Sequence[SMSMessage]) -> list[Outcome | None] | None:
        try:
            reports = list(provider.bulk_check_sms_states(chunk))
        except Exception:
            log.exception("delivery check of %d message(s) by provider %r failed", len(chunk), name)
            return None
        if len(reports) != len(chunk) or not all(r is None or isinstance(r, Outcome) for r in reports):
            log.error("provider %r answered %d reports for %d messages", name, len(reports), len(chunk))
            return None
        return reports

    def _recover_expired_leases(self, now: datetime) -> int:
        """End the expired leases of dead workers; return how many this call ended. Workers running this at the
        same moment race harmlessly: the first write wins, the others look again (and count nothing)."""
        total = conflicts = 0
        while conflicts < 10:
            expired = self.messages.find_expired_leases(now=now, limit=self.config.batch_size)
            if not expired:
                break
            updated = [self._after_dead_worker(message, now) for message in expired]
            try:
                saved = self.messages.save_many(updated)
            except (ConcurrentUpdateError, MessageNotFoundError):
                # Another worker ended some of these leases first (its write ends the lease): look again.
                conflicts += 1
                continue
            self._notify_changes(expired, saved)
            total += len(saved)
            log.warning("ended %d expired lease(s) of SMS messages whose worker stopped mid-publish", len(saved))
        return total

    def _after_dead_worker(self, message: SMSMessage, now: datetime) -> SMSMessage:
        provider = self.providers.get(message.provider) if message.provider else None
        retry = self.config.batch_sending and self.config.retry_sending
        if (provider is not None and provider.can_check_by_our_id) or not retry:
            return message.transition(
                SMSState.UNKNOWN,
                at=now,
                error="the worker stopped while publishing; outcome unknown until a delivery check",
            )
        return self._after_attempt(
            message, Outcome.transient("the worker stopped while publishing; sent again (may duplicate)"), now
        )

    def _pages(
        self,
        state: SMSState,
        *,
        provider: str | None = None,
        sent_before: datetime | None = None,
        sent_after: datetime | None = None,
    ) -> Iterator[list[SMSMessage]]:
        """The messages in ``state`` (and of ``provider``, sent in the window given), ``check_chunk_size`` at a
        time in id order; each page is read when the previous one has been handled.

        One state per scan: a database can then page through its (state, provider) or (state, id) index in id
        order, where several states would make it sort every remaining row for each page.
        """
        after_id = 0
        while chunk := self.messages.scan(
            states={state},
            provider=provider,
            after_id=after_id,
            limit=self.config.check_chunk_size,
            sent_before=sent_before,
            sent_after=sent_after,
        ):
            after_id = chunk[-1].id or 0
            yield chunk

    def _time_out_idle(self, cutoff: datetime) -> int:
        minutes = f"{self.config.idle_timeout_minutes:g}"
        error = f"timed out: no delivery report within {minutes} minutes of sending"
        total = 0
        for chunk in itertools.chain.from_iterable(self._pages(state, sent_before=cutoff) for state in _IN_FLIGHT):
            total += len(chunk)
            if self.config.set_error_to_idle_messages:
                now = self.clock.now()
                self._store(chunk, [m.transition(SMSState.ERROR, at=now, error=error) for m in chunk])
        if total and self.config.log_idle_messages:
            action = "moved to ERROR" if self.config.set_error_to_idle_messages else "left as they are"
            log.warning(
                "%d SMS message(s) were SENDING or UNKNOWN for more than %s minutes; %s",
                total,
                minutes,
                action,
            )
        return total

    def _store(self, old: Sequence[SMSMessage], new: Sequence[SMSMessage]) -> list[SMSMessage]:
        if not new:
            return []
        try:
            saved = self.messages.save_many(new)
        except ConcurrentUpdateError:
            saved = []
            for message in new:
                try:
                    saved.append(self.messages.save(message))
                except (ConcurrentUpdateError, MessageNotFoundError) as exc:
                    # Someone else changed it since we read it: their write stands, ours is dropped and said so.
                    log.error("SMS message %s: outcome %s not stored: %s", message.id, message.state, exc)
                    saved.append(
                        self.messages.get(message.id or 0) if isinstance(exc, ConcurrentUpdateError) else message
                    )
        self._notify_changes(old, saved)
        return saved

    def _notify_changes(self, old: Sequence[SMSMessage], saved: Sequence[SMSMessage]) -> None:
        if not self._subscribers:
            return
        before = {m.id: m for m in old}
        changes = []
        for m in saved:
            was = before.get(m.id)
            if was is not None and (was.state is not m.state or was.attempts != m.attempts):
                changes.append(
                    StateChange(
                        message_id=m.id or 0,
                        old_state=was.state,
                        new_state=m.state,
                        provider=m.provider,
                        error=m.error,
                        at=m.changed_at,
                    )
                )
        notify(self._subscribers, changes)

    def _announce_new(self, stored: Sequence[SMSMessage]) -> None:
        if self._subscribers:
            notify(
                self._subscribers,
                (
                    StateChange(
                        message_id=m.id or 0,
                        old_state=None,
                        new_state=m.state,
                        provider=m.provider,
                        error=None,
                        at=m.created_at,
                    )
                    for m in stored
                ),
            )
