"""Argument types and shared options of the commands: numbers, states, ages, ``KEY=VALUE`` pairs and the
typing of ``--extra`` values."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from smscore.cli.app import CLIError
from smscore.durations import parse_duration
from smscore.states import SMSState

__all__ = [
    "EXTRA_HELP",
    "duration",
    "extra_data",
    "extra_value",
    "json_flag",
    "listing_flags",
    "pair",
    "parse_send_time",
    "positive_int",
    "priority",
    "send_time",
    "state",
]

#: Keyword names ``--extra`` may not use besides the reserved keywords of sending: arguments of ``send``.
_NOT_EXTRA: Final = frozenset({"recipient", "content", "related_objects", "tag"})

#: How ``--extra`` values are read, for the help of every command that takes them.
EXTRA_HELP: Final = (
    "extra data stored with the message (repeatable); VALUE is read as a JSON literal when it is one "
    '(42, 4.5, true, null, "42", [1, 2], {"a": 1}), else kept as text: order_id=42 stores the number 42, '
    'order_id=\'"42"\' the text "42"'
)


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def priority(text: str) -> int:
    """argparse type: a priority, 1 (highest) to 3."""
    value = positive_int(text)
    if value > 3:
        raise argparse.ArgumentTypeError(f"{text!r} is not a priority (1 highest, 2 or 3 lowest)")
    return value


def state(text: str) -> SMSState:
    """argparse type: a state by its value, any case."""
    try:
        return SMSState(text.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in SMSState)
        raise argparse.ArgumentTypeError(f"{text!r} is not a state (one of: {known})") from None


def pair(text: str) -> tuple[str, str]:
    """argparse type: ``KEY=VALUE`` (the value may be empty or hold ``=``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def duration(text: str) -> timedelta:
    """argparse type: an age such as ``90d``, ``12h`` or ``2w``."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_send_time(text: str) -> datetime:
    """An ISO 8601 time with its UTC offset (``2026-12-24T09:00+01:00``, ``...Z``). Raises ``ValueError`` for
    anything else, a time without an offset included: it would be read in whatever zone the machine is in."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 with an offset, such as 2026-12-24T09:00+01:00"
        ) from None
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset: add one, such as 2026-12-24T09:00+01:00 or ...Z")
    return value


def send_time(text: str) -> datetime:
    """argparse type: :func:`parse_send_time`."""
    try:
        return parse_send_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def json_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--json``."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def listing_flags(parser: argparse.ArgumentParser, what: str) -> None:
    """Add what every listing of ``what`` (``messages``, ``SMS``) takes: ``--provider``, ``--limit`` and ``--json``."""
    parser.add_argument("--provider", help=f"only {what} of this configured provider")
    parser.add_argument("--limit", type=positive_int, default=20, help=f"show at most N {what} (default 20)")
    json_flag(parser)


def extra_value(text: str) -> Any:
    """``--extra`` value: the JSON literal ``text`` spells (``42``, ``true``, ``"x"``, ``[1]``), else ``text``.

    Values JSON cannot store (``NaN``, ``1e999``) and text too deeply nested to read stay text.
    """
    try:
        value = json.loads(text, parse_constant=_refuse)
    except (ValueError, RecursionError):
        return text
    return value if _finite(value) else text


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not stored")


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return _all_finite(value.values())
    if isinstance(value, list):
        return _all_finite(value)
    return True


def _all_finite(values: Iterable[Any]) -> bool:
    return all(_finite(v) for v in values)


def extra_data(pairs: Sequence[tuple[str, str]], *, option: str = "--extra") -> dict[str, Any]:
    """The ``--extra`` pairs as extra data, values typed by :func:`extra_value`.

    Raises :class:`CLIError` for a key given twice or one that names an option of ``send``.
    """
    # The use cases load when a command runs, not for `smscore --help` or a command line that does not parse.
    from smscore.service import RESERVED_KEYWORDS

    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in RESERVED_KEYWORDS or key in _NOT_EXTRA:
            raise CLIError(f"{option} {key}=...: {key!r} is an option of send, not extra data")
        if key in data:
            raise CLIError(f"{option} {key}=... is given twice")
        data[key] = extra_value(value)
    return data
