"""The configuration value and its loading: one schema, validated, from a mapping, a file and the environment.

Three front doors: a mapping passed to :func:`smscore.build_service` (or :meth:`SMSConfig.from_mapping`), a
``smscore.toml`` file and ``SMSCORE_*`` environment variables (:func:`load_config` merges them, later ones
winning). What the names of storages and providers stand for, and building them, is :mod:`smscore.bootstrap`'s.

The keys (every one optional):

========================  =========  ===================================================================
key                       default    meaning
========================  =========  ===================================================================
storage                   memory     ``memory``, ``sqlalchemy``, ``django`` or a dotted path to a factory
                                     ``(SMSConfig) -> Storage``
database_url              None       SQLAlchemy URL for ``sqlalchemy`` storage (SQLite file by default)
storage_options           {}         extra options for the storage factory
provider                  dummy      backend alias or dotted path of the ``default`` provider, or the name
                                     of the default among ``providers``
provider_options          {}         options of that provider (its option names, lower case)
providers                 {}         named providers: ``{name: {"backend": ..., "options": {...}}}``
default_provider          default    name used when the router has no opinion
router                    None       dotted path to ``(SMSMessage) -> name | None`` or to a class with
                                     ``get_backend_name(recipient)`` (see :mod:`smscore.routers`), or
                                     ``{"prefixes": {"+420": name}, "tags": {tag: name}}``
failover                  []         provider names tried in order when the chosen one is unavailable
use_accent                False      keep accents; when False content is transliterated to GSM-7
default_region            None       region (``CZ``) or calling code (``+420``) for national numbers
max_segments              10         longest content accepted, in SMS parts
default_priority          3          priority of a message when the caller gives none (1 highest)
batch_sending             False      outbox mode: ``send`` stores WAITING and workers publish
batch_size                100        messages claimed per outbox step
retry_sending             True       retry transient failures (needs batch_sending)
max_attempts              3          attempts before a message fails for good (exactly this many)
max_seconds_to_send       None       a message not sent this long after creation fails (None: no deadline)
retry_backoff_seconds     30         first retry delay; doubles per attempt, with jitter
retry_backoff_max_seconds 3600       longest retry delay
lease_seconds             300        how long a worker holds claimed messages
outcome_retry_seconds     10         how long storing a provider's answer is retried when the storage fails
                                     (then :class:`~smscore.errors.OutcomeNotStoredError`); 0: not retried
idle_timeout_minutes      240        SENDING / UNKNOWN longer than this after sending become ERROR
log_idle_messages         True       log how many messages timed out
set_error_to_idle_messages True      move idle messages to ERROR (otherwise only log)
check_chunk_size          500        messages per delivery-check query and provider request
max_in_flight             100        provider requests the asyncio service makes at the same time (for
                                     providers that take one message per request); the synchronous
                                     service makes one at a time
rate_limits               {}         messages per second per provider name, shared by every worker
                                     using the same storage: ``{"ats": 50}``
circuit_breaker_threshold 5          whole-call failures in a row before a provider is skipped
circuit_breaker_cooldown_seconds 30  how long a tripped provider is skipped in favour of the failover
public_base_url           None       public URL under which status callbacks are served; the one of
                                     provider NAME is ``<public_base_url>/status/<NAME>/`` and is set
                                     on providers that take a ``status_callback`` and have none
subscribers               []         dotted paths of callables receiving every state change
refusal_subscribers       []         dotted paths of callables receiving every refused message (a
                                     :class:`~smscore.events.Refusal`): alert on a wave of them
opt_out_exempt_tags       []         tags sent even to opted-out numbers (one-time codes they asked for)
allowed_countries         []         regions (``CZ``) or calling codes (``+420``) messages may go to;
                                     others are refused (RecipientNotAllowedError); empty: all
recipient_limits          {}         most messages per recipient and tag in a rolling window, counted
                                     from the stored messages: ``{"otp": {"count": 5, "per": "1h"}}``;
                                     the excess is refused (RecipientRateLimitedError)
inbound_reply_window      7d         how far back an inbound SMS looks for the message it answers (the
                                     latest sent to its sender from that number); 0: never linked
inbound_keywords          built-in   ``{"stop"|"start"|"help": {"words": [...], "reply": "..."}}``: whole
                                     messages that opt out, opt back in or ask for help, and the replies
inbound_subscribers       []         dotted paths of callables receiving every inbound SMS stored
render_timeout_seconds    1.0        wall time one template render may take
render_max_length         10000      characters a render may output (and the largest width, repetition
                                     or string a template may build)
render_max_iterations     100000     loop iterations and calls one render may make
render_max_depth          100        nesting levels a template body may have when parsed
quiet_hours               {}         per tag, the local hours in which its messages may reach the
                                     recipient: ``{"marketing": {"allowed": "09:00-20:00"}}``; a message
                                     due outside them waits for the next start (see
                                     :mod:`smscore.quiet_hours`)
quiet_hours_zone          UTC        time zone of numbers whose region gives none (IANA name)
========================  =========  ===================================================================

Secrets (passwords, tokens, secret keys, and a ``database_url`` that holds a password) are refused in a TOML
file: give them through the environment, e.g. ``SMSCORE_PROVIDER_OPTIONS__PASSWORD`` or ``SMSCORE_DATABASE_URL``.
Nested keys in the environment are joined with ``__``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Final

import attrs

from smscore.budget import RenderBudget
from smscore.config_values import (
    boolean,
    mapping_value,
    names,
    non_negative_real,
    optional,
    positive_int,
    positive_real,
    rates,
    region,
    router_rules,
    text,
)
from smscore.errors import ConfigurationError
from smscore.guards import RecipientLimit, allowed_countries, recipient_limits
from smscore.inbound import Keywords, inbound_keywords, reply_window
from smscore.quiet_hours import AllowedHours, check_zone, parse_quiet_hours

__all__ = ["SECRET_OPTION_NAMES", "ProviderConfig", "SMSConfig", "load_config"]

#: Option names that hold secrets: refused in files, never logged.
SECRET_OPTION_NAMES: Final = frozenset(
    {
        "password",
        "auth_token",
        "aws_secret_access_key",
        "secret",
        "api_key",
        "api_secret",
        "token",
        "aws_session_token",
    }
)


@attrs.frozen
class ProviderConfig:
    """One named provider: its backend (alias or dotted path) and its options."""

    backend: str
    options: Mapping[str, Any] = attrs.field(factory=dict)

    def __repr__(self) -> str:
        # Options may hold credentials: show only their names.
        return f"ProviderConfig(backend={self.backend!r}, options=<{', '.join(sorted(self.options))}>)"


_COERCE: Final[Mapping[str, Callable[[Any, str], Any]]] = {
    "storage": text,
    "database_url": optional(text),
    "storage_options": mapping_value,
    "default_provider": text,
    "router": router_rules,
    "failover": names,
    "use_accent": boolean,
    "default_region": region,
    "max_segments": positive_int,
    "default_priority": positive_int,
    "batch_sending": boolean,
    "batch_size": positive_int,
    "retry_sending": boolean,
    "max_attempts": positive_int,
    "max_seconds_to_send": optional(positive_real),
    "retry_backoff_seconds": positive_real,
    "retry_backoff_max_seconds": positive_real,
    "lease_seconds": positive_real,
    "outcome_retry_seconds": non_negative_real,
    "idle_timeout_minutes": positive_real,
    "log_idle_messages": boolean,
    "set_error_to_idle_messages": boolean,
    "check_chunk_size": positive_int,
    "max_in_flight": positive_int,
    "rate_limits": rates,
    "circuit_breaker_threshold": positive_int,
    "circuit_breaker_cooldown_seconds": positive_real,
    "public_base_url": optional(text),
    "subscribers": names,
    "refusal_subscribers": names,
    "opt_out_exempt_tags": names,
    "allowed_countries": allowed_countries,
    "recipient_limits": recipient_limits,
    "inbound_reply_window": reply_window,
    "inbound_keywords": inbound_keywords,
    "inbound_subscribers": names,
    "render_timeout_seconds": positive_real,
    "render_max_length": positive_int,
    "render_max_iterations": positive_int,
    "render_max_depth": positive_int,
    "quiet_hours": parse_quiet_hours,
    "quiet_hours_zone": check_zone,
}
_SPECIAL_KEYS: Final = frozenset({"provider", "provider_options", "providers"})


@attrs.frozen(kw_only=True)
class SMSConfig:
    """The whole configuration, validated. Build it with :meth:`from_mapping` or :func:`load_config`.

    See the module docstring for every key. ``providers`` always holds at least the default provider.
    """

    storage: str = "memory"
    database_url: str | None = None
    storage_options: Mapping[str, Any] = attrs.field(factory=dict)
    providers: Mapping[str, ProviderConfig] = attrs.field(factory=lambda: {"default": ProviderConfig("dummy")})
    default_provider: str = "default"
    router: str | Mapping[str, Any] | None = None
    failover: tuple[str, ...] = ()
    use_accent: bool = False
    default_region: str | None = None
    max_segments: int = 10
    default_priority: int = 3
    batch_sending: bool = False
    batch_size: int = 100
    retry_sending: bool = True
    max_attempts: int = 3
    max_seconds_to_send: float | None = None
    retry_backoff_seconds: float = 30.0
    retry_backoff_max_seconds: float = 3600.0
    lease_seconds: float = 300.0
    outcome_retry_seconds: float = 10.0
    idle_timeout_minutes: float = 240.0
    log_idle_messages: bool = True
    set_error_to_idle_messages: bool = True
    check_chunk_size: int = 500
    max_in_flight: int = 100
    rate_limits: Mapping[str, float] = attrs.field(factory=dict)
    circuit_breaker_threshold: int = 5
    circuit_breaker_cooldown_seconds: float = 30.0
    public_base_url: str | None = None
    subscribers: tuple[str, ...] = ()
    refusal_subscribers: tuple[str, ...] = ()
    opt_out_exempt_tags: tuple[str, ...] = ()
    allowed_countries: tuple[str, ...] = ()
    recipient_limits: Mapping[str, RecipientLimit] = attrs.field(factory=dict)
    inbound_reply_window: timedelta = timedelta(days=7)
    inbound_keywords: Keywords = attrs.field(factory=lambda: inbound_keywords({}, "inbound_keywords"))
    inbound_subscribers: tuple[str, ...] = ()
    render_timeout_seconds: float = 1.0
    render_max_length: int = 10_000
    render_max_iterations: int = 100_000
    render_max_depth: int = 100
    quiet_hours: Mapping[str, AllowedHours] = MappingProxyType({})
    quiet_hours_zone: str = "UTC"

    @property
    def render_budget(self) -> RenderBudget:
        """The budget of every template render (the ``render_*`` keys)."""
        return RenderBudget(
            seconds=self.render_timeout_seconds,
            max_length=self.render_max_length,
            max_iterations=self.render_max_iterations,
            max_depth=self.render_max_depth,
        )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> SMSConfig:
        """Validate ``mapping`` (see the module docstring) into a config.

        Raises :class:`ConfigurationError` naming the exact key that is unknown, missing or wrong.
        """
        if not isinstance(mapping, Mapping):
            raise ConfigurationError(f"configuration must be a mapping, not {type(mapping).__name__}")
        values: dict[str, Any] = {}
        for key, raw in mapping.items():
            if key in _SPECIAL_KEYS:
                continue
            if key not in _COERCE:
                import difflib  # only on this error path: keeps `import smscore` fast

                close = difflib.get_close_matches(str(key), [*_COERCE, *_SPECIAL_KEYS], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigurationError(f"unknown configuration key {key!r}{hint}", key=str(key))
            values[key] = _COERCE[key](raw, key)
        providers, default = _providers(mapping, values.get("default_provider"))
        values["providers"] = providers
        values["default_provider"] = default
        if not 1 <= values.get("default_priority", 3) <= 3:
            raise ConfigurationError("default_priority must be 1, 2 or 3", key="default_priority")
        for name in values.get("rate_limits", {}):
            if name not in providers:
                raise ConfigurationError(f"rate_limits names unknown provider {name!r}", key=f"rate_limits.{name}")
        for name in values.get("failover", ()):
            if name not in providers:
                raise ConfigurationError(f"failover names unknown provider {name!r}", key="failover")
        router = values.get("router")
        if isinstance(router, Mapping):
            for part, table in router.items():
                for rule, name in table.items():
                    if name not in providers:
                        key = f"router.{part}.{rule}"
                        raise ConfigurationError(f"{key} names unknown provider {name!r}", key=key)
        return cls(**values)

    def __repr__(self) -> str:
        # database_url may carry a password.
        url = "<set>" if self.database_url else None
        return f"SMSConfig(storage={self.storage!r}, database_url={url}, providers={dict(self.providers)!r})"


def _providers(mapping: Mapping[str, Any], default_name: str | None) -> tuple[dict[str, ProviderConfig], str]:
    named = mapping.get("providers")
    provider = mapping.get("provider")
    options = mapping.get("provider_options", {})
    if named is None:
        if "provider_options" in mapping and "provider" not in mapping:
            raise ConfigurationError("provider_options given without provider", key="provider")
        backend = text(provider, "provider") if provider is not None else "dummy"
        name = default_name or "default"
        return {name: ProviderConfig(backend, mapping_value(options, "provider_options"))}, name
    table = mapping_value(named, "providers")
    if not table:
        raise ConfigurationError("providers is empty", key="providers")
    if "provider_options" in mapping:
        raise ConfigurationError("provider_options cannot be combined with providers", key="provider_options")
    result: dict[str, ProviderConfig] = {}
    for name, entry in table.items():
        key = f"providers.{name}"
        entry = mapping_value(entry, key)
        unknown = set(entry) - {"backend", "options"}
        if unknown:
            bad = sorted(unknown)[0]
            raise ConfigurationError(f"{key}.{bad}: unknown key (use backend and options)", key=f"{key}.{bad}")
        if "backend" not in entry:
            raise ConfigurationError(f"{key}.backend is missing", key=f"{key}.backend")
        result[name] = ProviderConfig(
            text(entry["backend"], f"{key}.backend"), mapping_value(entry.get("options", {}), f"{key}.options")
        )
    default = default_name or (text(provider, "provider") if provider is not None else None)
    if default is None:
        default = "default" if "default" in result else next(iter(result))
    if default not in result:
        raise ConfigurationError(f"default provider {default!r} is not among providers", key="default_provider")
    return result, default


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _reject_secrets(table: Mapping[str, Any], where: str) -> None:
    for key, value in table.items():
        if isinstance(value, Mapping):
            _reject_secrets(value, f"{where}{key}.")
        elif _is_secret(str(key).lower(), value):
            env = "SMSCORE_" + f"{where}{key}".upper().replace(".", "__")
            raise ConfigurationError(
                f"{where}{key}: secrets may not be stored in the configuration file; set {env} instead",
                key=f"{where}{key}",
            )


def _is_secret(key: str, value: Any) -> bool:
    """A secret's option name, or a database URL that carries a password (in its user part or its query)."""
    if key in SECRET_OPTION_NAMES:
        return True
    if key != "database_url" or not isinstance(value, str):
        return False
    from urllib.parse import parse_qsl, urlsplit  # only when a file is read: keeps `import smscore` fast

    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return False  # not a URL: refused as such when the storage is built, without repeating it
    query = {name.lower() for name, _ in parse_qsl(parts.query)}
    return bool(password) or bool(query & SECRET_OPTION_NAMES)


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("SMSCORE_") or name == "SMSCORE_CONFIG":
            continue
        path = name[len("SMSCORE_") :].lower().split("__")
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigurationError(f"{name} conflicts with another SMSCORE_ variable", key=name)
        node[path[-1]] = value
    return result


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> SMSConfig:
    """Merge ``defaults``, a TOML file, ``SMSCORE_*`` variables and ``overrides`` (later wins) into a config.

    The file is ``path``, else ``$SMSCORE_CONFIG``, else ``./smscore.toml`` when it exists; its keys may sit at
    the top level or under ``[smscore]``. Raises :class:`ConfigurationError` for an unreadable file, secrets in
    the file, or any invalid value.
    """
    from pathlib import Path  # only when loading: pathlib's imports are a large share of `import smscore`

    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = dict(defaults or {})
    file = Path(path) if path is not None else None
    if file is None and environ.get("SMSCORE_CONFIG"):
        file = Path(environ["SMSCORE_CONFIG"])
    if file is None and Path("smscore.toml").is_file():
        file = Path("smscore.toml")
    if file is not None:
        import tomllib  # only when a file is read: keeps `import smscore` fast

        try:
            table = tomllib.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"cannot read configuration file {str(file)!r}: {exc.strerror}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"configuration file {str(file)!r} is not valid TOML: {exc}") from exc
        if isinstance(table.get("smscore"), dict):
            table = table["smscore"]
        _reject_secrets(table, "")
        merged = _merge(merged, table)
    merged = _merge(merged, _from_environ(environ))
    if overrides:
        merged = _merge(merged, overrides)
    return SMSConfig.from_mapping(merged)
