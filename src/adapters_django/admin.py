"""The admin: stored messages, read-only, and templates with a preview.

Messages can be listed (filters: state, provider, backend, tag, creation date; search: recipient; the price each
provider reported, with its currency, in a sortable column), opened with
their related objects, and never added, changed or deleted here: a state changes only through the core's use
cases. Templates can be edited; their preview page renders the template with a JSON context typed into a form
and shows the text as it would be sent, its encoding (GSM-7 or UCS-2) and how many SMS parts it takes.

The configured template model (``PYMESS_SMS_TEMPLATE_MODEL``) is registered with :class:`SMSTemplateAdmin`
unless the project registered it first; subclass :class:`SMSTemplateAdmin` for your own.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.forms import CharField, Form, Textarea, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.template import TemplateSyntaxError
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.html import format_html

from adapters_django import wiring
from adapters_django.models import (
    AbstractSMSTemplate,
    OutputSMSMessage,
    OutputSMSRelatedObject,
    installed_template_model,
)
from smscore import ConfigurationError, InvalidMessageError, TemplateRenderError
from smscore.phone import normalize_recipient
from smscore.text import prepare_text

__all__ = ["OutputSMSMessageAdmin", "OutputSMSRelatedObjectInline", "SMSTemplateAdmin", "TemplatePreviewForm"]


class OutputSMSRelatedObjectInline(admin.TabularInline):
    """The objects a message is linked to, read-only, with a link to each one's admin page when it has one."""

    model = OutputSMSRelatedObject
    fields = ("content_type", "object_id", "linked_object", "created_at")
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
class OutputSMSMessageAdmin(admin.ModelAdmin):
    """Stored messages, read-only."""

    list_display = (
        "id",
        "created_at",
        "recipient",
        "state",
        "provider",
        "tag",
        "template_slug",
        "attempts",
        "segments",
        "cost",
        "sent_at",
    )
    list_filter = ("state", "provider", "backend", "tag", ("created_at", admin.DateFieldListFilter))
    search_fields = ("recipient",)
    # Counting a large table on every page is slow; the filtered count is enough.
    show_full_result_count = False
    inlines = (OutputSMSRelatedObjectInline,)
    fieldsets = (
        (None, {"fields": ("recipient", "sender", "content", "state", "failed", "error")}),
        (
            "Sending",
            {
                "fields": (
                    "provider",
                    "backend",
                    "provider_ref",
                    "attempts",
                    "priority",
                    "encoding",
                    "segments",
                    "sent_at",
                    "next_attempt_at",
                    "lease_expires_at",
                    "price",
                    "price_unit",
                )
            },
        ),
        ("Template", {"fields": ("template_slug", "template")}),
        ("Data", {"fields": ("tag", "extra_data", "extra_sender_data", "idempotency_key")}),
        ("Record", {"fields": ("created_at", "changed_at", "version")}),
    )
    readonly_fields = tuple(field for _, options in fieldsets for field in options["fields"])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> tuple[Any, bool]:
        # Recipients are stored in E.164 without spaces; people type them with spaces.
        return super().get_search_results(request, queryset, "".join(search_term.split()))

    @admin.display(description="price", ordering="price")
    def cost(self, obj: OutputSMSMessage) -> str | None:
        """The price the provider reported, with its currency (``0.0079 USD``); empty while none is known."""
        if obj.price is None:
            return None
        # The column keeps ten decimal places; show only the significant ones, never in exponent form.
        amount = format(obj.price.normalize(), "f")
        return f"{amount} {obj.price_unit}" if obj.price_unit else amount

    @admin.display(description="failed", boolean=True)
    def failed(self, obj: OutputSMSMessage) -> bool:
        """Whether the message ended in ERROR."""
        return obj.failed


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
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": template,
            "title": f"Preview of {template}",
            "form": form,
            "result": self._preview(template, form) if form.is_valid() else None,
        }
        return TemplateResponse(request, self.preview_template, context)

    def _preview(self, template: AbstractSMSTemplate, form: TemplatePreviewForm) -> dict[str, Any] | None:
        try:
            config = wiring.config_from_settings()
        except ConfigurationError as exc:
            form.add_error(None, f"The SMS settings are wrong: {exc}")
            return None
        try:
            rendered = template.render_body(form.cleaned_data["context"])
        except (TemplateSyntaxError, TemplateRenderError) as exc:
            form.add_error(None, f"The template cannot be rendered: {exc}")
            return None
        try:
            prepared = prepare_text(rendered, use_accent=config.use_accent)
        except InvalidMessageError as exc:
            form.add_error(None, f"This text cannot be sent: {exc}")
            return None
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
