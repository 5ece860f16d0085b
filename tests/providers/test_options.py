"""Provider options: the declarations of every shipped backend and the one reader that checks given values."""

from __future__ import annotations

import importlib
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.ats import ATSSMSBackend
from providers.base import SMSBackend
from providers.dummy import DummySMSBackend
from providers.options import (
    URL,
    Amount,
    Boolean,
    Choice,
    Integer,
    OneOf,
    Option,
    OptionSpec,
    Seconds,
    Text,
)
from providers.sms_operator import SMSOperatorBackend
from providers.sns import SNSSMSBackend
from providers.twilio import TwilioSMSBackend
from smscore.config import SECRET_OPTION_NAMES
from smscore.errors import ConfigurationError

BACKENDS: list[type[SMSBackend]] = [
    DummySMSBackend,
    SNSSMSBackend,
    TwilioSMSBackend,
    ATSSMSBackend,
    SMSOperatorBackend,
]

SPEC = OptionSpec(
    "Example",
    Option("username", Text(), required=True, description="account"),
    Option("password", Text(), secret=True, needs=("username",), description="password"),
    Option("token", Text(), secret=True, description="token"),
    Option("sender", Text(), aliases=("from", "from_number"), description="sender"),
    Option("retries", Integer(0, 5), default=2, description="retries"),
    Option("timeout", Seconds(), default=5.0, description="timeout"),
    Option("grace", Seconds(allow_zero=True), default=60.0, description="grace"),
    Option("verbose", Boolean(), default=False, description="verbose"),
    Option("kind", Choice(("Transactional", "Promotional")), default="Transactional", description="kind"),
    Option("price", Amount("USD"), description="price"),
    Option("url", URL(), default="https://gateway.example/", description="url"),
    Option("code", Text(re.compile(r"[A-Z]{3}"), "three capital letters"), description="code"),
    one_of=(OneOf(("password", "token"), "option 'password' or 'token' is required"),),
)


def _error(options: dict[str, Any]) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        SPEC.read(options)
    return caught.value


class TestDeclarations:
    """Every shipped backend declares its options, and the declarations can be read as a reference."""

    @pytest.mark.parametrize("backend", BACKENDS, ids=lambda cls: cls.__name__)
    def test_every_option_is_described(self, backend: type[SMSBackend]) -> None:
        """Each option has a name, a kind that says what it accepts, and a description."""
        spec = backend.option_spec
        assert spec is not None
        for option in spec:
            assert option.name.isidentifier()
            assert option.kind.description
            assert backend is DummySMSBackend or option.description
            assert not (option.required and option.default is not None)

    @pytest.mark.parametrize("backend", BACKENDS[1:], ids=lambda cls: cls.__name__)
    def test_the_module_docstring_lists_every_option(self, backend: type[SMSBackend]) -> None:
        """The option table a user reads in the module documentation names every declared option."""
        spec = backend.option_spec
        assert spec is not None
        # reStructuredText escapes a trailing underscore (``from\_``).
        doc = (importlib.import_module(backend.__module__).__doc__ or "").replace("\\", "")
        for option in spec:
            assert re.search(rf"(^|\s){re.escape(option.name)}(\s|$)", doc, re.MULTILINE), option.name

    @pytest.mark.parametrize(
        ("backend", "secrets"),
        [
            (SNSSMSBackend, {"aws_secret_access_key", "aws_session_token"}),
            (TwilioSMSBackend, {"auth_token", "api_key", "api_secret"}),
            (ATSSMSBackend, {"password"}),
            (SMSOperatorBackend, {"password"}),
        ],
        ids=lambda value: getattr(value, "__name__", ""),
    )
    def test_credentials_are_marked_secret(self, backend: type[SMSBackend], secrets: set[str]) -> None:
        """Every credential option is marked secret, so it is never logged, shown or stored."""
        spec = backend.option_spec
        assert spec is not None
        assert spec.secret_names == secrets

    @pytest.mark.parametrize("backend", BACKENDS, ids=lambda cls: cls.__name__)
    def test_secret_options_are_refused_in_the_configuration_file(self, backend: type[SMSBackend]) -> None:
        """Every name of every secret option is one the configuration file refuses (give it in the environment)."""
        spec = backend.option_spec
        assert spec is not None
        assert spec.secret_names <= SECRET_OPTION_NAMES

    @pytest.mark.parametrize("backend", BACKENDS[1:], ids=lambda cls: cls.__name__)
    def test_an_unknown_option_is_refused_by_name(self, backend: type[SMSBackend]) -> None:
        """A typo never falls back silently to a default."""
        with pytest.raises(ConfigurationError) as caught:
            backend.from_options({"pasword": "x"})
        assert caught.value.key == "pasword"

    def test_the_dummy_backend_takes_no_options(self) -> None:
        """Dummy declares none, so any option is a mistake."""
        assert isinstance(DummySMSBackend.from_options({}), DummySMSBackend)
        with pytest.raises(ConfigurationError) as caught:
            DummySMSBackend.from_options({"url": "x"})
        assert caught.value.key == "url"

    def test_a_name_declared_twice_is_a_programming_error(self) -> None:
        """An alias that shadows another option cannot be declared."""
        with pytest.raises(ValueError, match="twice"):
            OptionSpec("x", Option("a", Text()), Option("b", Text(), aliases=("a",)))


