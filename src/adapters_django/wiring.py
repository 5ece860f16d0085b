"""The composition root for Django: ``PYMESS_*`` settings become one :class:`~smscore.SMSConfig`, and that
config becomes one :class:`~smscore.SMSService` whose storage is the Django repositories.

This is the only module that reads the ``PYMESS_*`` settings. The service is built on first use and kept; it is
thrown away (and its providers closed) when a ``PYMESS_*`` setting changes, so ``override_settings`` works in
tests.

Every setting, the core key it becomes (see :mod:`smscore.config`) and its default:

- ``PYMESS_SMS_SENDER_BACKEND`` -> the one backend, named ``default``: an alias (``dummy``, ``ats``,
  ``sms-operator``, ``sns``, ``twilio``), a dotted path, or the ancestor's ``pymess.backend.sms.*`` path.
  Default ``"dummy"``.
- ``PYMESS_ATS_SMS_CONFIG`` / ``PYMESS_SMS_OPERATOR_CONFIG`` -> the options of every ATS / SMS-operator backend.
- ``PYMESS_SMS_BACKENDS`` -> ``providers``: named backends ``{name: {"backend": path, "config": {...}}}``.
- ``PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME`` -> ``default_provider`` (``"default"``, or the only backend).
- ``PYMESS_SMS_BACKEND_ROUTER`` -> ``router``: a dotted path to ``(SMSMessage) -> name | None`` or
  ``{"prefixes": {"+420": name}, "tags": {tag: name}}``. Default: none.
- ``PYMESS_SMS_USE_ACCENT`` -> ``use_accent`` (False: content is transliterated).
- ``PYMESS_SMS_DEFAULT_PHONE_CODE`` (``"+420"``) or ``PYMESS_SMS_DEFAULT_REGION`` (``"CZ"``) -> ``default_region``.
- ``PYMESS_DEFAULT_MESSAGE_PRIORITY`` -> ``default_priority`` (3).
- ``PYMESS_SMS_BATCH_SENDING`` -> ``batch_sending`` (False); ``PYMESS_SMS_BATCH_SIZE`` -> ``batch_size`` (100).
- ``PYMESS_SMS_BATCH_MAX_NUMBER_OF_SEND_ATTEMPTS`` -> ``max_attempts`` (3; exactly this many attempts, where the
  ancestor made one more).
- ``PYMESS_SMS_BATCH_MAX_SECONDS_TO_SEND`` -> ``max_seconds_to_send`` (no deadline).
- ``PYMESS_SMS_RETRY_SENDING`` -> ``retry_sending`` (True).
- ``PYMESS_SMS_IDLE_MESSAGES_TIMEOUT_MINUTES`` -> ``idle_timeout_minutes`` (240, measured from the send time).
- ``PYMESS_SMS_LOG_IDLE_MESSAGES`` -> ``log_idle_messages`` (True); ``PYMESS_SMS_SET_ERROR_TO_IDLE_MESSAGES`` ->
  ``set_error_to_idle_messages`` (True).
- ``PYMESS_SMS_DATABASE`` -> ``storage_options.database``: the database alias of the SMS tables (``"default"``).
- ``PYMESS_SMS_PUBLIC_BASE_URL`` -> ``public_base_url``: the public URL under which ``adapters_django.urls`` is
  included, e.g. ``"https://example.com/sms"`` for ``path("sms/", include("adapters_django.urls"))``. Backends
  that take status callbacks (Twilio) are then told to post them to ``<PYMESS_SMS_PUBLIC_BASE_URL>/status/<name>/``
  and the view checks signatures against that URL, whatever host and scheme a proxy forwards. An absolute
  ``http(s)`` URL without query or fragment. Default: none (no callback URL is set; the view checks the URL the
  request arrived at).
- ``PYMESS_SMS_CONFIG`` -> any other core key, lower case (``{"max_segments": 4, "failover": [...]}``).
- ``PYMESS_SMS_TEMPLATE_MODEL`` (not a core key): the template model, ``"app_label.ModelName"``
  (``"adapters_django.SMSTemplate"``).

The defaults are the core's. Where they differ from the ancestor's (batch size 20, idle timeout 10
minutes from creation, a one-hour send deadline), the core's were chosen on purpose; set the setting to keep the
old behaviour.

Backend options are written in upper case in settings, as the ancestor did (``{"USERNAME": ...}``), and are
handed to the provider in lower case (``username``). ``PYMESS_SMS_SENDER_BACKEND`` and ``PYMESS_SMS_BACKENDS``
are two ways to say the same thing: use one. Unlike the ancestor, ``PYMESS_SMS_BACKENDS`` is taken as given,
never merged with a hidden dummy ``default`` entry, so a wrong default name is an error instead of a silent
switch to the dummy backend.

Every problem is a :class:`~smscore.ConfigurationError` whose ``key`` is the exact Django setting (for nested
values, ``PYMESS_SMS_BACKENDS['sms']['config']['USERNAME']``); :mod:`adapters_django.checks` reports the same
problems as system checks when the project starts.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from smscore import ConfigurationError, SMSConfig, build_service
from smscore.config import PROVIDER_ALIASES, build_provider

if TYPE_CHECKING:
    from smscore import SMSService

__all__ = [
    "DEFAULT_TEMPLATE_MODEL",
    "SETTING_NAMES",
    "config_from_settings",
    "get_service",
    "install_template_model_default",
    "provider_problems",
    "reset_service",
    "template_model_label",
    "unknown_setting_names",
]

#: The template model used when ``PYMESS_SMS_TEMPLATE_MODEL`` is not set.
DEFAULT_TEMPLATE_MODEL: Final = "adapters_django.SMSTemplate"

#: Settings that map one to one onto a core key.
_SIMPLE: Final[Mapping[str, str]] = {
    "PYMESS_SMS_USE_ACCENT": "use_accent",
    "PYMESS_SMS_DEFAULT_PHONE_CODE": "default_region",
    "PYMESS_SMS_DEFAULT_REGION": "default_region",
    "PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME": "default_provider",
    "PYMESS_SMS_BACKEND_ROUTER": "router",
    "PYMESS_DEFAULT_MESSAGE_PRIORITY": "default_priority",
    "PYMESS_SMS_BATCH_SENDING": "batch_sending",
    "PYMESS_SMS_BATCH_SIZE": "batch_size",
    "PYMESS_SMS_BATCH_MAX_NUMBER_OF_SEND_ATTEMPTS": "max_attempts",
    "PYMESS_SMS_BATCH_MAX_SECONDS_TO_SEND": "max_seconds_to_send",
    "PYMESS_SMS_RETRY_SENDING": "retry_sending",
    "PYMESS_SMS_IDLE_MESSAGES_TIMEOUT_MINUTES": "idle_timeout_minutes",
    "PYMESS_SMS_LOG_IDLE_MESSAGES": "log_idle_messages",
    "PYMESS_SMS_SET_ERROR_TO_IDLE_MESSAGES": "set_error_to_idle_messages",
    "PYMESS_SMS_PUBLIC_BASE_URL": "public_base_url",
}

_ATS_PATH: Final = PROVIDER_ALIASES["ats"]
_OPERATOR_PATH: Final = PROVIDER_ALIASES["sms-operator"]
#: Settings that give the default options of every backend of one class.
_CLASS_CONFIG: Final[Mapping[str, str]] = {
    _ATS_PATH: "PYMESS_ATS_SMS_CONFIG",
    _OPERATOR_PATH: "PYMESS_SMS_OPERATOR_CONFIG",
}

#: The ancestor's default router: it never had an opinion, so it means "no router".
_ANCESTOR_DEFAULT_ROUTER: Final = "pymess.backend.routers.DefaultBackendRouter"

#: Every setting this module reads.
SETTING_NAMES: Final = frozenset(
    {
        *_SIMPLE,
        *_CLASS_CONFIG.values(),
        "PYMESS_SMS_SENDER_BACKEND",
        "PYMESS_SMS_BACKENDS",
        "PYMESS_SMS_DATABASE",
        "PYMESS_SMS_CONFIG",
        "PYMESS_SMS_TEMPLATE_MODEL",
    }
)

#: Core keys that have their own setting, so ``PYMESS_SMS_CONFIG`` may not set them.
_OWNED_KEYS: Final = frozenset(
    {*_SIMPLE.values(), "storage", "storage_options", "provider", "provider_options", "providers"}
)

_MISSING: Final = object()


def _settings(source: Any) -> Any:
    if source is not None:
        return source
    from django.conf import settings

    return settings


def _read(source: Any, name: str) -> Any:
    return getattr(source, name, _MISSING)


def template_model_label(source: Any = None) -> str:
    """The ``"app_label.ModelName"`` of the template model: ``PYMESS_SMS_TEMPLATE_MODEL`` or the shipped one."""
    value = _read(_settings(source), "PYMESS_SMS_TEMPLATE_MODEL")
    return DEFAULT_TEMPLATE_MODEL if value is _MISSING or value is None else str(value)


def install_template_model_default() -> None:
    """Give ``PYMESS_SMS_TEMPLATE_MODEL`` its default in ``django.conf.settings`` when the project leaves it out.

    Django's migration machinery reads a swappable setting directly (as it reads ``AUTH_USER_MODEL``, whose default
    lives in Django's global settings), so the setting must exist even when nobody set it.
    """
    from django.conf import settings

    if not hasattr(settings, "PYMESS_SMS_TEMPLATE_MODEL"):
        settings.PYMESS_SMS_TEMPLATE_MODEL = DEFAULT_TEMPLATE_MODEL


def unknown_setting_names(source: Any = None) -> list[str]:
    """Names of ``PYMESS_SMS_*`` and ``PYMESS_ATS_*`` settings this module does not know (typos, probably)."""
    names = dir(_settings(source))
    return sorted(
        name
        for name in names
        if name.startswith(("PYMESS_SMS_", "PYMESS_ATS_")) and name.isupper() and name not in SETTING_NAMES
    )


class _Origins:
    """Remembers which Django setting each core key came from, to name it in errors."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.providers: dict[str, tuple[str, str]] = {}  # name -> (backend setting, options setting)

    def setting_for(self, key: str | None) -> str | None:
        if key is None:
            return None
        parts = key.split(".")
        if parts[0] == "providers" and len(parts) >= 3 and parts[1] in self.providers:
            backend, options = self.providers[parts[1]]
            if parts[2] == "backend":
                return backend
            if parts[2] == "options" and len(parts) >= 4:
                return f"{options}[{parts[3].upper()!r}]"
            return options
        if parts[0] in {"providers", "provider", "provider_options"}:
            return self.keys.get("providers")
        if parts[0] == "router":
            return self.keys.get("router", "PYMESS_SMS_BACKEND_ROUTER")
        return self.keys.get(parts[0])


