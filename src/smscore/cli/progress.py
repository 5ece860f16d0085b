"""The progress line of long commands: count, share, rate and time left, redrawn in place on a terminal.

On anything but a terminal (a pipe, a file, cron's mail) it prints nothing, so the output of a command stays
what its table or JSON says.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import IO, Final

__all__ = ["Progress", "format_seconds", "is_terminal"]

#: Least time between two redraws: a fast command is not slowed by drawing, and the line does not flicker.
_REDRAW_SECONDS: Final = 0.1
#: The rate (and so the time left) is shown once this much has passed: the first chunk alone says little.
_RATE_AFTER_SECONDS: Final = 0.5
_CLEAR: Final = "\r\x1b[K"


def is_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` is a terminal (a stream without a file descriptor is not)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def format_seconds(seconds: float) -> str:
    """``75.2`` -> ``"1:15"``, ``3725`` -> ``"1:02:05"``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """A one-line progress bar on ``stream``: ``label [####....] 1,200/4,000 30% 850/s 0:03 left``.

    With no ``total`` (a count not known in advance) it shows the count, the rate and the time spent. It is drawn
    only when ``enabled`` and ``stream`` is a terminal; otherwise every method does nothing. Safe to advance from
    several threads.
    """

    def __init__(
        self,
        stream: IO[str],
        *,
        label: str,
        total: int | None = None,
        unit: str = "messages",
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.label = label
        self.total = None if total is None else max(total, 0)
        self.unit = unit
        self.done = 0
        self.enabled = enabled and is_terminal(stream)
        #: Held while the line is drawn; the log handler holds it to print a record above the line.
        self.lock = threading.RLock()
        self._clock = clock
        self._started = clock()
        self._drawn_at: float | None = None

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more done, and redraw when the last redraw is old enough."""
        with self.lock:
            self.done += count
            if self.enabled and (self._drawn_at is None or self._clock() - self._drawn_at >= _REDRAW_SECONDS):
                self.redraw()

    def set_done(self, done: int) -> None:
        """Set the count done (for callers that know a running total)."""
        self.advance(done - self.done)

    def redraw(self) -> None:
        """Draw the line now."""
        with self.lock:
            if self.enabled:
                self._drawn_at = self._clock()
                self.stream.write(_CLEAR + self.line(self._width()))
                self.stream.flush()

    def clear(self) -> None:
        """Wipe the line (so that another line can be printed in its place)."""
        with self.lock:
            if self.enabled and self._drawn_at is not None:
                self.stream.write(_CLEAR)
                self.stream.flush()

    def close(self) -> None:
        """Draw the final line and end it."""
        with self.lock:
            if self.enabled:
                self.redraw()
                self.stream.write("\n")
                self.stream.flush()
                self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def line(self, width: int = 80) -> str:
        """The text of the line, at most ``width`` characters."""
        elapsed = self._clock() - self._started
        rate = self.done / elapsed if elapsed >= _RATE_AFTER_SECONDS and self.done else None
        speed = f"{rate:,.0f}/s" if rate is not None else ""
        if self.total is None:
            parts = [f"{self.done:,} {self.unit}", speed, format_seconds(elapsed)]
            return _fit(self.label, "", "  ".join(p for p in parts if p), width)
        share = min(self.done, self.total) / self.total if self.total else 1.0
        if self.done >= self.total:
            timing = format_seconds(elapsed)
        elif rate is not None:
            timing = f"{format_seconds((self.total - self.done) / rate)} left"
        else:
            timing = ""
        parts = [f"{self.done:,}/{self.total:,}", f"{share:4.0%}", speed, timing]
        return _fit(self.label, _bar(share, 30), "  ".join(p for p in parts if p), width)

    def _width(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            columns = 0
        # A terminal that reports no size (a bare pty) gets the classic 80 columns.
        return (columns or 80) - 1


def _bar(share: float, width: int) -> str:
    filled = int(width * share)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _fit(label: str, bar: str, figures: str, width: int) -> str:
    """The line, narrowing the bar and then dropping it (and cutting the figures) to fit ``width``."""
    full = f"{label} {bar} {figures}" if bar else f"{label}  {figures}"
    if len(full) <= width or not bar:
        return full[:width]
    room = width - len(label) - len(figures) - 4
    if room >= 5:
        share = bar.count("#") / (len(bar) - 2)
        return f"{label} {_bar(share, room)} {figures}"
    return f"{label}  {figures}"[:width]
