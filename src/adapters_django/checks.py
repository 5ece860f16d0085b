"""System checks: every ``PYMESS_*`` setting that could fail at run time is tried when the project starts, and a
wrong one is reported naming the setting, with a hint on how to fix it.

============================  ==========================================================================
id                            problem
============================  ==========================================================================
``adapters_django.E001``      a ``PYMESS_*`` setting has a wrong value or type (``PYMESS_SMS_ALLOWED_COUNTRIES``
                              naming no country, ``PYMESS_SMS_RECIPIENT_LIMITS`` without count and per...)
``adapters_django.E002``      a backend cannot be built: its path does not import (the message lists the
                              aliases), a missing SDK, wrong options
``adapters_django.E003``      ``PYMESS_SMS_TEMPLATE_MODEL`` does not name an installed model that extends
                              ``AbstractSMSTemplate`` (the ancestor's ``pymess.SMSTemplate`` included)
``adapters_django.E004``      ``USE_TZ`` is off (message times must be timezone-aware)
``adapters_django.E005``      ``PYMESS_SMS_BACKEND_ROUTER`` names nothing that imports
``adapters_django.E006``      ``PYMESS_SMS_BACKEND_ROUTER`` imports but is not a router: neither a callable
                              taking the message nor a class with ``get_backend_name(recipient)``
``adapters_django.E007``      ``PYMESS_SMS_DATABASE`` is not an alias in ``DATABASES``
``adapters_django.E008``      a subscriber in ``PYMESS_SMS_CONFIG['subscribers']`` does not import or is
                              not callable
``adapters_django.E009``      a path in ``PYMESS_SMS_REFUSAL_SUBSCRIBERS`` does not import or is not callable
``adapters_django.E010``      a path in ``PYMESS_SMS_INBOUND_SUBSCRIBERS`` does not import or is not callable
``adapters_django.W001``      a ``PYMESS_SMS_*`` / ``PYMESS_ATS_*`` setting that nothing reads (a typo?)
``adapters_django.W002``      ``PYMESS_SMS_PUBLIC_BASE_URL`` is set (providers are told to post status
                              callbacks) but ``adapters_django.urls`` is not in the URLconf
============================  ==========================================================================
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, Final

from django.core import checks

from adapters_django import conf, wiring
from smscore import ConfigurationError, SMSConfig
from smscore.bootstrap import resolve
from smscore.routers import router_from

__all__ = [
    "check_callback_urls",
    "check_database",
    "check_router",
    "check_settings",
    "check_subscribers",
    "check_template_model",
    "check_timezone",
    "register",
]

_ROUTER: Final = "PYMESS_SMS_BACKEND_ROUTER"

_BACKEND_HINT: Final = (
    "The ancestor's paths (pymess.backend.sms.ats_sms_operator.ATSSMSBackend and the others) work as they are; a "
    "backend class of your own needs a publish(messages) method and takes its options as keywords or through "
    "from_options(options)."
)

_ROUTER_HINT: Final = (
    "A router is a function taking the message and returning a backend name (a key of PYMESS_SMS_BACKENDS) or "
    "None for the default, e.g. 'myproject.sms.route'; the ancestor's router classes with "
    "get_backend_name(recipient) work as they are. Routing by prefix or tag needs no code: "
    "{'prefixes': {'+420': 'cz'}, 'tags': {'otp': 'fast'}}."
)

_TEMPLATE_HINT: Final = (
    f"Delete the setting to use {conf.DEFAULT_TEMPLATE_MODEL} (the ancestor's slug and body, and its admin), or "
    "name a model of yours that extends adapters_django.models.AbstractSMSTemplate; set it before the first "
    "migrate, as AUTH_USER_MODEL."
)


def _config() -> SMSConfig | None:
    """The configuration of the settings, or None when E001 reports why there is none."""
    try:
        return wiring.config_from_settings()
    except ConfigurationError:
        return None


def _is_backend_path(exc: ConfigurationError) -> bool:
    """Whether a backend problem is its path (rather than its options): the core's key ends in ``.backend``."""
    cause = exc.__cause__
    key = cause.key if isinstance(cause, ConfigurationError) else exc.key
    return bool(key and key.endswith(".backend"))


def _backend_error(exc: ConfigurationError) -> checks.CheckMessage:
    setting = exc.key or "PYMESS_SMS_BACKENDS"
    if _is_backend_path(exc):
        hint = _BACKEND_HINT
    else:
        hint = f"Fix the option in {setting}; option names are written in upper case, as the ancestor's."
    return checks.Error(str(exc), hint=hint, obj=setting, id="adapters_django.E002")


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
        setting = exc.key or "PYMESS_*"
        hint = f"See adapters_django.conf for what {setting} takes." if exc.key else None
        messages.append(checks.Error(str(exc), hint=hint, obj=setting, id="adapters_django.E001"))
        return messages
    messages.extend(_backend_error(exc) for exc in wiring.provider_problems())
    return messages