def _translated(exc: ConfigurationError, origins: _Origins) -> ConfigurationError:
    setting = origins.setting_for(exc.key)
    if setting is None:
        return exc
    error = ConfigurationError(f"{setting}: {exc}", key=setting)
    error.__cause__ = exc
    return error


def _options(value: Any, setting: str) -> dict[str, Any]:
    if value is _MISSING or value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{setting} must be a dict, not {type(value).__name__}", key=setting)
    options: dict[str, Any] = {}
    for name, option in value.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"{setting}: option names must be strings, not {name!r}", key=setting)
        options[name.lower()] = option
    return options


def _backend_path(backend: str) -> str:
    return PROVIDER_ALIASES.get(backend, backend).replace(":", ".")


def _class_options(source: Any, backend: Any) -> tuple[dict[str, Any], str | None]:
    """The options a class-wide setting (``PYMESS_ATS_SMS_CONFIG``...) gives a backend, and that setting."""
    if not isinstance(backend, str):
        return {}, None
    path = _backend_path(backend)
    for class_path, setting in _CLASS_CONFIG.items():
        if path == class_path.replace(":", "."):
            return _options(_read(source, setting), setting), setting
    return {}, None


def _providers(source: Any, mapping: dict[str, Any], origins: _Origins) -> None:
    single = _read(source, "PYMESS_SMS_SENDER_BACKEND")
    named = _read(source, "PYMESS_SMS_BACKENDS")
    if single is not _MISSING and named is not _MISSING:
        raise ConfigurationError(
            "PYMESS_SMS_BACKENDS: set either PYMESS_SMS_SENDER_BACKEND (one backend) or PYMESS_SMS_BACKENDS "
            "(named backends), not both",
            key="PYMESS_SMS_BACKENDS",
        )
    if named is _MISSING:
        backend = "dummy" if single is _MISSING or single is None else single
        options, options_setting = _class_options(source, backend)
        mapping["providers"] = {"default": {"backend": backend, "options": options}}
        origins.keys["providers"] = "PYMESS_SMS_SENDER_BACKEND"
        origins.providers["default"] = ("PYMESS_SMS_SENDER_BACKEND", options_setting or "PYMESS_SMS_SENDER_BACKEND")
        return
    origins.keys["providers"] = "PYMESS_SMS_BACKENDS"
    if not isinstance(named, Mapping) or not named:
        raise ConfigurationError(
            "PYMESS_SMS_BACKENDS must be a non-empty dict of {name: {'backend': path, 'config': {...}}}",
            key="PYMESS_SMS_BACKENDS",
        )
    providers: dict[str, Any] = {}
    for name, entry in named.items():
        where = f"PYMESS_SMS_BACKENDS[{name!r}]"
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"{where}: backend names must be non-empty strings", key="PYMESS_SMS_BACKENDS")
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"{where} must be a dict with 'backend' and 'config'", key=where)
        unknown = sorted(set(entry) - {"backend", "config"})
        if unknown:
            raise ConfigurationError(f"{where}: unknown key {unknown[0]!r} (use 'backend' and 'config')", key=where)
        if "backend" not in entry:
            raise ConfigurationError(f"{where}['backend'] is missing", key=f"{where}['backend']")
        options, _ = _class_options(source, entry["backend"])
        options.update(_options(entry.get("config"), f"{where}['config']"))
        providers[name] = {"backend": entry["backend"], "options": options}
        origins.providers[name] = (f"{where}['backend']", f"{where}['config']")
    mapping["providers"] = providers
    if (
        len(providers) > 1
        and "default" not in providers
        and _read(source, "PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME")
        in (
            _MISSING,
            None,
        )
    ):
        raise ConfigurationError(
            "PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME: name which of the backends in PYMESS_SMS_BACKENDS is the "
            "default (none is called 'default')",
            key="PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME",
        )


