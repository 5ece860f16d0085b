"""How each kind of configuration value is read: checked and converted, or refused with a
:class:`~smscore.errors.ConfigurationError` that names its key (numbers and booleans may come as the strings of a
file or the environment)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from smscore.errors import ConfigurationError
from smscore.phone import region_for

__all__ = [
    "boolean",
    "integer",
    "mapping_value",
    "names",
    "non_negative_real",
    "optional",
    "positive_int",
    "positive_real",
    "rates",
    "real",
    "region",
    "router_rules",
    "text",
]


def positive_int(value: Any, key: str) -> int:
    number = integer(value, key)
    if number < 1:
        raise ConfigurationError(f"{key} must be at least 1, not {number}", key=key)
    return number


def integer(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise ConfigurationError(f"{key} must be an integer, not {value!r}", key=key)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{key} must be an integer, not {value!r}", key=key) from None


def real(value: Any, key: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{key} must be a number, not {value!r}", key=key) from None


def positive_real(value: Any, key: str) -> float:
    number = real(value, key)
    if not number > 0:
        raise ConfigurationError(f"{key} must be positive, not {value!r}", key=key)
    return number


def non_negative_real(value: Any, key: str) -> float:
    number = real(value, key)
    if not 0 <= number < float("inf"):
        raise ConfigurationError(f"{key} must be zero or more, not {value!r}", key=key)
    return number


def boolean(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{key} must be true or false, not {value!r}", key=key)


def text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{key} must be a non-empty string, not {value!r}", key=key)
    return value


def optional(coerce: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def convert(value: Any, key: str) -> Any:
        return None if value is None or value == "" else coerce(value, key)

    return convert


def mapping_value(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{key} must be a table/mapping, not {type(value).__name__}", key=key)
    return dict(value)


def names(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise ConfigurationError(f"{key} must be a list of names", key=key)
    return tuple(value)


def router_rules(value: Any, key: str) -> str | Mapping[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    table = mapping_value(value, key)
    for part in table:
        if part not in {"prefixes", "tags"}:
            raise ConfigurationError(f"{key}.{part}: unknown router rule (use prefixes or tags)", key=f"{key}.{part}")
        mapping_value(table[part], f"{key}.{part}")
    return table


def rates(value: Any, key: str) -> Mapping[str, float]:
    table = mapping_value(value, key)
    return {str(name): positive_real(rate, f"{key}.{name}") for name, rate in table.items()}


def region(value: Any, key: str) -> str | None:
    if value is None or value == "":
        return None
    return region_for(text(value, key))
