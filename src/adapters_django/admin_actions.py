"""The message admin's actions, "send again", "check delivery now" and "cancel", and the notices each leaves for
the user.

Both act through the core's public use cases, never by writing a row: "send again" calls
:func:`adapters_django.send`, so validation, routing and everything ``send`` checks apply; "check delivery now"
asks the providers about the selected messages through the service's ``check_delivery_of``, which applies their
answers through the transition table; "cancel" stops WAITING messages through the service's ``cancel``, which
wins or loses cleanly against a worker claiming the same message. None moves a message out of a final state: "send
again" leaves the original untouched, the check skips final messages, and only WAITING ones can be cancelled.

Which staff may run an action is decided by the model's standard permissions (no migration adds custom ones):
"send again" creates messages, so it needs ``add_outputsmsmessage``; "check delivery now" and "cancel" change
states, so they need ``change_outputsmsmessage``. Staff with only ``view_outputsmsmessage`` get no actions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from adapters_django import api, wiring
from adapters_django.models import STATE_CHOICES, OutputSMSMessage
from smscore import RelatedObject, SMSError, SMSState

__all__ = ["MAX_SELECTED", "cancel", "check_delivery_now", "has_model_permission", "link", "send_again"]

#: The most messages one action handles: each may call a provider while the request waits.
MAX_SELECTED: Final = 100

#: States whose message may be sent again: it has an outcome. The others are still on their way, and a copy
#: could reach the recipient twice.
_SENDABLE_AGAIN: Final = frozenset({SMSState.SENT, SMSState.DELIVERED, SMSState.ERROR, SMSState.DEBUG})

#: Keywords :func:`adapters_django.send` takes as options: extra data under these names cannot be passed on.
_SEND_OPTIONS: Final = frozenset(
    {
        "recipient",
        "content",
        "related_objects",
        "tag",
        "priority",
        "idempotency_key",
        "send_immediately",
        "sender",
        "provider",
        "send_at",
    }
)

_STATE_LABELS: Final = dict(STATE_CHOICES)

#: How many messages a report names one by one before it only counts the rest.
_NAMED_IN_REPORT: Final = 10


def has_model_permission(request: HttpRequest, model: type[Any], action: str) -> bool:
    """Whether the user has the model's standard ``action`` permission (``add``, ``change``, ``view``...)."""
    opts = model._meta
    return bool(request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}"))


@admin.action(description="Send again (a new message with the same text)", permissions=["send_again"])
def send_again(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: Any) -> None:
    """Send a new message for each selected one: same recipient, content, sender, priority, tag, extra data and
    related objects, plus the original itself as a related object (``filter_related_object(original)`` finds
    its copies). The original is not changed. Messages still on their way (WAITING, SENDING, UNKNOWN) are
    refused: a copy could arrive twice."""
    originals = _selection(modeladmin, request, queryset, "send again")
    if not originals:
        return
    done: list[SafeString] = []
    refused: dict[str, list[int]] = {}
    for original in originals:
        reason = _why_not_again(original)
        if reason is None:
            try:
                copy = _send_copy(original)
            except SMSError as exc:
                reason = str(exc)
            else:
                done.append(format_html("{} → {} ({})", link(original.pk), link(copy.pk), _label(copy.state)))
                continue
        refused.setdefault(reason, []).append(original.pk)
    _report(request, "sent again", done, refused)


@admin.action(description="Check delivery now", permissions=["check_delivery"])
def check_delivery_now(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: Any) -> None:
    """Ask the providers now about the selected messages (those in SENDING, UNKNOWN or SENT whose provider can
    be asked) and store their answers; report the new states, and why the others were not asked."""
    selected = _selection(modeladmin, request, queryset, "check")
    if not selected:
        return
    report = wiring.get_service().check_delivery_of([message.pk for message in selected])
    done = [
        format_html("{} {} → {}", link(after.id or 0), _label(before.state.value), _label(after.state.value))
        for before, after in report.changed
    ]
    refused: dict[str, list[int]] = {}
    for message, reason in report.skipped:
        refused.setdefault(reason, []).append(message.id or 0)
    for message in report.failed:
        refused.setdefault(f"provider {message.provider!r} could not be asked; try again later", []).append(
            message.id or 0
        )
    unchanged = [_count(len(report.unchanged)) + " unchanged"] if report.unchanged else []
    _report(request, "changed", done, refused, refusal="not asked", also=unchanged)


