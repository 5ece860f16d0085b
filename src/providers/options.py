"""Provider options as declarations: what each backend accepts, and the one reader that checks given values.

A backend declares its options once, as an :class:`OptionSpec` in its ``option_spec`` class attribute::

    class MyGatewayBackend(SMSBackend):
        option_spec = OptionSpec(
            "My gateway",
            Option("url", URL(), required=True, description="gateway address"),
            Option("password", Text(), required=True, secret=True, description="account password"),
            Option("timeout", Seconds(), default=5.0, description="whole-request deadline in seconds"),
        )

        @classmethod
        def from_options(cls, options):
            values = cls.option_spec.read(options)
            return cls(url=values["url"], password=values["password"], timeout=values["timeout"])

:meth:`OptionSpec.read` refuses an unknown name, a missing required option and a wrong value with
:class:`~smscore.errors.ConfigurationError` keyed by the option's name as it was given (the composition root
prefixes it with ``providers.NAME.options.``). ``None`` and blank strings count as "not given", so an empty
environment variable never overrides a default; numbers given as strings (``"60"``) are converted. Values of
options marked ``secret`` never appear in an error, and :meth:`OptionSpec.secrets` lists them for the backend to
scrub from everything it logs or returns. The declarations are plain values, so the reference of every option
(name, type, default, meaning) can be generated from them.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Final, Protocol

import attrs

from providers._urls import check_url
from smscore.errors import ConfigurationError

__all__ = [
    "URL",
    "Amount",
    "Boolean",
    "Checked",
    "Choice",
    "Factory",
    "Instance",
    "Integer",
    "Option",
    "OptionKind",
    "OptionSpec",
    "OptionValues",
    "Seconds",
    "Text",
]

# C0 controls, DEL and lone surrogates: no option value needs them; in a URL, a header or an XML body they harm.
_CONTROL: Final = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _fail(key: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"option {key!r} {problem}", key=key)


class OptionKind(Protocol):
    """The type of an option: checks and converts a given (non-empty) value, and says what it accepts."""

    @property
    def description(self) -> str:
        """What the option accepts, in a few words (for errors and the generated reference)."""
        ...

    def convert(self, value: object, key: str) -> Any:
        """The value to use; raises :class:`~smscore.errors.ConfigurationError` keyed by ``key``. The message
        never repeats ``value`` itself (it may be a secret)."""
        ...


@attrs.frozen
class Text:
    """A string without control characters (numbers are turned into text), matching ``pattern`` when given."""

    pattern: re.Pattern[str] | None = None
    hint: str = ""

    @property
    def description(self) -> str:
        """See :class:`OptionKind`."""
        return f"text ({self.hint})" if self.hint else "text"

    def convert(self, value: object, key: str) -> str:
        """See :class:`OptionKind`."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise _fail(key, f"must be a string, not {type(value).__name__}")
        if _CONTROL.search(value):
            raise _fail(key, "must not contain control characters")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise _fail(key, f"must be {self.hint or 'of the form ' + self.pattern.pattern}")
        return value


@attrs.frozen
class Integer:
    """A whole number within bounds (``"60"`` and ``60.0`` are read as 60; ``True`` is refused)."""

    minimum: int = 1
    maximum: int | None = None

    @property
    def description(self) -> str:
        """See :class:`OptionKind`."""
        upper = f" and at most {self.maximum}" if self.maximum is not None else ""
        return f"integer of at least {self.minimum}{upper}"

    def convert(self, value: object, key: str) -> int:
        """See :class:`OptionKind`."""
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif (isinstance(value, float) and value.is_integer()) or (
            isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value)
        ):
            number = int(value)
        if number is None or number < self.minimum or (self.maximum is not None and number > self.maximum):
            raise _fail(key, f"must be an {self.description}, not {value!r}")
        return number


