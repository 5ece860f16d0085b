"""Drafting: the caller's input turned into a validated, routed message ready to store (nothing stored here)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from smscore.config import SMSConfig
from smscore.errors import ConfigurationError, InvalidMessageError, InvalidSendTimeError, InvalidTagError
from smscore.message import RelatedObject, SMSMessage, check_extra_data, check_idempotency_key, check_sender
from smscore.phone import normalize_recipient
from smscore.quiet_hours import defer
from smscore.service.context import Router, ServiceContext, backend_path
from smscore.templates import validate_slug
from smscore.text import PreparedText, prepare_text

__all__ = ["RESERVED_KEYWORDS", "BatchMemo", "check_send_at", "immediate", "prepare", "rule_router"]

#: Keyword names of ``send`` that are options, not extra data.
RESERVED_KEYWORDS: Final = frozenset(
    {"priority", "idempotency_key", "send_immediately", "sender", "provider", "send_at"}
)


#: The last year a message may be scheduled in.
_LAST_YEAR: Final = 9000


def rule_router(rules: Mapping[str, Mapping[str, str]]) -> Router:
    """The router of the ``router`` table: by tag first, then by the longest matching recipient prefix."""
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


class BatchMemo:
    """Checks shared by the items of one ``send_many``: each distinct content and extra data is checked once
    (items usually differ only in their recipient). Scoped to the call, so no message text outlives it."""

    def __init__(self, now: datetime) -> None:
        #: The batch's creation time, shared by its messages: they are stored together, in one transaction.
        self.now = now
        self._texts: dict[str, PreparedText] = {}
        # By identity: the caller's mapping itself is kept alongside, so its id cannot be reused meanwhile.
        self._data: dict[int, tuple[Mapping[str, Any], dict[str, Any]]] = {}

    def text(self, content: str, config: SMSConfig) -> PreparedText:
        """``content`` prepared for ``config``, once per distinct content (anything but a string is checked
        each time, and refused)."""
        if not isinstance(content, str):
            return _prepared_text(content, config)
        found = self._texts.get(content)
        if found is None:
            found = self._texts[content] = _prepared_text(content, config)
        return found

    def data(self, extra: Mapping[str, Any], check: Callable[[object], dict[str, Any]]) -> dict[str, Any]:
        """``check(extra)`` once per mapping; every message still gets a dict of its own."""
        seen = self._data.get(id(extra))
        if seen is None or seen[0] is not extra:
            seen = self._data[id(extra)] = (extra, check(extra))
        return dict(seen[1])


def immediate(config: SMSConfig, send_immediately: bool | None) -> bool:
    """Whether a message is published at once: as the caller says, else unless the outbox is on."""
    return (not config.batch_sending) if send_immediately is None else bool(send_immediately)


def prepare(
    ctx: ServiceContext,
    recipient: str,
    content: str,
    related_objects: Iterable[object] | None,
    tag: str | None,
    *,
    priority: int | None,
    idempotency_key: str | None,
    sender: str | None,
    provider: str | None,
    extra_data: Mapping[str, Any],
    immediate: bool,
    template_slug: str | None = None,
    memo: BatchMemo | None = None,
    send_at: datetime | None = None,
) -> SMSMessage:
    """Validate the caller's input into a new message with its provider chosen and its due time set (``send_at``,
    moved out of the quiet hours of its tag); raise before anything is stored. Only a message due now is leased
    for publishing at once when ``immediate``.

    Raises an :class:`~smscore.errors.InvalidMessageError` subclass for bad input, and
    :class:`~smscore.errors.ConfigurationError` when the router names a provider that is not configured.
    """
    config = ctx.config
    number = normalize_recipient(recipient, default_region=config.default_region)
    text = memo.text(content, config) if memo is not None else _prepared_text(content, config)
    _check_tag(tag)
    priority = _priority(config, priority)
    _check_options(ctx, idempotency_key=idempotency_key, sender=sender, provider=provider)
    data = memo.data(extra_data, check_extra_data) if memo is not None else check_extra_data(extra_data)
    related = _related(related_objects)
    now = memo.now if memo is not None else ctx.clock.now()
    scheduled, due, deferred = _schedule(config, send_at, number, tag, now)
    # The router sees the message without a provider; a provider asked for by name is never routed.
    router = ctx.router if provider is None else None
    chosen = None if router else (provider or ctx.default)
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
        send_at=scheduled,
        next_attempt_at=due,
        deferred_reason=deferred,
        lease_expires_at=now + timedelta(seconds=config.lease_seconds) if immediate and due <= now else None,
        provider=chosen,
        backend=None if chosen is None else backend_path(ctx.providers[chosen]),
    )
    return draft if router is None else _route(ctx, router, draft)


def _prepared_text(content: str, config: SMSConfig) -> PreparedText:
    return prepare_text(content, use_accent=config.use_accent, max_segments=config.max_segments)


def _schedule(
    config: SMSConfig, send_at: datetime | None, recipient: str, tag: str | None, now: datetime
) -> tuple[datetime | None, datetime, str | None]:
    """The time a message is scheduled for (``None``: as soon as possible), when it is due, and why it waits
    past the time asked (the quiet hours of its tag). A time in the past means now."""
    due = now if send_at is None else max(check_send_at(send_at), now)
    hours = config.quiet_hours.get(tag) if tag is not None else None
    deferred = None
    if hours is not None:
        due, deferred = defer(due, recipient, tag or "", hours, ZoneInfo(config.quiet_hours_zone))
    return (None if send_at is None and deferred is None else due), due, deferred


def check_send_at(value: object) -> datetime:
    """``value`` in UTC if it is a timezone-aware datetime; raises :class:`~smscore.errors.InvalidSendTimeError`
    otherwise (a naive time would be read in whatever zone the server is in)."""
    if not isinstance(value, datetime):
        raise InvalidSendTimeError(f"send_at must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidSendTimeError(f"send_at must be timezone-aware, not the naive {value.isoformat()}")
    if value.year > _LAST_YEAR:
        # Far enough for any plan; the days after it are where date arithmetic runs out of calendar.
        raise InvalidSendTimeError(f"send_at must be before the year {_LAST_YEAR + 1}, not {value.isoformat()}")
    return value.astimezone(UTC)


def _check_tag(tag: str | None) -> None:
    if tag is None:
        return
    try:
        validate_slug(tag, what="tag", max_length=50)
    except InvalidMessageError as exc:
        raise InvalidTagError(str(exc)) from None


def _priority(config: SMSConfig, priority: int | None) -> int:
    if priority is None:
        return config.default_priority
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 3:
        raise InvalidMessageError(f"priority must be 1 (highest), 2 or 3 (lowest), not {priority!r}")
    return priority


def _check_options(
    ctx: ServiceContext, *, idempotency_key: str | None, sender: str | None, provider: str | None
) -> None:
    check_idempotency_key(idempotency_key)
    check_sender(sender)
    if provider is not None and provider not in ctx.providers:
        raise InvalidMessageError(f"provider {provider!r} is not configured (known: {sorted(ctx.providers)})")


def _related(related_objects: Iterable[object] | None) -> tuple[RelatedObject, ...]:
    if related_objects is None or (type(related_objects) in (tuple, list) and not related_objects):
        return ()  # most messages have none, and the generator below costs more than the rest of their checks
    try:
        return tuple(dict.fromkeys(RelatedObject.of(obj) for obj in related_objects))
    except ValueError as exc:
        raise InvalidMessageError(str(exc)) from exc


def _route(ctx: ServiceContext, router: Router, draft: SMSMessage) -> SMSMessage:
    name = router(draft) or ctx.default
    if name not in ctx.providers:
        raise ConfigurationError(f"router chose unknown provider {name!r}", key="router")
    return draft.replace(provider=name, backend=backend_path(ctx.providers[name]))
