"""The admin page of the opt-out list: staff add a number that asked for no more SMS (read as sending reads it),
find one, and remove it when the person opts back in.

An entry is never edited: its number, reason, source and time are what was recorded; remove it and add it again to
change them. Added here, an entry's source is ``admin``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from adapters_django import wiring
from adapters_django.admin import PhoneSearch, local_minute
from adapters_django.models import SMSOptOut
from smscore import ConfigurationError, InvalidMessageError
from smscore.phone import normalize_recipient

__all__ = ["SMSOptOutAdmin", "SMSOptOutForm"]


class SMSOptOutForm(forms.ModelForm):
    """A number and why: the number is stored in E.164, a national one read in the configured default region."""

    class Meta:
        model = SMSOptOut
        fields = ("recipient", "reason")

    def clean_recipient(self) -> str:
        """The number in E.164, or the reason it is not one."""
        try:
            region = wiring.config_from_settings().default_region
        except ConfigurationError:
            region = None  # the system checks report the settings; an international number still works
        try:
            number = normalize_recipient(self.cleaned_data["recipient"], default_region=region)
        except InvalidMessageError as exc:
            raise forms.ValidationError(str(exc)) from None
        if SMSOptOut.objects.filter(recipient=number).exists():
            raise forms.ValidationError(f"{number} is already opted out")
        return number


@admin.register(SMSOptOut)
class SMSOptOutAdmin(PhoneSearch, admin.ModelAdmin):
    """The opt-out list: searchable by number (typed with or without spaces) and reason, filtered by source."""

    form = SMSOptOutForm
    list_display = ("recipient", "opted_out", "source", "reason")
    list_filter = ("source",)
    search_fields = ("recipient", "reason")
    ordering = ("recipient",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        """Everything, once the entry exists: it is a record, not a setting."""
        return ("recipient", "reason", "source", "created_at") if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        """The number and reason to add; everything recorded to show."""
        return ("recipient", "reason", "source", "created_at") if obj is not None else ("recipient", "reason")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Entries are never edited (the page of one shows it read-only to staff who may view)."""
        return False

    def save_model(self, request: HttpRequest, obj: SMSOptOut, form: Any, change: bool) -> None:
        """Record where and when the entry was made."""
        obj.source = "admin"
        obj.created_at = timezone.now()
        super().save_model(request, obj, form, change)

    @admin.display(description="opted out", ordering="created_at")
    def opted_out(self, obj: SMSOptOut) -> str:
        """When, in the current time zone, to the minute."""
        return local_minute(obj.created_at)