def _check_public_base_url(value: Any) -> None:
    """Refuse a ``PYMESS_SMS_PUBLIC_BASE_URL`` that cannot be the start of a callback URL."""
    setting = "PYMESS_SMS_PUBLIC_BASE_URL"
    if value is None or value == "":
        return
    if not isinstance(value, str):
        raise ConfigurationError(f"{setting} must be a URL string, not {type(value).__name__}", key=setting)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise ConfigurationError(f"{setting} is not a valid URL: {value!r}", key=setting) from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError(
            f"{setting} must be an absolute http(s) URL such as 'https://example.com/sms', not {value!r}", key=setting
        )
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ConfigurationError(f"{setting} must not have a query or a fragment: {value!r}", key=setting)


def _mapping_from_settings(source: Any) -> tuple[dict[str, Any], _Origins]:
    origins = _Origins()
    mapping: dict[str, Any] = {}
    extra = _read(source, "PYMESS_SMS_CONFIG")
    if extra is not _MISSING and extra is not None:
        if not isinstance(extra, Mapping):
            raise ConfigurationError("PYMESS_SMS_CONFIG must be a dict of core keys", key="PYMESS_SMS_CONFIG")
        for key, value in extra.items():
            if key in _OWNED_KEYS:
                raise ConfigurationError(
                    f"PYMESS_SMS_CONFIG: {key!r} has its own PYMESS_* setting; set that instead",
                    key="PYMESS_SMS_CONFIG",
                )
            mapping[key] = value
            origins.keys[str(key)] = "PYMESS_SMS_CONFIG"
    phone_code = _read(source, "PYMESS_SMS_DEFAULT_PHONE_CODE")
    region = _read(source, "PYMESS_SMS_DEFAULT_REGION")
    if phone_code not in (_MISSING, None) and region not in (_MISSING, None):
        raise ConfigurationError(
            "PYMESS_SMS_DEFAULT_REGION: set either it or PYMESS_SMS_DEFAULT_PHONE_CODE, not both",
            key="PYMESS_SMS_DEFAULT_REGION",
        )
    for setting, key in _SIMPLE.items():
        value = _read(source, setting)
        if value is _MISSING or (value is None and key == "default_region"):
            continue
        if setting == "PYMESS_SMS_BACKEND_ROUTER" and value == _ANCESTOR_DEFAULT_ROUTER:
            continue
        if setting == "PYMESS_SMS_PUBLIC_BASE_URL":
            _check_public_base_url(value)
        mapping[key] = value
        origins.keys[key] = setting
    database = _read(source, "PYMESS_SMS_DATABASE")
    mapping["storage"] = "django"
    mapping["storage_options"] = {"database": "default" if database in (_MISSING, None) else database}
    origins.keys["storage_options"] = "PYMESS_SMS_DATABASE"
    if not isinstance(mapping["storage_options"]["database"], str):
        raise ConfigurationError("PYMESS_SMS_DATABASE must be a database alias", key="PYMESS_SMS_DATABASE")
    for setting in _CLASS_CONFIG.values():
        _options(_read(source, setting), setting)  # a malformed one is reported even while no backend uses it
    _providers(source, mapping, origins)
    return mapping, origins