@attrs.frozen
class Seconds:
    """A finite number of seconds, positive (or, with ``allow_zero``, not negative); ``"2.5"`` is read as 2.5."""

    allow_zero: bool = False

    @property
    def description(self) -> str:
        """See :class:`OptionKind`."""
        return "non-negative number of seconds" if self.allow_zero else "positive number of seconds"

    def convert(self, value: object, key: str) -> float:
        """See :class:`OptionKind`."""
        number = math.nan
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            with contextlib.suppress(ValueError):
                number = float(value)
        in_range = number >= 0 if self.allow_zero else number > 0
        if not in_range or math.isinf(number):
            raise _fail(key, f"must be a {self.description}, not {value!r}")
        return number


_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


@attrs.frozen
class Boolean:
    """``True``/``False``, or one of the strings ``true``, ``yes``, ``on``, ``1`` (and their opposites)."""

    description: ClassVar[str] = "true or false"

    def convert(self, value: object, key: str) -> bool:
        """See :class:`OptionKind`."""
        if isinstance(value, bool):
            return value
        word = value.strip().lower() if isinstance(value, str) else None
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise _fail(key, f"must be true or false, not {value!r}")


@attrs.frozen
class Choice:
    """One of ``values``, matched without regard to case and returned as declared."""

    values: tuple[str, ...]

    @property
    def description(self) -> str:
        """See :class:`OptionKind`."""
        return " or ".join(self.values)

    def convert(self, value: object, key: str) -> str:
        """See :class:`OptionKind`."""
        if isinstance(value, str):
            for choice in self.values:
                if value.strip().lower() == choice.lower():
                    return choice
        raise _fail(key, f"must be {self.description}, not {value!r}")


@attrs.frozen
class Amount:
    """A positive finite decimal amount (``"0.50"``), kept exact as a :class:`~decimal.Decimal`."""

    unit: str = ""

    @property
    def description(self) -> str:
        """See :class:`OptionKind`."""
        return f"positive amount in {self.unit}" if self.unit else "positive amount"

    def convert(self, value: object, key: str) -> Decimal:
        """See :class:`OptionKind`."""
        amount = Decimal("NaN")
        if isinstance(value, int | float | str | Decimal) and not isinstance(value, bool):
            with contextlib.suppress(InvalidOperation):
                amount = Decimal(str(value).strip())
        if not amount.is_finite() or amount <= 0:
            raise _fail(key, f"must be a {self.description}, not {value!r}")
        return amount


@attrs.frozen
class Checked:
    """The base of a kind that one function checks: ``check(value, key=key)`` returns the value to use or raises
    :class:`~smscore.errors.ConfigurationError`."""

    description: ClassVar[str]
    check: ClassVar[Callable[..., Any]]

    def convert(self, value: object, key: str) -> Any:
        """See :class:`OptionKind`."""
        return type(self).check(value, key=key)


@attrs.frozen
class URL(Checked):
    """An ``http://`` or ``https://`` URL with a host and without credentials in it (they would be logged)."""

    description = "http(s) URL"
    check = staticmethod(check_url)


@attrs.frozen
class Instance:
    """An object of ``cls`` (given in code, not in a file: an HTTP client for tests or proxies, say)."""

    cls: type[Any]

    @property
    def description(self) -> str:
        """See :class:`OptionKind`."""
        return f"{self.cls.__module__}.{self.cls.__qualname__} object"

    def convert(self, value: object, key: str) -> Any:
        """See :class:`OptionKind`."""
        if not isinstance(value, self.cls):
            raise _fail(key, f"must be a {self.description}")
        return value


@attrs.frozen
class Factory:
    """A callable given in code, called when what it makes is needed (an asyncio HTTP client, made in the
    running loop, say)."""

    description: ClassVar[str] = "callable"

    def convert(self, value: object, key: str) -> Any:
        """See :class:`OptionKind`."""
        if not callable(value):
            raise _fail(key, "must be callable")
        return value