class TestReader:
    """``OptionSpec.read``: one place that checks and converts every provider's options."""

    def test_defaults_fill_what_is_not_given(self) -> None:
        """Options not given take their declared defaults; None and blank strings count as not given."""
        values = SPEC.read({"username": "u", "token": "t", "retries": None, "timeout": "  "})
        assert dict(values) == {
            "username": "u",
            "password": None,
            "token": "t",
            "sender": None,
            "retries": 2,
            "timeout": 5.0,
            "grace": 60.0,
            "verbose": False,
            "kind": "Transactional",
            "price": None,
            "url": "https://gateway.example/",
            "code": None,
        }
        assert not values.given("retries")

    def test_strings_are_converted(self) -> None:
        """Environment variables are strings: numbers, booleans, amounts and choices are read from them."""
        values = SPEC.read(
            {
                "username": 42,
                "token": "t",
                "retries": "3",
                "timeout": "2.5",
                "grace": "0",
                "verbose": "yes",
                "kind": "promotional",
                "price": "0.50",
            }
        )
        assert values["username"] == "42"
        assert (values["retries"], values["timeout"], values["grace"]) == (3, 2.5, 0.0)
        assert values["verbose"] is True
        assert values["kind"] == "Promotional"
        assert values["price"] == Decimal("0.50")

    @pytest.mark.parametrize("name", ["sender", "from", "from_number"])
    def test_an_alias_names_the_option(self, name: str) -> None:
        """Any name of an option sets it; errors are keyed by the name given."""
        values = SPEC.read({"username": "u", "token": "t", name: "+15550100"})
        assert values["sender"] == "+15550100"
        assert values.key("sender") == name
        assert _error({"username": "u", "token": "t", name: "\x07"}).key == name

    def test_a_missing_required_option_is_named(self) -> None:
        """A required option that is absent or blank is refused, keyed by its name."""
        for given_value in ({}, {"username": ""}, {"username": None}):
            error = _error({**given_value, "token": "t"})
            assert error.key == "username"
            assert "required" in str(error)

    def test_an_option_needing_another_names_the_missing_one(self) -> None:
        """``needs``: the option that must come with the given one is named."""
        error = _error({"password": "p", "token": "t"})
        assert error.key == "username"

    def test_one_of_a_group_is_required(self) -> None:
        """``one_of``: at least one of the group, else the first is named with the rule's message."""
        error = _error({"username": "u"})
        assert error.key == "password"
        assert str(error) == "option 'password' or 'token' is required"

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("retries", "many"),
            ("retries", 6),
            ("retries", -1),
            ("retries", 2.5),
            ("retries", True),
            ("timeout", 0),
            ("timeout", "soon"),
            ("timeout", float("inf")),
            ("timeout", float("nan")),
            ("timeout", False),
            ("grace", -1),
            ("verbose", "perhaps"),
            ("verbose", 2),
            ("kind", "Marketing"),
            ("price", "-1"),
            ("price", "cheap"),
            ("price", True),
            ("url", "ftp://gateway.example/"),
            ("url", "https://user:pass@gateway.example/"),
            ("code", "abc"),
            ("sender", ["+1"]),
            ("sender", "a\nb"),
            ("sender", "\ud800"),
        ],
    )
    def test_a_wrong_value_is_refused_by_name(self, name: str, value: object) -> None:
        """Every kind refuses what it cannot use, with a ConfigurationError keyed by the option."""
        assert _error({"username": "u", "token": "t", name: value}).key == name

    def test_an_unknown_option_lists_the_known_ones(self) -> None:
        """The error names the unknown key and what would have been accepted."""
        error = _error({"username": "u", "token": "t", "pasword": "x"})
        assert error.key == "pasword"
        assert "password" in str(error)

    def test_options_must_be_a_mapping(self) -> None:
        """A list or a string is not a set of options."""
        with pytest.raises(ConfigurationError):
            SPEC.read(["username"])  # type: ignore[arg-type]

    def test_secrets_are_listed_and_never_shown(self) -> None:
        """The values of secret options are listed for scrubbing and appear in no error or repr."""
        values = SPEC.read({"username": "u", "password": "hunter2-secret", "token": "tok-secret"})
        assert set(values.secrets) == {"hunter2-secret", "tok-secret"}
        assert "secret" not in repr(values)
        error = _error({"username": "u", "password": ["hunter2-secret"], "token": "t"})
        assert "hunter2" not in str(error)

    @given(st.one_of(st.text(), st.integers(), st.floats(), st.booleans(), st.none(), st.lists(st.integers())))
    def test_every_value_is_either_taken_or_a_configuration_error(self, value: object) -> None:
        """Whatever the value of any option, the reader answers with values or a ConfigurationError."""
        for option in SPEC:
            if option.name == "url":
                continue  # a valid URL may log a plain-HTTP warning; it is covered above
            keys: set[str | None] = set()
            try:
                SPEC.read({"username": "u", "password": "p", "token": "t", option.name: value})
            except ConfigurationError as exc:
                keys.add(exc.key)
            assert keys <= {option.name}
