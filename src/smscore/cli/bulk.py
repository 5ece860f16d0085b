"""``smscore send-many FILE|-``: a campaign from a CSV file or standard input, stored through
:meth:`~smscore.SMSService.send_many` in chunks.

The first row names the columns. ``recipient`` is required, then either ``content`` (the text of each message;
every other column is extra data, typed like ``--extra``) or ``template`` (the slug of a stored template; every
other column is a template variable, as text). An optional ``tag`` column sets each row's tag, an optional
``send_at`` column its send time (ISO 8601 with an offset; empty: ``--at`` / ``--in``, else now). A row that
cannot be sent (bad input, or refused by a guard: an opted-out number, a country not allowed, a recipient limit)
is refused with its line number and stores nothing; the others are stored and sent.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any, Final

import attrs

from smscore.cli.app import CLIError, Context, command
from smscore.cli.arguments import extra_value, parse_send_time, positive_int
from smscore.cli.files import lines, opened
from smscore.cli.output import format_table
from smscore.cli.sending import scheduled_time, sending_options
from smscore.errors import InvalidMessageError, SMSError, TemplateError

__all__ = ["send_many"]

#: What ``send_many`` raises for one bad item: that row is refused and the others are stored.
_ROW_ERRORS = (InvalidMessageError, TemplateError)

#: Columns with a meaning of their own; the rest are extra data or template variables.
_RECIPIENT, _CONTENT, _TEMPLATE, _TAG, _SEND_AT = "recipient", "content", "template", "tag", "send_at"
#: Columns that set a field of the row's message, whichever kind of row it is.
_OWN: Final = frozenset({_RECIPIENT, _TAG, _SEND_AT})
#: More columns than any campaign needs: a header beyond this is not a campaign file.
_MAX_COLUMNS: Final = 100


@attrs.frozen
class _Row:
    """One data row: the line it starts on and the item for ``send_many`` (or why it cannot be one)."""

    line: int
    item: Mapping[str, Any] | None
    error: str | None = None


@attrs.frozen
class _Refusal:
    line: int
    error: str


@attrs.define
class _Tally:
    """What the command did so far."""

    read: int = 0
    stored: int = 0
    failed: int = 0
    refused: list[_Refusal] = attrs.field(factory=list)
    states: dict[str, int] = attrs.field(factory=dict)


def _send_many_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="CSV file with a header row, or - for standard input")
    parser.add_argument(
        "--chunk-size", type=positive_int, default=500, metavar="N", help="rows stored per transaction (default 500)"
    )
    sending_options(parser)
    parser.epilog = (
        "columns: recipient, then content (other columns: extra data, typed like send --extra) or template "
        "(a stored template's slug; other columns: its variables); optional columns: tag (the row's tag) and "
        "send_at (its send time, ISO 8601 with an offset)"
    )


@command("send-many", help="send a campaign: one message per CSV row", arguments=_send_many_arguments)
def send_many(ctx: Context, args: argparse.Namespace) -> int:
    """Send one message per row of FILE, in chunks; refused rows are reported with their line numbers."""
    tally = _Tally()
    ctx.service  # noqa: B018  # a configuration or database problem is reported before any row is read
    args.send_at = scheduled_time(ctx, args)  # once: --in counts from the start, not from each chunk
    with opened(args.file) as stream:
        total = None if args.file == "-" else _count_records(args.file)
        with ctx.progress("sending", total=total) as progress:
            for chunk in _chunks(_rows(ctx, stream), args.chunk_size):
                _send_chunk(ctx, args, chunk, tally)
                progress.advance(len(chunk))
    for refusal in tally.refused:
        ctx.note(f"line {refusal.line}: {refusal.error}")
    data = {
        "read": tally.read,
        "stored": tally.stored,
        "states": tally.states,
        "refused": [{"line": r.line, "error": r.error} for r in tally.refused],
    }
    ctx.emit(data, lambda: _summary(tally))
    if tally.refused:
        numbers = ", ".join(str(r.line) for r in tally.refused[:10]) + (", ..." if len(tally.refused) > 10 else "")
        raise CLIError(
            f"{len(tally.refused)} of {tally.read} row(s) refused (line {numbers}); nothing was stored for them"
        )
    if tally.failed:
        raise CLIError(f"{tally.failed} message(s) failed at the provider (smscore messages --state error)")
    return 0


def _summary(tally: _Tally) -> str:
    rows: list[tuple[str, int]] = [("rows read", tally.read), ("stored", tally.stored)]
    rows += [(f"now {state}", n) for state, n in sorted(tally.states.items())]
    rows.append(("refused", len(tally.refused)))
    return format_table(["RESULT", "MESSAGES"], rows, numeric=[1])


def _count_records(path: str) -> int | None:
    """How many data rows ``path`` holds (for the progress line); None when it cannot be read ahead."""
    try:
        with open(path, "rb") as stream:
            return max(sum(1 for row in csv.reader(lines(stream)) if row) - 1, 0)
    except (OSError, CLIError, csv.Error):
        return None


def _rows(ctx: Context, stream: IO[bytes]) -> Iterator[_Row]:
    """The data rows of ``stream`` as items for ``send_many``; a row that cannot be one carries its error."""
    reader = csv.reader(lines(stream))
    header = _header(_next(reader))
    build = _TemplateRows(header) if _TEMPLATE in header else _ContentRows(header)
    start = reader.line_num + 1
    while (values := _next(reader, start)) is not None:
        if values:
            yield _row(build, header, values, start)
        start = reader.line_num + 1


def _next(reader: Any, line: int = 1) -> list[str] | None:
    try:
        return next(reader, None)
    except csv.Error as exc:
        raise CLIError(f"line {line}: {exc}") from None


def _header(values: list[str] | None) -> list[str]:
    if not values:
        raise CLIError("the file is empty: the first row names the columns (recipient, content or template, ...)")
    header = [name.strip() for name in values]
    if len(header) > _MAX_COLUMNS:
        raise CLIError(f"the header has {len(header)} columns; at most {_MAX_COLUMNS} are read")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise CLIError(f"the header names {', '.join(map(repr, duplicates))} more than once")
    if _RECIPIENT not in header:
        raise CLIError("the header has no 'recipient' column")
    if (_CONTENT in header) == (_TEMPLATE in header):
        raise CLIError("the header needs exactly one of the columns 'content' and 'template'")
    return header


def _row(build: _ContentRows | _TemplateRows, header: Sequence[str], values: list[str], line: int) -> _Row:
    if len(values) != len(header):
        return _Row(line, None, f"{len(values)} value(s) where the header names {len(header)} column(s)")
    fields = dict(zip(header, values, strict=True))
    try:
        return _Row(line, build(fields))
    except (SMSError, CLIError) as exc:
        return _Row(line, None, str(exc))


class _ContentRows:
    """Rows with a ``content`` column: the other columns become extra data."""

    def __init__(self, header: Sequence[str]) -> None:
        self.extra = [name for name in header if name not in {*_OWN, _CONTENT}]

    def __call__(self, fields: Mapping[str, str]) -> dict[str, Any]:
        item = _own_columns(fields, content=fields[_CONTENT])
        if self.extra:
            item["extra_data"] = {name: extra_value(fields[name]) for name in self.extra}
        return item


class _TemplateRows:
    """Rows with a ``template`` column: ``send_many`` renders the template with the other columns as variables."""

    def __init__(self, header: Sequence[str]) -> None:
        self.variables = [name for name in header if name not in {*_OWN, _TEMPLATE}]

    def __call__(self, fields: Mapping[str, str]) -> dict[str, Any]:
        context = {name: fields[name] for name in self.variables}
        return _own_columns(fields, template=fields[_TEMPLATE], context=context)


def _own_columns(fields: Mapping[str, str], **item: Any) -> dict[str, Any]:
    """``item`` with the row's recipient, and its tag and send time when it gives them."""
    item["recipient"] = fields[_RECIPIENT]
    if fields.get(_TAG):
        item["tag"] = fields[_TAG]
    if fields.get(_SEND_AT):
        try:
            item["send_at"] = parse_send_time(fields[_SEND_AT])
        except ValueError as exc:
            raise CLIError(f"send_at: {exc}") from None
    return item


