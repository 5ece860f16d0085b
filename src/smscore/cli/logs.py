"""Logging of the command line: every record of the project's loggers as one ``smscore: level: ...`` line on
stderr, drawn around a running progress line rather than through it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:
    from smscore.cli.progress import Progress

__all__ = ["LOGGERS", "Fold", "LineHandler", "configure_logging"]

#: The loggers the command line shows: the core's and the providers'.
LOGGERS: Final = ("smscore", "providers")


class _OneLineFormatter(logging.Formatter):
    """Log records as ``smscore: warning: ...`` lines; tracebacks only when verbose."""

    def __init__(self, *, verbose: bool) -> None:
        super().__init__("smscore: %(levelname)s: %(message)s")
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord({**record.__dict__, "levelname": record.levelname.lower()})
        if not self.verbose:
            record.exc_info = None
            record.exc_text = None
        return super().format(record)


@attrs.define
class Fold:
    """The records of one long command, by kind: how many of each, and (when held back) the first of each."""

    hold: bool
    counts: dict[tuple[str, object], int] = attrs.field(factory=dict)
    first: dict[tuple[str, object], logging.LogRecord] = attrs.field(factory=dict)
    dismissed: bool = False

    def dismiss(self) -> None:
        """Print none of it: the command says what failed in lines of its own."""
        self.dismissed = True


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]  # generic only in typeshed
    """Writes records on the command's stderr; when a progress line is shown (:attr:`bar`), the record
    replaces it and the bar is drawn again below."""

    def __init__(self, stream: IO[str], *, verbose: bool) -> None:
        super().__init__(stream)
        self.setFormatter(_OneLineFormatter(verbose=verbose))
        self.verbose = verbose
        #: The progress line on screen, if any.
        self.bar: Progress | None = None
        self._fold: Fold | None = None

    @contextmanager
    def folding(self, *, hold: bool) -> Iterator[Fold]:
        """Within the block, fold records by kind (same logger, same message before its arguments), so a long
        command that meets a failing provider at every chunk does not print a line per chunk.

        With ``hold``, records are kept back and printed at the end, each kind once with its count (a command
        that runs to an end); without, the first of each kind is printed as it comes and a line at the end counts
        the repeats (a command that runs until stopped). :meth:`Fold.dismiss` drops what is left to print, for a
        command that reports the failures itself. Verbose output is never folded.
        """
        fold = Fold(hold=hold)
        if self.verbose:
            yield fold
            return
        self._fold = fold
        try:
            yield fold
        finally:
            self._fold = None
            if not fold.dismissed:
                self._print_folded(fold)

    def _print_folded(self, fold: Fold) -> None:
        if not fold.hold:
            repeats = sum(fold.counts.values()) - len(fold.counts)
            if repeats:
                note = f"{repeats} similar log line(s) not shown (-v shows each)"
                self.handle(logging.makeLogRecord({"msg": note, "levelno": logging.WARNING, "levelname": "WARNING"}))
            return
        for kind, record in fold.first.items():
            count = fold.counts[kind]
            if count > 1:
                record = logging.makeLogRecord({**record.__dict__, "msg": f"{record.getMessage()} ({count} times)"})
                record.args = None
            self.handle(record)

    def filter(self, record: logging.LogRecord) -> bool:
        fold = self._fold
        if not super().filter(record):
            return False
        if fold is None:
            return True
        kind = (record.name, record.msg)
        fold.counts[kind] = fold.counts.get(kind, 0) + 1
        if fold.hold:
            fold.first.setdefault(kind, record)
            return False
        return fold.counts[kind] == 1

    def emit(self, record: logging.LogRecord) -> None:
        bar = self.bar
        if bar is None:
            super().emit(record)
            return
        with bar.lock:
            bar.clear()
            super().emit(record)
            bar.redraw()


def configure_logging(stream: IO[str], *, verbose: bool) -> LineHandler:
    """Send the records of :data:`LOGGERS` (warnings and up; info too when ``verbose``) to ``stream``."""
    handler = LineHandler(stream, verbose=verbose)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO if verbose else logging.WARNING)
        logger.propagate = False
    return handler
