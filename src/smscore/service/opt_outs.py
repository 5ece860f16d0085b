"""The opt-out list as ``service.opt_outs``: numbers read as sending reads them, imports and provider syncs.

Rule 1: the list itself is the storage's (:class:`~smscore.ports.OptOutRepository`); this module turns what people
and files give (national numbers, spaces, a reason column) into its entries, and reports what it could not use.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Iterator
from typing import Final

import attrs

from smscore.errors import ConfigurationError, InvalidMessageError
from smscore.flow import Driver, Flow, blocking, call
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
    ``repository`` is the storage's list itself. ``drive`` runs the list's flows: the service's driver (its
    methods are coroutines on :class:`~smscore.service.AsyncSMSService`'s list).
    """

    def __init__(self, ctx: ServiceContext, drive: Driver) -> None:
        self._ctx = ctx
        self._drive = drive

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
        return self._drive(call(self.repository.add, self.entry(recipient, reason=reason, source=source)))

    def remove(self, recipient: str) -> OptOut | None:
        """Take ``recipient`` off the list; the entry removed, or None when it was not on it."""
        return self._drive(call(self.repository.remove, self._number(recipient)))

    def get(self, recipient: str) -> OptOut | None:
        """The entry of ``recipient``, if it is on the list."""
        return self._drive(call(self.repository.get, self._number(recipient)))

    def contains(self, recipient: object) -> bool:
        """Whether ``recipient`` is on the list; what is not a phone number never is. On the synchronous service,
        ``"+420777123456" in service.opt_outs`` asks the same."""
        return self._drive(self._contains(recipient))

    def __contains__(self, recipient: object) -> bool:
        return self.contains(recipient)

    def list(self, *, limit: int | None = None, after: str | None = None) -> list[OptOut]:
        """Entries by number, after the number ``after`` (E.164), at most ``limit``."""
        return self._drive(call(self.repository.list, limit=limit, after=after))

    def count(self) -> int:
        """How many numbers are on the list."""
        return self._drive(call(self.repository.count))

    def import_lines(self, lines: Iterable[str], *, source: str = "import", reason: str | None = None) -> OptOutImport:
        """Add the numbers of ``lines``: CSV or plain text, one number per line with an optional reason in a second
        column (``+420777123456,asked by phone``); a first line ``recipient,...`` is a header; blank lines and
        lines starting with ``#`` are skipped. A line that is not a number is refused with its line number; the
        others are added, 500 per transaction."""
        rows = _numbered_rows(lines)
        entries = ((line, row[0], row[1].strip() if len(row) > 1 and row[1].strip() else reason) for line, row in rows)
        return self._drive(self._add_all(entries, source))

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
        return self._drive(self._sync_flow(found, f"sync:{provider}"[:MAX_SOURCE_LENGTH]))

    def _contains(self, recipient: object) -> Flow[bool]:
        try:
            number = normalize_recipient(recipient, default_region=self._ctx.config.default_region)
        except InvalidMessageError:
            return False
        return (yield from call(self.repository.contains, number))

    def _sync_flow(self, source: OptOutSource, name: str) -> Flow[OptOutImport]:
        """Read the provider's list a page at a time (each read may wait on the network), adding as it comes."""
        numbers = source.opted_out_numbers()
        importer = _Importer(self, name)
        while page := (yield from blocking(_next_page, numbers)):
            first = importer.read + 1
            yield from importer.feed((n, number, "opted out at the provider") for n, number in enumerate(page, first))
        return (yield from importer.finish())

    def _add_all(self, entries: Iterable[tuple[int, str, str | None]], source: str) -> Flow[OptOutImport]:
        importer = _Importer(self, source)
        yield from importer.feed(entries)
        return (yield from importer.finish())

    def _number(self, recipient: str) -> str:
        return normalize_recipient(recipient, default_region=self._ctx.config.default_region)


@attrs.define
class _Importer:
    """The running totals of an import or a sync, and the entries not written yet."""

    into: OptOutList
    source: str
    read: int = 0
    added: int = 0
    refused_count: int = 0
    refused: list[tuple[int, str]] = attrs.field(factory=list)
    chunk: dict[str, OptOut] = attrs.field(factory=dict)

    def feed(self, entries: Iterable[tuple[int, str, str | None]]) -> Flow[None]:
        """Check ``entries`` (line number, number, reason), writing them 500 at a time."""
        for line, number, why in entries:
            self.read += 1
            try:
                entry = self.into.entry(number.strip(), reason=why, source=self.source)
            except InvalidMessageError as exc:
                self.refused_count += 1
                if len(self.refused) < _MAX_REPORTED:
                    self.refused.append((line, str(exc)))
                continue
            self.chunk.setdefault(entry.recipient, entry)
            if len(self.chunk) >= _CHUNK:
                yield from self._write()

    def finish(self) -> Flow[OptOutImport]:
        """Write what is left and report."""
        if self.chunk:
            yield from self._write()
        already = self.read - self.added - self.refused_count
        return OptOutImport(self.read, self.added, already, tuple(self.refused), self.refused_count)

    def _write(self) -> Flow[None]:
        self.added += yield from call(self.into.repository.add_many, list(self.chunk.values()))
        self.chunk.clear()


def _next_page(numbers: Iterator[str]) -> list[str]:
    return list(itertools.islice(numbers, _CHUNK))


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
