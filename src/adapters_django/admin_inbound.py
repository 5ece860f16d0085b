"""The admin page of the SMS received: read-only, searchable by sender and text, each linked to the message it
answers.

A received SMS is a record of what someone sent: nobody adds, edits or deletes one here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from adapters_django.admin import local_minute
from adapters_django.models import InputSMSMessage, OutputSMSMessage

__all__ = ["InputSMSMessageAdmin"]


@admin.register(InputSMSMessage)
class InputSMSMessageAdmin(admin.ModelAdmin):
    """Inbound SMS, newest first, filtered by provider; the message each one answers is a link."""

    list_display = ("id", "received", "sender", "recipient", "content", "provider", "replies_to")
    list_filter = ("provider",)
    search_fields = ("sender", "content", "provider_ref")
    fields = (
        "received_at",
        "provider",
        "sender",
        "recipient",
        "content",
        "replies_to",
        "provider_ref",
        "extra_data",
    )
    readonly_fields = fields

    @admin.display(description="received at", ordering="received_at")
    def received(self, obj: InputSMSMessage) -> str:
        return local_minute(obj.received_at)

    @admin.display(description="replies to")
    def replies_to(self, obj: InputSMSMessage) -> str:
        """A link to the message answered (its page), or a dash."""
        if obj.reply_to is None:
            return "-"
        opts = OutputSMSMessage._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.reply_to])
        return format_html('<a href="{}">SMS {}</a>', url, obj.reply_to)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    has_change_permission = has_delete_permission = has_add_permission
