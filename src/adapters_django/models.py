"""The seed's models: :class:`OutputSMSMessage`, :class:`OutputSMSRelatedObject`, :class:`AbstractSMSTemplate`
and :class:`SMSTemplate`; :class:`SMSRateLimit`, the send slots of rate-limited providers; :class:`SMSOptOut`, the
numbers that get no SMS; :class:`SMSRefusalCount`, how many messages the guards refused; and
:class:`InputSMSMessage`, the SMS received.

Rows of :class:`OutputSMSMessage` are written only by :class:`~adapters_django.repositories.DjangoMessageRepository`
on behalf of the core's use cases: state changes go through the core's transition table, never through
``save()`` on a model instance. Read them freely::

    from adapters_django.models import OutputSMSMessage

    OutputSMSMessage.objects.filter(tag="welcome", state="error")
    OutputSMSMessage.objects.filter_related_object(order)

``PYMESS_SMS_TEMPLATE_MODEL`` (``"app_label.ModelName"``) replaces :class:`SMSTemplate` with a model of your own
that extends :class:`AbstractSMSTemplate`; the ``template`` foreign key of messages follows it. Set it before the
first ``migrate``, as with ``AUTH_USER_MODEL``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast
from django.utils import timezone

from adapters_django.conf import install_template_model_default, template_model_label
from adapters_django.rendering import render_template
from smscore import RelatedObject, SMSState

if TYPE_CHECKING:
    from django.db.models.query import QuerySet

__all__ = [
    "STATE_CHOICES",
    "AbstractSMSTemplate",
    "InputSMSMessage",
    "OutputSMSMessage",
    "OutputSMSMessageQuerySet",
    "OutputSMSRelatedObject",
    "SMSRateLimit",
    "SMSTemplate",
    "get_template_model",
    "installed_template_model",
]

install_template_model_default()

#: The core's seven states as field choices; the stored value is the lower-case name.
STATE_CHOICES = [(state.value, state.name.capitalize()) for state in SMSState]


def _related_filter(objects: Iterable[object], prefix: str) -> Q:
    """A Q matching related-object rows (through ``prefix``) that point at any of ``objects``."""
    by_type: dict[str, list[RelatedObject]] = {}
    for obj in objects:
        related = RelatedObject.of(obj)
        by_type.setdefault(related.content_type, []).append(related)
    condition = Q(pk__in=[])
    for label, items in by_type.items():
        app_label, _, model = label.rpartition(".")
        numbers = [r.object_id_int for r in items if r.object_id_int is not None]
        texts = [r.object_id for r in items if r.object_id_int is None]
        ids = Q(pk__in=[])
        if numbers:
            # The integer column is indexed: the fast path for the usual integer primary keys.
            ids |= Q(**{f"{prefix}object_id_int__in": numbers})
        if texts:
            ids |= Q(**{f"{prefix}object_id__in": texts})
        condition |= Q(**{f"{prefix}content_type__app_label": app_label, f"{prefix}content_type__model": model}) & ids
    return condition


def _queryset_filter(objects: QuerySet[Any]) -> Q:
    meta = objects.model._meta
    same_type = Q(related_objects__content_type__app_label=meta.app_label) & Q(
        related_objects__content_type__model=meta.model_name
    )
    if isinstance(meta.pk, models.IntegerField):  # AutoField and BigAutoField included
        return same_type & Q(related_objects__object_id_int__in=objects.values("pk"))
    as_text = objects.annotate(smscore_pk_text=Cast("pk", models.TextField())).values("smscore_pk_text")
    return same_type & Q(related_objects__object_id__in=as_text)


class OutputSMSMessageQuerySet(models.QuerySet):
    """Queries over stored messages, with the ancestor's related-object helpers."""

    def filter_related_object(self, obj: object) -> QuerySet[OutputSMSMessage]:
        """Messages linked to ``obj`` (any model instance) through ``related_objects``.

        Raises ``ValueError`` for an object without a primary key.
        """
        return self.filter_related_objects([obj])

    def filter_related_objects(self, objects: Iterable[object]) -> QuerySet[OutputSMSMessage]:
        """Messages linked to any of ``objects`` (model instances, or a queryset), each message once.

        A queryset becomes a subquery: its rows are never loaded.
        """
        if isinstance(objects, models.QuerySet):
            return self.filter(_queryset_filter(objects)).distinct()
        return self.filter(_related_filter(objects, "related_objects__")).distinct()

    def failed(self) -> QuerySet[OutputSMSMessage]:
        """Messages that ended in ERROR."""
        return self.filter(state=SMSState.ERROR.value)


