"""What a router named by a dotted path may be, and how it becomes the ``(SMSMessage) -> name | None`` the service
asks.

Two shapes are accepted:

- a callable taking the message: ``def route(message): return "cz" if message.recipient.startswith("+420") else
  None``;
- a class in the ancestor's style (django-pymess): built once without arguments, its
  ``get_backend_name(recipient)`` is asked with the message's recipient (E.164).

Anything else is refused with a :class:`~smscore.errors.ConfigurationError` that says how to adapt it, when the
service is built (and by the Django system checks), never at the first send.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, cast

from smscore.errors import ConfigurationError
from smscore.message import SMSMessage
from smscore.service.context import Router

__all__ = ["router_from"]

_FUNCTION_SHAPE = "a function (message) -> backend name | None"


def _name(obj: object) -> str:
    return str(getattr(obj, "__qualname__", None) or type(obj).__qualname__)


def _takes_one_argument(func: Callable[..., Any]) -> bool:
    """Whether ``func`` can be called with exactly one positional argument (True when Python cannot tell)."""
    try:
        inspect.signature(func).bind(None)
    except TypeError:
        return False
    except ValueError:  # no signature to read (some built-ins): let the call decide
        return True
    return True


def _ancestor_router(cls: type[Any], key: str) -> Router:
    name = _name(cls)
    try:
        inspect.signature(cls).bind()
    except TypeError:
        raise ConfigurationError(
            f"{key}: {name}() needs arguments, but a router class is built without any; give them defaults, or "
            f"name {_FUNCTION_SHAPE} instead",
            key=key,
        ) from None
    except ValueError:
        pass
    try:
        instance = cls()
    except Exception as exc:
        raise ConfigurationError(f"{key}: {name}() failed: {type(exc).__name__}: {exc}", key=key) from exc
    ask = instance.get_backend_name
    if not _takes_one_argument(ask):
        raise ConfigurationError(
            f"{key}: {name}.get_backend_name must take the recipient alone; give its other parameters defaults, "
            f"or name {_FUNCTION_SHAPE} instead (it sees the tag and the content too)",
            key=key,
        )

    def route(message: SMSMessage) -> str | None:
        chosen: str | None = ask(message.recipient)
        return chosen

    return route


def router_from(obj: object, *, key: str = "router") -> Router:
    """The router ``obj`` (what a router path names) stands for; see the module docstring for the shapes.

    Raises :class:`~smscore.errors.ConfigurationError` naming ``key``, with how to adapt what was given.
    """
    if isinstance(obj, type):
        if callable(getattr(obj, "get_backend_name", None)):
            return _ancestor_router(obj, key)
        raise ConfigurationError(
            f"{key}: {_name(obj)} is a class without get_backend_name(recipient); name {_FUNCTION_SHAPE}, or give "
            "the class the ancestor's get_backend_name(self, recipient)",
            key=key,
        )
    if not callable(obj):
        raise ConfigurationError(f"{key}: {obj!r} is not callable; name {_FUNCTION_SHAPE}", key=key)
    if not _takes_one_argument(obj):
        raise ConfigurationError(f"{key}: {_name(obj)} must take the message alone; name {_FUNCTION_SHAPE}", key=key)
    return cast(Router, obj)
