"""Inbound SMS as values: a received message, what a provider's webhook request carries, and the keywords.

Rule 1: nothing here stores, sends or verifies. The message received is :class:`InboundSMS`; a provider reads a
webhook (a :class:`WebhookRequest`) into an :class:`InboundReport`, which the service turns into an
:class:`InboundSMS` (:mod:`smscore.service.inbound`). :class:`Keywords` says which whole messages are STOP-, START-
or HELP-type words and what the service answers to each.

>>> keywords = inbound_keywords({"stop": {"reply": "You will get no more SMS."}}, "inbound_keywords")
>>> keywords.match("  stop "), keywords.match("Please stop sending me these"), keywords.reply("stop")
('stop', None, 'You will get no more SMS.')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qs

import attrs

from smscore.durations import parse_duration
from smscore.errors import CallbackError, ConfigurationError, InvalidMessageError
from smscore.message import check_extra_data
from smscore.text import check_storable

__all__ = [
    "DEFAULT_KEYWORDS",
    "KEYWORD_KINDS",
    "MAX_INBOUND_BODY",
    "MAX_INBOUND_CONTENT",
    "REPLY_TAG",
    "InboundQuery",
    "InboundReport",
    "InboundSMS",
    "Keywords",
    "WebhookRequest",
    "inbound_keywords",
    "reply_window",
]

#: Longest text kept of one received message, in characters (Twilio joins a long SMS into at most 1,600).
MAX_INBOUND_CONTENT: Final = 2000
#: Longest number (or sender name) and provider reference kept.
MAX_NUMBER_LENGTH: Final = 32
MAX_REF_LENGTH: Final = 100
#: Largest webhook request body read, in bytes (an inbound SMS webhook is a few KiB at most).
MAX_INBOUND_BODY: Final = 64 * 1024
#: Most form fields read from a webhook body: beyond these the request is refused, unparsed.
_MAX_FORM_FIELDS: Final = 100
#: The tag of every automatic reply the service sends (so replies are visible and counted like any message).
REPLY_TAG: Final = "inbound-reply"

#: The kinds of keyword, in the order they are looked up.
KEYWORD_KINDS: Final = ("stop", "start", "help")
#: Words of each kind when the configuration names none.
DEFAULT_KEYWORDS: Final[Mapping[str, tuple[str, ...]]] = {
    "stop": ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"),
    "start": ("START", "YES", "UNSTOP"),
    "help": ("HELP", "INFO"),
}
#: Longest keyword: a message longer than this (once trimmed) is never a keyword, and is not even upper-cased.
_MAX_KEYWORD: Final = 30
_WORD: Final = re.compile(r"^\S{1,30}$")


def _bounded(limit: int, *, optional: bool = False) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str) or not value or len(value) > limit:
            raise InvalidMessageError(f"{attribute.name} must be text of 1 to {limit} characters")
        check_storable(value, attribute.name, InvalidMessageError)

    return check


def _aware(instance: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime, not {value!r}")


def _content(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or len(value) > MAX_INBOUND_CONTENT:
        raise InvalidMessageError(f"content must be text of at most {MAX_INBOUND_CONTENT} characters")
    check_storable(value, "content", InvalidMessageError)


@attrs.frozen(kw_only=True)
class InboundReport:
    """What a verified inbound webhook says: who wrote (``sender``), to which of our numbers (``recipient``), the
    text, the provider's id of the message (``provider_ref``, unique per provider) and what else the provider
    told (``extra_data``, JSON). ``replies_to_ref`` is the provider's reference of the message it answers, when
    the provider knows it (Amazon's ``previousPublishedMessageId``).

    Raises :class:`~smscore.errors.InvalidMessageError` for a field too long or empty, or unstorable text.
    """

    sender: str = attrs.field(validator=_bounded(MAX_NUMBER_LENGTH))
    recipient: str = attrs.field(validator=_bounded(MAX_NUMBER_LENGTH))
    content: str = attrs.field(validator=_content)
    provider_ref: str = attrs.field(validator=_bounded(MAX_REF_LENGTH))
    extra_data: Mapping[str, Any] = attrs.field(factory=dict, converter=check_extra_data)
    replies_to_ref: str | None = attrs.field(default=None, validator=_bounded(MAX_REF_LENGTH, optional=True))

    def received(self, *, provider: str, at: datetime, reply_to: int | None) -> InboundSMS:
        """The :class:`InboundSMS` this report becomes, received by the provider named ``provider`` ``at``."""
        fields = attrs.asdict(self, recurse=False, filter=lambda field, _: field.name != "replies_to_ref")
        return InboundSMS(provider=provider, received_at=at, reply_to=reply_to, **fields)


@attrs.frozen(kw_only=True)
class InboundSMS:
    """An SMS someone sent to one of our numbers.

    ``provider`` is the configured name of the provider that received it; ``sender`` wrote it to our number
    ``recipient``; ``provider_ref`` is the provider's id of it (one row per provider and reference: providers
    retry webhooks); ``reply_to`` is the id of the :class:`~smscore.SMSMessage` it answers (the latest one sent
    to ``sender`` from that number within ``inbound_reply_window``), or None; ``extra_data`` is what else the
    provider told (JSON). ``id`` is None until stored.
    """

    id: int | None = None
    provider: str = attrs.field(validator=_bounded(100))
    sender: str = attrs.field(validator=_bounded(MAX_NUMBER_LENGTH))
    recipient: str = attrs.field(validator=_bounded(MAX_NUMBER_LENGTH))
    content: str = attrs.field(validator=_content)
    received_at: datetime = attrs.field(validator=_aware)
    provider_ref: str = attrs.field(validator=_bounded(MAX_REF_LENGTH))
    reply_to: int | None = None
    extra_data: Mapping[str, Any] = attrs.field(factory=dict, converter=check_extra_data)


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers.items()}


@attrs.frozen(kw_only=True)
class InboundQuery:
    """Inbound SMS matching every filter given (None filters nothing), newest first (highest id first): ``sender``,
    ``provider``, ``since`` (on ``received_at``, inclusive; timezone-aware), ``before_id`` (ids below it: keyset
    paging), at most ``limit`` of them."""

    sender: str | None = None
    provider: str | None = None
    since: datetime | None = attrs.field(default=None, validator=attrs.validators.optional(_aware))
    before_id: int | None = None
    limit: int | None = None

    def matches(self, sms: InboundSMS) -> bool:
        """Whether ``sms`` passes every filter (``limit`` aside): the in-memory reading."""
        return (
            (self.sender is None or sms.sender == self.sender)
            and (self.provider is None or sms.provider == self.provider)
            and (self.since is None or sms.received_at >= self.since)
            and (self.before_id is None or (sms.id or 0) < self.before_id)
        )


@attrs.frozen
class WebhookRequest:
    """A provider's HTTP request as a web framework received it: the full ``url`` the provider called (rebuilt
    from ``public_base_url`` behind a proxy, see :func:`smscore.webhooks.callback_url`), the raw ``body`` (at most
    :data:`MAX_INBOUND_BODY` bytes: the framework refuses larger ones) and the ``headers`` (names lower case)."""

    url: str
    body: bytes
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_lower_keys)

    def form(self) -> dict[str, str | list[str]]:
        """The body as form fields (a repeated field as a list of its values). Raises
        :class:`~smscore.errors.CallbackError` for a body too large, not UTF-8, or with too many fields."""
        if len(self.body) > MAX_INBOUND_BODY:
            raise CallbackError(f"request body larger than {MAX_INBOUND_BODY} bytes")
        try:
            fields = parse_qs(self.body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FORM_FIELDS)
        except (UnicodeDecodeError, ValueError) as exc:
            raise CallbackError(f"request body is not form data: {type(exc).__name__}") from None
        return {name: values[0] if len(values) == 1 else values for name, values in fields.items()}


@attrs.frozen(repr=False)
class Keywords:
    """Which whole messages are keywords, by kind (``stop``, ``start``, ``help``), and the reply to each kind
    (None: no reply). Build it from configuration with :func:`inbound_keywords`; its repr is that configuration."""

    words: Mapping[str, tuple[str, ...]]
    replies: Mapping[str, str | None]

    def __repr__(self) -> str:
        return repr({kind: {"words": list(self.words[kind]), "reply": self.replies[kind]} for kind in KEYWORD_KINDS})

    def match(self, content: str) -> str | None:
        """The kind of keyword ``content`` is (the whole message, any case, surrounding whitespace ignored), or
        None. A longer message that contains a keyword is not one."""
        text = content.strip()
        if len(text) > _MAX_KEYWORD:
            return None
        word = text.upper()
        return next((kind for kind in KEYWORD_KINDS if word in self.words[kind]), None)

    def reply(self, kind: str) -> str | None:
        """The configured reply to a keyword of ``kind``, or None."""
        return self.replies.get(kind)


def inbound_keywords(value: Any, key: str) -> Keywords:
    """Read ``inbound_keywords``: ``{"stop": {"words": [...], "reply": "..."}, "start": {...}, "help": {...}}``;
    a kind left out keeps its default words (:data:`DEFAULT_KEYWORDS`) and no reply, ``words`` left out keeps the
    defaults, ``words = []`` switches the kind off. Raises :class:`~smscore.errors.ConfigurationError` naming the
    exact key."""
    if isinstance(value, Keywords):
        return value
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{key} must be a table of stop, start and help", key=key)
    words: dict[str, tuple[str, ...]] = {}
    replies: dict[str, str | None] = {}
    for kind in value:
        if kind not in KEYWORD_KINDS or not isinstance(value[kind], Mapping) or set(value[kind]) - {"words", "reply"}:
            raise ConfigurationError(
                f"{key}.{kind} must be stop, start or help with words and reply", key=f"{key}.{kind}"
            )
    for kind in KEYWORD_KINDS:
        entry = value.get(kind, {})
        words[kind] = _words(entry.get("words", DEFAULT_KEYWORDS[kind]), f"{key}.{kind}.words")
        reply = entry.get("reply") or None
        if reply is not None and (not isinstance(reply, str) or len(reply) > 1600):
            raise ConfigurationError(
                f"{key}.{kind}.reply must be text of at most 1600 characters", key=f"{key}.{kind}.reply"
            )
        replies[kind] = reply
    taken = [w for kind in KEYWORD_KINDS for w in words[kind]]
    if len(taken) != len(set(taken)):
        raise ConfigurationError(f"{key}: a word may be of one kind only", key=key)
    return Keywords(words, replies)


def _words(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(w, str) and _WORD.match(w.strip()) for w in value):
        raise ConfigurationError(f"{key} must be a list of single words of at most {_MAX_KEYWORD} characters", key=key)
    return tuple(dict.fromkeys(w.strip().upper() for w in value))


def reply_window(value: Any, key: str) -> timedelta:
    """Read ``inbound_reply_window``: a duration (``7d``, ``12h``) or seconds; ``0`` links no reply."""
    try:
        window = value if isinstance(value, timedelta) else _duration(value)
    except ValueError as exc:
        raise ConfigurationError(f"{key}: {exc}", key=key) from None
    if not timedelta(0) <= window <= timedelta(days=366):
        raise ConfigurationError(f"{key} must be from 0 to 366 days, not {value!r}", key=key)
    return window


def _duration(value: Any) -> timedelta:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str) and value.strip() == "0":
        return timedelta(0)
    return parse_duration(value)
