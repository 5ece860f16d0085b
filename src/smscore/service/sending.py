"""Sending: ``send``, ``send_template`` and ``send_many`` — draft, guard (:mod:`~smscore.service.guarding`), store
once per idempotency key, then publish unless the outbox will."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from smscore.budget import metered
from smscore.errors import (
    DuplicateIdempotencyKeyError,
    InvalidMessageError,
    RecipientRefusedError,
    TemplateInactiveError,
)
from smscore.flow import Flow, call
from smscore.message import SMSMessage
from smscore.phone import normalize_recipient
from smscore.service import guarding
from smscore.service.context import ServiceContext
from smscore.service.drafting import BatchMemo, immediate, prepare
from smscore.service.guarding import RefusedItem, SentBatch
from smscore.service.publishing import publish
from smscore.service.recording import announce_new
from smscore.templates import SMSTemplate, check_context

__all__ = ["send", "send_many", "send_template"]

#: The keys a ``send_many`` item may have: its recipient, and the shared arguments it overrides.
_ITEM_KEYS: Final = frozenset(
    {
        "recipient",
        "content",
        "template",
        "context",
        "related_objects",
        "tag",
        "priority",
        "sender",
        "provider",
        "extra_data",
        "send_at",
    }
)


def send(
    ctx: ServiceContext,
    recipient: str,
    content: str,
    related_objects: Iterable[object] | None,
    tag: str | None,
    options: Mapping[str, Any],
    extra_data: Mapping[str, Any],
    template_slug: str | None = None,
    *,
    opt_out_confirmation: bool = False,
) -> Flow[SMSMessage]:
    """See :meth:`smscore.service.SMSService.send`: draft one message, store it (or return the one already holding
    its idempotency key) and publish it now unless the outbox will.

    ``options`` are the keyword options of :func:`~smscore.service.drafting.prepare` (``priority``,
    ``idempotency_key``, ``sender``, ``provider``, ``immediate``, ``send_at``). A message already stored under the
    idempotency key is returned before any guard is asked: it was admitted when it was sent.
    ``opt_out_confirmation`` as for :func:`~smscore.service.guarding.admit`.
    """
    draft = prepare(
        ctx, recipient, content, related_objects, tag, extra_data=extra_data, template_slug=template_slug, **options
    )
    if draft.idempotency_key is not None:
        existing = yield from call(ctx.messages.get_by_idempotency_key, draft.idempotency_key)
        if existing is not None:
            return existing
    at_store = yield from guarding.admit(ctx, draft, opt_out_confirmation=opt_out_confirmation)
    try:
        [stored] = yield from guarding.store(ctx, [draft], [True] if at_store else None)
    except DuplicateIdempotencyKeyError as exc:
        return exc.existing
    if isinstance(stored, RecipientRefusedError):
        yield from guarding.refuse(ctx, [stored])
        raise stored
    announce_new(ctx, [stored])
    if stored.lease_expires_at is None:
        return stored
    return (yield from publish(ctx, [stored]))[0]


def send_template(
    ctx: ServiceContext,
    recipient: str,
    slug: str,
    context_data: Mapping[str, Any] | None,
    related_objects: Iterable[object] | None,
    tag: str | None,
    options: Mapping[str, Any],
    extra_data: Mapping[str, Any] | None,
) -> Flow[SMSMessage | None]:
    """See :meth:`smscore.service.SMSService.send_template`; ``options`` as for :func:`send`.

    The render is metered against the configured budget whatever renders the template (the core's renderer, or a
    template that renders itself, as Django's do).
    """
    context = check_context(context_data)
    template = yield from call(ctx.templates.get, slug)
    if not template.is_active:
        raise TemplateInactiveError(template.slug)
    normalized = normalize_recipient(recipient, default_region=ctx.config.default_region)
    if not template.can_send(normalized, context):
        return None
    with metered(ctx.config.render_budget):
        content = template.render_body(context, ctx.renderer)
    extra = {} if extra_data is None else extra_data
    return (yield from send(ctx, normalized, content, related_objects, tag, options, extra, template.slug))


def send_many(
    ctx: ServiceContext,
    recipients: Iterable[str | Mapping[str, Any]],
    shared: Mapping[str, Any],
    send_immediately: bool | None,
) -> Flow[SentBatch]:
    """See :meth:`smscore.service.SMSService.send_many`; ``shared`` holds the arguments every item may override."""
    publish_now = immediate(ctx.config, send_immediately)
    memo = BatchMemo(ctx.clock.now())
    templates: dict[str, SMSTemplate] = {}
    drafts = []
    for index, item in enumerate(recipients):
        fields = _item_fields(index, item, shared)
        try:
            if "template" in fields:
                yield from _render_item(ctx, fields, templates)
            elif fields["content"] is None:
                raise InvalidMessageError("no content")
            drafts.append(prepare(ctx, idempotency_key=None, immediate=publish_now, memo=memo, **fields))
        except InvalidMessageError as exc:
            raise type(exc)(f"item {index}: {exc}") from exc
    at_store = guarding.screens_at_store(ctx)
    kept, refused = yield from guarding.screen(ctx, drafts, opt_outs=not at_store)
    admitted = [drafts[index] for index in kept]
    screened = [guarding.asks_list(ctx, draft) for draft in admitted] if at_store else None
    results = (yield from guarding.store(ctx, admitted, screened)) if kept else []
    stored: list[SMSMessage] = []
    for index, result in zip(kept, results, strict=True):
        if isinstance(result, SMSMessage):
            stored.append(result)
        else:
            refused.append(RefusedItem(index, result.recipient, result))
    yield from guarding.refuse(ctx, [item.error for item in sorted(refused, key=lambda item: item.index)])
    if not stored:
        return SentBatch((), refused)
    announce_new(ctx, stored)
    # Only the messages due now were leased; the outbox publishes the others when they are due.
    now = [message for message in stored if message.lease_expires_at is not None]
    if len(now) == len(stored):
        return SentBatch((yield from publish(ctx, stored)), refused)
    if not now:
        return SentBatch(stored, refused)
    published = {message.id: message for message in (yield from publish(ctx, now))}
    return SentBatch([published.get(message.id, message) for message in stored], refused)


def _item_fields(index: int, item: str | Mapping[str, Any], shared: Mapping[str, Any]) -> dict[str, Any]:
    fields = dict(shared)
    if isinstance(item, Mapping):
        unknown = set(item) - _ITEM_KEYS
        if unknown or "recipient" not in item:
            problem = f"unknown keys {sorted(unknown)}" if unknown else "no recipient"
            raise InvalidMessageError(f"item {index}: {problem}")
        fields.update(item)
        if "template" in item and "content" not in item:
            fields["content"] = None  # the shared content is for the items without a template
    else:
        fields["recipient"] = item
    return fields


def _render_item(ctx: ServiceContext, fields: dict[str, Any], templates: dict[str, SMSTemplate]) -> Flow[None]:
    """Replace an item's ``template`` and ``context`` with its rendered ``content`` and ``template_slug``, checked
    as :func:`send_template` checks them (each template is read once per call)."""
    slug = fields.pop("template")
    context = check_context(fields.pop("context", None))
    if fields["content"] is not None:
        raise InvalidMessageError("both content and a template")
    template = templates.get(slug)
    if template is None:
        template = templates[slug] = yield from call(ctx.templates.get, slug)
    if not template.is_active:
        raise TemplateInactiveError(template.slug)
    recipient = normalize_recipient(fields["recipient"], default_region=ctx.config.default_region)
    if not template.can_send(recipient, context):
        raise InvalidMessageError(f"template {template.slug!r} refuses to send to {recipient}")
    with metered(ctx.config.render_budget):
        fields["content"] = template.render_body(context, ctx.renderer)
    fields["recipient"] = recipient
    fields["template_slug"] = template.slug
