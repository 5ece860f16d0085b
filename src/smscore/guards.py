"""Who may receive what: the opt-out entry, per-recipient limits and allowed countries, as values and pure checks.

Rule 1: nothing here stores or counts; the opt-out list lives behind :class:`~smscore.ports.OptOutRepository`,
and a limit is counted by :meth:`~smscore.ports.MessageRepository.add_within_limits` in the storage's own
transaction. What the service does with these (refuse, count the refusal, tell subscribers) is in
:mod:`smscore.service.guarding`.

>>> limits = recipient_limits({"otp": {"count": 5, "per": "1h"}}, "recipient_limits")
>>> limits["otp"]
RecipientLimit(count=5, per=datetime.timedelta(seconds=3600))
>>> country_allowed("+420777123456", allowed_countries(["CZ", "+421"], "allowed_countries"))
True
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from smscore.durations import parse_duration
from smscore.errors import ConfigurationError, InvalidMessageError
from smscore.message import SMSMessage
from smscore.phone import normalize_recipient
from smscore.templates import validate_slug

__all__ = [
    "MAX_REASON_LENGTH",
    "MAX_SOURCE_LENGTH",
    "REFUSAL_REASONS",
    "OptOut",
    "RecipientLimit",
    "allowed_countries",
    "country_allowed",
    "limited_keys",
    "lock_id",
    "recipient_limits",
    "unique_chunks",
    "within_limits",
]

#: Why a guard refuses a recipient: the ``reason`` of each :class:`~smscore.errors.RecipientRefusedError` and the
#: names refusals are counted under.
REFUSAL_REASONS: Final = ("opted_out", "not_allowed", "rate_limited")

#: E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
_E164: Final = re.compile(r"^\+[1-9][0-9]{1,14}$")
#: Longest reason and source an opt-out keeps (a sentence from a form, a provider's name).
MAX_REASON_LENGTH: Final = 200
MAX_SOURCE_LENGTH: Final = 50
#: Most messages one limit may allow, and the longest window: beyond these a limit guards nothing.
_MAX_COUNT: Final = 1_000_000
_MAX_WINDOW: Final = timedelta(days=366)


def _e164(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _E164.match(value):
        raise InvalidMessageError(f"{attribute.name} must be an E.164 number (+420777123456), not {value!r}")


def _short_text(limit: int) -> Any:
    def check(instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
        if value is None:
            return
        if not isinstance(value, str) or len(value) > limit or "\x00" in value:
            raise InvalidMessageError(f"{attribute.name} must be text of at most {limit} characters")

    return check


def _aware(instance: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime, not {value!r}")


@attrs.frozen(kw_only=True)
class OptOut:
    """A number that asked to get no more SMS: ``recipient`` in E.164, why (``reason``, free text or None), where
    the request came from (``source``: ``"api"``, ``"cli"``, ``"admin"``, ``"import"``, ``"sns"``...) and when.

    Build one from what a person typed with :meth:`of`, which normalises the number as sending does.
    """

    recipient: str = attrs.field(validator=_e164)
    reason: str | None = attrs.field(default=None, validator=_short_text(MAX_REASON_LENGTH))
    source: str = attrs.field(default="api", validator=_short_text(MAX_SOURCE_LENGTH))
    created_at: datetime = attrs.field(validator=_aware)

    @classmethod
    def of(
        cls,
        recipient: str,
        *,
        at: datetime,
        reason: str | None = None,
        source: str = "api",
        default_region: str | None = None,
    ) -> OptOut:
        """The opt-out of ``recipient`` read as :func:`~smscore.phone.normalize_recipient` reads it.

        Raises :class:`~smscore.errors.InvalidRecipientError` for a number that is not one, and
        :class:`~smscore.errors.InvalidMessageError` for a reason or source too long.
        """
        number = normalize_recipient(recipient, default_region=default_region)
        return cls(recipient=number, reason=reason or None, source=source, created_at=at)


@attrs.frozen
class RecipientLimit:
    """At most ``count`` messages of one tag to one recipient within any window of length ``per``."""

    count: int
    per: timedelta


def recipient_limits(value: Any, key: str) -> Mapping[str, RecipientLimit]:
    """Read the ``recipient_limits`` table: ``{tag: {"count": 5, "per": "1h"}}`` (``per`` a duration such as
    ``30m``, ``1h``, ``1d``). Raises :class:`~smscore.errors.ConfigurationError` naming the exact key."""
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{key} must be a table of tags, not {type(value).__name__}", key=key)
    limits: dict[str, RecipientLimit] = {}
    for tag, entry in value.items():
        where = f"{key}.{tag}"
        try:
            validate_slug(tag, what="tag", max_length=50)
        except InvalidMessageError as exc:
            raise ConfigurationError(f"{where}: {exc}", key=where) from None
        if not isinstance(entry, Mapping) or set(entry) != {"count", "per"}:
            raise ConfigurationError(
                f"{where} must be a table with count and per, e.g. {{count = 5, per = '1h'}}", key=where
            )
        limits[tag] = RecipientLimit(_count(entry["count"], f"{where}.count"), _window(entry["per"], f"{where}.per"))
    return limits


def _count(value: Any, key: str) -> int:
    try:
        count = int(value) if not isinstance(value, bool | float) else None
    except (TypeError, ValueError):
        count = None
    if count is None or not 1 <= count <= _MAX_COUNT:
        raise ConfigurationError(f"{key} must be a whole number from 1 to {_MAX_COUNT}, not {value!r}", key=key)
    return count


def _window(value: Any, key: str) -> timedelta:
    try:
        window = value if isinstance(value, timedelta) else parse_duration(value)
    except ValueError as exc:
        raise ConfigurationError(f"{key}: {exc}", key=key) from None
    if not timedelta(0) < window <= _MAX_WINDOW:
        raise ConfigurationError(f"{key} must be longer than nothing and at most 366 days, not {value!r}", key=key)
    return window


def allowed_countries(value: Any, key: str) -> tuple[str, ...]:
    """Read ``allowed_countries``: regions (``"CZ"``) or calling codes (``"+420"``, ``"420"``), as a list or a
    comma-separated string; returned as ``"CZ"`` and ``"+420"``. Empty: every country is allowed.

    Raises :class:`~smscore.errors.ConfigurationError` for an entry that is neither.
    """
    if isinstance(value, str):
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    if not isinstance(value, list | tuple | set | frozenset):
        raise ConfigurationError(f"{key} must be a list of regions or calling codes, not {value!r}", key=key)
    import phonenumbers  # see smscore.phone.region_for: its metadata is large

    found: list[str] = []
    for entry in value:
        text = entry.strip().upper() if isinstance(entry, str) else ""
        if text.lstrip("+").isdigit() and text.lstrip("+") in _codes():
            found.append("+" + text.lstrip("+"))
        elif text in phonenumbers.SUPPORTED_REGIONS:
            found.append(text)
        else:
            raise ConfigurationError(f"{key}: {entry!r} is neither a region (CZ) nor a calling code (+420)", key=key)
    return tuple(dict.fromkeys(found))


@functools.cache
def _codes() -> Mapping[str, tuple[str, ...]]:
    """Calling codes (digits) and the regions that share each."""
    import phonenumbers

    return {str(code): tuple(regions) for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()}


def country_allowed(recipient: str, allowed: Collection[str]) -> bool:
    """Whether ``recipient`` (E.164) is in a country of ``allowed`` (as :func:`allowed_countries` returns it; empty
    allows everything). A number is parsed only when its calling code is shared by allowed and other regions
    (``+1``: the US allowed, Canada not)."""
    if not allowed:
        return True
    digits = recipient[1:]
    code = next((digits[:n] for n in (1, 2, 3) if digits[:n] in _codes()), None)
    if code is None:
        return False
    if "+" + code in allowed:
        return True
    regions = _codes()[code]
    wanted = [region for region in regions if region in allowed]
    if not wanted:
        return False
    if len(wanted) == len(regions):
        return True
    import phonenumbers

    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(recipient, None))
    except phonenumbers.NumberParseException:
        return False
    return region in allowed


def unique_chunks(opt_outs: Iterable[OptOut], size: int) -> Iterator[list[OptOut]]:
    """``opt_outs`` in lists of at most ``size`` entries, the first entry of a number within a list kept: what a
    storage writes per statement and transaction."""
    chunk: dict[str, OptOut] = {}
    for opt_out in opt_outs:
        chunk.setdefault(opt_out.recipient, opt_out)
        if len(chunk) >= size:
            yield list(chunk.values())
            chunk = {}
    if chunk:
        yield list(chunk.values())


def limited_keys(messages: Sequence[SMSMessage], limits: Mapping[str, RecipientLimit]) -> list[tuple[str, str]]:
    """The (recipient, tag) pairs of ``messages`` that ``limits`` apply to, sorted: the locks a storage takes, always
    in this order so that two calls never wait for each other's."""
    return sorted({(m.recipient, m.tag) for m in messages if m.tag is not None and m.tag in limits})


