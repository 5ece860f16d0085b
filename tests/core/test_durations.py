"""Durations for operators' commands."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smscore.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        (" 30m ", timedelta(minutes=30)),
        ("2w", timedelta(weeks=2)),
        ("0s", timedelta(0)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    """Number and unit give the timedelta."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "90", "d", "-1d", "1.5h", "1y", "9999999d"])
def test_bad_durations_name_the_form(text: str) -> None:
    """Anything else is a ValueError that shows the accepted form."""
    with pytest.raises(ValueError, match="such as 90d"):
        parse_duration(text)
