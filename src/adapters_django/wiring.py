"""The composition root for Django: ``PYMESS_*`` settings become one :class:`~smscore.SMSConfig`, and that
config becomes one :class:`~smscore.SMSService` whose storage is the Django repositories.

The settings themselves, their defaults and the core key each becomes are listed in :mod:`adapters_django.conf`,
which reads them. The service is built on first use and kept; it is thrown away (and its providers closed) when a
``PYMESS_*`` setting changes, so ``override_settings`` works in tests.

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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from adapters_django.conf import CORE_KEYS, MISSING, database_alias, read, settings_of
from smscore import ConfigurationError, InvalidRecipientError, SMSConfig, build_service
from smscore.bootstrap import PROVIDER_ALIASES, build_provider
from smscore.phone import REGION_KEY

if TYPE_CHECKING:
    from smscore import SMSService

__all__ = [
    "config_from_settings",
    "django_setting_names",
    "get_service",
    "on_setting_changed",
    "provider_problems",
    "reset_service",
]

_ATS_PATH: Final = PROVIDER_ALIASES["ats"]
_OPERATOR_PATH: Final = PROVIDER_ALIASES["sms-operator"]
#: Settings that give the default options of every backend of one class.
_CLASS_CONFIG: Final[Mapping[str, str]] = {
    _ATS_PATH: "PYMESS_ATS_SMS_CONFIG",
    _OPERATOR_PATH: "PYMESS_SMS_OPERATOR_CONFIG",
}

#: The ancestor's default router: it never had an opinion, so it means "no router".
_ANCESTOR_DEFAULT_ROUTER: Final = "pymess.backend.routers.DefaultBackendRouter"

#: Core keys that have their own setting, so ``PYMESS_SMS_CONFIG`` may not set them.
_OWNED_KEYS: Final = frozenset(
    {*CORE_KEYS.values(), "storage", "storage_options", "provider", "provider_options", "providers"}
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
    if value is MISSING or value is None:
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
            return _options(read(setting, source), setting), setting
    return {}, None


def _providers(source: Any, mapping: dict[str, Any], origins: _Origins) -> None:
    single = read("PYMESS_SMS_SENDER_BACKEND", source)
    named = read("PYMESS_SMS_BACKENDS", source)
    if single is not MISSING and named is not MISSING:
        raise ConfigurationError(
            "PYMESS_SMS_BACKENDS: set either PYMESS_SMS_SENDER_BACKEND (one backend) or PYMESS_SMS_BACKENDS "
            "(named backends), not both",
            key="PYMESS_SMS_BACKENDS",
        )
    if named is MISSING:
        backend = "dummy" if single is MISSING or single is None else single
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
        and read("PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME", source)
        in (
            MISSING,
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
    extra = read("PYMESS_SMS_CONFIG", source)
    if extra is not MISSING and extra is not None:
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
    phone_code = read("PYMESS_SMS_DEFAULT_PHONE_CODE", source)
    region = read("PYMESS_SMS_DEFAULT_REGION", source)
    if phone_code not in (MISSING, None) and region not in (MISSING, None):
        raise ConfigurationError(
            "PYMESS_SMS_DEFAULT_REGION: set either it or PYMESS_SMS_DEFAULT_PHONE_CODE, not both",
            key="PYMESS_SMS_DEFAULT_REGION",
        )
    for setting, key in CORE_KEYS.items():
        value = read(setting, source)
        if value is MISSING or (value is None and key == "default_region"):
            continue
        if setting == "PYMESS_SMS_BACKEND_ROUTER" and value == _ANCESTOR_DEFAULT_ROUTER:
            continue
        if setting == "PYMESS_SMS_PUBLIC_BASE_URL":
            _check_public_base_url(value)
        mapping[key] = value
        origins.keys[key] = setting
    mapping["storage"] = "django"
    mapping["storage_options"] = {"database": database_alias(source)}
    origins.keys["storage_options"] = "PYMESS_SMS_DATABASE"
    if not isinstance(mapping["storage_options"]["database"], str):
        raise ConfigurationError("PYMESS_SMS_DATABASE must be a database alias", key="PYMESS_SMS_DATABASE")
    for setting in _CLASS_CONFIG.values():
        _options(read(setting, source), setting)  # a malformed one is reported even while no backend uses it
    _providers(source, mapping, origins)
    return mapping, origins


def config_from_settings(source: Any = None) -> SMSConfig:
    """Read the ``PYMESS_*`` settings (of ``source``, by default ``django.conf.settings``) into a config.

    Raises :class:`~smscore.ConfigurationError` whose ``key`` names the Django setting that is wrong.
    """
    source = settings_of(source)
    mapping, origins = _mapping_from_settings(source)
    try:
        return SMSConfig.from_mapping(mapping)
    except ConfigurationError as exc:
        raise _translated(exc, origins) from exc


def provider_problems(source: Any = None) -> list[ConfigurationError]:
    """Try to build every configured backend; return one error per backend that cannot be built.

    Each error's ``key`` names the Django setting to fix. Backends that build are closed again at once.
    """
    source = settings_of(source)
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
        provider.close()
    return problems


_lock = threading.Lock()
_service: SMSService | None = None


def get_service() -> SMSService:
    """The :class:`~smscore.SMSService` of this project, built from the settings on first use.

    Every state change it stores is re-sent as the Django signal :data:`~adapters_django.signals.sms_state_changed`,
    every message a guard refuses as :data:`~adapters_django.signals.sms_refused`, every SMS received as
    :data:`~adapters_django.signals.sms_received`.

    Raises :class:`~smscore.ConfigurationError` naming the Django setting when the settings are wrong (the
    system checks report the same problems at start-up).
    """
    global _service
    with _lock:
        if _service is None:
            source = settings_of()
            mapping, origins = _mapping_from_settings(source)
            try:
                service = build_service(mapping)
            except ConfigurationError as exc:
                raise _translated(exc, origins) from exc
            from adapters_django.signals import InboundRelay, StateChangeRelay, relay_refusal

            database = mapping["storage_options"]["database"]
            service.subscribe(StateChangeRelay(using=database))
            service.subscribe_refusals(relay_refusal)
            service.subscribe_inbound(InboundRelay(using=database))
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


@contextmanager
def django_setting_names() -> Iterator[None]:
    """Inside the block, an error of the core that names a configuration key to set names the Django setting.

    A national number read without a default region says to set ``PYMESS_SMS_DEFAULT_PHONE_CODE`` (the core's
    text says ``default_region``, which means nothing in a Django project).
    """
    try:
        yield
    except InvalidRecipientError as exc:
        if exc.key != REGION_KEY:
            raise
        text = str(exc).removesuffix(f"{REGION_KEY} is not set")
        raise InvalidRecipientError(
            f"{text}PYMESS_SMS_DEFAULT_PHONE_CODE is not set (e.g. '+420'; or PYMESS_SMS_DEFAULT_REGION = 'CZ')",
            key="PYMESS_SMS_DEFAULT_PHONE_CODE",
        ) from exc