class OutputSMSMessage(models.Model):
    """One SMS and everything known about it: the seed's fields plus the core's.

    ``state`` holds a :class:`smscore.SMSState` value; ``failed`` is true exactly in ERROR. ``backend`` is the
    dotted path of the backend class, ``provider`` the configured name of the backend (two names may share a
    class). ``related_objects`` is the manager of :class:`OutputSMSRelatedObject` rows.
    """

    created_at = models.DateTimeField("created at", default=timezone.now, editable=False, db_index=True)
    changed_at = models.DateTimeField("changed at", default=timezone.now, editable=False, db_index=True)
    sent_at = models.DateTimeField("sent at", null=True, blank=True, editable=False)
    recipient = models.CharField("recipient", max_length=20, db_index=True)
    sender = models.CharField("sender", max_length=20, null=True, blank=True)
    content = models.TextField("content")
    template_slug = models.SlugField("template slug", max_length=100, null=True, blank=True, editable=False)
    template = models.ForeignKey(
        template_model_label(),
        verbose_name="template",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="output_sms_messages",
    )
    state = models.CharField(
        "state", max_length=20, choices=STATE_CHOICES, default=SMSState.WAITING.value, editable=False
    )
    backend = models.CharField("backend", max_length=250, null=True, blank=True, editable=False)
    provider = models.CharField("provider", max_length=100, null=True, blank=True, editable=False)
    error = models.TextField("error", null=True, blank=True)
    extra_data = models.JSONField("extra data", default=dict, blank=True)
    extra_sender_data = models.JSONField("extra sender data", default=dict, blank=True, editable=False)
    tag = models.SlugField("tag", max_length=50, null=True, blank=True)
    attempts = models.PositiveIntegerField("number of send attempts", default=0, editable=False)
    priority = models.PositiveSmallIntegerField("priority", default=3)
    provider_ref = models.CharField("provider's reference", max_length=255, null=True, blank=True, editable=False)
    encoding = models.CharField("encoding", max_length=10, default="GSM-7", editable=False)
    segments = models.PositiveIntegerField("segments", default=1, editable=False)
    idempotency_key = models.CharField(
        "idempotency key", max_length=255, null=True, blank=True, unique=True, editable=False
    )
    next_attempt_at = models.DateTimeField("next attempt at", null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField("lease expires at", null=True, blank=True, editable=False)
    send_at = models.DateTimeField("scheduled for", null=True, blank=True, editable=False)
    deferred_reason = models.CharField("deferred because", max_length=255, null=True, blank=True, editable=False)
    price = models.DecimalField("price", max_digits=20, decimal_places=10, null=True, blank=True, editable=False)
    price_unit = models.CharField("price unit", max_length=16, null=True, blank=True, editable=False)
    version = models.PositiveIntegerField("version", default=0, editable=False)

    objects = OutputSMSMessageQuerySet.as_manager()

    class Meta:
        verbose_name = "output SMS message"
        verbose_name_plural = "output SMS messages"
        ordering = ("-created_at", "-id")
        indexes = (
            # What the repository asks: per-provider scans of a state, the outbox claim, provider references.
            models.Index(fields=["state", "provider"], name="smscore_msg_state_provider"),
            # Per priority, the WAITING messages due by now are one range of it, read in due-time order: the claim
            # never reads messages scheduled for later nor sorts the backlog.
            models.Index(fields=["state", "priority", "next_attempt_at", "id"], name="smscore_msg_claim"),
            # Expired leases, found among leased messages only (partial where the database allows).
            models.Index(
                fields=["state", "lease_expires_at"],
                name="smscore_msg_lease",
                condition=models.Q(lease_expires_at__isnull=False),
            ),
            # The idle time-out pages through one state in id order from it, never sorting the in-flight backlog.
            models.Index(fields=["state", "id"], name="smscore_msg_state"),
            models.Index(fields=["provider_ref"], name="smscore_msg_provider_ref"),
            # recipient_limits count one recipient's messages of one tag in a window from it alone.
            models.Index(fields=["recipient", "tag", "created_at"], name="smscore_msg_recipient_tag"),
        )

    def __str__(self) -> str:
        return str(self.recipient)

    @property
    def failed(self) -> bool:
        """True exactly when the message ended in ERROR."""
        return bool(self.state == SMSState.ERROR.value)

    @property
    def sms_state(self) -> SMSState:
        """``state`` as the core's enum."""
        return SMSState(self.state)


class OutputSMSRelatedObject(models.Model):
    """A link from a message to any object of the project (generic relation through ``content_type``).

    ``object_id`` holds the primary key as text; ``object_id_int`` holds it again when it is an integer, in an
    indexed integer column, so the usual look-ups are fast. ``content_object`` is the object itself.
    """

    created_at = models.DateTimeField("created at", default=timezone.now, editable=False, db_index=True)
    changed_at = models.DateTimeField("changed at", auto_now=True, db_index=True)
    output_sms_message = models.ForeignKey(
        OutputSMSMessage,
        verbose_name="output SMS message",
        on_delete=models.CASCADE,
        related_name="related_objects",
    )
    content_type = models.ForeignKey(ContentType, verbose_name="content type", on_delete=models.CASCADE)
    object_id_int = models.BigIntegerField("object ID (integer)", null=True, blank=True, db_index=True)
    object_id = models.TextField("object ID", db_index=True)
    content_object = GenericForeignKey("content_type", "object_id")

    class Meta:
        verbose_name = "output SMS related object"
        verbose_name_plural = "output SMS related objects"
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_id}"


