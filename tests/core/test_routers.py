"""A router path may name a function of the message or a class in the ancestor's style; anything else is refused
when the service is built, with how to adapt it."""

from __future__ import annotations

import pytest

from smscore import ConfigurationError, build_service
from smscore.routers import router_from
from tests.contracts.repositories import make_message

ROUTERS = "tests.django.testapp.routers"
PROVIDERS = {"default": {"backend": "dummy"}, "cz": {"backend": "dummy"}}


@pytest.mark.parametrize("name", ["route", "AncestorRouter", "ForkRouter"])
def test_a_function_or_an_ancestor_style_class_routes_by_recipient(name: str) -> None:
    """Both shapes send Czech numbers to ``cz``; the class is built once, not per message."""
    service = build_service({"storage": "memory", "providers": PROVIDERS, "router": f"{ROUTERS}.{name}"})
    assert service.send("+420777123456", "x").provider == "cz"


def test_an_ancestor_style_class_is_asked_with_the_recipient_only() -> None:
    """get_backend_name gets the E.164 recipient, as in the ancestor."""
    asked: list[object] = []

    class Spy:
        def get_backend_name(self, recipient: str) -> str | None:
            asked.append(recipient)
            return None

    route = router_from(Spy)
    assert route(make_message(recipient="+420777123456")) is None
    assert asked == ["+420777123456"]


def test_a_failing_router_constructor_is_a_configuration_error() -> None:
    """A router class that cannot be built says so when the service is built, naming the exception."""

    class Broken:
        def __init__(self) -> None:
            raise RuntimeError("no table")

        def get_backend_name(self, recipient: str) -> str | None:
            return None

    with pytest.raises(ConfigurationError, match=r"Broken\(\) failed: RuntimeError: no table"):
        router_from(Broken)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("Router", "is a class without get_backend_name"),
        ("VoiceRouter", "get_backend_name must take the recipient alone"),
        ("ConfiguredRouter", r"ConfiguredRouter\(\) needs arguments"),
        ("route_with_two_arguments", "must take the message alone"),
        ("NOT_A_ROUTER", "is not callable"),
    ],
)
def test_anything_else_is_refused_when_the_service_is_built(name: str, says: str) -> None:
    """Never a TypeError at the first send: a ConfigurationError on the ``router`` key, saying what to change."""
    with pytest.raises(ConfigurationError, match=says) as info:
        build_service({"storage": "memory", "providers": PROVIDERS, "router": f"{ROUTERS}.{name}"})
    assert info.value.key == "router"
