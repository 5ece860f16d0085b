"""Durations written the way operators write them: ``90d``, ``12h``, ``30m``, ``45s``, ``2w``.

>>> parse_duration("90d")
datetime.timedelta(days=90)
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

__all__ = ["parse_duration"]

_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PATTERN: Final = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """Read ``<number><unit>`` with unit s, m, h, d or w. Raises ``ValueError`` naming the accepted form."""
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a duration: use a whole number and a unit, such as 90d, 12h, 30m, 45s or 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