class SMSRateLimit(models.Model):
    """When the next send slot of a rate-limited provider (``key``, its configured name) is free.

    Written only by :class:`~adapters_django.rate_limit.DjangoRateLimiter`, shared by every worker on the database.
    """

    key = models.CharField("key", max_length=100, primary_key=True)
    next_free = models.DateTimeField("next free slot")

    class Meta:
        verbose_name = "SMS rate limit"
        verbose_name_plural = "SMS rate limits"

    def __str__(self) -> str:
        return str(self.key)


class SMSOptOut(models.Model):
    """A number (E.164) that gets no SMS: sending to it raises :class:`smscore.RecipientOptedOutError` unless the
    tag is exempt. Written by :class:`~adapters_django.guards.DjangoOptOutRepository` (``service.opt_outs``, the
    admin, ``smscore optout``)."""

    recipient = models.CharField("phone number", max_length=32, unique=True)
    reason = models.CharField("reason", max_length=200, null=True, blank=True)
    source = models.CharField("source", max_length=50, default="admin")
    created_at = models.DateTimeField("opted out at", default=timezone.now)

    class Meta:
        verbose_name = "SMS opt-out"
        verbose_name_plural = "SMS opt-outs"
        ordering = ("recipient",)

    def __str__(self) -> str:
        return str(self.recipient)


class SMSRefusalCount(models.Model):
    """How many messages a guard refused for one reason and tag (``""``: no tag), for ``smscore stats``."""

    reason = models.CharField("reason", max_length=20)
    tag = models.CharField("tag", max_length=50, blank=True, default="")
    count = models.PositiveBigIntegerField("refused", default=0)

    class Meta:
        verbose_name = "SMS refusal count"
        verbose_name_plural = "SMS refusal counts"
        constraints = (models.UniqueConstraint(fields=["reason", "tag"], name="smscore_refusal_reason_tag"),)

    def __str__(self) -> str:
        return f"{self.reason} {self.tag}".strip()


class InputSMSMessage(models.Model):
    """An SMS someone sent to one of our numbers, received through a provider's webhook; one per provider and
    provider reference. Written by :class:`~adapters_django.inbound.DjangoInboundRepository`
    (:func:`adapters_django.views.inbound`); ``reply_to`` is the id of the :class:`OutputSMSMessage` it answers
    (kept without a foreign key: purging messages leaves what was received alone)."""

    provider = models.CharField("provider", max_length=100)
    sender = models.CharField("sender", max_length=32, db_index=True)
    recipient = models.CharField("recipient", max_length=32)
    content = models.TextField("content")
    received_at = models.DateTimeField("received at", db_index=True)
    provider_ref = models.CharField("provider reference", max_length=100)
    reply_to = models.BigIntegerField("replies to message", null=True, blank=True)
    extra_data = models.JSONField("extra data", default=dict, blank=True)

    class Meta:
        verbose_name = "inbound SMS"
        verbose_name_plural = "inbound SMS"
        ordering = ("-id",)
        constraints = (models.UniqueConstraint(fields=["provider", "provider_ref"], name="smscore_inbound_ref"),)

    def __str__(self) -> str:
        return f"{self.sender}: {self.content[:40]}"