def check_router(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E005 and E006: a router path imports and names a router (the ancestor's classes included)."""
    config = _config()
    if config is None or not isinstance(config.router, str):
        return []  # no router, rules checked with the configuration, or E001
    try:
        found = resolve(config.router, key=_ROUTER)
    except ConfigurationError as exc:
        hint = "Write it as 'package.module.name' (or 'package.module:name'), the module importable from the project."
        return [checks.Error(str(exc), hint=hint, obj=_ROUTER, id="adapters_django.E005")]
    try:
        router_from(found, key=_ROUTER)
    except ConfigurationError as exc:
        return [checks.Error(str(exc), hint=_ROUTER_HINT, obj=_ROUTER, id="adapters_django.E006")]
    return []


def check_database(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E007: ``PYMESS_SMS_DATABASE`` is a database alias of ``DATABASES``."""
    from django.db import connections

    config = _config()
    if config is None:
        return []
    alias = config.storage_options.get("database")
    if alias in connections.settings:
        return []
    return [
        checks.Error(
            f"PYMESS_SMS_DATABASE: {alias!r} is not in DATABASES",
            hint=f"Use one of {', '.join(map(repr, connections.settings))}, or add {alias!r} to DATABASES and "
            "migrate it (manage.py migrate --database).",
            obj="PYMESS_SMS_DATABASE",
            id="adapters_django.E007",
        )
    ]


_SUBSCRIBER_HINT: Final = (
    "A subscriber is the dotted path of a callable taking a smscore.StateChange; for Django receivers, "
    "connect to adapters_django.signals.sms_state_changed instead."
)
_REFUSAL_SUBSCRIBER_HINT: Final = (
    "A refusal subscriber is the dotted path of a callable taking a smscore.Refusal; for Django receivers, "
    "connect to adapters_django.signals.sms_refused instead."
)
_INBOUND_SUBSCRIBER_HINT: Final = (
    "An inbound subscriber is the dotted path of a callable taking a smscore.InboundReceived; for Django "
    "receivers, connect to adapters_django.signals.sms_received instead."
)


def check_subscribers(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E008, E009 and E010: every path of ``subscribers``, ``refusal_subscribers`` and ``inbound_subscribers``
    imports and is callable."""
    config = _config()
    if config is None:
        return []
    state = _uncallable(config.subscribers, "PYMESS_SMS_CONFIG['subscribers'][{}]")
    refusal = _uncallable(config.refusal_subscribers, "PYMESS_SMS_REFUSAL_SUBSCRIBERS[{}]")
    inbound = _uncallable(config.inbound_subscribers, "PYMESS_SMS_INBOUND_SUBSCRIBERS[{}]")
    return [
        *(checks.Error(p, hint=_SUBSCRIBER_HINT, obj="PYMESS_SMS_CONFIG", id="adapters_django.E008") for p in state),
        *(
            checks.Error(
                p, hint=_REFUSAL_SUBSCRIBER_HINT, obj="PYMESS_SMS_REFUSAL_SUBSCRIBERS", id="adapters_django.E009"
            )
            for p in refusal
        ),
        *(
            checks.Error(
                p, hint=_INBOUND_SUBSCRIBER_HINT, obj="PYMESS_SMS_INBOUND_SUBSCRIBERS", id="adapters_django.E010"
            )
            for p in inbound
        ),
    ]


def _uncallable(paths: Iterable[str], entry: str) -> list[str]:
    """Why each path of ``paths`` that is no subscriber is none (``entry`` names the n-th path)."""
    return [problem for index, path in enumerate(paths) if (problem := _not_callable(path, entry.format(index)))]


def _not_callable(path: str, key: str) -> str | None:
    """Why the dotted ``path`` is no subscriber, or None."""
    try:
        subscriber = resolve(path, key=key)
    except ConfigurationError as exc:
        return str(exc)
    return None if callable(subscriber) else f"{key}: {path!r} is not callable"


def check_template_model(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E003: ``PYMESS_SMS_TEMPLATE_MODEL`` names an installed model extending ``AbstractSMSTemplate``."""
    from django.core.exceptions import ImproperlyConfigured

    from adapters_django.models import AbstractSMSTemplate, get_template_model

    label = conf.template_model_label()
    try:
        model = get_template_model()
    except ImproperlyConfigured as exc:
        problem = str(exc)
    else:
        if issubclass(model, AbstractSMSTemplate):
            return []
        problem = (
            f"PYMESS_SMS_TEMPLATE_MODEL: {label!r} does not extend adapters_django.models.AbstractSMSTemplate, so "
            "it cannot be rendered or sent"
        )
    if label.lower().startswith("pymess."):
        problem += "; it is the ancestor's model, which adapters_django replaces"
    return [checks.Error(problem, hint=_TEMPLATE_HINT, obj="PYMESS_SMS_TEMPLATE_MODEL", id="adapters_django.E003")]


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

    config = _config()
    if config is None or not config.public_base_url:
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
    for check in (
        check_settings,
        check_router,
        check_database,
        check_subscribers,
        check_template_model,
        check_timezone,
    ):
        checks.register(check)
    checks.register(check_callback_urls, checks.Tags.urls)
