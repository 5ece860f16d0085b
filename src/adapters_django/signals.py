"""The Django signals :data:`sms_state_changed` (and :data:`sms_refused`, :data:`sms_received`, below): react to what happens to messages (an order confirmed once its SMS is
delivered, an alert when one fails, costs counted).

The service of :func:`adapters_django.get_service` sends it once for every state change it stores: a new message
(``old_state`` None -> WAITING), each send attempt, each delivery report, whether from a delivery check, the outbox
or a provider's status callback. Connect a receiver as for any Django signal, e.g. in your app's ``ready()``::

    from django.dispatch import receiver

    from adapters_django.models import OutputSMSMessage
    from adapters_django.signals import sms_state_changed
    from smscore import SMSState


    @receiver(sms_state_changed, sender=OutputSMSMessage)
    def on_sms_state_changed(sender, message_id, old_state, new_state, provider, error, at, **kwargs):
        if new_state is SMSState.DELIVERED:
            Order.objects.filter(sms_id=message_id).update(confirmed=True)

Keyword arguments (always given; accept ``**kwargs`` too, as Django asks of every receiver):

- ``message_id`` (int): the primary key of the :class:`~adapters_django.models.OutputSMSMessage`;
- ``old_state`` (:class:`smscore.SMSState` or None for a new message) and ``new_state`` (:class:`smscore.SMSState`;
  equal to ``old_state`` when a failed attempt leaves the message WAITING for a retry);
- ``provider`` (str or None): the configured backend name;
- ``error`` (str or None): the message's error after the change;
- ``at`` (aware datetime): when the change happened.

When it is sent: right after the change is stored, in the thread that stored it; inside the caller's transaction
when there is one (``transaction.atomic()``, ``ATOMIC_REQUESTS``), as Django's own ``post_save`` is. Database work
a receiver does there commits or rolls back together with the change; wrap work outside the database (an e-mail,
an HTTP call) in ``transaction.on_commit`` so that it happens only once the change has committed.

Each message's changes are sent in the order they happened. A receiver that raises is logged (Django logs the
traceback on the ``django.dispatch`` logger; the message and the move are logged on ``adapters_django.signals``)
and never breaks sending or the other receivers: the signal is sent with ``send_robust``. The receivers of one
change run together in one transaction on the SMS database (a savepoint inside the caller's transaction), undone
when one of them raises: a receiver's failed query, which on PostgreSQL aborts the whole transaction, can break
neither the caller's transaction nor the send, and no receiver's work is left half done.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
from django.db import transaction
from django.dispatch import Signal

from smscore.events import InboundReceived, Refusal, StateChange

__all__ = [
    "InboundRelay",
    "StateChangeRelay",
    "relay_refusal",
    "send_state_changed",
    "sms_received",
    "sms_refused",
    "sms_state_changed",
]

log = logging.getLogger("adapters_django.signals")

#: Sent for every stored state change of a message; see the module docstring for its arguments.
sms_state_changed = Signal()

#: Sent for every SMS received and stored (once: a retried webhook sends nothing), with ``InputSMSMessage`` as
#: sender and the arguments ``inbound`` (the :class:`smscore.InboundSMS`), ``inbound_id`` (its primary key) and
#: ``keyword`` (``"stop"``, ``"start"``, ``"help"`` or None). A receiver's exception is logged, never raised, and
#: its database work is rolled back; the SMS stays stored.
sms_received = Signal()

#: Sent for every message a guard refused (nothing was stored), with ``OutputSMSMessage`` as sender and the
#: arguments ``recipient``, ``tag``, ``reason`` (``opted_out``, ``not_allowed``, ``rate_limited``), ``at`` and
#: ``error``: alert on a wave of refused one-time codes. A receiver's exception is logged, never raised.
sms_refused = Signal()


def relay_refusal(refusal: Refusal) -> None:
    """A refusal subscriber of the core that re-sends each :class:`smscore.Refusal` as :data:`sms_refused`."""
    from adapters_django.models import OutputSMSMessage

    arguments = attrs.asdict(refusal)
    for receiver, result in sms_refused.send_robust(sender=OutputSMSMessage, **arguments):
        if isinstance(result, Exception):
            log.error("sms_refused receiver %r failed (%s): %s", receiver, refusal.reason, type(result).__name__)


def send_state_changed(change: StateChange, *, using: str = "default") -> None:
    """Send :data:`sms_state_changed` for ``change`` now, with ``OutputSMSMessage`` as sender. A receiver's
    exception is logged, never raised.

    ``using`` is the database alias of the SMS tables: the receivers run in one transaction on it (a savepoint
    inside a transaction), rolled back when one of them raises.
    """
    # Imported here: this module is imported by projects' apps before the models registry is ready.
    from adapters_django.models import OutputSMSMessage

    if not sms_state_changed.has_listeners(OutputSMSMessage):
        return
    arguments = {
        "message_id": change.message_id,
        "old_state": change.old_state,
        "new_state": change.new_state,
        "provider": change.provider,
        "error": change.error,
        "at": change.at,
    }
    responses = _send_in_savepoint(sms_state_changed, OutputSMSMessage, arguments, using)
    for receiver, result in responses:
        if isinstance(result, Exception):
            # Django has logged the traceback already; say which message and move it was about.
            log.error(
                "sms_state_changed receiver %s failed for SMS message %s (%s -> %s): %s",
                getattr(receiver, "__qualname__", repr(receiver)),
                change.message_id,
                change.old_state.name if change.old_state is not None else "new",
                change.new_state.name,
                type(result).__name__,
            )


def _send_in_savepoint(signal: Signal, sender: type, arguments: dict[str, Any], using: str) -> list[Any]:
    """``signal.send_robust`` in one transaction on ``using`` (a savepoint inside one), rolled back when a receiver
    raised: a receiver's failed query can break neither the caller's transaction nor what was stored."""
    with transaction.atomic(using=using):
        responses = signal.send_robust(sender=sender, **arguments)
        if any(isinstance(result, Exception) for _, result in responses):
            transaction.set_rollback(True, using=using)
    return responses


class InboundRelay:
    """An inbound subscriber of the core that re-sends each :class:`smscore.InboundReceived` as
    :data:`sms_received` (in a savepoint on the database alias ``using``, as :func:`send_state_changed` does)."""

    def __init__(self, *, using: str = "default") -> None:
        self.using = using

    def __call__(self, event: InboundReceived) -> None:
        from adapters_django.models import InputSMSMessage

        if not sms_received.has_listeners(InputSMSMessage):
            return
        arguments = {"inbound": event.inbound, "inbound_id": event.inbound.id, "keyword": event.keyword}
        for receiver, result in _send_in_savepoint(sms_received, InputSMSMessage, arguments, self.using):
            if isinstance(result, Exception):
                log.error("sms_received receiver %r failed for inbound SMS %s: %s", receiver, event.inbound.id, result)


class StateChangeRelay:
    """A subscriber of the core's state-change events that re-sends each one as :data:`sms_state_changed`.

    :func:`adapters_django.get_service` subscribes one to the service it builds; ``using`` is the database alias
    of the SMS tables (see :func:`send_state_changed`).
    """

    def __init__(self, *, using: str = "default") -> None:
        self.using = using

    def __call__(self, change: StateChange) -> None:
        send_state_changed(change, using=self.using)

    def __repr__(self) -> str:
        return f"<StateChangeRelay using={self.using!r}>"
