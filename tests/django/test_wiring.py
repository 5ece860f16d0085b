"""Django settings become the core's configuration in one place, and every mistake names its setting: at start-up
through the system checks, and at send time as a ConfigurationError (never a KeyError)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from django.core import checks
from django.test import override_settings

import adapters_django
from adapters_django.wiring import config_from_settings, get_service
from providers.dummy import DummySMSBackend
from smscore import ConfigurationError
from smscore.bootstrap import provider_path
from smscore.config import ProviderConfig

ATS = "pymess.backend.sms.ats_sms_operator.ATSSMSBackend"
ATS_CONFIG = {
    "USERNAME": "acme",
    "PASSWORD": "s3cret",
    "PROJECT_KEYWORD": "shop",
    "OUTPUT_SENDER_NUMBER": "ACME",
    "UNIQ_PREFIX": "shop",
}


def ours(messages: list[checks.CheckMessage]) -> list[tuple[str, str]]:
    return [(m.id, str(m.obj)) for m in messages if m.id and m.id.startswith("adapters_django.")]


def run_checks() -> list[tuple[str, str]]:
    return ours(checks.run_checks())


class TestMapping:
    def test_without_settings_the_dummy_backend_and_core_defaults_apply(self) -> None:
        """No PYMESS_* setting at all: one dummy backend named default, Django storage, core defaults."""
        config = config_from_settings()
        assert config.providers == {"default": ProviderConfig("dummy")}
        assert (config.storage, config.storage_options) == ("django", {"database": "default"})
        assert (config.use_accent, config.batch_sending, config.max_attempts) == (False, False, 3)

    @override_settings(
        PYMESS_SMS_USE_ACCENT=True,
        PYMESS_SMS_DEFAULT_PHONE_CODE="+420",
        PYMESS_DEFAULT_MESSAGE_PRIORITY=2,
        PYMESS_SMS_BATCH_SENDING=True,
        PYMESS_SMS_BATCH_SIZE=7,
        PYMESS_SMS_BATCH_MAX_NUMBER_OF_SEND_ATTEMPTS=5,
        PYMESS_SMS_BATCH_MAX_SECONDS_TO_SEND=600,
        PYMESS_SMS_RETRY_SENDING=False,
        PYMESS_SMS_IDLE_MESSAGES_TIMEOUT_MINUTES=30,
        PYMESS_SMS_LOG_IDLE_MESSAGES=False,
        PYMESS_SMS_SET_ERROR_TO_IDLE_MESSAGES=False,
        PYMESS_SMS_CONFIG={"max_segments": 4, "lease_seconds": 60},
    )
    def test_each_setting_maps_onto_its_core_key(self) -> None:
        """Every documented setting lands on its core key."""
        config = config_from_settings()
        assert config.use_accent is True
        assert config.default_region == "CZ"
        assert config.default_priority == 2
        assert (config.batch_sending, config.batch_size, config.max_attempts) == (True, 7, 5)
        assert (config.max_seconds_to_send, config.retry_sending) == (600, False)
        assert (config.idle_timeout_minutes, config.log_idle_messages, config.set_error_to_idle_messages) == (
            30,
            False,
            False,
        )
        assert (config.max_segments, config.lease_seconds) == (4, 60)

    @override_settings(PYMESS_SMS_SENDER_BACKEND=ATS, PYMESS_ATS_SMS_CONFIG=ATS_CONFIG)
    def test_the_ats_config_setting_feeds_the_ats_backend_in_lower_case(self) -> None:
        """The ancestor's ATS path and PYMESS_ATS_SMS_CONFIG give the ATS backend its options, keys lower-cased."""
        (provider,) = config_from_settings().providers.values()
        assert provider.backend == ATS
        assert provider_path(provider.backend) == "providers.ats:ATSSMSBackend"
        assert provider.options == {key.lower(): value for key, value in ATS_CONFIG.items()}

    @override_settings(
        PYMESS_SMS_SENDER_BACKEND="sms-operator",
        PYMESS_SMS_OPERATOR_CONFIG={"USERNAME": "acme", "PASSWORD": "s3cret"},
    )
    def test_the_operator_config_setting_feeds_the_sms_operator_backend(self) -> None:
        """PYMESS_SMS_OPERATOR_CONFIG is the SMS-operator backend's options."""
        assert config_from_settings().providers["default"].options == {"username": "acme", "password": "s3cret"}

    @override_settings(
        PYMESS_SMS_BACKENDS={
            "cz": {"backend": ATS, "config": {"UNIQ_PREFIX": "cz"}},
            "world": {"backend": "dummy"},
        },
        PYMESS_ATS_SMS_CONFIG=ATS_CONFIG,
        PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME="world",
        PYMESS_SMS_BACKEND_ROUTER={"prefixes": {"+420": "cz"}},
    )
    def test_named_backends_default_name_and_router(self) -> None:
        """Named backends keep their names; a backend's own config overrides the class-wide setting."""
        config = config_from_settings()
        assert list(config.providers) == ["cz", "world"]
        assert config.providers["cz"].options["uniq_prefix"] == "cz"
        assert config.providers["cz"].options["username"] == "acme"
        assert config.default_provider == "world"
        assert config.router == {"prefixes": {"+420": "cz"}}

    @override_settings(PYMESS_SMS_PUBLIC_BASE_URL="https://example.com/sms")
    def test_the_public_base_url_sets_the_callback_url_of_backends_that_take_one(self) -> None:
        """PYMESS_SMS_PUBLIC_BASE_URL becomes public_base_url; a Twilio backend is told <base>/status/<name>/."""
        assert config_from_settings().public_base_url == "https://example.com/sms"
        twilio = {"ACCOUNT_SID": "AC" + "0" * 32, "AUTH_TOKEN": "token", "FROM_": "+15005550006"}
        with override_settings(PYMESS_SMS_BACKENDS={"us": {"backend": "twilio", "config": twilio}}):
            assert run_checks() == []
            provider = get_service().providers["us"]
            assert getattr(provider, "status_callback", None) == "https://example.com/sms/status/us/"

    def test_a_public_base_url_without_the_callback_urls_is_a_warning(self) -> None:
        """Providers would post callbacks nobody routes: W002 on PYMESS_SMS_PUBLIC_BASE_URL."""
        urlconf = ModuleType("urls_without_sms")
        urlconf.urlpatterns = []  # type: ignore[attr-defined]
        with override_settings(PYMESS_SMS_PUBLIC_BASE_URL="https://example.com/sms", ROOT_URLCONF=urlconf):
            assert run_checks() == [("adapters_django.W002", "PYMESS_SMS_PUBLIC_BASE_URL")]

    @override_settings(PYMESS_SMS_BACKEND_ROUTER="pymess.backend.routers.DefaultBackendRouter")
    def test_the_ancestors_default_router_means_no_router(self) -> None:
        """The ancestor's do-nothing router is read as no router at all."""
        assert config_from_settings().router is None

    def test_the_service_is_rebuilt_when_a_setting_changes(self) -> None:
        """The service is cached, and override_settings gets a fresh one reflecting the override."""
        first = get_service()
        assert get_service() is first
        with override_settings(PYMESS_SMS_USE_ACCENT=True):
            inside = get_service()
            assert inside is not first
            assert inside.config.use_accent is True
        assert get_service().config.use_accent is False


