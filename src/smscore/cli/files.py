"""Reading the files commands are given (a campaign, a list of numbers): a path or ``-`` for standard input, read
line by line with a bound on each line, so a hostile file costs at most its longest allowed line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Final

from smscore.cli.app import CLIError

__all__ = ["MAX_LINE_BYTES", "lines", "opened"]

#: Longest line read: far above any SMS row (a message is at most a few thousand characters).
MAX_LINE_BYTES: Final = 1024 * 1024


@contextmanager
def opened(path: str) -> Iterator[IO[bytes]]:
    """The bytes of ``path`` (``-``: standard input)."""
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115  # closed below
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror or exc}") from None
    with stream:
        yield stream


def lines(stream: IO[bytes]) -> Iterator[str]:
    """The lines of ``stream`` as UTF-8 text (a leading byte-order mark dropped), each at most
    :data:`MAX_LINE_BYTES` long: the cost of a hostile file is bounded by its line, not its size."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise CLIError(f"line {number}: longer than {MAX_LINE_BYTES // 1024} KiB")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CLIError(f"line {number}: not UTF-8 text") from None
        yield text.removeprefix("\ufeff") if number == 1 else text
