"""The Django app: add ``"adapters_django"`` to ``INSTALLED_APPS``."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["SMSCoreConfig"]


class SMSCoreConfig(AppConfig):
    """Registers the system checks and rebuilds the SMS service when a ``PYMESS_*`` setting changes."""

    name = "adapters_django"
    verbose_name = "SMS"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from adapters_django import checks, wiring

        checks.register()
        setting_changed.connect(wiring.on_setting_changed, dispatch_uid="adapters_django.wiring.setting_changed")