class AbstractSMSTemplate(models.Model):
    """Base of SMS template models: ``slug`` (its key), ``body``, ``is_active`` and timestamps.

    An inactive template refuses to send: :func:`adapters_django.send_template` raises
    :class:`~smscore.TemplateInactiveError` and stores nothing.

    Extend it for a template model of your own and name it in ``PYMESS_SMS_TEMPLATE_MODEL``. Override
    :meth:`get_body` to adjust the body, :meth:`render_body` to render differently, :meth:`can_send` to refuse
    some sends: :meth:`send`, :func:`adapters_django.send_template` and the core's ``send_template`` all honour
    the overrides.
    """

    created_at = models.DateTimeField("created at", default=timezone.now, editable=False, db_index=True)
    changed_at = models.DateTimeField("changed at", auto_now=True, db_index=True)
    slug = models.SlugField("slug", max_length=100, unique=True)
    body = models.TextField("body")
    is_active = models.BooleanField("active", default=True, help_text="An inactive template refuses to send.")

    class Meta:
        abstract = True
        ordering = ("slug",)

    def __str__(self) -> str:
        return str(self.slug)

    def get_body(self) -> str:
        """The body to render. Override to update it before rendering."""
        return str(self.body)

    def render_body(self, context_data: Mapping[str, Any] | None) -> str:
        """Render :meth:`get_body` with ``context_data`` using Django's template engine, within the render budget
        (see :mod:`adapters_django.rendering`).

        Nothing is HTML-escaped: an SMS is plain text, so ``&`` stays ``&``. Raises Django's
        ``TemplateSyntaxError`` for a broken body and :class:`~smscore.TemplateRenderError` for a missing variable
        (naming it) or a spent budget.
        """
        return render_template(self.get_body(), dict(context_data or {}))

    def can_send(self, recipient: str, context_data: Mapping[str, Any]) -> bool:
        """Whether the template may be sent to ``recipient`` (E.164) with ``context_data``. True unless overridden."""
        return True

    def send(
        self,
        recipient: str,
        context_data: Mapping[str, Any] | None,
        related_objects: Iterable[object] | None = None,
        tag: str | None = None,
        **options: Any,
    ) -> OutputSMSMessage | None:
        """Check :meth:`can_send`, render and send this template; return the stored message, or ``None`` (storing
        nothing) when :meth:`can_send` refuses.

        ``options`` are the core's send options (``priority``, ``idempotency_key``, ``send_immediately``,
        ``sender``, ``provider``, ``extra_data``, ``send_at``). Raises what :func:`adapters_django.send` raises, and
        :class:`~smscore.TemplateRenderError` when the body cannot be rendered.
        """
        from adapters_django.api import send_with_template

        return send_with_template(self, recipient, context_data, related_objects, tag, **options)


class SMSTemplate(AbstractSMSTemplate):
    """The shipped template model, used unless ``PYMESS_SMS_TEMPLATE_MODEL`` names another."""

    class Meta(AbstractSMSTemplate.Meta):
        swappable = "PYMESS_SMS_TEMPLATE_MODEL"
        verbose_name = "SMS template"
        verbose_name_plural = "SMS templates"


def get_template_model() -> type[AbstractSMSTemplate]:
    """The model named by ``PYMESS_SMS_TEMPLATE_MODEL`` (by default :class:`SMSTemplate`).

    Raises ``ImproperlyConfigured`` when the setting does not name an installed model.
    """
    label = template_model_label()
    try:
        model: type[AbstractSMSTemplate] = apps.get_model(label, require_ready=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"PYMESS_SMS_TEMPLATE_MODEL must be of the form 'app_label.ModelName', not {label!r}"
        ) from None
    except LookupError:
        raise ImproperlyConfigured(
            f"PYMESS_SMS_TEMPLATE_MODEL refers to model {label!r} that has not been installed"
        ) from None
    return model


def installed_template_model() -> type[AbstractSMSTemplate] | None:
    """The template model, or ``None`` while ``PYMESS_SMS_TEMPLATE_MODEL`` names no installed model extending
    :class:`AbstractSMSTemplate` (the system check ``adapters_django.E003`` reports it): for code that runs while
    Django starts, such as admin registration, which must not crash before the checks can say what is wrong."""
    try:
        model = get_template_model()
    except ImproperlyConfigured:
        return None
    return model if isinstance(model, type) and issubclass(model, AbstractSMSTemplate) else None