@admin.action(description="Cancel (only messages still waiting)", permissions=["cancel"])
def cancel(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: Any) -> None:
    """Cancel each selected message that is still WAITING (scheduled, deferred or queued): it ends in ERROR with
    the error "cancelled". Messages already on their way or finished, and those a worker is publishing at this
    moment, are refused with the reason."""
    selected = _selection(modeladmin, request, queryset, "cancel")
    if not selected:
        return
    service = wiring.get_service()
    done: list[SafeString] = []
    refused: dict[str, list[int]] = {}
    for message in selected:
        try:
            service.cancel(message.pk)
        except SMSError as exc:
            reason = str(exc).partition(": ")[2] or str(exc)
            refused.setdefault(reason, []).append(message.pk)
        else:
            done.append(link(message.pk))
    _report(request, "cancelled", done, refused)


def _selection(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: Any, verb: str) -> list[Any]:
    """The selected messages in id order, or none (with an error notice) when more than MAX_SELECTED are."""
    selected = list(queryset.order_by("id")[: MAX_SELECTED + 1])
    if len(selected) <= MAX_SELECTED:
        return selected
    modeladmin.message_user(
        request, f"Select at most {MAX_SELECTED} messages to {verb}; nothing was done.", messages.ERROR
    )
    return []


def _why_not_again(original: OutputSMSMessage) -> str | None:
    state = original.sms_state
    if state not in _SENDABLE_AGAIN:
        return f"still on its way ({_label(state.value)}): wait for its outcome"
    clashes = sorted(_SEND_OPTIONS & set(original.extra_data or {}))
    if clashes:
        return f"its extra data uses the names of send options ({', '.join(clashes)})"
    return None


def _send_copy(original: OutputSMSMessage) -> OutputSMSMessage:
    related: list[RelatedObject] = [
        RelatedObject(f"{row.content_type.app_label}.{row.content_type.model}", row.object_id)
        for row in original.related_objects.select_related("content_type")
    ]
    # Only the latest original is linked: a copy of a copy points at the copy, not at the whole chain.
    own_label = OutputSMSMessage._meta.label_lower
    related = [item for item in related if item.content_type != own_label]
    related.append(RelatedObject.of(original))
    return api.send(
        original.recipient,
        original.content,
        related_objects=related,
        tag=original.tag,
        priority=original.priority,
        sender=original.sender,
        **(original.extra_data or {}),
    )


def _report(
    request: HttpRequest,
    summary: str,
    done: Sequence[SafeString],
    refused: Mapping[str, Sequence[int]],
    *,
    refusal: str = "refused",
    also: Sequence[str] = (),
) -> None:
    """Tell the user what an action did: one line counting what was done (naming each up to a limit) and what
    was refused, then one line per reason for refusing, with the messages it applies to."""
    parts: list[SafeString] = []
    if done:
        named = format_html_join(", ", "{}", ((item,) for item in done[:_NAMED_IN_REPORT]))
        more = f" and {len(done) - _NAMED_IN_REPORT} more" if len(done) > _NAMED_IN_REPORT else ""
        parts.append(format_html("{} {}: {}{}", _count(len(done)), summary, named, more))
    else:
        parts.append(format_html("No message {}", summary))
    parts.extend(format_html("{}", item) for item in also)
    total = sum(len(ids) for ids in refused.values())
    if total:
        parts.append(format_html("{} {}", _count(total), refusal))
    level = messages.SUCCESS if not total else messages.WARNING if done else messages.ERROR
    messages.add_message(request, level, format_html("{}.", format_html_join("; ", "{}", ((part,) for part in parts))))
    for reason, ids in refused.items():
        links = format_html_join(", ", "{}", ((link(pk),) for pk in ids))
        messages.add_message(request, messages.WARNING, format_html("{} {}: {}", links, refusal, reason))


def _count(number: int) -> str:
    return f"{number} message{'' if number == 1 else 's'}"


def _label(state: str) -> str:
    return str(_STATE_LABELS.get(state, state))


def link(pk: int) -> SafeString:
    """A link to the admin page of message ``pk``, reading ``#pk``."""
    url = reverse(f"admin:{OutputSMSMessage._meta.app_label}_{OutputSMSMessage._meta.model_name}_change", args=[pk])
    return format_html('<a href="{}">#{}</a>', url, pk)
