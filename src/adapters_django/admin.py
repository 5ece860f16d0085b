"""The admin: stored messages, which staff read, send again and check; templates, with a preview.

Messages are listed with their text cut short, a coloured badge per state and, for failed ones only, the reason
(filters: state, provider, backend, tag, creation date; search: recipient, text, tag and the provider's
reference; the price each provider reported, with its currency, in a sortable column). A message's page shows
what staff need first and folds the bookkeeping of sending (attempts, leases, versions, keys) away, with the
message's related objects below. Nothing is added, changed or deleted here: a state changes only through the
core's use cases, which the actions of :mod:`adapters_django.admin_actions` call. Templates can be edited; their
preview page renders the template with a JSON context typed into a form and shows the text as it would be sent,
its encoding (GSM-7 or UCS-2) and how many SMS parts it takes, or why it cannot be rendered.

The configured template model (``PYMESS_SMS_TEMPLATE_MODEL``) is registered with :class:`SMSTemplateAdmin`
unless the project registered it first; subclass :class:`SMSTemplateAdmin` for your own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final, TypeVar

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms import CharField, Form, Textarea, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.template import TemplateSyntaxError
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from adapters_django import admin_actions, wiring
from adapters_django.models import (
    AbstractSMSTemplate,
    OutputSMSMessage,
    OutputSMSRelatedObject,
    installed_template_model,
)
from smscore import ConfigurationError, InvalidMessageError, TemplateError
from smscore.phone import normalize_recipient
from smscore.text import prepare_text

__all__ = ["OutputSMSMessageAdmin", "OutputSMSRelatedObjectInline", "SMSTemplateAdmin", "TemplatePreviewForm"]

_View = TypeVar("_View", bound=Callable[..., Any])

#: How many characters of a message's text the list shows.
_SHORT_CONTENT: Final = 50
#: A search term that is a phone number written with spaces once they are taken out.
_PHONE_LIKE: Final = re.compile(r"\+?[0-9]{3,20}")


class PhoneSearch:
    """Admin search that also finds a phone number typed with spaces (``777 123 456``) in ``recipient``."""

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> tuple[Any, bool]:
        """Every word in any searched field; and a phone number typed with spaces (``777 123 456``) as one."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
        compact = "".join(search_term.split())
        if compact != search_term.strip() and _PHONE_LIKE.fullmatch(compact):
            found |= queryset.filter(recipient__contains=compact)
        return found, may_have_duplicates


def local_minute(value: Any) -> str:
    """``value`` in the current time zone, to the minute (``2026-12-24 09:00``)."""
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"


def _outside_request_transactions(view: _View) -> _View:
    """``view`` exempt from ``ATOMIC_REQUESTS`` on every database (Django's ``non_atomic_requests`` per alias)."""
    for alias in settings.DATABASES:
        view = transaction.non_atomic_requests(using=alias)(view)
    return view


class OutputSMSRelatedObjectInline(admin.TabularInline):
    """The objects a message is linked to, read-only, with a link to each one's admin page when it has one."""

    model = OutputSMSRelatedObject
    verbose_name = "related object"
    verbose_name_plural = "related objects"
    fields = ("linked_object",)
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("content_type")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="object")
    def linked_object(self, obj: OutputSMSRelatedObject) -> str:
        """A link to the object's admin page, built from the stored id (no query per object)."""
        content_type = obj.content_type
        try:
            url = reverse(f"admin:{content_type.app_label}_{content_type.model}_change", args=[quote(obj.object_id)])
        except NoReverseMatch:
            return f"{content_type.app_label}.{content_type.model} {obj.object_id}"
        return format_html('<a href="{}">{}.{} {}</a>', url, content_type.app_label, content_type.model, obj.object_id)


