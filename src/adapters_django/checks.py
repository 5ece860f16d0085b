"""System checks: a wrong ``PYMESS_*`` setting is reported when the project starts, naming the setting.

============================  ==========================================================================
id                            problem
============================  ==========================================================================
``adapters_django.E001``      a ``PYMESS_*`` setting has a wrong value or type
``adapters_django.E002``      a backend cannot be built (cannot be imported, missing SDK, wrong options)
``adapters_django.E003``      ``PYMESS_SMS_TEMPLATE_MODEL`` does not name an installed model that extends
                              ``AbstractSMSTemplate``
``adapters_django.E004``      ``USE_TZ`` is off (message times must be timezone-aware)
``adapters_django.W001``      a ``PYMESS_SMS_*`` / ``PYMESS_ATS_*`` setting that nothing reads (a typo?)
``adapters_django.W002``      ``PYMESS_SMS_PUBLIC_BASE_URL`` is set (providers are told to post status
                              callbacks) but ``adapters_django.urls`` is not in the URLconf
============================  ==========================================================================
"""

from __future__ import annotations

import difflib
from typing import Any

from django.core import checks

from adapters_django import conf, wiring
from smscore import ConfigurationError

__all__ = ["check_callback_urls", "check_settings", "check_template_model", "check_timezone", "register"]


def _error(exc: ConfigurationError, check_id: str) -> checks.CheckMessage:
    setting = exc.key or "PYMESS_*"
    hint = f"Fix the {setting} setting." if exc.key else None
    return checks.Error(str(exc), hint=hint, obj=setting, id=check_id)


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E001, E002 and W001: the ``PYMESS_*`` settings map onto a valid configuration whose backends build."""
    messages: list[checks.CheckMessage] = []
    for name in conf.unknown_setting_names():
        close = difflib.get_close_matches(name, sorted(conf.SETTING_NAMES), n=1)
        messages.append(
            checks.Warning(
                f"{name} is not a setting of adapters_django and is ignored",
                hint=f"Did you mean {close[0]}?" if close else None,
                obj=name,
                id="adapters_django.W001",
            )
        )
    try:
        wiring.config_from_settings()
    except ConfigurationError as exc:
        messages.append(_error(exc, "adapters_django.E001"))
        return messages
    messages.extend(_error(exc, "adapters_django.E002") for exc in wiring.provider_problems())
    return messages


def check_template_model(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E003: ``PYMESS_SMS_TEMPLATE_MODEL`` names an installed model extending ``AbstractSMSTemplate``."""
    from django.core.exceptions import ImproperlyConfigured

    from adapters_django.models import AbstractSMSTemplate, get_template_model

    label = conf.template_model_label()
    try:
        model = get_template_model()
    except ImproperlyConfigured as exc:
        hint = None
        if label.lower().startswith("pymess."):
            hint = f"'{label}' is the ancestor's model; use '{conf.DEFAULT_TEMPLATE_MODEL}' or your own model."
        return [checks.Error(str(exc), hint=hint, obj="PYMESS_SMS_TEMPLATE_MODEL", id="adapters_django.E003")]
    if not issubclass(model, AbstractSMSTemplate):
        return [
            checks.Error(
                f"PYMESS_SMS_TEMPLATE_MODEL: {label!r} does not extend adapters_django.models.AbstractSMSTemplate",
                obj="PYMESS_SMS_TEMPLATE_MODEL",
                id="adapters_django.E003",
            )
        ]
    return []


def check_timezone(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E004: ``USE_TZ`` is on, so stored message times are timezone-aware as the core requires."""
    from django.conf import settings

    if settings.USE_TZ:
        return []
    return [
        checks.Error(
            "USE_TZ is False; SMS message times must be timezone-aware",
            hint="Set USE_TZ = True (the default since Django 5.0).",
            obj="USE_TZ",
            id="adapters_django.E004",
        )
    ]


def check_callback_urls(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W002: with ``PYMESS_SMS_PUBLIC_BASE_URL`` set, the status-callback view is in the URLconf."""
    from django.urls import NoReverseMatch, reverse

    try:
        config = wiring.config_from_settings()
    except ConfigurationError:
        return []  # E001 reports it
    if not config.public_base_url:
        return []
    try:
        reverse("smscore:status_callback", kwargs={"provider": config.default_provider})
    except NoReverseMatch:
        return [
            checks.Warning(
                "PYMESS_SMS_PUBLIC_BASE_URL is set, so providers post status callbacks, but adapters_django.urls is "
                "not in the URLconf: they would be answered 404",
                hint='Add path("sms/", include("adapters_django.urls")) where PYMESS_SMS_PUBLIC_BASE_URL points.',
                obj="PYMESS_SMS_PUBLIC_BASE_URL",
                id="adapters_django.W002",
            )
        ]
    return []


def register() -> None:
    """Register the checks (called from the app's ``ready()``)."""
    checks.register(check_settings)
    checks.register(check_template_model)
    checks.register(check_timezone)
    checks.register(check_callback_urls, checks.Tags.urls)
