"""The test project naming the ancestor's template model, as a project moving from django-pymess might leave it.
Used in a subprocess: the template model is fixed when Django starts."""

from __future__ import annotations

from tests.django.settings import *  # noqa: F403

PYMESS_SMS_TEMPLATE_MODEL = "pymess.SMSTemplate"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