@admin.register(OutputSMSMessage)
class OutputSMSMessageAdmin(PhoneSearch, admin.ModelAdmin):
    """Stored messages: never added, changed or deleted by hand; sent again or checked through the actions."""

    list_display = (
        "id",
        "created",
        "recipient",
        "short_content",
        "state_badge",
        "tag",
        "cost",
    )
    list_display_links = ("id", "created")
    # Newest first by id alone: the primary key orders without a sort over the table (and ids follow creation).
    ordering = ("-id",)
    list_filter = ("state", "provider", "backend", "tag", ("created_at", admin.DateFieldListFilter))
    search_fields = ("recipient", "content", "tag", "provider_ref")
    search_help_text = "Finds a phone number (spaces ignored), words of the text, a tag or the provider's reference."
    # Counting a large table on every page is slow; the filtered count is enough.
    show_full_result_count = False
    actions = (admin_actions.send_again, admin_actions.check_delivery_now, admin_actions.cancel)
    inlines = (OutputSMSRelatedObjectInline,)
    # Everything a message row holds; get_fieldsets shows the last error and the copies only where they exist.
    readonly_fields = (
        *(field.name for field in OutputSMSMessage._meta.concrete_fields if field.name not in {"id", "state", "error"}),
        "state_badge",
        "last_error",
        "cost",
        "copies",
    )

    class Media:
        css = {"all": ("adapters_django/admin.css",)}

    def get_fieldsets(self, request: HttpRequest, obj: OutputSMSMessage | None = None) -> Any:
        """The message as staff read it first; the provider's side; the application's data; the bookkeeping of
        sending (attempts, leases, versions, keys) folded away."""
        status: tuple[str, ...] = ("state_badge",)
        if obj is not None and obj.error and not obj.failed:
            status += ("last_error",)
        data: tuple[str, ...] = ("tag", "template", "extra_data")
        if obj is not None and self._copies(obj):
            data += ("copies",)
        return (
            (None, {"fields": ("recipient", "sender", "content", *status, "created_at", "sent_at")}),
            ("Provider", {"fields": ("provider", "provider_ref", "encoding", "segments", "cost")}),
            ("Application data", {"fields": data}),
            (
                "Internals",
                {
                    "classes": ("collapse",),
                    "description": "What the outbox and the delivery checks keep for themselves.",
                    "fields": (
                        "backend",
                        "priority",
                        "attempts",
                        "send_at",
                        "deferred_reason",
                        "next_attempt_at",
                        "lease_expires_at",
                        "idempotency_key",
                        "template_slug",
                        "extra_sender_data",
                        "changed_at",
                        "version",
                    ),
                },
            ),
        )

    @_outside_request_transactions
    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The list, and its actions: never inside ``ATOMIC_REQUESTS``' transaction, because the actions call
        providers, which never happens inside a transaction (and their notices then tell the outcome)."""
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_send_again_permission(self, request: HttpRequest) -> bool:
        """Who may run "send again": staff who may add messages."""
        return admin_actions.has_model_permission(request, self.model, "add")

    def has_check_delivery_permission(self, request: HttpRequest) -> bool:
        """Who may run "check delivery now": staff who may change messages."""
        return admin_actions.has_model_permission(request, self.model, "change")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        """Who may run "cancel": staff who may change messages."""
        return admin_actions.has_model_permission(request, self.model, "change")

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: OutputSMSMessage) -> str:
        """When the message was created, in the current time zone, to the minute (``2026-12-24 09:00``)."""
        return local_minute(obj.created_at)

    @admin.display(description="content")
    def short_content(self, obj: OutputSMSMessage) -> str:
        """The text, cut to one line of the list; the whole text in its tooltip."""
        return format_html('<span title="{}">{}</span>', obj.content, Truncator(obj.content).chars(_SHORT_CONTENT))

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: OutputSMSMessage) -> str:
        """The state as a coloured badge (``sms-state-<state>`` in ``adapters_django/admin.css``); under it, for a
        failed message only, the reason it failed. No failure mark at all on the others: they have not failed."""
        badge = format_html('<span class="sms-state sms-state-{}">{}</span>', obj.state, obj.get_state_display())
        if not obj.failed:
            return badge
        return format_html('{}<div class="sms-failure">{}</div>', badge, obj.error or "no reason given")

    @admin.display(description="last error")
    def last_error(self, obj: OutputSMSMessage) -> str:
        """The last problem of a message that has not failed for good (a retried attempt, an unclear outcome)."""
        return str(obj.error or "")

    @admin.display(description="price", ordering="price")
    def cost(self, obj: OutputSMSMessage) -> str:
        """The price the provider reported, with its currency (``0.0079 USD``); empty while none is known."""
        if obj.price is None:
            return str(self.get_empty_value_display())
        # The column keeps ten decimal places; show only the significant ones, never in exponent form.
        amount = format(obj.price.normalize(), "f")
        return f"{amount} {obj.price_unit}" if obj.price_unit else amount

    @admin.display(description="sent again as")
    def copies(self, obj: OutputSMSMessage) -> str:
        """Links to the messages "send again" made from this one."""
        return format_html_join(", ", "{}", ((admin_actions.link(pk),) for pk in self._copies(obj)))

    def _copies(self, obj: OutputSMSMessage) -> list[int]:
        return list(OutputSMSMessage.objects.filter_related_object(obj).order_by("id").values_list("id", flat=True))


class TemplatePreviewForm(Form):
    """The sample context (a JSON object) and, optionally, a recipient to ask ``can_send`` about."""

    context = CharField(
        label="Context (JSON object)",
        widget=Textarea(attrs={"rows": 6, "cols": 80}),
        initial="{}",
    )
    recipient = CharField(label="Recipient (optional, for can_send)", required=False, max_length=40)

    def clean_context(self) -> dict[str, Any]:
        """The context as a dict. Raises a validation error for anything but a JSON object."""
        try:
            value = json.loads(self.cleaned_data["context"])
        except json.JSONDecodeError as exc:
            raise ValidationError(f"not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise ValidationError('the context must be a JSON object, such as {"code": "1234"}')
        return value


class _PreviewProblem(Exception):
    """Why a preview shows no text: a headline and the error that says what to fix (the missing variables...)."""

    def __init__(self, headline: str, cause: Exception) -> None:
        super().__init__(f"{headline}: {cause}")
        self.headline = headline
        self.detail = str(cause)


class SMSTemplateAdmin(admin.ModelAdmin):
    """SMS templates, editable, with a preview page (``<id>/preview/``)."""

    list_display = ("slug", "changed_at", "preview_link")
    search_fields = ("slug", "body")
    readonly_fields = ("created_at", "changed_at", "preview_link")
    preview_template = "admin/adapters_django/preview.html"

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        preview = path(
            "<path:object_id>/preview/",
            self.admin_site.admin_view(self.preview_view),
            name=f"{opts.app_label}_{opts.model_name}_preview",
        )
        return [preview, *super().get_urls()]

    @admin.display(description="preview")
    def preview_link(self, obj: AbstractSMSTemplate) -> str:
        """A link to the preview page (once the template is saved)."""
        if obj.pk is None:
            return "-"
        opts = self.model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_preview", args=[quote(obj.pk)])
        return format_html('<a href="{}">Preview</a>', url)

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Render the template with the context from the form; show text, encoding and segment count."""
        template = self.get_object(request, unquote(object_id))
        if template is None:
            raise Http404(f"no {self.model._meta.verbose_name} with id {object_id!r}")
        if not self.has_view_or_change_permission(request, template):
            raise PermissionDenied
        form = TemplatePreviewForm(request.GET if "context" in request.GET else {"context": "{}"})
        result = problem = None
        if form.is_valid():
            try:
                result = self._preview(template, form)
            except _PreviewProblem as exc:
                problem = exc
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": template,
            "title": f"Preview of {template}",
            "form": form,
            "result": result,
            "problem": problem,
        }
        return TemplateResponse(request, self.preview_template, context)

    def _preview(self, template: AbstractSMSTemplate, form: TemplatePreviewForm) -> dict[str, Any]:
        """The preview's figures. Raises :class:`_PreviewProblem` saying why there is no text to show."""
        try:
            config = wiring.config_from_settings()
        except ConfigurationError as exc:
            raise _PreviewProblem("The SMS settings are wrong", exc) from exc
        try:
            rendered = template.render_body(form.cleaned_data["context"])
        except (TemplateSyntaxError, TemplateError) as exc:
            raise _PreviewProblem("The template cannot be rendered", exc) from exc
        try:
            prepared = prepare_text(rendered, use_accent=config.use_accent)
        except InvalidMessageError as exc:
            raise _PreviewProblem("This text cannot be sent", exc) from exc
        result: dict[str, Any] = {
            "rendered": rendered,
            "content": prepared.content,
            "encoding": prepared.encoding,
            "segments": prepared.segments,
            "characters": len(prepared.content),
            "transliterated": prepared.content != rendered,
            "too_long": prepared.segments > config.max_segments,
            "max_segments": config.max_segments,
            "can_send": None,
        }
        recipient = form.cleaned_data.get("recipient")
        if recipient:
            try:
                number = normalize_recipient(recipient, default_region=config.default_region)
            except InvalidMessageError as exc:
                form.add_error("recipient", str(exc))
            else:
                result["can_send"] = bool(template.can_send(number, form.cleaned_data["context"]))
        return result


# A template model setting that names no usable model is reported by the system checks (E003), not here.
_template_model = installed_template_model()
if _template_model is not None and not admin.site.is_registered(_template_model):
    admin.site.register(_template_model, SMSTemplateAdmin)

# The opt-out list's and the inbound SMS's pages register themselves.
from adapters_django import admin_inbound, admin_opt_outs  # noqa: E402, F401  # isort: skip