class TestChecks:
    def test_a_clean_project_has_no_findings(self) -> None:
        """The test project's settings pass every check."""
        assert run_checks() == []

    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("PYMESS_SMS_BATCH_SIZE", "lots"),
            ("PYMESS_SMS_USE_ACCENT", "maybe"),
            ("PYMESS_SMS_DEFAULT_PHONE_CODE", "+999"),
            ("PYMESS_SMS_BATCH_MAX_NUMBER_OF_SEND_ATTEMPTS", 0),
            ("PYMESS_DEFAULT_MESSAGE_PRIORITY", 7),
            ("PYMESS_ATS_SMS_CONFIG", ["USERNAME"]),
            ("PYMESS_SMS_BACKENDS", {}),
            ("PYMESS_SMS_CONFIG", {"batch_size": 5}),
            ("PYMESS_SMS_CONFIG", {"public_base_url": "https://example.com/sms"}),
            ("PYMESS_SMS_PUBLIC_BASE_URL", "example.com/sms"),
            ("PYMESS_SMS_PUBLIC_BASE_URL", "ftp://example.com/sms"),
            ("PYMESS_SMS_PUBLIC_BASE_URL", "https:///sms"),
            ("PYMESS_SMS_PUBLIC_BASE_URL", "https://example.com:port/sms"),
            ("PYMESS_SMS_PUBLIC_BASE_URL", "https://example.com/sms?token=1"),
            ("PYMESS_SMS_PUBLIC_BASE_URL", "https://example.com/sms#hooks"),
            ("PYMESS_SMS_PUBLIC_BASE_URL", ["https://example.com/sms"]),
        ],
    )
    def test_a_wrong_value_is_reported_naming_the_setting(self, setting: str, value: Any) -> None:
        """E001 names the very setting whose value is wrong."""
        with override_settings(**{setting: value}):
            assert run_checks() == [("adapters_django.E001", setting)]

    @override_settings(PYMESS_SMS_BACKENDS={"sms": {"backend": "dummy"}, "backup": {"backend": "dummy"}})
    def test_several_backends_without_a_default_name_is_an_error(self) -> None:
        """Unlike the ancestor, no backend called default and no default name is an error, not the dummy backend."""
        assert run_checks() == [("adapters_django.E001", "PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME")]

    @override_settings(
        PYMESS_SMS_BACKENDS={"sms": {"backend": "dummy"}}, PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME="default"
    )
    def test_a_default_name_missing_from_the_backends_is_an_error(self) -> None:
        """A default name that names no backend is reported on that setting."""
        assert run_checks() == [("adapters_django.E001", "PYMESS_SMS_DEFAULT_SENDER_BACKEND_NAME")]

    @override_settings(PYMESS_SMS_BACKENDS={"sms": {"backend": "dummy"}})
    def test_a_single_named_backend_is_the_default(self) -> None:
        """With one backend there is nothing to choose: it is the default, whatever its name."""
        assert run_checks() == []
        assert config_from_settings().default_provider == "sms"

    @override_settings(PYMESS_SMS_SENDER_BACKEND="dummy", PYMESS_SMS_BACKENDS={"sms": {"backend": "dummy"}})
    def test_two_ways_of_naming_the_backend_at_once_is_an_error(self) -> None:
        """PYMESS_SMS_SENDER_BACKEND and PYMESS_SMS_BACKENDS together are ambiguous."""
        assert run_checks() == [("adapters_django.E001", "PYMESS_SMS_BACKENDS")]

    @override_settings(PYMESS_SMS_BACKENDS={"sms": {"backend": "dummy", "options": {}}})
    def test_an_unknown_key_in_a_named_backend_is_an_error(self) -> None:
        """Backend entries take 'backend' and 'config' only; the entry is named."""
        assert run_checks() == [("adapters_django.E001", "PYMESS_SMS_BACKENDS['sms']")]

    @override_settings(PYMESS_SMS_SENDER_BACKEND="myproject.sms.NoSuchBackend")
    def test_a_backend_that_cannot_be_imported_is_reported(self) -> None:
        """E002 names PYMESS_SMS_SENDER_BACKEND when its path does not import."""
        assert run_checks() == [("adapters_django.E002", "PYMESS_SMS_SENDER_BACKEND")]

    @override_settings(PYMESS_SMS_SENDER_BACKEND=ATS, PYMESS_ATS_SMS_CONFIG={"USERNAME": "acme"})
    def test_a_missing_backend_option_names_the_config_key(self) -> None:
        """E002 names the missing key inside PYMESS_ATS_SMS_CONFIG, in the setting's upper case."""
        assert run_checks() == [("adapters_django.E002", "PYMESS_ATS_SMS_CONFIG['PASSWORD']")]

    @override_settings(PYMESS_SMS_BACKENDS={"cz": {"backend": ATS, "config": {"USERNAME": "acme"}}})
    def test_a_missing_option_of_a_named_backend_names_the_backend(self) -> None:
        """For named backends the finding points into PYMESS_SMS_BACKENDS[name]['config']."""
        assert run_checks() == [("adapters_django.E002", "PYMESS_SMS_BACKENDS['cz']['config']['PASSWORD']")]

    @override_settings(PYMESS_SMS_USE_ACCENTS=True)
    def test_a_misspelt_setting_is_a_warning_with_a_suggestion(self) -> None:
        """W001 catches a typo and suggests the real name."""
        (message,) = [m for m in checks.run_checks() if m.id == "adapters_django.W001"]
        assert message.obj == "PYMESS_SMS_USE_ACCENTS"
        assert message.hint == "Did you mean PYMESS_SMS_USE_ACCENT?"

    @pytest.mark.parametrize("label", ["pymess.SMSTemplate", "testapp.Order", "nonsense"])
    def test_a_wrong_template_model_is_reported(self, label: str) -> None:
        """E003: the template model must be installed and extend AbstractSMSTemplate."""
        with override_settings(PYMESS_SMS_TEMPLATE_MODEL=label):
            assert ("adapters_django.E003", "PYMESS_SMS_TEMPLATE_MODEL") in run_checks()

    @override_settings(USE_TZ=False)
    def test_use_tz_must_be_on(self) -> None:
        """E004: message times must be timezone-aware."""
        assert run_checks() == [("adapters_django.E004", "USE_TZ")]


class TestErrorsAtSendTime:
    @override_settings(PYMESS_SMS_SENDER_BACKEND=ATS, PYMESS_ATS_SMS_CONFIG={"USERNAME": "acme", "PASSWORD": "s3cret"})
    def test_send_with_broken_settings_raises_a_configuration_error_naming_the_setting(self) -> None:
        """When the checks were skipped, the first send says which setting to fix, without echoing secrets."""
        with pytest.raises(ConfigurationError) as info:
            adapters_django.send("+420777123456", "Hi")
        assert info.value.key == "PYMESS_ATS_SMS_CONFIG['PROJECT_KEYWORD']"
        assert "s3cret" not in str(info.value)

    @override_settings(PYMESS_SMS_SENDER_BACKEND="pymess.backend.sms.dummy.DummySMSBackend")
    def test_a_good_setting_builds(self) -> None:
        """The checked settings build a working service."""
        assert isinstance(get_service().providers["default"], DummySMSBackend)
