"""The seed's sending functions, backed by the core's use cases.

Both return the stored :class:`~adapters_django.models.OutputSMSMessage` (a model instance, so
``message.related_objects``, ``message.failed`` and the rest of the ORM work on it), or ``None`` when a template's
``can_send`` refuses. Use :func:`adapters_django.get_service` for the core's :class:`~smscore.SMSMessage` values.

Transactions
------------
The provider is never called inside a database transaction. Outside one, ``send`` stores the message, calls the
provider and stores the outcome (each step committed on its own). Inside ``transaction.atomic()`` (including
``ATOMIC_REQUESTS``), ``send`` stores the message WAITING **as part of the caller's transaction** and publishes it
in ``transaction.on_commit``:

- if the transaction rolls back, there is neither a record nor a sent SMS;
- if it commits, the message is published right after the commit; the instance returned by ``send`` is the
  WAITING one (call ``refresh_from_db()`` after the commit to see the outcome);
- if the process dies between the commit and the publish, the message stays WAITING:
  ``manage.py send_messages_batch`` (run it from cron) publishes such stragglers.

In tests: Django's ``TestCase`` (and pytest-django's ``db`` fixture) runs each test in a transaction that never
commits, so a send there stays WAITING. Use ``self.captureOnCommitCallbacks(execute=True)`` (pytest-django:
``django_capture_on_commit_callbacks(execute=True)``) or a ``TransactionTestCase`` (``transactional_db``).

With batch sending on (``PYMESS_SMS_BATCH_SENDING = True``) ``send`` only stores WAITING messages, in or out of a
transaction, and ``send_messages_batch`` publishes them; ``send_immediately=True`` publishes at once (after the
commit, inside a transaction).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction

from adapters_django.wiring import django_setting_names, get_service
from smscore import SMSMessage, SMSState

if TYPE_CHECKING:
    from adapters_django.models import AbstractSMSTemplate, OutputSMSMessage

__all__ = ["publish_after_commit", "send", "send_template", "send_with_template"]

log = logging.getLogger("adapters_django")


def send(
    recipient: str,
    content: str,
    related_objects: Iterable[object] | None = None,
    tag: str | None = None,
    **sms_attrs: Any,
) -> OutputSMSMessage:
    """Send ``content`` to ``recipient`` and return the stored message.

    ``related_objects``: model instances to link to the message (generic relation). ``tag``: a slug stored with
    it. ``sms_attrs``: the core's options ``priority`` (1 highest .. 3), ``idempotency_key`` (a repeated send with
    the same key returns the first message and sends nothing), ``send_immediately``, ``sender``, ``provider``
    (a backend name from ``PYMESS_SMS_BACKENDS``) and ``send_at`` (a timezone-aware datetime: the message is stored
    WAITING and ``send_messages_batch`` publishes it when due; a naive one raises
    :class:`~smscore.InvalidSendTimeError`); every other keyword is stored in ``extra_data`` (JSON).
    Accents are transliterated unless ``PYMESS_SMS_USE_ACCENT`` is true.

    Raises :class:`~smscore.InvalidMessageError` (and its subclasses) for bad input before anything is stored,
    :class:`~smscore.ConfigurationError` naming the setting when the settings are wrong. A provider failure is not
    an exception: it is the message's state (``failed`` is true in ERROR).
    """
    service = get_service()
    immediate = sms_attrs.pop("send_immediately", None)

    def call(send_immediately: bool | None) -> SMSMessage:
        return service.send(recipient, content, related_objects, tag, send_immediately=send_immediately, **sms_attrs)

    stored = _submit(call, immediate)
    assert stored is not None  # send (unlike send_template) always stores a message
    return stored


def send_template(
    recipient: str,
    slug: str,
    context_data: Mapping[str, Any] | None,
    related_objects: Iterable[object] | None = None,
    tag: str | None = None,
    **options: Any,
) -> OutputSMSMessage | None:
    """Send the template ``slug`` of the template model rendered with ``context_data``.

    Looks the template up in the model named by ``PYMESS_SMS_TEMPLATE_MODEL`` and calls its ``send`` method, so
    the model's ``can_send``, ``get_body`` and ``render_body`` overrides apply. Returns the stored message, or
    ``None`` (storing nothing) when ``can_send`` refuses. ``options`` are the core's send options (see
    :func:`send`) plus ``extra_data`` (a dict).

    Raises the template model's ``DoesNotExist`` (which is also a :class:`~smscore.TemplateNotFoundError`) when no
    template has the slug, :class:`~smscore.TemplateInactiveError` (storing nothing) when it is inactive,
    :class:`~smscore.TemplateRenderError` when the body cannot be rendered, and what :func:`send` raises.
    """
    service = get_service()
    templates = service.templates
    from adapters_django.template_repository import DjangoTemplateRepository, template_not_found

    if not isinstance(templates, DjangoTemplateRepository):  # pragma: no cover - wiring always builds this one
        raise TypeError("the configured storage is not the Django storage")
    model = templates.model
    try:
        template = model._default_manager.using(templates.using).get(slug=slug)
    except model.DoesNotExist:
        raise template_not_found(model, slug) from None
    result: OutputSMSMessage | None = template.send(recipient, context_data, related_objects, tag, **options)
    return result


def send_with_template(
    template: AbstractSMSTemplate,
    recipient: str,
    context_data: Mapping[str, Any] | None,
    related_objects: Iterable[object] | None = None,
    tag: str | None = None,
    **options: Any,
) -> OutputSMSMessage | None:
    """Send ``template`` (a template model instance, as it is in memory) through the core's ``send_template``.

    What :meth:`AbstractSMSTemplate.send <adapters_django.models.AbstractSMSTemplate.send>` does; see
    :func:`send_template` for the arguments, the result and the errors.
    """
    from adapters_django.template_repository import pinned_template

    service = get_service()
    immediate = options.pop("send_immediately", None)
    context = dict(context_data or {})

    def call(send_immediately: bool | None) -> SMSMessage | None:
        with pinned_template(template):
            return service.send_template(
                recipient,
                template.slug,
                context,
                related_objects,
                tag,
                send_immediately=send_immediately,
                **options,
            )

    return _submit(call, immediate)


def _submit(call: Callable[[bool | None], SMSMessage | None], send_immediately: bool | None) -> OutputSMSMessage | None:
    """Run a core send, deferring the provider call to ``on_commit`` when inside a transaction."""
    from adapters_django.models import OutputSMSMessage

    service = get_service()
    using = getattr(service.messages, "using", None) or "default"
    if not transaction.get_connection(using).in_atomic_block:
        with django_setting_names():
            stored = call(send_immediately)
    else:
        publish = service.config.batch_sending is False if send_immediately is None else bool(send_immediately)
        # Store WAITING without a lease, inside the caller's transaction; publish only once it has committed.
        with django_setting_names():
            stored = call(False)
        if stored is not None and publish and stored.state is SMSState.WAITING and stored.lease_expires_at is None:
            transaction.on_commit(functools.partial(publish_after_commit, stored.id or 0), using=using, robust=True)
    if stored is None:
        return None
    instance: OutputSMSMessage = OutputSMSMessage.objects.using(using).get(pk=stored.id)
    return instance


def publish_after_commit(message_id: int) -> None:
    """Publish the stored WAITING message ``message_id`` now (the ``on_commit`` half of a send in a transaction).

    The core claims it with compare-and-set first, so it is sent once even if an outbox worker reached it too; a
    message that is no longer due is left alone.
    """
    message = get_service().publish_waiting(message_id)
    if message.state is SMSState.WAITING and message.lease_expires_at is not None:
        log.info("SMS message %s is held by an outbox worker; it publishes it", message_id)
