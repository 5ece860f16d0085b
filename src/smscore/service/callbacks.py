"""Status callbacks: a report the provider pushes (a webhook request), verified and applied to its message."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from smscore.errors import CallbackError, ConcurrentUpdateError
from smscore.flow import Flow, blocking, call
from smscore.message import SMSMessage
from smscore.ports import StatusCallbackReceiver
from smscore.service.context import ServiceContext
from smscore.service.recording import notify_changes

__all__ = ["handle_status_callback"]

log = logging.getLogger("smscore")

#: How often a report is re-applied to a message that keeps changing under it before giving up.
_ATTEMPTS = 10


def handle_status_callback(
    ctx: ServiceContext,
    provider: str,
    url: str,
    params: Mapping[str, str | Sequence[str]],
    headers: Mapping[str, str],
) -> Flow[SMSMessage | None]:
    """See :meth:`smscore.service.SMSService.handle_status_callback`."""
    receiver = ctx.providers.get(provider)
    if not isinstance(receiver, StatusCallbackReceiver):
        raise CallbackError(f"provider {provider!r} is not configured or takes no status callbacks")
    report = yield from blocking(receiver.parse_status_callback, url, params, headers)
    for _ in range(_ATTEMPTS):
        message = yield from call(ctx.messages.get_by_provider_ref, report.provider_ref, provider=provider)
        if message is None:
            log.warning("status callback from %r for unknown reference %r", provider, report.provider_ref)
            return None
        updated = message.apply_report(report.outcome, at=ctx.clock.now())
        if updated == message:
            return message
        try:
            saved = yield from call(ctx.messages.save, updated)
        except ConcurrentUpdateError:
            continue
        notify_changes(ctx, [message], [saved])
        return saved
    raise CallbackError(f"message with reference {report.provider_ref!r} kept changing; report not applied")
