"""The base class for SMS backends (the seed's custom-backend API).

Write your own backend by subclassing :class:`SMSBackend` and overriding :meth:`~SMSBackend.publish_message`;
override :meth:`~SMSBackend.publish_messages` when the service takes many messages in one request, and add a
``bulk_check_sms_states(messages)`` method when it can report delivery (that makes the backend a
:class:`smscore.DeliveryChecker`)::

    from smscore import Outcome, SMSState
    from providers.base import SMSBackend

    class MyGatewayBackend(SMSBackend):
        def __init__(self, *, url: str) -> None:
            self.url = url

        def publish_message(self, message):
            ref = my_gateway.send(self.url, message.recipient, message.content)
            return Outcome.accepted(SMSState.SENDING, provider_ref=ref)

Configure it by dotted path: ``{"provider": "myapp.sms.MyGatewayBackend", "provider_options": {"url": ...}}``.
Declare its options as an :class:`~providers.options.OptionSpec` in ``option_spec`` to have them checked (and
listed in the reference) the way the shipped backends' are; without one, the options are passed to the
constructor as keyword arguments.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final, Self

import attrs

from providers._steps import Steps, drive
from providers.options import OptionSpec
from smscore import Outcome, SMSMessage, SMSState

__all__ = ["SMSBackend", "scrub", "without_secrets"]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every (non-empty) secret in ``secrets`` replaced by ``***``: ``text`` itself when it holds
    none."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "***")
    return text


def without_secrets(outcome: Outcome, secrets: Collection[str]) -> Outcome:
    """``outcome`` with every secret removed from its texts: error, code, reference and provider data (nested).
    An outcome that holds no secret is returned as it is."""
    if not secrets:
        return outcome
    changes: dict[str, Any] = {}
    for name in _SCRUBBED:
        value = getattr(outcome, name)
        cleaned = _without(value, secrets)
        if cleaned is not value:
            changes[name] = cleaned
    return attrs.evolve(outcome, **changes) if changes else outcome


#: The fields of an outcome that may carry text from the provider's answer.
_SCRUBBED: Final = ("error", "error_code", "provider_ref", "extra_sender_data")


def _without(value: Any, secrets: Collection[str]) -> Any:
    """``value`` without ``secrets``: the value itself when it holds none, a copy (mappings as dicts, sequences as
    lists) when it does.

    This runs over every outcome and almost never finds a secret, so the common path builds nothing: a container
    is copied only when one of its items holds a secret.
    """
    kind = type(value)  # the cheapest tests first: the abstract Mapping check is slow
    if kind is str:
        return scrub(value, secrets)
    if value is None or kind is int or kind is bool or kind is float:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict | Mapping):
        if _holds_secret(value.values(), secrets):
            return {key: _without(item, secrets) for key, item in value.items()}
        return value
    if isinstance(value, list | tuple):
        return [_without(item, secrets) for item in value] if _holds_secret(value, secrets) else value
    return value


def _holds_secret(items: Iterable[Any], secrets: Collection[str]) -> bool:
    """Whether any of ``items`` (or anything nested in them) holds one of ``secrets``."""
    for item in items:
        if type(item) is str:  # most items: tested here, without a call per item
            for secret in secrets:
                if secret and secret in item:
                    return True
        elif _without(item, secrets) is not item:
            return True
    return False


class SMSBackend:
    """Base of every shipped backend; implements :class:`smscore.SMSProvider`.

    ``max_batch_size``: most messages per :meth:`publish` call. ``can_check_by_our_id``: whether the service can
    be asked about a message by our own id (so a crash mid-publish leaves it UNKNOWN, not re-sent).
    """

    max_batch_size: int = 100
    can_check_by_our_id: bool = False
    #: The options :meth:`from_options` accepts, or None to pass any options to the constructor unchecked.
    option_spec: ClassVar[OptionSpec | None] = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        """Build the backend from configuration options: checked against :attr:`option_spec` when it is declared
        (raising :class:`~smscore.errors.ConfigurationError` keyed by the option), then passed to the
        constructor as keyword arguments."""
        if cls.option_spec is not None:
            return cls(**cls.option_spec.read(options))
        return cls(**options)

    def publish_message(self, message: SMSMessage) -> Outcome:
        """Hand one message to the service and say what happened. Must be overridden."""
        raise NotImplementedError(f"{type(self).__name__} must override publish_message()")

    def publish_messages(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        """Hand many messages over; by default one by one through :meth:`publish_message`.

        Once the service is unavailable for a message (a transient outcome), the rest are not tried: they stay
        WAITING too, so an outage costs one request, not one per message of the batch.
        """
        return drive(self._publishing_steps(messages), self.publish_message)

    def _publishing_steps(self, messages: Sequence[SMSMessage]) -> Steps[SMSMessage, Outcome, list[Outcome]]:
        """The rule of :meth:`publish_messages` apart from how one message is published: yields each message to
        publish and is sent back its outcome (an asyncio role drives it with a coroutine)."""
        outcomes: list[Outcome] = []
        unavailable: Outcome | None = None
        for message in messages:
            if unavailable is not None:
                outcomes.append(Outcome.transient(f"not tried: {unavailable.error}", error_code=unavailable.error_code))
                continue
            outcome = yield message
            if outcome.state is SMSState.WAITING:
                unavailable = outcome
            outcomes.append(outcome)
        return outcomes

    def publish(self, messages: Sequence[SMSMessage]) -> list[Outcome]:
        """The provider port: one outcome per message, in order."""
        return self.publish_messages(messages)

    def close(self) -> None:
        """Release network clients. Nothing to release by default."""

    def __repr__(self) -> str:
        # Never show options: they may hold credentials.
        return f"<{type(self).__name__}>"