def lock_id(recipient: str, tag: str) -> int:
    """A signed 64-bit number for the pair (PostgreSQL's advisory locks take one), the same in every process."""
    import hashlib  # only the PostgreSQL storages lock: hashlib loads OpenSSL, which other storages never need

    digest = hashlib.blake2b(f"smscore-limit\x00{recipient}\x00{tag}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def within_limits(
    messages: Sequence[SMSMessage],
    limits: Mapping[str, RecipientLimit],
    stored: Callable[[str, str, datetime], int],
) -> list[bool]:
    """Which of ``messages`` stay within ``limits``, in order; ``stored(recipient, tag, since)`` counts the stored
    messages created after ``since`` (the storage calls this with its locks held).

    The call's own messages count as they are admitted, so a batch cannot slip past a limit either.
    """
    counted: dict[tuple[str, str, datetime], int] = {}
    admitted: dict[tuple[str, str], list[datetime]] = {}
    answers = []
    for message in messages:
        limit = limits.get(message.tag) if message.tag is not None else None
        if limit is None or message.tag is None:
            answers.append(True)
            continue
        since = message.created_at - limit.per
        key = (message.recipient, message.tag)
        if (*key, since) not in counted:
            counted[(*key, since)] = stored(message.recipient, message.tag, since)
        earlier = sum(1 for at in admitted.get(key, ()) if at > since)
        allowed = counted[(*key, since)] + earlier < limit.count
        if allowed:
            admitted.setdefault(key, []).append(message.created_at)
        answers.append(allowed)
    return answers
