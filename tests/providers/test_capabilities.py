"""Provider capabilities are declared, not guessed: ``close`` on the port, the status-callback URL given when a
provider is built, delivery checks as a role of the class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

import smscore
from providers.ats import ATSSMSBackend
from smscore import DeliveryChecker, Outcome, SMSMessage
from smscore.errors import ConfigurationError
from smscore.ports import SMSProvider, StatusCallbackSender
from smscore.testing import ScriptedProvider

BUILT: list[CallbackProvider] = []


class CallbackProvider(ScriptedProvider):
    """A provider that pushes status reports: it declares the option that carries their URL."""

    status_callback_option: ClassVar[str] = "callback_url"

    def __init__(self, *, callback_url: str | None = None) -> None:
        super().__init__()
        self.callback_url = callback_url

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> CallbackProvider:
        built = cls(**options)
        BUILT.append(built)
        return built


class NoClose:
    """Publishes, but cannot be closed: not an SMS provider."""

    max_batch_size = 1
    can_check_by_our_id = False

    def publish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        return []


def _config(**changes: Any) -> dict[str, Any]:
    return {"storage": "memory", "provider": f"{__name__}:CallbackProvider", **changes}


class TestStatusCallbackURL:
    """With ``public_base_url``, a provider that sends status reports gets their URL when it is built."""

    def test_it_is_given_at_construction(self) -> None:
        """The composition root fills in the declared option; nothing is set on the provider afterwards."""
        BUILT.clear()
        with smscore.build_service(_config(public_base_url="https://shop.example.com/sms/")) as service:
            (built,) = BUILT
            assert built.callback_url == "https://shop.example.com/sms/status/default/"
            assert service.providers["default"] is built

    def test_a_configured_url_wins(self) -> None:
        """An explicitly configured URL is kept."""
        BUILT.clear()
        config = _config(public_base_url="https://shop.example.com/", provider_options={"callback_url": "https://x/"})
        with smscore.build_service(config):
            assert BUILT[0].callback_url == "https://x/"

    def test_without_a_public_base_url_there_is_none(self) -> None:
        """No base URL, no callback URL."""
        BUILT.clear()
        with smscore.build_service(_config()):
            assert BUILT[0].callback_url is None

    def test_providers_without_the_role_get_no_such_option(self) -> None:
        """ATS pushes nothing: it is built with exactly its own options (an unknown option would be refused)."""
        assert not isinstance(ATSSMSBackend, StatusCallbackSender)
        options = {"username": "u", "password": "p", "project_keyword": "KW", "output_sender_number": "1"}
        config = {"storage": "memory", "provider": "ats", "provider_options": options}
        with smscore.build_service({**config, "public_base_url": "https://shop.example.com/"}) as service:
            assert isinstance(service.providers["default"], ATSSMSBackend)


class TestClose:
    """``close`` is part of the provider port."""

    def test_closing_the_service_closes_every_provider(self) -> None:
        """The service calls each provider's close: no attribute is looked for."""
        first, second = ScriptedProvider(), ScriptedProvider()
        service = smscore.SMSService(
            messages=smscore.testing.InMemoryMessageRepository(),
            templates=smscore.testing.InMemoryTemplateRepository(),
            providers={"default": first, "other": second},
        )
        service.close()
        assert first.closed
        assert second.closed

    def test_a_class_without_close_is_no_provider(self) -> None:
        """Configured by dotted path, an object lacking part of the port is refused when the service is built."""
        assert not isinstance(NoClose(), SMSProvider)
        with pytest.raises(ConfigurationError, match="not an SMS provider") as caught:
            smscore.build_service({"storage": "memory", "provider": f"{__name__}:NoClose"})
        assert caught.value.key == "providers.default.backend"


def test_delivery_checks_are_a_role_of_the_class() -> None:
    """A provider checks delivery because its class does, never by a method bound to one instance."""
    assert "bulk_check_sms_states" in vars(ScriptedProvider)
    assert isinstance(ScriptedProvider(), DeliveryChecker)


def test_every_shipped_provider_plays_the_asyncio_roles_its_sync_port_has() -> None:
    """Each shipped backend class publishes (and, when it checks delivery, checks) as a coroutine too."""
    from providers.dummy import DummySMSBackend
    from providers.sms_operator import SMSOperatorBackend
    from providers.sns import SNSDeliveryCheckingBackend, SNSSMSBackend
    from providers.twilio import TwilioSMSBackend

    classes = [ATSSMSBackend, SMSOperatorBackend, TwilioSMSBackend, SNSSMSBackend, SNSDeliveryCheckingBackend]
    for cls in [*classes, DummySMSBackend]:
        assert all(callable(getattr(cls, name, None)) for name in ("apublish", "aclose")), cls
        checks = callable(getattr(cls, "bulk_check_sms_states", None))
        assert checks == callable(getattr(cls, "abulk_check_sms_states", None)), cls
