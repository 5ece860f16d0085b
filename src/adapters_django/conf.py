"""Every Django setting the app reads, with its default: the one module that reads ``django.conf.settings``.

Each setting, its default and what it becomes (a key of the core's configuration, see :mod:`smscore.config`):

- ``PYMESS_SMS_SENDER_BACKEND`` (``"dummy"``): the one backend, named ``default``: an alias (``dummy``, ``ats``,
  ``sms-operator``, ``sns``, ``twilio``), a dotted path, or the ancestor's ``pymess.backend.sms.*`` path.
- ``PYMESS_SMS_BACKENDS`` (none): ``providers``, named backends ``{name: {"backend": path, "config": {...}}}``;
  instead of ``PYMESS_SMS_SENDER_BACKEND``, never with it.
- ``PYMESS_ATS_SMS_CONFIG`` / ``PYMESS_SMS_OPERATOR_CONFIG`` (``{}``): options of every ATS / SMS-operator backend.
- ``PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME`` (``"default"``, or the only backend): ``default_provider``.
- ``PYMESS_SMS_BACKEND_ROUTER`` (none): ``router``, a dotted path to a callable ``(SMSMessage) -> name | None``,
  to a class with the ancestor's ``get_backend_name(recipient)``, or ``{"prefixes": {...}, "tags": {...}}``.
- ``PYMESS_SMS_USE_ACCENT`` (``False``: content is transliterated): ``use_accent``.
- ``PYMESS_SMS_DEFAULT_PHONE_CODE`` (``"+420"``) or ``PYMESS_SMS_DEFAULT_REGION`` (``"CZ"``) (none: national
  numbers are refused): ``default_region``.
- ``PYMESS_DEFAULT_MESSAGE_PRIORITY`` (``3``; 1 is the highest): ``default_priority``.
- ``PYMESS_SMS_BATCH_SENDING`` (``False``): ``batch_sending``; ``PYMESS_SMS_BATCH_SIZE`` (``100``): ``batch_size``.
- ``PYMESS_SMS_BATCH_MAX_NUMBER_OF_SEND_ATTEMPTS`` (``3``; exactly this many attempts, where the ancestor made one
  more): ``max_attempts``.
- ``PYMESS_SMS_BATCH_MAX_SECONDS_TO_SEND`` (none: no deadline): ``max_seconds_to_send``.
- ``PYMESS_SMS_RETRY_SENDING`` (``True``): ``retry_sending``.
- ``PYMESS_SMS_IDLE_MESSAGES_TIMEOUT_MINUTES`` (``240``, from the send time): ``idle_timeout_minutes``.
- ``PYMESS_SMS_LOG_IDLE_MESSAGES`` (``True``): ``log_idle_messages``; ``PYMESS_SMS_SET_ERROR_TO_IDLE_MESSAGES``
  (``True``): ``set_error_to_idle_messages``.
- ``PYMESS_SMS_PUBLIC_BASE_URL`` (none): ``public_base_url``, the absolute ``http(s)`` URL under which
  ``adapters_django.urls`` is included, e.g. ``"https://example.com/sms"`` for
  ``path("sms/", include("adapters_django.urls"))``; backends that take status callbacks (Twilio) are told to post
  them to ``<PYMESS_SMS_PUBLIC_BASE_URL>/status/<name>/``.
- ``PYMESS_SMS_QUIET_HOURS`` (``{}``): ``quiet_hours``, per tag the local hours its messages may reach the
  recipient, ``{"marketing": {"allowed": "09:00-20:00"}}``; ``PYMESS_SMS_QUIET_HOURS_ZONE`` (``"UTC"``):
  ``quiet_hours_zone``, the zone of numbers whose region gives none. A wrong value is the system check E001.
- ``PYMESS_SMS_OPT_OUT_EXEMPT_TAGS`` (``[]``): ``opt_out_exempt_tags``, tags sent even to opted-out numbers
  (one-time codes they asked for).
- ``PYMESS_SMS_ALLOWED_COUNTRIES`` (``[]``: every country): ``allowed_countries``, regions (``"CZ"``) or calling
  codes (``"+420"``) messages may go to.
- ``PYMESS_SMS_RECIPIENT_LIMITS`` (``{}``): ``recipient_limits``, e.g. ``{"otp": {"count": 5, "per": "1h"}}``.
- ``PYMESS_SMS_REFUSAL_SUBSCRIBERS`` (``[]``): ``refusal_subscribers``, dotted paths of callables receiving every
  refused message (or connect to ``adapters_django.signals.sms_refused``).
- ``PYMESS_SMS_INBOUND_KEYWORDS`` (the core's: STOP, START and HELP words, no replies): ``inbound_keywords``, e.g.
  ``{"stop": {"reply": "You will get no more SMS."}}``; ``PYMESS_SMS_INBOUND_REPLY_WINDOW`` (``"7d"``):
  ``inbound_reply_window``; ``PYMESS_SMS_INBOUND_SUBSCRIBERS`` (``[]``): ``inbound_subscribers``, dotted paths of
  callables receiving every SMS received (or connect to ``adapters_django.signals.sms_received``).
- ``PYMESS_SMS_DATABASE`` (``"default"``): ``storage_options.database``, the database alias of the SMS tables.
- ``PYMESS_SMS_CONFIG`` (``{}``): any other core key, lower case (``{"max_segments": 4, "failover": [...]}``).
- ``PYMESS_SMS_TEMPLATE_MODEL`` (``"adapters_django.SMSTemplate"``; not a core key): the template model,
  ``"app_label.ModelName"``, swappable like ``AUTH_USER_MODEL``.

The defaults of the settings that become a core key are the core's (:class:`smscore.SMSConfig`): a setting the
project leaves out is not passed on. Where they differ from the ancestor's (batch size 20, idle timeout 10 minutes
from creation, a one-hour send deadline) the core's were chosen on purpose; set the setting to keep the old
behaviour. :mod:`adapters_django.wiring` turns these settings into the core's configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

import attrs

from smscore.inbound import inbound_keywords

__all__ = [
    "CORE_KEYS",
    "DEFAULT_TEMPLATE_MODEL",
    "MISSING",
    "SETTINGS",
    "SETTING_NAMES",
    "Setting",
    "database_alias",
    "install_template_model_default",
    "read",
    "settings_of",
    "template_model_label",
    "unknown_setting_names",
]

#: The template model used when ``PYMESS_SMS_TEMPLATE_MODEL`` is not set.
DEFAULT_TEMPLATE_MODEL: Final = "adapters_django.SMSTemplate"


@attrs.frozen
class Setting:
    """One setting the app reads: its ``name``, its ``default`` and the core key it becomes one to one (if any)."""

    name: str
    default: Any = None
    core_key: str | None = None


#: Every setting the app reads (see the module docstring for what each means).
SETTINGS: Final[tuple[Setting, ...]] = (
    Setting("PYMESS_SMS_SENDER_BACKEND", "dummy"),
    Setting("PYMESS_SMS_BACKENDS"),
    Setting("PYMESS_ATS_SMS_CONFIG", {}),
    Setting("PYMESS_SMS_OPERATOR_CONFIG", {}),
    Setting("PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME", "default", "default_provider"),
    Setting("PYMESS_SMS_BACKEND_ROUTER", None, "router"),
    Setting("PYMESS_SMS_USE_ACCENT", False, "use_accent"),
    Setting("PYMESS_SMS_DEFAULT_PHONE_CODE", None, "default_region"),
    Setting("PYMESS_SMS_DEFAULT_REGION", None, "default_region"),
    Setting("PYMESS_DEFAULT_MESSAGE_PRIORITY", 3, "default_priority"),
    Setting("PYMESS_SMS_BATCH_SENDING", False, "batch_sending"),
    Setting("PYMESS_SMS_BATCH_SIZE", 100, "batch_size"),
    Setting("PYMESS_SMS_BATCH_MAX_NUMBER_OF_SEND_ATTEMPTS", 3, "max_attempts"),
    Setting("PYMESS_SMS_BATCH_MAX_SECONDS_TO_SEND", None, "max_seconds_to_send"),
    Setting("PYMESS_SMS_RETRY_SENDING", True, "retry_sending"),
    Setting("PYMESS_SMS_IDLE_MESSAGES_TIMEOUT_MINUTES", 240.0, "idle_timeout_minutes"),
    Setting("PYMESS_SMS_LOG_IDLE_MESSAGES", True, "log_idle_messages"),
    Setting("PYMESS_SMS_SET_ERROR_TO_IDLE_MESSAGES", True, "set_error_to_idle_messages"),
    Setting("PYMESS_SMS_PUBLIC_BASE_URL", None, "public_base_url"),
    Setting("PYMESS_SMS_QUIET_HOURS", {}, "quiet_hours"),
    Setting("PYMESS_SMS_QUIET_HOURS_ZONE", "UTC", "quiet_hours_zone"),
    Setting("PYMESS_SMS_OPT_OUT_EXEMPT_TAGS", (), "opt_out_exempt_tags"),
    Setting("PYMESS_SMS_ALLOWED_COUNTRIES", (), "allowed_countries"),
    Setting("PYMESS_SMS_RECIPIENT_LIMITS", {}, "recipient_limits"),
    Setting("PYMESS_SMS_REFUSAL_SUBSCRIBERS", (), "refusal_subscribers"),
    Setting("PYMESS_SMS_INBOUND_KEYWORDS", inbound_keywords({}, "inbound_keywords"), "inbound_keywords"),
    Setting("PYMESS_SMS_INBOUND_REPLY_WINDOW", timedelta(days=7), "inbound_reply_window"),
    Setting("PYMESS_SMS_INBOUND_SUBSCRIBERS", (), "inbound_subscribers"),
    Setting("PYMESS_SMS_DATABASE", "default"),
    Setting("PYMESS_SMS_CONFIG", {}),
    Setting("PYMESS_SMS_TEMPLATE_MODEL", DEFAULT_TEMPLATE_MODEL),
)

_BY_NAME: Final[Mapping[str, Setting]] = {setting.name: setting for setting in SETTINGS}

#: The names of every setting the app reads.
SETTING_NAMES: Final = frozenset(_BY_NAME)

#: Settings that map one to one onto a core key: setting name -> core key.
CORE_KEYS: Final[Mapping[str, str]] = {s.name: s.core_key for s in SETTINGS if s.core_key is not None}

#: What :func:`read` returns for a setting the project leaves out.
MISSING: Final = object()


def settings_of(source: Any = None) -> Any:
    """``source`` when given (any object with setting attributes), else ``django.conf.settings``."""
    if source is not None:
        return source
    from django.conf import settings

    return settings


def read(name: str, source: Any = None) -> Any:
    """The project's value of the setting ``name``, or :data:`MISSING` when it leaves it out.

    Raises ``KeyError`` for a name that is not in :data:`SETTINGS`: every setting read is declared here.
    """
    setting = _BY_NAME[name]
    return getattr(settings_of(source), setting.name, MISSING)


def _or_default(name: str, source: Any) -> Any:
    value = read(name, source)
    return _BY_NAME[name].default if value is MISSING or value is None else value


def template_model_label(source: Any = None) -> str:
    """The ``"app_label.ModelName"`` of the template model: ``PYMESS_SMS_TEMPLATE_MODEL`` or the shipped one."""
    return str(_or_default("PYMESS_SMS_TEMPLATE_MODEL", source))


def database_alias(source: Any = None) -> Any:
    """``PYMESS_SMS_DATABASE``, the database alias of the SMS tables (checked by :mod:`adapters_django.wiring`)."""
    return _or_default("PYMESS_SMS_DATABASE", source)


def install_template_model_default() -> None:
    """Give ``PYMESS_SMS_TEMPLATE_MODEL`` its default in ``django.conf.settings`` when the project leaves it out.

    Django's migration machinery reads a swappable setting directly (as it reads ``AUTH_USER_MODEL``, whose default
    lives in Django's global settings), so the setting must exist even when nobody set it.
    """
    settings = settings_of()
    if not hasattr(settings, "PYMESS_SMS_TEMPLATE_MODEL"):
        settings.PYMESS_SMS_TEMPLATE_MODEL = DEFAULT_TEMPLATE_MODEL


def unknown_setting_names(source: Any = None) -> list[str]:
    """Names of ``PYMESS_SMS_*`` and ``PYMESS_ATS_*`` settings the app does not read (typos, probably)."""
    return sorted(
        name
        for name in dir(settings_of(source))
        if name.startswith(("PYMESS_SMS_", "PYMESS_ATS_")) and name.isupper() and name not in SETTING_NAMES
    )
