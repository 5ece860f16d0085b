"""Each system check id, run through ``django.core.checks`` with the settings that trigger it, and the run-time
messages that name what to fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.test import override_settings

import adapters_django
from adapters_django.models import OutputSMSMessage
from smscore import ConfigurationError, InvalidRecipientError, build_service

ROOT = Path(__file__).resolve().parents[2]
ROUTERS = "tests.django.testapp.routers"
TWO_BACKENDS = {"default": {"backend": "dummy"}, "cz": {"backend": "dummy"}}
SHORT_ALIASES = ("dummy", "sns", "twilio", "ats", "sms-operator")


def findings(*ids: str) -> list[checks.CheckMessage]:
    """The findings of adapters_django (only those with the given ids, when given)."""
    return [m for m in checks.run_checks() if m.id and m.id.startswith("adapters_django.") and (not ids or m.id in ids)]


def only(check_id: str) -> checks.CheckMessage:
    """The one finding of adapters_django, which must have ``check_id``."""
    found = findings()
    assert [m.id for m in found] == [check_id], [str(m) for m in found]
    return found[0]


class TestRouter:
    @pytest.mark.parametrize("path", ["myproject.sms.route", f"{ROUTERS}.no_such_router", "route"])
    def test_a_router_path_that_does_not_import_is_e005(self, path: str) -> None:
        """The import is tried at start-up, not at the first send; the hint says how a path is written."""
        with override_settings(PYMESS_SMS_BACKENDS=TWO_BACKENDS, PYMESS_SMS_BACKEND_ROUTER=path):
            message = only("adapters_django.E005")
        assert message.obj == "PYMESS_SMS_BACKEND_ROUTER"
        assert message.msg.startswith("PYMESS_SMS_BACKEND_ROUTER: ")
        assert path.split(".")[0] in message.msg
        assert message.hint is not None
        assert "package.module.name" in message.hint

    @pytest.mark.parametrize(
        ("name", "says"),
        [
            ("NOT_A_ROUTER", "is not callable"),
            ("Router", "class without get_backend_name(recipient)"),
            ("route_with_two_arguments", "must take the message alone"),
            ("VoiceRouter", "get_backend_name must take the recipient alone; give its other parameters defaults"),
            ("ConfiguredRouter", "ConfiguredRouter() needs arguments"),
        ],
    )
    def test_something_that_is_not_a_router_is_e006_saying_how_to_adapt_it(self, name: str, says: str) -> None:
        """The ancestor's "Router() takes no arguments" at the first send becomes a finding at start-up, with what
        to change and a hint showing the shapes that work."""
        with override_settings(PYMESS_SMS_BACKENDS=TWO_BACKENDS, PYMESS_SMS_BACKEND_ROUTER=f"{ROUTERS}.{name}"):
            message = only("adapters_django.E006")
            with pytest.raises(ConfigurationError, match="PYMESS_SMS_BACKEND_ROUTER"):
                adapters_django.get_service()
        assert says in message.msg
        assert message.hint is not None
        assert "get_backend_name(recipient)" in message.hint
        assert "'prefixes'" in message.hint

    @pytest.mark.django_db
    @pytest.mark.parametrize("name", ["route", "AncestorRouter", "ForkRouter"])
    def test_a_function_and_the_ancestors_router_classes_route_sends(self, name: str) -> None:
        """A function of the message, and the ancestor's get_backend_name(recipient) classes as they are, pass the
        checks and choose the backend of each send."""
        with override_settings(PYMESS_SMS_BACKENDS=TWO_BACKENDS, PYMESS_SMS_BACKEND_ROUTER=f"{ROUTERS}.{name}"):
            assert findings() == []
            service = adapters_django.get_service()
            assert service.send("+420777123456", "x").provider == "cz"

    @pytest.mark.django_db
    def test_the_ancestors_router_falls_back_to_the_default_backend(self) -> None:
        """None from get_backend_name means the default backend, as in the ancestor."""
        with override_settings(PYMESS_SMS_BACKENDS=TWO_BACKENDS, PYMESS_SMS_BACKEND_ROUTER=f"{ROUTERS}.AncestorRouter"):
            assert adapters_django.get_service().send("+421901123456", "x").provider == "default"


class TestBackends:
    @pytest.mark.parametrize(
        ("settings", "setting"),
        [
            ({"PYMESS_SMS_SENDER_BACKEND": "atss"}, "PYMESS_SMS_SENDER_BACKEND"),
            (
                {"PYMESS_SMS_BACKENDS": {"cz": {"backend": "myproject.NoBackend"}}},
                "PYMESS_SMS_BACKENDS['cz']['backend']",
            ),
        ],
    )
    def test_a_backend_path_that_does_not_import_is_e002_listing_the_aliases(
        self, settings: dict[str, Any], setting: str
    ) -> None:
        """The finding lists the aliases; the hint adds the ancestor's paths and what a class of one's own needs.
        At run time the first send says the same."""
        with override_settings(**settings):
            message = only("adapters_django.E002")
            with pytest.raises(ConfigurationError) as info:
                adapters_django.get_service()
        assert message.obj == setting
        assert all(alias in message.msg for alias in SHORT_ALIASES)
        assert message.hint is not None
        assert "pymess.backend.sms." in message.hint
        assert "publish(messages)" in message.hint
        assert str(info.value).startswith(f"{setting}: ")
        assert all(alias in str(info.value) for alias in SHORT_ALIASES)

    def test_wrong_backend_options_are_e002_pointing_at_the_options(self) -> None:
        """A missing option is not a path problem: the hint speaks of the option, not of aliases."""
        with override_settings(PYMESS_SMS_BACKENDS={"cz": {"backend": "ats", "config": {"USERNAME": "acme"}}}):
            message = only("adapters_django.E002")
        assert message.obj == "PYMESS_SMS_BACKENDS['cz']['config']['PASSWORD']"
        assert message.hint is not None
        assert "publish(messages)" not in message.hint
        assert "upper case" in message.hint


class TestTemplateModel:
    def test_the_ancestors_template_model_is_e003_naming_the_fix(self) -> None:
        """pymess.SMSTemplate is reported as the ancestor's model, with the setting to delete or what to name."""
        with override_settings(PYMESS_SMS_TEMPLATE_MODEL="pymess.SMSTemplate"):
            (message,) = findings("adapters_django.E003")
        assert "the ancestor's model" in message.msg
        assert message.hint is not None
        assert "Delete the setting to use adapters_django.SMSTemplate" in message.hint
        assert "AbstractSMSTemplate" in message.hint

    def test_a_model_that_is_no_template_is_e003(self) -> None:
        """An installed model that does not extend AbstractSMSTemplate could not be rendered: E003 says so."""
        with override_settings(PYMESS_SMS_TEMPLATE_MODEL="testapp.Order"):
            (message,) = findings("adapters_django.E003")
        assert "does not extend adapters_django.models.AbstractSMSTemplate" in message.msg

    def test_manage_py_check_reports_the_ancestors_model_instead_of_a_traceback(self) -> None:
        """With pymess.SMSTemplate set from the start, admin autodiscovery no longer raises ImproperlyConfigured:
        ``manage.py check`` runs and reports E003 with the fix."""
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.django.settings_pymess_template"}
        done = subprocess.run(
            [sys.executable, "-m", "django", "check"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "Traceback" not in done.stderr
        assert "(adapters_django.E003)" in done.stderr
        assert "HINT: Delete the setting to use adapters_django.SMSTemplate" in done.stderr
        assert done.returncode == 1


class TestOtherSettings:
    def test_a_database_alias_missing_from_databases_is_e007(self) -> None:
        """The alias is checked at start-up; the hint lists the aliases there are."""
        with override_settings(PYMESS_SMS_DATABASE="sms"):
            message = only("adapters_django.E007")
        assert message.obj == "PYMESS_SMS_DATABASE"
        assert message.hint is not None
        assert "'default'" in message.hint

    @pytest.mark.parametrize("path", ["myproject.no.subscriber", f"{ROUTERS}.NOT_A_ROUTER"])
    def test_a_subscriber_that_does_not_import_or_cannot_be_called_is_e008(self, path: str) -> None:
        """Subscribers are imported when the service is built: tried at start-up instead."""
        with override_settings(PYMESS_SMS_CONFIG={"subscribers": [path]}):
            message = only("adapters_django.E008")
        assert "PYMESS_SMS_CONFIG['subscribers'][0]" in message.msg
        assert message.hint is not None
        assert "sms_state_changed" in message.hint


@pytest.mark.django_db
class TestRunTimeMessages:
    def test_a_national_number_without_a_default_region_names_the_django_setting(self) -> None:
        """In Django the error names PYMESS_SMS_DEFAULT_PHONE_CODE (the core's key means nothing there), and
        nothing is stored."""
        with pytest.raises(InvalidRecipientError, match="PYMESS_SMS_DEFAULT_PHONE_CODE is not set") as info:
            adapters_django.send("777 123 456", "Hello")
        assert "default_region" not in str(info.value)
        assert info.value.key == "PYMESS_SMS_DEFAULT_PHONE_CODE"
        assert not OutputSMSMessage.objects.exists()

    @override_settings(PYMESS_SMS_DEFAULT_PHONE_CODE="+420")
    def test_with_the_setting_the_national_number_is_read(self) -> None:
        """The setting the message names is the one that fixes it."""
        assert adapters_django.send("777 123 456", "Hello").recipient == "+420777123456"

    def test_in_plain_python_the_message_names_the_config_key(self) -> None:
        """Outside Django the same mistake names the core's configuration key."""
        service = build_service({"storage": "memory"})
        with pytest.raises(InvalidRecipientError, match=r"default_region is not set$"):
            service.send("777 123 456", "Hello")


class TestGuardSettings:
    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("PYMESS_SMS_ALLOWED_COUNTRIES", ["CZ", "Bohemia"]),
            ("PYMESS_SMS_RECIPIENT_LIMITS", {"otp": {"count": 5}}),
            ("PYMESS_SMS_RECIPIENT_LIMITS", {"otp": {"count": 5, "per": "soon"}}),
            ("PYMESS_SMS_OPT_OUT_EXEMPT_TAGS", [""]),
        ],
    )
    def test_a_wrong_guard_setting_is_e001_naming_it(self, setting: str, value: object) -> None:
        """Checked at start-up, reported against the Django setting (not the core's key)."""
        with override_settings(**{setting: value}):
            message = only("adapters_django.E001")
        assert message.obj == setting

    def test_good_guard_settings_pass(self) -> None:
        """Regions, calling codes, limits and exempt tags as the documentation writes them raise nothing."""
        good = {
            "PYMESS_SMS_ALLOWED_COUNTRIES": ["CZ", "+421"],
            "PYMESS_SMS_RECIPIENT_LIMITS": {"otp": {"count": 5, "per": "1h"}},
            "PYMESS_SMS_OPT_OUT_EXEMPT_TAGS": ["otp"],
            "PYMESS_SMS_REFUSAL_SUBSCRIBERS": ["logging.warning"],
        }
        with override_settings(**good):
            assert findings("adapters_django.E001", "adapters_django.E009") == []

    def test_a_refusal_subscriber_that_does_not_import_is_e009(self) -> None:
        """Refusal subscribers are tried at start-up too; the hint names the signal."""
        with override_settings(PYMESS_SMS_REFUSAL_SUBSCRIBERS=["myproject.no.alerts"]):
            message = only("adapters_django.E009")
        assert message.obj == "PYMESS_SMS_REFUSAL_SUBSCRIBERS"
        assert "PYMESS_SMS_REFUSAL_SUBSCRIBERS[0]" in message.msg
        assert message.hint is not None
        assert "sms_refused" in message.hint


