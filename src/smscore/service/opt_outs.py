"""The opt-out list as ``service.opt_outs``: numbers read as sending reads them, imports and provider syncs.

Rule 1: the list itself is the storage's (:class:`~smscore.ports.OptOutRepository`); this module turns what people
and files give (national numbers, spaces, a reason column) into its entries, and reports what it could not use.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Final

import attrs

from smscore.errors import ConfigurationError, InvalidMessageError
from smscore.guards import MAX_SOURCE_LENGTH, OptOut
from smscore.phone import normalize_recipient
from smscore.ports import OptOutRepository, OptOutSource
from smscore.service.context import ServiceContext

__all__ = ["OptOutImport", "OptOutList"]

#: Entries written per transaction by an import or a sync.
_CHUNK: Final = 500
#: Bad lines an import reports one by one; past these it only counts them.
_MAX_REPORTED: Final = 1000


@attrs.frozen
class OptOutImport:
    """What an import or a sync did: numbers ``read``, ``added`` (new on the list), ``already`` there, and
    ``refused`` lines (line number, why; at most 1000 listed, all counted in ``refused_count``)."""

    read: int
    added: int
    already: int
    refused: tuple[tuple[int, str], ...]
    refused_count: int


class OptOutList:
    """``service.opt_outs``: the numbers that get no SMS (sending to them raises
    :class:`~smscore.errors.RecipientOptedOutError`, unless the tag is in ``opt_out_exempt_tags``).

    Numbers are read like recipients (``default_region`` for national ones) before they are stored or looked up.
    ``repository`` is the storage's list itself.
    """

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    @property
    def repository(self) -> OptOutRepository:
        """The storage's :class:`~smscore.ports.OptOutRepository`."""
        return self._ctx.opt_outs

    def entry(self, recipient: str, *, reason: str | None = None, source: str = "api") -> OptOut:
        """The entry ``recipient`` would get now. Raises :class:`~smscore.errors.InvalidRecipientError`."""
        ctx = self._ctx
        return OptOut.of(
            recipient, at=ctx.clock.now(), reason=reason, source=source, default_region=ctx.config.default_region
        )

    def add(self, recipient: str, *, reason: str | None = None, source: str = "api") -> OptOut:
        """Put ``recipient`` on the list with why and where from; return the stored entry (the first one, when the
        number was already there). Raises :class:`~smscore.errors.InvalidRecipientError` for a bad number."""
        return self.repository.add(self.entry(recipient, reason=reason, source=source))

    def remove(self, recipient: str) -> OptOut | None:
        """Take ``recipient`` off the list; the entry removed, or None when it was not on it."""
        return self.repository.remove(self._number(recipient))

    def get(self, recipient: str) -> OptOut | None:
        """The entry of ``recipient``, if it is on the list."""
        return self.repository.get(self._number(recipient))

    def __contains__(self, recipient: object) -> bool:
        """``"+420777123456" in service.opt_outs``; what is not a phone number is never on the list."""
        try:
            number = normalize_recipient(recipient, default_region=self._ctx.config.default_region)
        except InvalidMessageError:
            return False
        return self.repository.contains(number)

    def list(self, *, limit: int | None = None, after: str | None = None) -> list[OptOut]:
        """Entries by number, after the number ``after`` (E.164), at most ``limit``."""
        return self.repository.list(limit=limit, after=after)

    def count(self) -> int:
        """How many numbers are on the list."""
        return self.repository.count()

    def import_lines(self, lines: Iterable[str], *, source: str = "import", reason: str | None = None) -> OptOutImport:
        """Add the numbers of ``lines``: CSV or plain text, one number per line with an optional reason in a second
        column (``+420777123456,asked by phone``); a first line ``recipient,...`` is a header; blank lines and
        lines starting with ``#`` are skipped. A line that is not a number is refused with its line number; the
        others are added, 500 per transaction."""
        rows = _numbered_rows(lines)
        return self._add_all(
            ((line, row[0], row[1].strip() if len(row) > 1 and row[1].strip() else reason) for line, row in rows),
            source,
        )

    def sync(self, provider: str) -> OptOutImport:
        """Add the numbers that opted out at the configured provider ``provider`` (one that plays
        :class:`~smscore.ports.OptOutSource`, as Amazon SNS does), with source ``"sync:<provider>"``.

        Raises :class:`~smscore.errors.ConfigurationError` for a provider that is not configured or keeps no list,
        and what the provider raises when it cannot be asked (nothing is lost: run it again).
        """
        found = self._ctx.providers.get(provider)
        if found is None:
            raise ConfigurationError(f"provider {provider!r} is not configured", key="providers")
        if not isinstance(found, OptOutSource):
            raise ConfigurationError(f"provider {provider!r} keeps no opt-out list to sync from", key="providers")
        numbers = (
            (index, number, "opted out at the provider") for index, number in enumerate(found.opted_out_numbers(), 1)
        )
        return self._add_all(numbers, f"sync:{provider}"[:MAX_SOURCE_LENGTH])

    def _add_all(self, entries: Iterable[tuple[int, str, str | None]], source: str) -> OptOutImport:
        read = added = refused_count = 0
        refused: list[tuple[int, str]] = []
        chunk: dict[str, OptOut] = {}
        for line, number, why in entries:
            read += 1
            try:
                entry = self.entry(number.strip(), reason=why, source=source)
            except InvalidMessageError as exc:
                refused_count += 1
                if len(refused) < _MAX_REPORTED:
                    refused.append((line, str(exc)))
                continue
            chunk.setdefault(entry.recipient, entry)
            if len(chunk) >= _CHUNK:
                added += self.repository.add_many(chunk.values())
                chunk.clear()
        if chunk:
            added += self.repository.add_many(chunk.values())
        return OptOutImport(read, added, read - added - refused_count, tuple(refused), refused_count)

    def _number(self, recipient: str) -> str:
        return normalize_recipient(recipient, default_region=self._ctx.config.default_region)


def _numbered_rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """The CSV rows of ``lines`` with their line numbers, without blanks, comments and a ``recipient`` header."""
    first = True
    for number, line in enumerate(lines, 1):
        text = line.strip().removeprefix("\ufeff")
        if not text or text.startswith("#"):
            continue
        row = next(csv.reader([text]), [])
        header, first = first and bool(row) and row[0].strip().lower() == "recipient", False
        if row and not header:
            yield number, row
