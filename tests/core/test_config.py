"""Configuration: one schema through a mapping, a TOML file and the environment; errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from smscore import ConfigurationError, SMSConfig, SMSState, build_service, load_config
from smscore.bootstrap import resolve
from smscore.config import ProviderConfig
from smscore.testing import InMemoryMessageRepository


class TestMapping:
    def test_defaults_are_memory_storage_and_the_dummy_provider(self) -> None:
        """An empty mapping is a working configuration."""
        config = SMSConfig.from_mapping({})
        assert config.storage == "memory"
        assert config.providers == {"default": ProviderConfig("dummy")}
        assert config.default_provider == "default"

    def test_provider_and_options_define_the_default_provider(self) -> None:
        """provider + provider_options is shorthand for one named provider."""
        config = SMSConfig.from_mapping({"provider": "ats", "provider_options": {"username": "u"}})
        assert config.providers == {"default": ProviderConfig("ats", {"username": "u"})}

    def test_named_providers_with_a_default_and_failover(self) -> None:
        """providers + default_provider + failover."""
        config = SMSConfig.from_mapping(
            {
                "providers": {"main": {"backend": "dummy"}, "backup": {"backend": "dummy", "options": {}}},
                "default_provider": "main",
                "failover": ["backup"],
            }
        )
        assert set(config.providers) == {"main", "backup"}
        assert config.default_provider == "main"
        assert config.failover == ("backup",)

    @pytest.mark.parametrize(
        ("mapping", "key", "text"),
        [
            ({"stroage": "memory"}, "stroage", "did you mean 'storage'"),
            ({"max_attempts": 0}, "max_attempts", "at least 1"),
            ({"max_attempts": "three"}, "max_attempts", "must be an integer"),
            ({"use_accent": "maybe"}, "use_accent", "true or false"),
            ({"default_region": "Narnia"}, "default_region", "not a known region"),
            ({"failover": ["ghost"]}, "failover", "unknown provider 'ghost'"),
            ({"providers": {"x": {"options": {}}}}, "providers.x.backend", "missing"),
            ({"providers": {"x": {"backend": "dummy", "opts": {}}}}, "providers.x.opts", "unknown key"),
            ({"providers": {"x": {"backend": "dummy"}}, "default_provider": "y"}, "default_provider", "not among"),
            ({"router": {"prefixes": {"+420": "ghost"}}}, "router.prefixes.+420", "unknown provider"),
            ({"provider_options": {"a": 1}}, "provider", "without provider"),
            ({"default_priority": 5}, "default_priority", "1, 2 or 3"),
            ({"outcome_retry_seconds": -1}, "outcome_retry_seconds", "zero or more"),
            ({"outcome_retry_seconds": "nan"}, "outcome_retry_seconds", "zero or more"),
            ({"outcome_retry_seconds": "soon"}, "outcome_retry_seconds", "must be a number"),
        ],
    )
    def test_errors_name_the_exact_key(self, mapping: dict[str, object], key: str, text: str) -> None:
        """Every configuration error carries the dotted key and says what is wrong."""
        with pytest.raises(ConfigurationError, match=text) as info:
            SMSConfig.from_mapping(mapping)
        assert info.value.key == key

    def test_repr_hides_credentials(self) -> None:
        """Options and database URLs can hold secrets; reprs show neither."""
        config = SMSConfig.from_mapping(
            {"provider": "ats", "provider_options": {"password": "hunter2"}, "database_url": "postgresql://u:pw@h/d"}
        )
        assert "hunter2" not in repr(config)
        assert "pw@" not in repr(config)


class TestFilesAndEnvironment:
    def test_toml_then_environment_then_overrides(self, tmp_path: Path) -> None:
        """Later sources win; nested environment keys use a double underscore."""
        path = tmp_path / "smscore.toml"
        path.write_text('[smscore]\nuse_accent = true\nmax_segments = 3\nprovider = "dummy"\n', encoding="utf-8")
        config = load_config(
            path,
            environ={"SMSCORE_MAX_SEGMENTS": "4", "SMSCORE_PROVIDER_OPTIONS__PASSWORD": "from-env", "HOME": "/x"},
            overrides={"batch_size": 7},
        )
        assert config.use_accent is True
        assert config.max_segments == 4
        assert config.batch_size == 7
        assert config.providers["default"].options == {"password": "from-env"}

    def test_secrets_in_a_file_are_refused_with_the_variable_to_use(self, tmp_path: Path) -> None:
        """A password in the TOML file is refused, naming the environment variable instead."""
        path = tmp_path / "smscore.toml"
        path.write_text('provider = "ats"\n[provider_options]\npassword = "x"\n', encoding="utf-8")
        with pytest.raises(ConfigurationError, match="SMSCORE_PROVIDER_OPTIONS__PASSWORD"):
            load_config(path, environ={})

    @pytest.mark.parametrize(
        ("table", "url"),
        [
            ("", "postgresql+psycopg://app:s3cret@db/app"),
            ("", "postgresql://app@db/app?password=s3cret"),
            ("[smscore]\n", "mysql://app:s3cret@db:3306/app"),
        ],
    )
    def test_a_password_in_the_database_url_of_a_file_is_refused(self, tmp_path: Path, table: str, url: str) -> None:
        """database_url with a password (user part or query) in the file: refused, naming SMSCORE_DATABASE_URL,
        without repeating the URL; the same URL from the environment is accepted."""
        path = tmp_path / "smscore.toml"
        path.write_text(f'{table}storage = "sqlalchemy"\ndatabase_url = "{url}"\n', encoding="utf-8")
        with pytest.raises(ConfigurationError, match="set SMSCORE_DATABASE_URL instead") as info:
            load_config(path, environ={})
        assert info.value.key == "database_url"
        assert "s3cret" not in str(info.value)
        path.write_text(f'{table}storage = "sqlalchemy"\n', encoding="utf-8")
        assert load_config(path, environ={"SMSCORE_DATABASE_URL": url}).database_url == url

    @pytest.mark.parametrize(
        "url", ["postgresql+psycopg://app@db/app", "sqlite:///sms.db", "postgresql://app:@db/app", "sqlite://"]
    )
    def test_a_database_url_without_a_password_is_accepted_in_a_file(self, tmp_path: Path, url: str) -> None:
        """A user name alone, an empty password or a file path holds no secret."""
        path = tmp_path / "smscore.toml"
        path.write_text(f'database_url = "{url}"\n', encoding="utf-8")
        assert load_config(path, environ={}).database_url == url

    def test_unreadable_and_invalid_files_are_configuration_errors(self, tmp_path: Path) -> None:
        """A missing file and broken TOML both say which file."""
        with pytest.raises(ConfigurationError, match="cannot read"):
            load_config(tmp_path / "missing.toml", environ={})
        broken = tmp_path / "broken.toml"
        broken.write_text("storage = ", encoding="utf-8")
        with pytest.raises(ConfigurationError, match="not valid TOML"):
            load_config(broken, environ={})

    def test_smscore_config_variable_names_the_file(self, tmp_path: Path) -> None:
        """SMSCORE_CONFIG points at the file when no path is given."""
        path = tmp_path / "other.toml"
        path.write_text("max_attempts = 9\n", encoding="utf-8")
        assert load_config(environ={"SMSCORE_CONFIG": str(path)}).max_attempts == 9


def route_everything_to_backup(message: object) -> str:
    return "backup"


def collect(event: object) -> None:
    COLLECTED.append(event)


COLLECTED: list[object] = []


class TestBuildService:
    def test_storage_and_provider_are_swapped_by_configuration(self) -> None:
        """Dotted paths and aliases both resolve; the dummy sends nothing and marks DEBUG."""
        service = build_service(
            {"storage": "smscore.testing:memory_storage", "provider": "providers.dummy.DummySMSBackend"}
        )
        assert isinstance(service.messages, InMemoryMessageRepository)
        assert service.send("+420777123456", "x").state is SMSState.DEBUG

    def test_the_ancestors_backend_paths_are_accepted(self) -> None:
        """A project switching from the ancestor keeps its backend setting."""
        service = build_service({"provider": "pymess.backend.sms.dummy.DummySMSBackend"})
        assert service.send("+420777123456", "x").backend == "providers.dummy.DummySMSBackend"

    def test_a_router_and_subscribers_by_dotted_path(self) -> None:
        """router and subscribers are resolved from dotted paths."""
        COLLECTED.clear()
        service = build_service(
            {
                "providers": {"default": {"backend": "dummy"}, "backup": {"backend": "dummy"}},
                "router": f"{__name__}:route_everything_to_backup",
                "subscribers": [f"{__name__}:collect"],
            }
        )
        assert service.send("+420777123456", "x").provider == "backup"
        assert len(COLLECTED) == 2

    @pytest.mark.parametrize(
        ("mapping", "key", "text"),
        [
            ({"storage": "nowhere.storage:build"}, "storage", "cannot import 'nowhere.storage'"),
            ({"provider": "providers.dummy:Nope"}, "providers.default.backend", "has no attribute 'Nope'"),
            ({"provider": "nodots"}, "providers.default.backend", "nor a dotted path"),
            (
                {"provider": "twillio"},
                "providers.default.backend",
                r"'twillio' is neither a known name \(ats, dummy, sms-operator, sms_operator, sns, twilio\) "
                r"nor a dotted path; did you mean 'twilio'\?",
            ),
            (
                {"storage": "bogus"},
                "storage",
                r"'bogus' is neither a known name \(django, memory, sqlalchemy\) nor a dotted path$",
            ),
            (
                {"provider": "dummy", "provider_options": {"colour": "red"}},
                "providers.default.options.colour",
                "unknown option 'colour' for dummy",
            ),
            ({"provider": "smscore.testing:FixedClock"}, "providers.default.backend", "not an SMS provider"),
            ({"router": "smscore.config:SECRET_OPTION_NAMES"}, "router", "not callable"),
        ],
    )
    def test_build_errors_name_the_key(self, mapping: dict[str, object], key: str, text: str) -> None:
        """Bad dotted paths and options are ConfigurationErrors at build time, naming the key."""
        with pytest.raises(ConfigurationError, match=text) as info:
            build_service(mapping)
        assert info.value.key == key

    @pytest.mark.parametrize(
        ("mapping", "key"),
        [
            ({"provider": "myproject.sms.Backend"}, "providers.default.backend"),
            ({"provider": "providers.dummy.Nope"}, "providers.default.backend"),
            ({"storage": "myproject.storage:build"}, "storage"),
        ],
    )
    def test_a_dotted_path_that_does_not_import_lists_the_known_names(
        self, mapping: dict[str, object], key: str
    ) -> None:
        """A wrong path says what short names are accepted too, not only what failed to import."""
        with pytest.raises(ConfigurationError, match=r"\(the known names are [a-z_, -]+\)$") as info:
            build_service({"storage": "memory", **mapping})
        assert info.value.key == key

    def test_a_missing_sdk_names_the_extra_to_install(self) -> None:
        """resolve() reports a missing third-party package with the extra that brings it."""
        import sys

        saved = sys.modules.get("boto3")
        sys.modules["boto3"] = None  # type: ignore[assignment]  # makes 'import boto3' fail like an absent package
        sys.modules.pop("tests.core._needs_boto3", None)
        try:
            with pytest.raises(ConfigurationError, match=r"pip install 'smscore\[sns\]'"):
                resolve("tests.core._needs_boto3:X", key="providers.default.backend")
        finally:
            if saved is not None:
                sys.modules["boto3"] = saved
            else:
                sys.modules.pop("boto3", None)


class TestStatusCallbackURL:
    def test_providers_taking_callbacks_get_the_public_url(self) -> None:
        """With public_base_url, a Twilio provider without its own status_callback gets /status/<name>/."""
        pytest.importorskip("twilio")
        service = build_service(
            {
                "providers": {
                    "tw": {
                        "backend": "twilio",
                        "options": {"account_sid": "AC" + "0" * 32, "auth_token": "t", "from_": "+15005550006"},
                    },
                    "own": {
                        "backend": "twilio",
                        "options": {
                            "account_sid": "AC" + "0" * 32,
                            "auth_token": "t",
                            "from_": "+15005550006",
                            "status_callback": "https://hooks.example.com/mine",
                        },
                    },
                },
                "public_base_url": "https://shop.example.com/sms/",
            }
        )
        assert service.providers["tw"].status_callback == "https://shop.example.com/sms/status/tw/"  # type: ignore[attr-defined]
        assert service.providers["own"].status_callback == "https://hooks.example.com/mine"  # type: ignore[attr-defined]
        service.close()
