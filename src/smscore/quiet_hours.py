"""Quiet hours: the hours of the day in which a message of a tag may reach its recipient, in the recipient's own
local time, and the first moment at or after a due time that falls inside them. Pure rules; no storage, no clock.

The configuration names, per tag, the hours in which sending is allowed::

    quiet_hours = {"marketing": {"allowed": "09:00-20:00"}}

``"09:00-20:00"`` allows 09:00 up to (not including) 20:00 local time; a window whose end comes before its start
crosses midnight (``"22:00-06:00"``); ``24:00`` may end a window. The recipient's time zone comes from the
number's region (``phonenumbers``' time-zone data). A number whose region spans several zones (the United States,
Russia) is read in the zone whose clock is furthest behind at the due time (the westernmost): the allowed hours
start there last, so a message let through is never early anywhere; it may reach the other zones later in their
evening. A number with no known zone is read in the configured fallback zone (``quiet_hours_zone``).

>>> from datetime import datetime, UTC
>>> from zoneinfo import ZoneInfo
>>> hours = AllowedHours.parse("09:00-20:00")
>>> next_allowed(datetime(2026, 12, 24, 21, 0, tzinfo=UTC), hours, ZoneInfo("Europe/Prague"))
datetime.datetime(2026, 12, 25, 8, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from smscore.errors import ConfigurationError

__all__ = ["AllowedHours", "check_zone", "defer", "next_allowed", "parse_quiet_hours", "zone_for_number"]

_WINDOW: Final = re.compile(r"^\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]|24):([0-5]\d)\s*$")


@attrs.frozen
class AllowedHours:
    """A daily window of local time, ``start`` included, ``end`` excluded; it crosses midnight when ``end`` is not
    after ``start``."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> AllowedHours:
        """The window written ``"HH:MM-HH:MM"``. Raises ``ValueError`` for anything else, and for a window that
        starts where it ends (leave the tag out to allow every hour)."""
        found = _WINDOW.match(text) if isinstance(text, str) else None
        if found is None or (found[3] == "24" and found[4] != "00"):
            raise ValueError(f"allowed hours must read HH:MM-HH:MM (such as 09:00-20:00), not {text!r}")
        start = time(int(found[1]), int(found[2]))
        end = time(int(found[3]) % 24, int(found[4]))
        if start == end:
            raise ValueError(f"allowed hours {text!r} start where they end")
        return cls(start, end)

    def allows(self, local: time) -> bool:
        """Whether the local wall-clock time ``local`` is inside the window."""
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def __str__(self) -> str:
        end = "24:00" if self.end == time(0) and self.start != time(0) else f"{self.end:%H:%M}"
        return f"{self.start:%H:%M}-{end}"


def defer(
    due: datetime, recipient: str, tag: str, hours: AllowedHours, fallback: ZoneInfo
) -> tuple[datetime, str | None]:
    """When a message of ``tag`` to ``recipient`` (E.164), due at ``due``, may go under the allowed ``hours``
    of its tag, and why it waits longer (``None`` when it need not); ``fallback`` is the zone of numbers whose
    own is not known."""
    zone = zone_for_number(recipient, due, fallback)
    allowed = next_allowed(due, hours, zone)
    if allowed == due:
        return due, None
    return allowed, f"quiet hours of tag {tag!r}: allowed {hours} in {zone.key}"


def next_allowed(due: datetime, hours: AllowedHours, zone: ZoneInfo) -> datetime:
    """The first moment at or after ``due`` (timezone-aware) whose wall-clock time in ``zone`` is inside
    ``hours``: ``due`` itself when allowed, else the next start of the window, in UTC.

    A start the clocks skip (a daylight-saving gap, a day a zone jumps over the date line) is taken as the moment
    the clocks jump past it; a start they pass twice (going back) counts both times. Allowed hours that the clocks
    go back into without passing a start are not counted: a message waiting for them waits for the next start
    instead (later, never early).
    """
    if hours.allows(due.astimezone(zone).time()):
        return due
    day = due.astimezone(zone).date()
    for offset in range(4):
        for start in _starts_on(day + timedelta(days=offset), hours.start, zone):
            if start > due and hours.allows(start.astimezone(zone).time()):
                return start
    raise AssertionError("a daily window starts within four days")  # pragma: no cover - zones jump < 2 days


def _starts_on(day: date, start: time, zone: ZoneInfo) -> tuple[datetime, ...]:
    """The moments (UTC, in order) at which the wall clock of ``zone`` reads ``start`` on ``day``: one, two when
    the clocks go back over it, or the moment they jump past it."""
    wall = datetime.combine(day, start)
    # fold=0 reads a repeated time as its first occurrence and a skipped one with the offset from before the jump
    # (a moment after the jump); fold=1 reads a repeated one as its second occurrence and a skipped one with the
    # offset from after the jump (a moment before it).
    first = wall.replace(tzinfo=zone).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if second >= first:
        return (first,) if second == first else (first, second)
    # The clocks jump over ``start`` between the two readings: find the second they jump, to the second.
    low, high = int(second.timestamp()), int(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return (datetime.fromtimestamp(high, UTC),)


def zone_for_number(recipient: str, at: datetime, fallback: ZoneInfo) -> ZoneInfo:
    """The zone ``recipient`` (E.164) is read in at ``at``: its region's, the westernmost at that moment when
    the region has several, else ``fallback``."""
    zones = _zones(recipient)
    if not zones:
        return fallback
    return min(zones, key=lambda zone: (at.astimezone(zone).utcoffset() or timedelta(0), zone.key))


def _zones(recipient: str) -> tuple[ZoneInfo, ...]:
    import phonenumbers  # imported on first use: its metadata is large (keeps `import smscore` fast)
    from phonenumbers import timezone as number_zones

    try:
        number = phonenumbers.parse(recipient, None)
    except phonenumbers.NumberParseException:
        return ()
    return _known_zones(tuple(number_zones.time_zones_for_number(number)))


@functools.lru_cache(maxsize=512)
def _known_zones(names: tuple[str, ...]) -> tuple[ZoneInfo, ...]:
    zones = []
    for name in names:
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue  # "Etc/Unknown", or a zone this system's tz database lacks
    return tuple(zones)


def check_zone(value: Any, key: str) -> str:
    """``value`` if it names an IANA time zone. Raises :class:`~smscore.errors.ConfigurationError` naming ``key``."""
    try:
        if isinstance(value, str):
            return ZoneInfo(value).key
    except (ZoneInfoNotFoundError, ValueError):
        pass
    raise ConfigurationError(f"{key} must name a time zone (such as Europe/Prague), not {value!r}", key=key)


def parse_quiet_hours(value: Any, key: str) -> Mapping[str, AllowedHours]:
    """The ``quiet_hours`` table (``{tag: {"allowed": "HH:MM-HH:MM"}}``) as allowed hours per tag. Raises
    :class:`~smscore.errors.ConfigurationError` naming the exact key that is wrong."""
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{key} must be a table/mapping, not {type(value).__name__}", key=key)
    result: dict[str, AllowedHours] = {}
    for tag, entry in value.items():
        where = f"{key}.{tag}"
        if isinstance(entry, AllowedHours):
            result[str(tag)] = entry
            continue
        if not isinstance(entry, Mapping) or set(entry) != {"allowed"}:
            raise ConfigurationError(f'{where} must be a table with one key, allowed ("09:00-20:00")', key=where)
        try:
            result[str(tag)] = AllowedHours.parse(entry["allowed"])
        except ValueError as exc:
            raise ConfigurationError(f"{where}.allowed: {exc}", key=f"{where}.allowed") from None
    return result
