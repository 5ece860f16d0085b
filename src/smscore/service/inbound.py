"""Inbound SMS: a provider's webhook verified and read, the message stored once, its keyword acted on, and the
inbound subscribers told.

Rule 1: the order is what makes retries safe. The message is stored first (one row per provider reference, so a
retried webhook stops there and nothing after it runs twice); only then are keywords acted on and subscribers
told, and neither a failing keyword action nor a failing subscriber loses the stored message.

Keywords (``inbound_keywords``): a STOP-type word puts the sender on the opt-out list (source ``"inbound"``), a
START-type word takes it off, a HELP-type word changes nothing. Each kind may have a reply, sent as a normal
message tagged :data:`~smscore.inbound.REPLY_TAG` from the number written to: a STOP's reply only when the number
was not on the list before (the one confirmation carriers expect, let through the list), a START's only when it
was. A reply to a number on the list is refused like any message.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final

from smscore.errors import CallbackError, DuplicateInboundError, InvalidMessageError, SMSError
from smscore.events import InboundReceived, notify_inbound
from smscore.flow import Flow, blocking, call
from smscore.guards import OptOut
from smscore.inbound import REPLY_TAG, InboundReport, InboundSMS, WebhookRequest
from smscore.message import SMSMessage
from smscore.phone import normalize_recipient
from smscore.ports import InboundReceiver
from smscore.query import MessageQuery
from smscore.service import sending
from smscore.service.context import ServiceContext
from smscore.service.drafting import immediate

__all__ = ["handle_inbound", "replied_message"]

log = logging.getLogger("smscore.inbound")

#: Messages to the sender read when looking for the one answered: the newest few are enough.
_CANDIDATES: Final = 20


def handle_inbound(ctx: ServiceContext, provider: str, request: WebhookRequest) -> Flow[InboundSMS | None]:
    """See :meth:`smscore.service.SMSService.handle_inbound`."""
    receiver = ctx.providers.get(provider)
    if not isinstance(receiver, InboundReceiver):
        raise CallbackError(f"provider {provider!r} is not configured or receives no SMS")
    report = yield from blocking(receiver.parse_inbound, request)
    if report is None:
        return None
    now = ctx.clock.now()
    replied = yield from replied_message(ctx, provider, report, now)
    try:
        sms = report.received(provider=provider, at=now, reply_to=None if replied is None else replied.id)
    except InvalidMessageError as exc:
        raise CallbackError(f"inbound SMS cannot be stored: {exc}") from exc
    try:
        stored = yield from call(ctx.inbound.add, sms)
    except DuplicateInboundError as exc:
        return exc.existing
    keyword = ctx.config.inbound_keywords.match(stored.content)
    if keyword is not None:
        yield from _act(ctx, stored, keyword)
    notify_inbound(ctx.inbound_subscribers, InboundReceived(inbound=stored, keyword=keyword))
    return stored


def replied_message(
    ctx: ServiceContext, provider: str, report: InboundReport, now: datetime
) -> Flow[SMSMessage | None]:
    """The message ``report`` answers: the one the provider names (``replies_to_ref``), else the latest sent to
    its sender from the number written to (or, for messages sent without a sender, by the same provider) within
    ``inbound_reply_window``; None when there is none."""
    window = ctx.config.inbound_reply_window
    if not window:
        return None
    if report.replies_to_ref is not None:
        named = yield from call(ctx.messages.get_by_provider_ref, report.replies_to_ref, provider=provider)
        if named is not None:
            return named
    query = MessageQuery(recipient=report.sender, sent_after=now - window, newest_first=True, limit=_CANDIDATES)
    candidates = yield from call(ctx.messages.fetch, query)
    same_number = (
        m for m in candidates if m.sender == report.recipient or (m.sender is None and m.provider == provider)
    )
    return next(same_number, None)


def _act(ctx: ServiceContext, sms: InboundSMS, kind: str) -> Flow[None]:
    """Act on the keyword of ``kind`` in ``sms`` (see the module docstring); failures are logged, never raised."""
    try:
        changed = True
        if kind == "stop":
            entry = OptOut.of(
                sms.sender,
                at=sms.received_at,
                reason=sms.content.strip()[:50],
                source="inbound",
                default_region=ctx.config.default_region,
            )
            # Listed before: no second confirmation (the add returns the earlier entry when it races another).
            listed = yield from call(ctx.opt_outs.contains, entry.recipient)
            changed = not listed and (yield from call(ctx.opt_outs.add, entry)) == entry
        elif kind == "start":
            number = normalize_recipient(sms.sender, default_region=ctx.config.default_region)
            changed = (yield from call(ctx.opt_outs.remove, number)) is not None
        text = ctx.config.inbound_keywords.reply(kind)
        if text is not None and changed:
            yield from _reply(ctx, sms, text, confirms_opt_out=kind == "stop")
    except SMSError as exc:
        log.warning("%s keyword of inbound SMS %s not acted on: %s", kind.upper(), sms.id, exc)


def _reply(ctx: ServiceContext, sms: InboundSMS, text: str, *, confirms_opt_out: bool) -> Flow[None]:
    options = {
        "priority": None,
        # One reply per inbound SMS, whatever retries the webhook sees.
        "idempotency_key": f"inbound-reply:{sms.provider}:{sms.id}",
        "sender": sms.recipient if len(sms.recipient) <= 20 else None,
        "provider": sms.provider,
        "immediate": immediate(ctx.config, None),
    }
    yield from sending.send(
        ctx, sms.sender, text, None, REPLY_TAG, options, {"inbound_id": sms.id}, opt_out_confirmation=confirms_opt_out
    )