class TestInboundSettings:
    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("PYMESS_SMS_INBOUND_KEYWORDS", {"later": {"reply": "x"}}),
            ("PYMESS_SMS_INBOUND_KEYWORDS", {"stop": {"words": ["two words"]}}),
            ("PYMESS_SMS_INBOUND_KEYWORDS", {"help": {"words": ["STOP"]}}),
            ("PYMESS_SMS_INBOUND_REPLY_WINDOW", "soon"),
            ("PYMESS_SMS_INBOUND_SUBSCRIBERS", [""]),
        ],
    )
    def test_a_wrong_inbound_setting_is_e001_naming_it(self, setting: str, value: object) -> None:
        """An unknown kind, a word that is not one, a word of two kinds, a window that is no duration."""
        with override_settings(**{setting: value}):
            message = only("adapters_django.E001")
        assert message.obj == setting

    def test_good_inbound_settings_pass(self) -> None:
        """Keywords, a window and subscribers as the documentation writes them raise nothing."""
        good = {
            "PYMESS_SMS_INBOUND_KEYWORDS": {"stop": {"reply": "Unsubscribed."}, "help": {"words": ["HELP", "INFO"]}},
            "PYMESS_SMS_INBOUND_REPLY_WINDOW": "3d",
            "PYMESS_SMS_INBOUND_SUBSCRIBERS": ["logging.warning"],
        }
        with override_settings(**good):
            assert findings("adapters_django.E001", "adapters_django.E010") == []

    def test_an_inbound_subscriber_that_does_not_import_is_e010(self) -> None:
        """Inbound subscribers are tried at start-up; the hint names the signal."""
        with override_settings(PYMESS_SMS_INBOUND_SUBSCRIBERS=["myproject.no.receiver"]):
            message = only("adapters_django.E010")
        assert message.obj == "PYMESS_SMS_INBOUND_SUBSCRIBERS"
        assert message.hint is not None
        assert "sms_received" in message.hint


@pytest.mark.django_db
def test_a_refusal_reaches_the_sms_refused_signal() -> None:
    """adapters_django.send to an opted-out number raises, and receivers of sms_refused hear of it."""
    import adapters_django
    from adapters_django.signals import sms_refused
    from adapters_django.wiring import get_service, reset_service
    from smscore import RecipientOptedOutError

    heard: list[dict[str, object]] = []

    def receiver(sender: object, **kwargs: object) -> None:
        heard.append(kwargs)

    reset_service()
    sms_refused.connect(receiver)
    try:
        get_service().opt_outs.add("+420777123456", reason="STOP")
        with pytest.raises(RecipientOptedOutError):
            adapters_django.send("+420777123456", "Spring sale", tag="marketing")
    finally:
        sms_refused.disconnect(receiver)
        reset_service()
    assert [(h["recipient"], h["tag"], h["reason"]) for h in heard] == [("+420777123456", "marketing", "opted_out")]
