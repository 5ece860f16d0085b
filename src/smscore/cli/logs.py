"""Logging of the command line: every record of the project's loggers as one ``smscore: level: ...`` line on
stderr, drawn around a running progress line rather than through it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Final

if TYPE_CHECKING:
    from smscore.cli.progress import Progress

__all__ = ["LOGGERS", "LineHandler", "configure_logging"]

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


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]  # generic only in typeshed
    """Writes records on the command's stderr; when a progress line is shown (:attr:`bar`), the record
    replaces it and the bar is drawn again below."""

    def __init__(self, stream: IO[str], *, verbose: bool) -> None:
        super().__init__(stream)
        self.setFormatter(_OneLineFormatter(verbose=verbose))
        self.verbose = verbose
        #: The progress line on screen, if any.
        self.bar: Progress | None = None
        self._seen: dict[tuple[str, object], int] | None = None

    @contextmanager
    def folding(self) -> Iterator[None]:
        """Within the block, print each kind of record once (same logger, same message before its arguments):
        a long command that meets a failing provider at every chunk shows the failure, not a line per chunk.
        Verbose output is never folded. At the end, one line says how many repeats were left out."""
        if self.verbose:
            yield
            return
        self._seen = {}
        try:
            yield
        finally:
            repeats = sum(self._seen.values()) - len(self._seen)
            self._seen = None
            if repeats:
                self.stream.write(f"smscore: {repeats} similar log line(s) not shown (-v shows each)\n")

    def filter(self, record: logging.LogRecord) -> bool:
        if self._seen is None:
            return super().filter(record)
        kind = (record.name, record.msg)
        self._seen[kind] = self._seen.get(kind, 0) + 1
        return self._seen[kind] == 1 and bool(super().filter(record))

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