def config_from_settings(source: Any = None) -> SMSConfig:
    """Read the ``PYMESS_*`` settings (of ``source``, by default ``django.conf.settings``) into a config.

    Raises :class:`~smscore.ConfigurationError` whose ``key`` names the Django setting that is wrong.
    """
    source = _settings(source)
    mapping, origins = _mapping_from_settings(source)
    try:
        return SMSConfig.from_mapping(mapping)
    except ConfigurationError as exc:
        raise _translated(exc, origins) from exc


def provider_problems(source: Any = None) -> list[ConfigurationError]:
    """Try to build every configured backend; return one error per backend that cannot be built.

    Each error's ``key`` names the Django setting to fix. Backends that build are closed again at once.
    """
    source = _settings(source)
    mapping, origins = _mapping_from_settings(source)
    try:
        config = SMSConfig.from_mapping(mapping)
    except ConfigurationError as exc:
        return [_translated(exc, origins)]
    problems: list[ConfigurationError] = []
    for name, entry in config.providers.items():
        try:
            provider = build_provider(name, entry)
        except ConfigurationError as exc:
            problems.append(_translated(exc, origins))
            continue
        except Exception as exc:  # a backend's own constructor failed: report it, never crash the checks
            backend_setting = origins.providers.get(name, ("PYMESS_SMS_BACKENDS", ""))[0]
            problems.append(
                ConfigurationError(
                    f"{backend_setting}: backend {entry.backend!r} could not be built: {type(exc).__name__}",
                    key=backend_setting,
                )
            )
            continue
        close = getattr(provider, "close", None)
        if callable(close):
            close()
    return problems


_lock = threading.Lock()
_service: SMSService | None = None


def get_service() -> SMSService:
    """The :class:`~smscore.SMSService` of this project, built from the settings on first use.

    Every state change it stores is re-sent as the Django signal :data:`~adapters_django.signals.sms_state_changed`.

    Raises :class:`~smscore.ConfigurationError` naming the Django setting when the settings are wrong (the
    system checks report the same problems at start-up).
    """
    global _service
    with _lock:
        if _service is None:
            source = _settings(None)
            mapping, origins = _mapping_from_settings(source)
            try:
                service = build_service(mapping)
            except ConfigurationError as exc:
                raise _translated(exc, origins) from exc
            from adapters_django.signals import StateChangeRelay

            service.subscribe(StateChangeRelay(using=mapping["storage_options"]["database"]))
            _service = service
        return _service


def reset_service() -> None:
    """Forget the built service (closing its providers); the next :func:`get_service` builds a new one."""
    global _service
    with _lock:
        service, _service = _service, None
    if service is not None:
        service.close()


def on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver: a changed ``PYMESS_*`` setting (or database setup) rebuilds the service."""
    if setting.startswith("PYMESS_") or setting in {"DATABASES", "USE_TZ"}:
        reset_service()
