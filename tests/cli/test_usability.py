"""What a person meets at the keyboard: suggestions for typos, ``--extra`` values typed like the Python API,
and the progress line of long commands."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscore.cli.arguments import extra_value
from smscore.cli.progress import Progress, format_seconds
from tests.cli.conftest import CLI

RECIPIENT = "+420777123456"


class TestSuggestions:
    @pytest.mark.parametrize(
        ("args", "suggestion"),
        [
            (["sned"], "did you mean 'send'?"),
            (["stast"], "did you mean 'stats'?"),
            (["check-delivry"], "did you mean 'check-delivery'?"),
            (["template", "ad"], "did you mean 'add'?"),
            (["stats", "--jsn"], "did you mean '--json'?"),
            (["send", RECIPIENT, "hi", "--extar", "a=1"], "did you mean '--extra'?"),
            (["purge", "--older-than", "1d", "--dryrun"], "did you mean '--dry-run'?"),
        ],
    )
    def test_a_mistyped_command_or_option_gets_a_suggestion(self, cli: CLI, args: list[str], suggestion: str) -> None:
        """Exit 2, one line naming the closest command or option of that command."""
        line = cli.fails(*args, status=2)
        assert suggestion in line

    def test_nothing_close_lists_the_choices(self, cli: CLI) -> None:
        """A word like no command lists them all instead of guessing."""
        line = cli.fails("frobnicate", status=2)
        assert "did you mean" not in line
        assert "choose from 'send'" in line


class TestExtraValues:
    def test_extra_values_are_stored_as_the_json_literals_they_spell(self, cli: CLI) -> None:
        """--extra a=42 stores the number 42, as send(..., a=42) does; text that is not JSON stays text."""
        pairs = ["n=42", "f=4.5", "yes=true", "none=null", 'quoted="42"', "word=hello", "zip=007", "empty="]
        args = [arg for pair in pairs for arg in ("--extra", pair)]
        sent = json.loads(cli.ok("send", RECIPIENT, "hi", "--json", *args))
        assert sent["extra_data"] == {
            "n": 42,
            "f": 4.5,
            "yes": True,
            "none": None,
            "quoted": "42",
            "word": "hello",
            "zip": "007",
            "empty": "",
        }

    def test_help_says_how_values_are_read(self, cli: CLI) -> None:
        """send --help documents the typing."""
        assert "JSON literal" in " ".join(cli.ok("send", "--help").split())

    @pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e999", "[1e999]", "[" * 5000])
    def test_values_json_cannot_store_stay_text(self, text: str) -> None:
        """What would fail as extra data (non-finite numbers) or cannot be read (deep nesting) is kept as text."""
        assert extra_value(text) == text

    @given(st.text(max_size=50))
    def test_any_text_is_a_value_that_can_be_stored(self, text: str) -> None:
        """Every input gives text or a finite JSON value; never an error."""
        value = extra_value(text)
        json.dumps(value, allow_nan=False)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestProgress:
    def test_a_known_total_shows_share_rate_and_time_left(self) -> None:
        """Halfway through 1,000 in 2 s: 50%, 250/s, 0:02 left; the end shows the time taken."""
        now = [0.0]
        bar = Progress(_Terminal(), label="checking", total=1000, clock=lambda: now[0])
        now[0] = 2.0
        bar.advance(500)
        line = bar.line(100)
        assert line.startswith("checking [###############...............]")
        assert "500/1,000   50%  250/s  0:02 left" in line
        now[0] = 4.0
        bar.advance(500)
        assert bar.line(100).endswith("1,000/1,000  100%  250/s  0:04")

    def test_an_unknown_total_shows_count_rate_and_time_spent(self) -> None:
        """A running worker has no end: the count, the rate and the time so far."""
        now = [0.0]
        bar = Progress(_Terminal(), label="publishing", clock=lambda: now[0])
        now[0] = 65.0
        bar.advance(13_000)
        assert bar.line() == "publishing  13,000 messages  200/s  1:05"

    def test_a_narrow_terminal_gets_a_shorter_bar_then_none(self) -> None:
        """The line never wraps: the bar narrows, then goes."""
        bar = Progress(_Terminal(), label="checking", total=10)
        bar.advance(5)
        assert len(bar.line(50)) <= 50
        assert "[" in bar.line(50)
        assert "[" not in bar.line(24)
        assert len(bar.line(24)) <= 24

    def test_nothing_is_drawn_off_a_terminal(self) -> None:
        """A pipe or a file gets no progress output at all."""
        stream = io.StringIO()
        with Progress(stream, label="checking", total=3) as bar:
            bar.advance(3)
        assert stream.getvalue() == ""

    def test_the_line_is_redrawn_in_place_and_ended(self) -> None:
        """Each draw returns to the line start and clears it; closing ends the line."""
        stream = _Terminal()
        with Progress(stream, label="checking", total=2) as bar:
            bar.advance(2)
        out = stream.getvalue()
        assert out.startswith("\r\x1b[Kchecking [")
        assert out.endswith("2/2  100%  0:00\n")

    @pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (75.2, "1:15"), (3725, "1:02:05")])
    def test_times(self, seconds: float, text: str) -> None:
        """Minutes and seconds, hours when needed."""
        assert format_seconds(seconds) == text