@attrs.frozen
class Option:
    """One declared option.

    ``aliases``: other names accepted for it (the first one given wins, the canonical name first). ``needs``:
    options that must be given with this one. ``secret``: its value is a credential: refused in configuration
    files, never logged, scrubbed from outcomes. ``default`` applies when the option is not given (it is not
    converted, so declare it in its final type).
    """

    name: str
    kind: OptionKind
    required: bool = False
    default: Any = None
    secret: bool = False
    description: str = ""
    aliases: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical name, then the aliases."""
        return (self.name, *self.aliases)


@attrs.frozen
class OneOf:
    """At least one of ``names`` must be given; the error is keyed by the first and says ``message``."""

    names: tuple[str, ...]
    message: str


class OptionValues(Mapping[str, Any]):
    """The checked values by canonical option name (defaults filled in), and the key each one was given as."""

    def __init__(self, values: Mapping[str, Any], keys: Mapping[str, str], secrets: Sequence[str]) -> None:
        self._values = dict(values)
        self._keys = dict(keys)
        self._secrets = tuple(secrets)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def key(self, name: str) -> str:
        """The name option ``name`` was given under (an alias, say), or its canonical name when not given."""
        return self._keys.get(name, name)

    def given(self, name: str) -> bool:
        """Whether option ``name`` was given (under any of its names), rather than defaulted."""
        return name in self._keys

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values of the secret options that were given: what must never be shown."""
        return self._secrets

    def __repr__(self) -> str:
        # Never the values: some are credentials.
        return f"<OptionValues {sorted(self._values)}>"


class OptionSpec:
    """The options a provider accepts (see the module docstring); iterable over its :class:`Option` values."""

    def __init__(self, provider: str, *options: Option, one_of: Sequence[OneOf] = ()) -> None:
        self.provider = provider
        self.options: tuple[Option, ...] = options
        self.one_of: tuple[OneOf, ...] = tuple(one_of)
        self._by_key = {key: option for option in options for key in option.names}
        if len(self._by_key) != sum(len(option.names) for option in options):
            raise ValueError(f"{provider}: an option name is declared twice")

    def __iter__(self) -> Iterator[Option]:
        return iter(self.options)

    def __getitem__(self, name: str) -> Option:
        return self._by_key[name]

    @property
    def secret_names(self) -> frozenset[str]:
        """Every name (aliases included) of every secret option."""
        return frozenset(key for option in self.options if option.secret for key in option.names)

    def read(self, options: Mapping[str, Any]) -> OptionValues:
        """Check ``options`` against the declarations; the converted values, defaults filled in.

        Raises :class:`~smscore.errors.ConfigurationError` keyed by the offending option's name.
        """
        if not isinstance(options, Mapping):
            raise ConfigurationError(f"{self.provider} options must be a mapping")
        unknown = [key for key in options if key not in self._by_key]
        if unknown:
            known = f"known: {', '.join(sorted(self._by_key))}" if self._by_key else "it takes no options"
            raise ConfigurationError(
                f"unknown option {unknown[0]!r} for {self.provider} ({known})", key=str(unknown[0])
            )
        values: dict[str, Any] = {}
        keys: dict[str, str] = {}
        for option in self.options:
            given = next((k for k in option.names if not _blank(options.get(k))), None)
            if given is not None:
                keys[option.name] = given
                values[option.name] = option.kind.convert(options[given], given)
            elif option.required:
                raise _fail(option.name, "is required")
            else:
                values[option.name] = option.default
        self._check_relations(keys)
        secrets = [values[o.name] for o in self.options if o.secret and o.name in keys]
        return OptionValues(values, keys, [s for s in secrets if isinstance(s, str)])

    def _check_relations(self, given: Mapping[str, str]) -> None:
        for option in self.options:
            if option.name in given:
                for needed in option.needs:
                    if needed not in given:
                        raise _fail(needed, f"is required with {given[option.name]}")
        for rule in self.one_of:
            if not any(name in given for name in rule.names):
                raise ConfigurationError(rule.message, key=rule.names[0])

    def __repr__(self) -> str:
        return f"<OptionSpec {self.provider}: {', '.join(option.name for option in self.options)}>"


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
