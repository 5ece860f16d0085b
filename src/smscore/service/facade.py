"""``SMSService``: the public façade of the use cases, one method per use case, each delegating to its module."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from smscore.flow import Flow, run
from smscore.inbound import InboundSMS, WebhookRequest
from smscore.message import SMSMessage
from smscore.service import callbacks, delivery, inbound, outbox, retention, sending
from smscore.service.base import ServiceBase
from smscore.service.delivery import DeliveryCheckReport, SelectedCheckReport
from smscore.service.drafting import immediate
from smscore.service.guarding import SentBatch
from smscore.service.opt_outs import OptOutList
from smscore.service.outbox import OutboxReport
from smscore.states import SMSState

__all__ = ["SMSService"]

_T = TypeVar("_T")


class SMSService(ServiceBase):
    """Send SMS, keep their record, learn what became of them.

    Build it with :func:`smscore.build_service` (from configuration) or directly from a message repository,
    a template repository and named providers (the keyword arguments of :class:`~smscore.service.base.ServiceBase`).
    ``messages`` and ``templates`` are the repositories, ``opt_outs`` the opt-out list, ``refusals`` the totals of
    refused messages and ``inbound`` the SMS received (in memory unless given: pass the storage's ``opt_outs``,
    ``refusals`` and ``inbound`` to share them between processes). Each method waits for its I/O in the calling
    thread; :class:`~smscore.service.AsyncSMSService` has the same methods as coroutines.
    """

    @functools.cached_property
    def opt_outs(self) -> OptOutList:
        """The opt-out list: ``service.opt_outs.add("+420777123456", reason="STOP")`` (see
        :class:`~smscore.service.opt_outs.OptOutList`)."""
        return OptOutList(self._ctx, self._drive)

    def send(
        self,
        /,
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
        send_at: datetime | None = None,
        **extra_data: Any,
    ) -> SMSMessage:
        """Send ``content`` to ``recipient`` and return the stored message.

        ``related_objects`` are linked to the message (see :meth:`RelatedObject.of`); ``tag`` is a slug stored
        with it; every other keyword goes to ``extra_data`` (JSON). Options: ``priority`` (1 highest .. 3),
        ``idempotency_key`` (a second send with the same key returns the first message and sends nothing),
        ``send_immediately`` (publish now even in outbox mode), ``sender``, ``provider`` (a configured
        provider name, instead of the router's choice) and ``send_at`` (a timezone-aware datetime: the message is
        stored WAITING and the outbox workers publish it when it is due; a time in the past means now).

        In outbox mode (``batch_sending``) the message is returned WAITING and workers publish it; so is a message
        due later, by ``send_at`` or the quiet hours of its tag (see :mod:`smscore.quiet_hours`). Raises an
        :class:`~smscore.errors.InvalidMessageError` subclass for bad input (an
        :class:`~smscore.errors.InvalidSendTimeError` for a naive ``send_at``), and a
        :class:`~smscore.errors.RecipientRefusedError` subclass when a guard refuses the recipient
        (``RecipientNotAllowedError``, ``RecipientOptedOutError``, ``RecipientRateLimitedError``), before anything
        is stored.
        """
        options = self._options(priority, idempotency_key, send_immediately, sender, provider, send_at)
        return self._drive(sending.send(self._ctx, recipient, content, related_objects, tag, options, extra_data))

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
        send_at: datetime | None = None,
    ) -> SMSMessage | None:
        """Render the template ``slug`` with ``context_data`` and send it like :meth:`send`.

        Returns ``None``, storing nothing, when the template's ``can_send(recipient, context_data)`` refuses.
        Raises :class:`~smscore.errors.TemplateNotFoundError`, :class:`~smscore.errors.TemplateInactiveError`
        (an inactive template; nothing is stored), :class:`~smscore.errors.TemplateRenderError` and the errors
        of :meth:`send`; ``send_at`` as for :meth:`send`.
        """
        options = self._options(priority, idempotency_key, send_immediately, sender, provider, send_at)
        return self._drive(
            sending.send_template(self._ctx, recipient, slug, context_data, related_objects, tag, options, extra_data)
        )

    def send_many(
        self,
        /,
        recipients: Iterable[str | Mapping[str, Any]],
        content: str | None = None,
        related_objects: Iterable[object] | None = None,
        tag: str | None = None,
        *,
        priority: int | None = None,
        send_immediately: bool | None = None,
        sender: str | None = None,
        provider: str | None = None,
        send_at: datetime | None = None,
        **extra_data: Any,
    ) -> SentBatch:
        """Send many messages: stored in one batch, published in provider-sized batches.

        Each item is a recipient (then ``content`` is required) or a mapping with ``recipient`` and optionally
        ``content``, ``tag``, ``priority``, ``sender``, ``provider``, ``send_at``, ``related_objects`` and
        ``extra_data`` overriding the shared arguments (``send_at`` as for :meth:`send`). Instead of ``content``,
        an item may name a stored ``template`` (a slug) and its ``context``: it is checked and rendered as
        :meth:`send_template` does it (an inactive template, a template that refuses the recipient or a failed
        render refuses the whole call) and the message records the template's slug. Every item is validated before
        anything is stored: one bad item raises (naming its index) and nothing is stored. An item a guard refuses
        (country, opt-out, recipient limit) is skipped, stores nothing and is reported; the others are sent.
        Returns a :class:`~smscore.service.guarding.SentBatch`: a list of the messages sent, in the order of their
        items, whose ``refused`` lists the refused items (index, number, error).
        """
        shared = {
            "content": content,
            "related_objects": related_objects,
            "tag": tag,
            "priority": priority,
            "sender": sender,
            "provider": provider,
            "send_at": send_at,
            "extra_data": extra_data,
        }
        return self._drive(sending.send_many(self._ctx, recipients, shared, send_immediately))

    def process_outbox(self, limit: int | None = None) -> OutboxReport:
        """One outbox step: end dead workers' leases, claim due messages, publish them in provider batches.

        Safe to run from any number of workers at once (claims never overlap). Returns what happened.
        """
        return self._drive(outbox.process_outbox(self._ctx, limit))

    def publish_waiting(self, message_id: int) -> SMSMessage:
        """Publish one stored WAITING message now: the step of a per-message task queue (Celery).

        The message is claimed with compare-and-set, so two tasks for the same id send it once. A message that
        is not WAITING, is held by a worker, or is not yet due is returned as stored, untouched. Raises
        :class:`~smscore.errors.MessageNotFoundError`.
        """
        return self._drive(outbox.publish_waiting(self._ctx, message_id))

    def cancel(self, message_id: int) -> SMSMessage:
        """Stop a message that is still WAITING (scheduled, deferred, queued or between retries): it ends in
        ERROR with the error ``"cancelled"``, and subscribers hear of it. Returns the stored message.

        Safe against a worker claiming it at the same moment: exactly one of the two wins. Raises
        :class:`~smscore.errors.MessageNotCancellableError` when the message is no longer WAITING or a worker
        holds it (it is being published), :class:`~smscore.errors.MessageNotFoundError`, and
        :class:`~smscore.errors.ConcurrentUpdateError` when others write to it on every one of many tries.
        """
        return self._drive(outbox.cancel(self._ctx, message_id))

    def check_delivery(self, progress: Callable[[int], object] | None = None) -> DeliveryCheckReport:
        """Ask each delivery-checking provider (by configured name) about recently SENT, SENDING and UNKNOWN
        messages, in chunks of ``check_chunk_size`` with a constant number of queries per chunk; then apply
        the idle timeout. One failing chunk or provider does not stop the others. A run asks about each message
        at most once, also when a report moves it to another checked state.

        ``progress``, when given, is called with the size of each chunk once it has been checked.
        """
        return self._drive(delivery.check_delivery(self._ctx, progress))

    def pending_delivery_checks(self) -> int:
        """How many messages :meth:`check_delivery` would ask about now: the SENDING, UNKNOWN and recently SENT
        messages of the providers that report delivery (a progress total)."""
        return self._drive(delivery.pending_checks(self._ctx))

    def check_delivery_of(self, message_ids: Iterable[int]) -> SelectedCheckReport:
        """Ask the providers now about the messages ``message_ids`` only (what an operator asks for a few
        chosen messages), and store their answers through the transition table.

        Messages in SENDING, UNKNOWN or SENT whose provider checks delivery are asked, per provider in chunks of
        ``check_chunk_size``; the others are skipped with the reason (not sent yet, already final, a provider
        that cannot be asked). Each id is read once: pass a bounded selection. Leases and the idle timeout are
        left to :meth:`check_delivery`. A provider that cannot be reached changes nothing and raises nothing;
        the report lists its messages as failed.
        """
        return self._drive(delivery.check_delivery_of(self._ctx, message_ids))

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
        return self._drive(callbacks.handle_status_callback(self._ctx, provider, url, params, headers))

    def handle_inbound(self, provider: str, request: WebhookRequest) -> InboundSMS | None:
        """Receive an SMS the provider named ``provider`` pushes (a webhook request) and return it as stored.

        The provider verifies the request (raising :class:`~smscore.errors.InvalidSignatureError`, nothing
        stored) and reads it (:class:`~smscore.errors.CallbackError` when it carries no usable message; nothing
        stored). The message is linked to the message it answers, stored once per provider reference (a retried
        webhook returns the stored one and does nothing more), its keyword acted on (opt-out, opt-in, help and
        their replies, see ``inbound_keywords``) and announced to the inbound subscribers. Returns None for a
        request that carries no message (an Amazon SNS subscription confirmation, confirmed).
        """
        return self._drive(inbound.handle_inbound(self._ctx, provider, request))

    def purge(
        self, older_than: timedelta, *, batch_size: int = 1000, progress: Callable[[int], object] | None = None
    ) -> int:
        """Delete finished messages last changed more than ``older_than`` ago, in batches of ``batch_size``;
        return how many were deleted. ``progress``, when given, is called with the size of each deleted batch.

        Finished means a final state, or SENT: a retention period is far longer than any delivery report takes,
        and keeping SENT texts (often one-time codes) forever is what retention exists to prevent.
        """
        return self._drive(retention.purge(self._ctx, older_than, batch_size=batch_size, progress=progress))

    def purgeable(self, older_than: timedelta) -> dict[SMSState, int]:
        """What :meth:`purge` with ``older_than`` would delete now, per state (states with none left out);
        nothing is deleted."""
        return self._drive(retention.purgeable(self._ctx, older_than))

    def _drive(self, flow: Flow[_T]) -> _T:
        return run(flow, self._ctx.sleep)

    def close(self) -> None:
        """Release the storage's and the providers' resources (connections, HTTP clients)."""
        for provider in self._ctx.providers.values():
            provider.close()
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> SMSService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _options(
        self,
        priority: int | None,
        idempotency_key: str | None,
        send_immediately: bool | None,
        sender: str | None,
        provider: str | None,
        send_at: datetime | None,
    ) -> dict[str, Any]:
        return {
            "send_at": send_at,
            "priority": priority,
            "idempotency_key": idempotency_key,
            "sender": sender,
            "provider": provider,
            "immediate": immediate(self._ctx.config, send_immediately),
        }
