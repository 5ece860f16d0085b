"""Every error smscore raises, in one tree.

::

    SMSError
    ├── ConfigurationError            a setting is missing or wrong (names the exact key)
    ├── InvalidMessageError           the caller's input cannot become a message; nothing was stored
    │   ├── InvalidRecipientError     not a possible phone number
    │   ├── InvalidContentError       empty, too many segments, or not representable
    │   ├── InvalidTagError           the tag is not a slug
    │   ├── InvalidExtraDataError     extra data that cannot be stored as JSON
    │   └── InvalidSendTimeError      a send time without a time zone (or not a datetime)
    ├── TemplateError
    │   ├── TemplateNotFoundError     no template has that slug
    │   ├── TemplateInactiveError     the template is switched off (is_active false); nothing was stored
    │   └── TemplateRenderError       syntax error, missing variable, sandbox violation, output too long
    ├── RecipientRefusedError         the recipient may not get this message now; nothing was stored
    │   ├── RecipientOptedOutError    the number is on the opt-out list
    │   ├── RecipientNotAllowedError  the number's country is not among allowed_countries
    │   └── RecipientRateLimitedError the recipient_limits of the tag are reached for the number
    ├── InvalidStateTransitionError   a move the state table does not allow
    ├── MessageNotCancellableError    the message is no longer WAITING, or a worker is publishing it
    ├── StorageError
    │   ├── MessageNotFoundError      no message has that id
    │   ├── ConcurrentUpdateError     the message changed since it was read (compare-and-set failed)
    │   ├── DuplicateIdempotencyKeyError  another message already holds the idempotency key
    │   ├── InboundNotFoundError      no inbound SMS has that id
    │   ├── DuplicateInboundError     the provider's reference of an inbound SMS is already stored
    │   └── OutcomeNotStoredError     the provider took the message, but what it said could not be stored
    ├── ProviderError                 a provider's request or response could not be used
    └── CallbackError                 a pushed status report cannot be used
        └── InvalidSignatureError     its signature is missing or wrong: nothing was changed

``InvalidMessageError`` and its children are also ``ValueError``; ``TemplateNotFoundError``,
``MessageNotFoundError`` and ``InboundNotFoundError`` are also ``LookupError``, so callers who think in built-in terms still catch them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import timedelta

    from smscore.inbound import InboundSMS
    from smscore.message import SMSMessage
    from smscore.states import SMSState

__all__ = [
    "CallbackError",
    "ConcurrentUpdateError",
    "ConfigurationError",
    "DuplicateIdempotencyKeyError",
    "DuplicateInboundError",
    "InboundNotFoundError",
    "InvalidContentError",
    "InvalidExtraDataError",
    "InvalidMessageError",
    "InvalidRecipientError",
    "InvalidSendTimeError",
    "InvalidSignatureError",
    "InvalidStateTransitionError",
    "InvalidTagError",
    "MessageNotCancellableError",
    "MessageNotFoundError",
    "OutcomeNotStoredError",
    "ProviderError",
    "RecipientNotAllowedError",
    "RecipientOptedOutError",
    "RecipientRateLimitedError",
    "RecipientRefusedError",
    "SMSError",
    "StorageError",
    "TemplateError",
    "TemplateInactiveError",
    "TemplateNotFoundError",
    "TemplateRenderError",
]


class SMSError(Exception):
    """Root of every error raised by smscore and its adapters."""


class ConfigurationError(SMSError):
    """A configuration value is missing or invalid.

    ``key`` is the dotted name of the offending setting (``"provider_options.username"``) when known.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class InvalidMessageError(SMSError, ValueError):
    """The input cannot become a message. Raised before anything is stored."""


class InvalidRecipientError(InvalidMessageError):
    """The recipient is not a possible phone number.

    ``key`` names the configuration key that would make it one when there is such a key: ``default_region`` for a
    national number (no international prefix) while no default region is set.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class InvalidContentError(InvalidMessageError):
    """The content is empty, longer than the segment limit allows, or cannot be encoded."""


class InvalidTagError(InvalidMessageError):
    """The tag is not a slug (letters, digits, ``-`` and ``_``, at most 50 characters)."""


class InvalidExtraDataError(InvalidMessageError):
    """Extra data that cannot be stored as JSON."""


class InvalidSendTimeError(InvalidMessageError):
    """A send time that is not a timezone-aware datetime: a naive one would be read in some server's zone."""


class TemplateError(SMSError):
    """Base of the template errors."""


class _TemplateSlugError(TemplateError):
    """A template error about one slug, kept as ``slug``; ``_says`` words the message around it."""

    _says = "SMS template {slug!r}"

    def __init__(self, slug: str) -> None:
        super().__init__(self._says.format(slug=slug))
        self.slug = slug


class TemplateNotFoundError(_TemplateSlugError, LookupError):
    """No template is stored under the slug."""

    _says = "no SMS template with slug {slug!r}"


class TemplateInactiveError(_TemplateSlugError):
    """The template exists but is switched off (``is_active`` false): it refuses to send and nothing is stored.

    Not a :class:`TemplateNotFoundError`: the template is there, and reactivating it makes it send again.
    """

    _says = "SMS template {slug!r} is inactive"


class TemplateRenderError(TemplateError):
    """A template could not be rendered: syntax error, undefined variable, sandbox violation or too long."""


