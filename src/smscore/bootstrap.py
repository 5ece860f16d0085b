"""The composition root: what the names of storages and providers stand for, and building a service from them.

Storage and providers are chosen by alias or dotted path and imported only here, at run time, so the rest of the
core never imports an adapter.

>>> import smscore
>>> service = smscore.build_service({"storage": "memory", "provider": "dummy"})
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from smscore.async_ports import AsyncStorage, AsyncStorageFactory, in_threads
from smscore.config import ProviderConfig, SMSConfig, load_config
from smscore.errors import ConfigurationError
from smscore.ports import (
    Clock,
    ProviderFactory,
    SchemaManager,
    SMSProvider,
    StatusCallbackSender,
    Storage,
    StorageFactory,
)
from smscore.redaction import protect_logs, secrets_in
from smscore.routers import router_from
from smscore.service import Router, SMSService

if TYPE_CHECKING:
    from smscore.service.async_facade import AsyncSMSService

__all__ = [
    "PROVIDER_ALIASES",
    "STORAGE_ALIASES",
    "build_async_service",
    "build_async_storage",
    "build_provider",
    "build_service",
    "build_storage",
    "inbound_url",
    "provider_path",
    "resolve",
    "status_callback_url",
    "storage_schema",
]

#: Short names of the shipped providers, and django-pymess's dotted paths so that its projects can switch over.
PROVIDER_ALIASES: Final[Mapping[str, str]] = {
    "dummy": "providers.dummy:DummySMSBackend",
    "sns": "providers.sns:SNSSMSBackend",
    "twilio": "providers.twilio:TwilioSMSBackend",
    "ats": "providers.ats:ATSSMSBackend",
    "sms-operator": "providers.sms_operator:SMSOperatorBackend",
    "sms_operator": "providers.sms_operator:SMSOperatorBackend",
    "pymess.backend.sms.dummy.DummySMSBackend": "providers.dummy:DummySMSBackend",
    "pymess.backend.sms.sns.SNSSMSBackend": "providers.sns:SNSSMSBackend",
    "pymess.backend.sms.twilio.TwilioSMSBackend": "providers.twilio:TwilioSMSBackend",
    "pymess.backend.sms.ats_sms_operator.ATSSMSBackend": "providers.ats:ATSSMSBackend",
    "pymess.backend.sms.sms_operator.SMSOperatorBackend": "providers.sms_operator:SMSOperatorBackend",
}

#: Short names of the shipped storages.
STORAGE_ALIASES: Final[Mapping[str, str]] = {
    "memory": "smscore.testing:memory_storage",
    "sqlalchemy": "adapters_sqlalchemy.storage:build_storage",
    "django": "adapters_django.storage:build_storage",
}

#: Which extra brings the third-party package a module needs.
_EXTRAS: Final = {
    "boto3": "sns",
    "botocore": "sns",
    "twilio": "twilio",
    "httpx": "http",
    "sqlalchemy": "sqlalchemy",
    "alembic": "sqlalchemy",
    "psycopg": "postgres",
    "django": "django",
    "celery": "celery",
}


def resolve(path: str, *, key: str, aliases: Iterable[str] = ()) -> Any:
    """Import the object named by ``path`` (``"package.module:Name"`` or ``"package.module.Name"``).

    Raises :class:`ConfigurationError` naming ``key`` when it cannot be imported; when a third-party package is
    missing, the message names the extra to install. ``aliases`` are the short names ``key`` also accepts: a
    name that is neither one nor a dotted path gets them listed (and the closest suggested).
    """
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ConfigurationError(f"{key}: {path!r} is {_not_a_name(path, aliases)}", key=key)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing in _EXTRAS:
            extra = _EXTRAS[missing]
            raise ConfigurationError(
                f"{key}: {path!r} needs {missing!r}, which is not installed: pip install 'smscore[{extra}]'",
                key=key,
            ) from exc
        raise ConfigurationError(
            f"{key}: cannot import {module_name!r}: {exc}{_known_names(aliases)}", key=key
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigurationError(
            f"{key}: {module_name!r} has no attribute {attr!r}{_known_names(aliases)}", key=key
        ) from None


def _known_names(aliases: Iterable[str]) -> str:
    """The short names a dotted path that does not import could have been, as the end of its error."""
    short = sorted(alias for alias in aliases if "." not in alias)
    return f" (the known names are {', '.join(short)})" if short else ""


def _not_a_name(path: str, aliases: Iterable[str]) -> str:
    short = sorted(alias for alias in aliases if "." not in alias)
    if not short:
        return "not a dotted path"
    import difflib  # only on this error path

    close = difflib.get_close_matches(path, short, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"neither a known name ({', '.join(short)}) nor a dotted path{hint}"


def provider_path(backend: str) -> str:
    """The dotted path a provider backend alias (e.g. ``ats``) stands for; any other name is returned as it is."""
    return PROVIDER_ALIASES.get(backend, backend)


def build_storage(config: SMSConfig) -> Storage:
    """Build the configured storage. Raises :class:`ConfigurationError`."""
    return _storage_factory(config)(config)


def storage_schema(config: SMSConfig) -> SchemaManager | None:
    """The configured storage's :class:`~smscore.ports.SchemaManager` role, or None when its factory has no schema
    to manage. Builds no storage. Raises :class:`ConfigurationError`."""
    factory = _storage_factory(config)
    return factory if isinstance(factory, SchemaManager) else None


def _storage_factory(config: SMSConfig) -> StorageFactory:
    factory = resolve(STORAGE_ALIASES.get(config.storage, config.storage), key="storage", aliases=STORAGE_ALIASES)
    if not callable(factory):
        raise ConfigurationError(f"storage: {config.storage!r} is not callable", key="storage")
    result: StorageFactory = factory
    return result


def build_provider(name: str, provider: ProviderConfig, *, public_base_url: str | None = None) -> SMSProvider:
    """Build one named provider from its backend and options.

    The backend class's ``from_options(options)`` is used when it has one (:class:`~smscore.ports.ProviderFactory`),
    else ``cls(**options)``. With ``public_base_url``, a class that sends status reports
    (:class:`~smscore.ports.StatusCallbackSender`) gets its callback URL among its options unless one is
    configured. Raises :class:`ConfigurationError` naming ``providers.NAME`` (a missing SDK names the extra to
    install).
    """
    key = f"providers.{name}.backend"
    cls = resolve(provider_path(provider.backend), key=key, aliases=PROVIDER_ALIASES)
    options = dict(provider.options)
    if public_base_url and isinstance(cls, StatusCallbackSender) and not options.get(cls.status_callback_option):
        options[cls.status_callback_option] = status_callback_url(public_base_url, name)
    try:
        instance = cls.from_options(options) if isinstance(cls, ProviderFactory) else cls(**options)
    except ConfigurationError as exc:
        option = f"providers.{name}.options.{exc.key}" if exc.key else f"providers.{name}.options"
        raise ConfigurationError(f"provider {name!r}: {exc}", key=option) from exc
    except TypeError as exc:
        raise ConfigurationError(f"provider {name!r}: bad options: {exc}", key=f"providers.{name}.options") from exc
    if not isinstance(instance, SMSProvider):
        raise ConfigurationError(
            f"{key}: {provider.backend!r} is not an SMS provider (publish, close, max_batch_size and "
            "can_check_by_our_id are required)",
            key=key,
        )
    return instance


def status_callback_url(public_base_url: str, provider: str) -> str:
    """Where the provider named ``provider`` posts its status reports: ``<public_base_url>/status/<provider>/``."""
    return f"{public_base_url.rstrip('/')}/status/{provider}/"


def inbound_url(public_base_url: str, provider: str) -> str:
    """Where the provider named ``provider`` posts the SMS it receives: ``<public_base_url>/inbound/<provider>/``
    (set on the Twilio number or the Amazon SNS subscription; neither API takes it with a message)."""
    return f"{public_base_url.rstrip('/')}/inbound/{provider}/"


def build_service(config: SMSConfig | Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> SMSService:
    """The composition root: build storage, providers, router and subscribers from ``config``, and redact its
    secrets in the logs from now on (:func:`smscore.redaction.protect_logs`).

    ``config`` is an :class:`SMSConfig`, a mapping (validated with :meth:`SMSConfig.from_mapping`) or None
    (:func:`load_config`: file and environment). Raises :class:`ConfigurationError` naming the wrong key.
    """
    config, parts = _parts(config, clock)
    storage = build_storage(config)  # last: nothing after it can fail and leave it open
    return SMSService(**parts, **_storage_parts(storage), on_close=storage.close)


def build_async_service(
    config: SMSConfig | Mapping[str, Any] | None = None, *, clock: Clock | None = None
) -> AsyncSMSService:
    """:func:`build_service` for asyncio: the same configuration, an :class:`~smscore.service.AsyncSMSService`
    whose storage is the configured one built for the event loop (:func:`build_async_storage`).

    ``async with smscore.build_async_service(config) as service: await service.send(...)``.
    """
    from smscore.service.async_facade import AsyncSMSService  # asyncio is loaded by those who use it

    config, parts = _parts(config, clock)
    built = build_async_storage(config)  # last, as in build_service
    return AsyncSMSService(**parts, **_storage_parts(built.storage), run_storage=built.run, on_close=built.aclose)


def _parts(config: SMSConfig | Mapping[str, Any] | None, clock: Clock | None) -> tuple[SMSConfig, dict[str, Any]]:
    """``config`` read, and what both services are built from besides the storage."""
    if config is None:
        config = load_config()
    elif not isinstance(config, SMSConfig):
        config = SMSConfig.from_mapping(config)
    parts = {
        "providers": _build_providers(config),
        "config": config,
        "clock": clock,
        "router": _build_router(config),
        "subscribers": _build_subscribers(config, "subscribers"),
        "refusal_subscribers": _build_subscribers(config, "refusal_subscribers"),
        "inbound_subscribers": _build_subscribers(config, "inbound_subscribers"),
    }
    protect_logs(secrets_in(config))
    return config, parts


#: What a service takes from a storage, by the name both use.
_STORAGE_PARTS: Final = ("messages", "templates", "rate_limiter", "opt_outs", "refusals", "inbound")


def _storage_parts(storage: Storage) -> dict[str, Any]:
    return {name: getattr(storage, name) for name in _STORAGE_PARTS}


def _build_providers(config: SMSConfig) -> dict[str, SMSProvider]:
    base_url = config.public_base_url
    return {name: build_provider(name, entry, public_base_url=base_url) for name, entry in config.providers.items()}


def _build_router(config: SMSConfig) -> Router | None:
    if not isinstance(config.router, str):
        return None
    return router_from(resolve(config.router, key="router"))


def _build_subscribers(config: SMSConfig, key: str) -> list[Any]:
    """The callables the dotted paths of ``subscribers``, ``refusal_subscribers`` or ``inbound_subscribers``
    (``key``) name."""
    subscribers = []
    for index, path in enumerate(getattr(config, key)):
        subscriber = resolve(path, key=f"{key}[{index}]")
        if not callable(subscriber):
            raise ConfigurationError(f"{key}[{index}]: {path!r} is not callable", key=f"{key}[{index}]")
        subscribers.append(subscriber)
    return subscribers


def build_async_storage(config: SMSConfig) -> AsyncStorage:
    """Build the configured storage for the asyncio service. Raises as :func:`build_storage` does.

    A factory that plays :class:`~smscore.async_ports.AsyncStorageFactory` builds it (``build_async``). Any other
    factory's sync storage is used as it is, each call run in a pool of threads of its own
    (:func:`~smscore.async_ports.in_threads`).
    """
    factory = _storage_factory(config)
    if isinstance(factory, AsyncStorageFactory):
        return factory.build_async(config)
    return in_threads(factory(config))
