"""Routers of every shape a project may name in ``PYMESS_SMS_BACKEND_ROUTER``, good and bad."""

from __future__ import annotations

from smscore import SMSMessage

#: Not a router at all.
NOT_A_ROUTER = 42


def route(message: SMSMessage) -> str | None:
    """The core's shape: Czech numbers go to the ``cz`` backend."""
    return "cz" if message.recipient.startswith("+420") else None


def route_with_two_arguments(message: SMSMessage, extra: object) -> str | None:
    """Takes more than the message: refused."""
    return None


class AncestorRouter:
    """The ancestor's shape, as django-pymess projects wrote them: one instance, asked for the recipient."""

    def get_backend_name(self, recipient: str) -> str | None:
        return "cz" if recipient.startswith("+420") else None


class ForkRouter:
    """The fork's shape: more parameters, with defaults, still asked with the recipient alone."""

    def get_backend_name(self, recipient: str, is_voice_message: bool = False) -> str | None:
        return None if is_voice_message else "cz"


class VoiceRouter:
    """Needs a second argument nobody gives: refused."""

    def get_backend_name(self, recipient: str, is_voice_message: bool) -> str | None:
        return None


class ConfiguredRouter:
    """Needs constructor arguments, which a router class never gets: refused."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    def get_backend_name(self, recipient: str) -> str | None:
        return self.table.get(recipient[:4])


class Router:
    """A class without get_backend_name: what fails today with "Router() takes no arguments"."""