class RecipientRefusedError(SMSError):
    """A guard refused the recipient (see :mod:`smscore.guards`): nothing was stored or sent.

    Not an :class:`InvalidMessageError`: the input is fine, a policy says no. ``recipient`` is the number in E.164,
    ``tag`` the message's tag, ``reason`` one of ``"opted_out"``, ``"not_allowed"`` and ``"rate_limited"`` (the
    names ``smscore stats`` counts refusals under).
    """

    reason = "refused"

    def __init__(self, message: str, *, recipient: str, tag: str | None) -> None:
        super().__init__(message)
        self.recipient = recipient
        self.tag = tag


class RecipientOptedOutError(RecipientRefusedError):
    """The recipient is on the opt-out list and the message's tag is not exempt from it."""

    reason = "opted_out"

    def __init__(self, recipient: str, tag: str | None = None) -> None:
        super().__init__(f"{recipient} opted out of SMS", recipient=recipient, tag=tag)


class RecipientNotAllowedError(RecipientRefusedError):
    """The recipient's country is not among ``allowed_countries``."""

    reason = "not_allowed"

    def __init__(self, recipient: str, tag: str | None = None) -> None:
        super().__init__(f"{recipient} is in a country not among allowed_countries", recipient=recipient, tag=tag)


class RecipientRateLimitedError(RecipientRefusedError):
    """The recipient already got as many messages with this tag as ``recipient_limits`` allow in the window.

    ``count`` and ``per`` (a ``timedelta``) are the limit that was reached.
    """

    reason = "rate_limited"

    def __init__(self, recipient: str, tag: str | None, *, count: int, per: timedelta) -> None:
        super().__init__(
            f"{recipient} already got {count} {tag!r} message(s) within {per}: recipient_limits.{tag}",
            recipient=recipient,
            tag=tag,
        )
        self.count = count
        self.per = per


class InvalidStateTransitionError(SMSError):
    """A state change that the transition table does not allow."""

    def __init__(self, current: SMSState, target: SMSState, message_id: int | None = None) -> None:
        who = f"message {message_id}" if message_id is not None else "a message"
        super().__init__(f"{who} cannot move from {current.name} to {target.name}")
        self.current = current
        self.target = target
        self.message_id = message_id


class MessageNotCancellableError(SMSError):
    """The message cannot be cancelled: it is no longer WAITING, or a worker holds it and is publishing it.

    ``state`` is the state it was found in; nothing was changed.
    """

    def __init__(self, message_id: int, state: SMSState, *, leased: bool = False) -> None:
        why = "a worker is publishing it" if leased else f"it is {state.name}, not WAITING"
        super().__init__(f"SMS message {message_id} cannot be cancelled: {why}")
        self.message_id = message_id
        self.state = state


class StorageError(SMSError):
    """Base of the storage errors."""


class MessageNotFoundError(StorageError, LookupError):
    """No message is stored under the id."""

    def __init__(self, message_id: int) -> None:
        super().__init__(f"no SMS message with id {message_id}")
        self.message_id = message_id


class ConcurrentUpdateError(StorageError):
    """The message was changed by someone else since it was read; nothing was written."""

    def __init__(self, message_ids: Iterable[int]) -> None:
        self.message_ids = tuple(message_ids)
        ids = ", ".join(str(i) for i in self.message_ids)
        super().__init__(f"SMS message(s) {ids} changed concurrently; reload and retry")


class DuplicateIdempotencyKeyError(StorageError):
    """A message with the same idempotency key is already stored; ``existing`` is that message."""

    def __init__(self, existing: SMSMessage) -> None:
        super().__init__(f"idempotency key {existing.idempotency_key!r} already used by message {existing.id}")
        self.existing = existing


class InboundNotFoundError(StorageError, LookupError):
    """No inbound SMS is stored under the id."""

    def __init__(self, inbound_id: int) -> None:
        super().__init__(f"no inbound SMS with id {inbound_id}")
        self.inbound_id = inbound_id


class DuplicateInboundError(StorageError):
    """An inbound SMS with the same provider and reference is already stored (a retried webhook); ``existing``
    is that one."""

    def __init__(self, existing: InboundSMS) -> None:
        super().__init__(f"inbound SMS {existing.provider_ref!r} of {existing.provider!r} already stored")
        self.existing = existing


class OutcomeNotStoredError(StorageError):
    """The provider took the message, so it is or may be sent, but its outcome could not be stored in time.

    ``message_id`` and ``provider_ref`` (None when the provider gave no reference) name the message;
    ``messages`` holds every message of the call in this case, as it was to be stored. The stored record stays
    as it was before the call and is resolved later (lease recovery, delivery checks). Do not send it again as
    new: a retry with the same ``idempotency_key`` returns the stored message instead of sending twice.
    """

    def __init__(self, messages: Sequence[SMSMessage], reason: str) -> None:
        self.messages = tuple(messages)
        first = self.messages[0]
        self.message_id = first.id
        self.provider_ref = first.provider_ref
        more = f" (and {len(self.messages) - 1} more)" if len(self.messages) > 1 else ""
        super().__init__(
            f"SMS message {first.id}{more} was handed to the provider (reference {first.provider_ref!r}), "
            f"but its outcome could not be stored: {reason}"
        )


class ProviderError(SMSError):
    """A provider's request could not be built or its response could not be understood.

    Providers raise it (or a subclass) internally; the service never lets it escape a send: it becomes an
    outcome on the message. The text never contains credentials.
    """


class CallbackError(SMSError):
    """A status report pushed by a provider cannot be used (malformed, unknown provider). Nothing changed."""


class InvalidSignatureError(CallbackError):
    """A pushed status report whose signature is missing or does not verify. Nothing changed."""