def _chunks(rows: Iterator[_Row], size: int) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _send_chunk(ctx: Context, args: argparse.Namespace, chunk: Sequence[_Row], tally: _Tally) -> None:
    tally.read += len(chunk)
    tally.refused.extend(_Refusal(row.line, row.error) for row in chunk if row.error is not None)
    sendable = [row for row in chunk if row.item is not None]
    try:
        _store(ctx, args, sendable, tally)
    except _ROW_ERRORS:
        raise
    except SMSError as exc:
        raise CLIError(
            f"{exc}; stopped at line {sendable[0].line}: {tally.stored} message(s) from the lines before were stored"
        ) from exc
    tally.refused.sort(key=lambda refusal: refusal.line)


def _store(ctx: Context, args: argparse.Namespace, rows: Sequence[_Row], tally: _Tally) -> None:
    """Store ``rows`` with one ``send_many`` call; when it refuses one, halve and try again, so each refused row
    is found (a few calls per bad row) and every good row is stored, each call all or nothing."""
    if not rows:
        return
    try:
        sent = ctx.service.send_many(
            [row.item for row in rows if row.item is not None],
            tag=args.tag,
            priority=args.priority,
            send_at=args.send_at,
        )
    except _ROW_ERRORS as exc:
        if len(rows) == 1:
            tally.refused.append(_Refusal(rows[0].line, _without_index(str(exc))))
            return
        middle = len(rows) // 2
        _store(ctx, args, rows[:middle], tally)
        _store(ctx, args, rows[middle:], tally)
        return
    # Rows a guard refused (opted out, country, recipient limit): reported by line, the others were sent.
    tally.refused.extend(_Refusal(rows[item.index].line, str(item.error)) for item in sent.refused)
    tally.stored += len(sent)
    tally.failed += sum(1 for message in sent if message.failed)
    for message in sent:
        tally.states[message.state.value] = tally.states.get(message.state.value, 0) + 1


def _without_index(error: str) -> str:
    """``send_many`` names the item of a one-item call "item 0"; the line number replaces it."""
    prefix = "item 0: "
    return error[len(prefix) :] if error.startswith(prefix) else error
