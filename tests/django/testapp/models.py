"""Models of the test project: objects to link messages to, and a template model of a project's own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models

from adapters_django.models import AbstractSMSTemplate


class Order(models.Model):
    """An object with an integer primary key."""

    number = models.CharField(max_length=20)

    def __str__(self) -> str:
        return self.number


class Voucher(models.Model):
    """An object with a text primary key."""

    code = models.CharField(max_length=30, primary_key=True)

    def __str__(self) -> str:
        return self.code


class GuardedSMSTemplate(AbstractSMSTemplate):
    """A project's own template model: refuses blocked recipients, signs every body, greets in upper case."""

    blocked_recipients = models.JSONField(default=list, blank=True)
    signature = models.CharField(max_length=30, blank=True, default="")

    def can_send(self, recipient: str, context_data: Mapping[str, Any]) -> bool:
        return recipient not in self.blocked_recipients and not context_data.get("opted_out", False)

    def get_body(self) -> str:
        return f"{self.body} {self.signature}".strip()

    def render_body(self, context_data: Mapping[str, Any] | None) -> str:
        return super().render_body(context_data).replace("hello", "HELLO")
