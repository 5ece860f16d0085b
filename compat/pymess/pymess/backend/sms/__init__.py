"""django-pymess's SMS helpers, ``send`` and ``send_template``, with their old parameters and return values.

Both call smscore's Django API (:func:`adapters_django.send`, :func:`adapters_django.send_template`), which
return the stored message; switch call sites to those when ready. The backend classes keep their old paths
below this package (``pymess.backend.sms.ats_sms_operator.ATSSMSBackend`` and the others).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import adapters_django
from smscore import SMSState, TemplateInactiveError

if TYPE_CHECKING:
    from adapters_django.models import OutputSMSMessage

__all__ = ["failed", "send", "send_template"]


def failed(message: OutputSMSMessage) -> bool:
    """The ancestor's ``failed``: the message ended in error, or its last attempt failed and it waits for a retry.

    smscore keeps a message that failed transiently in WAITING with its attempt counted (the ancestor's
    ERROR_RETRY), so that counts as failed too; a message WAITING without an attempt (batch sending, or a send
    inside a transaction that publishes on commit) has not failed.
    """
    state = message.sms_state
    return state is SMSState.ERROR or (state is SMSState.WAITING and message.attempts > 0)


def _options(send_immediately: bool, kwargs: dict[str, Any]) -> dict[str, Any]:
    if "template" in kwargs:
        raise TypeError("send(template=...) is not supported: use send_template(recipient, slug, context_data)")
    backend = kwargs.pop("message_backend", None)
    if backend is not None:
        if not isinstance(backend, str):
            raise TypeError("message_backend must be the name of a backend in PYMESS_SMS_BACKENDS")
        kwargs["provider"] = backend
    # The ancestor's False meant "as PYMESS_SMS_BATCH_SENDING says", which is smscore's None.
    kwargs["send_immediately"] = True if send_immediately else None
    return kwargs


def send(
    recipient: str,
    content: str,
    related_objects: Iterable[object] | None = None,
    tag: str | None = None,
    send_immediately: bool = False,
    **kwargs: Any,
) -> bool:
    """Send ``content`` to ``recipient``; return the ancestor's ``failed`` flag (see :func:`failed`), not the
    message: ``False`` when the message was handed over, stored for later or delivered.

    ``related_objects``, ``tag`` and extra keywords (stored in ``extra_data``) are as before; ``priority``,
    ``message_backend`` (the name of a backend in ``PYMESS_SMS_BACKENDS``) and smscore's ``send_at`` (a
    timezone-aware datetime: stored for the outbox to send then) are understood. Bad input raises
    :class:`~smscore.InvalidMessageError` before anything is stored, where the ancestor raised
    ``SMSSendingError``. :func:`adapters_django.send` takes the same arguments and returns the message.
    """
    message = adapters_django.send(recipient, content, related_objects, tag, **_options(send_immediately, kwargs))
    return failed(message)


def send_template(
    recipient: str,
    slug: str,
    context_data: Mapping[str, Any] | None,
    related_objects: Iterable[object] | None = None,
    tag: str | None = None,
    send_immediately: bool = False,
) -> OutputSMSMessage | None:
    """Send the template ``slug`` rendered with ``context_data``; return the stored message, or ``None``
    (storing nothing) when the template is inactive or its ``can_send`` refuses.

    A missing slug raises the template model's ``DoesNotExist``, as before (it is also a
    :class:`~smscore.TemplateNotFoundError`). :func:`adapters_django.send_template` takes the same arguments
    and raises :class:`~smscore.TemplateInactiveError` for an inactive template instead of returning ``None``.
    """
    try:
        return adapters_django.send_template(
            recipient,
            slug,
            context_data,
            related_objects,
            tag,
            **_options(send_immediately, {}),
        )
    except TemplateInactiveError:
        return None
