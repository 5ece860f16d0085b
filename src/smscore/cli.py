"""The ``smscore`` command line: send messages, manage templates, look at what happened.

::

    smscore send +420777123456 "Your order has shipped" --tag orders --extra order_id=42
    smscore template add welcome "Hello {{ name }}, welcome aboard!"
    smscore send-template +420777123456 welcome --var name=Eva
    smscore messages --state debug --limit 10
    smscore show 1
    smscore stats
    smscore check-delivery
    smscore stats --spend --since 30d
    smscore worker --concurrency 4
    smscore purge --older-than 90d
    smscore db upgrade

Configuration comes from ``--config FILE`` (else ``$SMSCORE_CONFIG``, else ``./smscore.toml`` when present) and
``SMSCORE_*`` environment variables, as :func:`smscore.load_config` reads them. With nothing configured, messages
are stored in ``./smscore.db`` (SQLite, created on first use) and handed to the dummy provider, so nothing leaves
the machine. Output is an aligned table, or JSON with ``--json``.

Exit status: 0 on success, 1 when the command failed (one line on stderr says why), 2 for a command line that
cannot be understood. Nothing here imports a database library: storage is whatever the configuration names.

Adding a command is registering a function::

    def _count_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--state", type=_state)

    @command("count", help="count messages", arguments=_count_arguments)
    def count(ctx: Context, args: argparse.Namespace) -> int:
        ctx.echo(str(ctx.service.messages.count(args.state)))
        return 0
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import IO, Any, Final, NoReturn, cast

import attrs

from smscore.config import STORAGE_ALIASES, SMSConfig, build_service, load_config, resolve
from smscore.durations import parse_duration
from smscore.errors import SMSError, TemplateNotFoundError
from smscore.message import SMSMessage
from smscore.phone import normalize_recipient
from smscore.ports import DeliveryChecker
from smscore.reports import spend_by_day
from smscore.service import RESERVED_KEYWORDS, DeliveryCheckReport, SMSService
from smscore.states import SMSState
from smscore.templates import SMSTemplate

__all__ = [
    "COMMANDS",
    "DEFAULTS",
    "CLIError",
    "Command",
    "Context",
    "Progress",
    "build_parser",
    "command",
    "format_table",
    "main",
    "message_json",
    "positive_int",
]

#: What the command line uses when the configuration says nothing: the embedded SQLite storage.
DEFAULTS: Final[Mapping[str, Any]] = {"storage": "sqlalchemy"}

#: Keyword names ``--extra`` may not use: they are options of ``send``, not extra data.
_NOT_EXTRA: Final = frozenset({*RESERVED_KEYWORDS, "recipient", "content", "related_objects", "tag"})


class CLIError(Exception):
    """A command cannot do what was asked; the message is shown as the one-line error."""


# -- the registry ----------------------------------------------------------------------------------------------


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """A command without arguments of its own."""


Runner = Callable[["Context", argparse.Namespace], int]


@attrs.frozen
class Command:
    """One subcommand: its words (``("template", "add")``), help line, argument setup and runner.

    The service is built only when a command first asks for it, so commands that need just the configuration
    (``db``) open no storage (and create no schema) before they run.
    """

    words: tuple[str, ...]
    help: str
    run: Runner
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments


#: Every registered command, in registration order (the order of ``smscore --help``).
COMMANDS: Final[dict[tuple[str, ...], Command]] = {}

#: Help lines of command groups (``template``, ``db``).
_GROUPS: Final[dict[str, str]] = {
    "template": "manage message templates",
    "db": "manage the database schema",
}


def command(
    name: str,
    *,
    help: str,
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments,
) -> Callable[[Runner], Runner]:
    """Register the decorated function as the subcommand ``name`` (``"stats"`` or ``"template add"``).

    Raises ``ValueError`` when the name is taken.
    """
    words = tuple(name.split())

    def register(run: Runner) -> Runner:
        if words in COMMANDS:
            raise ValueError(f"command {name!r} is registered twice")
        COMMANDS[words] = Command(words, help, run, arguments)
        return run

    return register


# -- parsing ----------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong and where to read more."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _priority(text: str) -> int:
    value = positive_int(text)
    if value > 3:
        raise argparse.ArgumentTypeError(f"{text!r} is not a priority (1 highest, 2 or 3 lowest)")
    return value


def _state(text: str) -> SMSState:
    try:
        return SMSState(text.strip().lower())
    except ValueError:
        known = ", ".join(state.value for state in SMSState)
        raise argparse.ArgumentTypeError(f"{text!r} is not a state (one of: {known})") from None


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line, with every registered command."""
    parser = _Parser(
        prog="smscore",
        description="Send SMS and keep a record of every message and its delivery state.",
        epilog="Without configuration, messages are stored in ./smscore.db and sent with the dummy provider.",
    )
    parser.add_argument("--config", metavar="PATH", help="TOML configuration file (default: ./smscore.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more, with tracebacks")
    parser.add_argument("--traceback", action="store_true", help="show the traceback of an unexpected error")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, argparse._SubParsersAction[_Parser]] = {}
    for words, entry in COMMANDS.items():
        target = commands
        if len(words) == 2:
            group = words[0]
            if group not in groups:
                group_parser = commands.add_parser(group, help=_GROUPS.get(group, ""))
                groups[group] = group_parser.add_subparsers(dest=f"{group}_command", metavar="ACTION", required=True)
            target = groups[group]
        sub = target.add_parser(words[-1], help=entry.help, description=entry.help)
        entry.arguments(sub)
        sub.set_defaults(selected=entry)
    return parser


# -- running ----------------------------------------------------------------------------------------------


class Context:
    """What a command runs with: the parsed arguments, the configuration, the service and the output streams.

    The service is built on first use and closed by :func:`main`.
    """

    def __init__(self, args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> None:
        self.args = args
        self.stdout = stdout
        self.stderr = stderr
        self._config: SMSConfig | None = None
        self._service: SMSService | None = None

    @property
    def config(self) -> SMSConfig:
        """The configuration (file, environment, :data:`DEFAULTS`). Raises ``ConfigurationError``."""
        if self._config is None:
            self._config = load_config(self.args.config, defaults=DEFAULTS)
        return self._config

    @property
    def service(self) -> SMSService:
        """The service built from :attr:`config`. Raises ``ConfigurationError`` or ``StorageError``."""
        if self._service is None:
            self._service = build_service(self.config)
        return self._service

    @property
    def json(self) -> bool:
        """Whether the command was asked for JSON output."""
        return bool(getattr(self.args, "json", False))

    def echo(self, text: str = "") -> None:
        """Print a line on standard output."""
        print(text, file=self.stdout)

    def emit(self, data: Any, text: Callable[[], str]) -> None:
        """Print ``data`` as JSON when asked, else the readable ``text()``."""
        if self.json:
            self.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default))
        else:
            self.echo(text())

    def close(self) -> None:
        """Release the service's resources."""
        if self._service is not None:
            self._service.close()
            self._service = None


def main(argv: Sequence[str] | None = None, *, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    """Run the command line and return its exit status (the ``smscore`` console script).

    Never raises for bad input or a failing command: it prints one line on stderr and returns 1 (2 for a command
    line that cannot be parsed).
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    _tolerate_unencodable(out, err)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    _configure_logging(err, verbose=args.verbose)
    ctx = Context(args, out, err)
    try:
        return cast(Command, args.selected).run(ctx, args)
    except (SMSError, CLIError) as exc:
        return _fail(err, str(exc))
    except KeyboardInterrupt:
        return _fail(err, "interrupted", status=130)
    except BrokenPipeError:
        # The reader went away (``smscore messages | head``): stop quietly.
        _silence(out)
        return 0
    except Exception as exc:
        if args.traceback or args.verbose:
            raise
        return _fail(err, f"unexpected {type(exc).__name__}: {exc} (run with --traceback for details)")
    finally:
        try:
            ctx.close()
        except SMSError as exc:
            _fail(err, f"while closing: {exc}")


def _fail(stream: IO[str], message: str, *, status: int = 1) -> int:
    one_line = "; ".join(line.strip() for line in message.splitlines() if line.strip()) or "failed"
    print(f"smscore: error: {one_line}", file=stream)
    return status


def _silence(stream: IO[str]) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        # Python flushes stdout once more at exit; that write must not fail again.
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


def _tolerate_unencodable(*streams: IO[str]) -> None:
    """Message text may hold any character; a terminal that cannot show one gets an escape, not a crash."""
    for stream in streams:
        reconfigure = getattr(stream, "reconfigure", None)
        if callable(reconfigure):
            reconfigure(errors="backslashreplace")


class _OneLineFormatter(logging.Formatter):
    """Log records as ``smscore: warning: ...`` lines; tracebacks only when verbose."""

    def __init__(self, *, verbose: bool) -> None:
        super().__init__("smscore: %(levelname)s: %(message)s")
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        record.levelname = record.levelname.lower()
        if not self.verbose:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return super().format(record)


def _configure_logging(stream: IO[str], *, verbose: bool) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_OneLineFormatter(verbose=verbose))
    root = logging.getLogger("smscore")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def _version() -> str:
    try:
        return importlib.metadata.version("smscore")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# -- output -----------------------------------------------------------------------------------------------


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, numeric: Iterable[int] = ()) -> str:
    """Rows as aligned columns under ``headers``; the columns at the ``numeric`` indexes are right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    right = set(numeric)
    widths = [max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        padded = (v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True)))
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)])


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return _when(value)
    return " ".join(str(value).split())


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def _json_default(value: object) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def message_json(message: SMSMessage) -> dict[str, Any]:
    """Every field of ``message`` as JSON-ready values (ISO 8601 UTC times, prices as strings)."""
    data = attrs.asdict(message, recurse=False)
    data["state"] = message.state.value
    data["failed"] = message.failed
    data["extra_data"] = dict(message.extra_data)
    data["extra_sender_data"] = dict(message.extra_sender_data)
    data["related_objects"] = [
        {"content_type": r.content_type, "object_id": r.object_id} for r in message.related_objects
    ]
    return {key: _json_default(v) if isinstance(v, datetime | Decimal) else v for key, v in data.items()}


def _template_json(template: SMSTemplate) -> dict[str, Any]:
    return {
        "slug": template.slug,
        "body": template.body,
        "created_at": _json_default(template.created_at) if template.created_at else None,
        "changed_at": _json_default(template.changed_at) if template.changed_at else None,
    }


def _details(pairs: Iterable[tuple[str, object]]) -> str:
    shown = [(label, value) for label, value in pairs if value not in (None, "", {}, ())]
    width = max(len(label) for label, _ in shown)
    return "\n".join(f"{label.ljust(width)}  {_detail(value)}" for label, value in shown)


def _detail(value: object) -> str:
    if isinstance(value, datetime):
        return _when(value) + " UTC"
    if isinstance(value, Mapping):
        return json.dumps(dict(value), ensure_ascii=False, default=_json_default)
    return str(value)


def _message_details(message: SMSMessage) -> str:
    related = ", ".join(f"{r.content_type}:{r.object_id}" for r in message.related_objects)
    price = f"{message.price} {message.price_unit or ''}".strip() if message.price is not None else None
    return _details(
        [
            ("id", message.id),
            ("state", message.state.value),
            ("recipient", message.recipient),
            ("sender", message.sender),
            ("content", message.content),
            ("template", message.template_slug),
            ("tag", message.tag),
            ("provider", message.provider),
            ("backend", message.backend),
            ("provider ref", message.provider_ref),
            ("error", message.error),
            ("encoding", f"{message.encoding}, {message.segments} segment(s)"),
            ("priority", message.priority),
            ("attempts", message.attempts),
            ("created", message.created_at),
            ("changed", message.changed_at),
            ("sent", message.sent_at),
            ("next attempt", message.next_attempt_at),
            ("price", price),
            ("extra data", message.extra_data),
            ("provider data", message.extra_sender_data),
            ("related", related),
            ("idempotency key", message.idempotency_key),
        ]
    )


def _messages_table(messages: Sequence[SMSMessage]) -> str:
    if not messages:
        return "no messages"
    rows = [(m.id, m.state.value, m.recipient, m.provider, m.tag, m.created_at, _short(m.content)) for m in messages]
    return format_table(["ID", "STATE", "RECIPIENT", "PROVIDER", "TAG", "CREATED (UTC)", "CONTENT"], rows, numeric=[0])


# -- progress ---------------------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar redrawn in place on a terminal; silent when the stream is not a terminal."""

    def __init__(self, stream: IO[str], *, total: int, label: str, width: int = 30) -> None:
        self.stream = stream
        self.total = max(total, 0)
        self.label = label
        self.width = width
        self.done = 0
        self.enabled = _is_terminal(stream)

    def advance(self, count: int) -> None:
        """Count ``count`` more items done and redraw."""
        self.done += count
        if self.enabled:
            self.stream.write("\r" + self._bar())
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled:
            self.stream.write("\r" + self._bar() + "\n")
            self.stream.flush()

    def _bar(self) -> str:
        shown = min(self.done, self.total) if self.total else self.done
        filled = self.width if not self.total else self.width * shown // self.total
        return f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}"


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# -- the commands -----------------------------------------------------------------------------------------


def _extra_data(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in _NOT_EXTRA:
            raise CLIError(f"--extra {key}=...: {key!r} is an option of send, not extra data")
        if key in data:
            raise CLIError(f"--extra {key}=... is given twice")
        data[key] = value
    return data


def _sending_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tag", help="a label stored with the message (letters, digits, - and _)")
    parser.add_argument("--priority", type=_priority, help="1 (highest) to 3 (lowest)")
    parser.add_argument("--idempotency-key", metavar="KEY", help="sending again with the same key sends nothing")
    _json_flag(parser)


def _send_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipient", help="phone number, e.g. +420777123456")
    parser.add_argument("text", help="the message text")
    parser.add_argument(
        "--extra", metavar="KEY=VALUE", type=_pair, action="append", default=[], help="extra data (repeatable)"
    )
    _sending_options(parser)


def _report_sent(ctx: Context, message: SMSMessage) -> int:
    ctx.emit(message_json(message), lambda: _message_details(message))
    if message.failed:
        raise CLIError(f"message {message.id} failed: {message.error or 'no reason given'}")
    return 0


@command("send", help="send a message", arguments=_send_arguments)
def send(ctx: Context, args: argparse.Namespace) -> int:
    """Send TEXT to RECIPIENT and show the stored message."""
    extra = _extra_data(args.extra)
    message = ctx.service.send(
        args.recipient,
        args.text,
        tag=args.tag,
        priority=args.priority,
        idempotency_key=args.idempotency_key,
        **extra,
    )
    return _report_sent(ctx, message)


def _send_template_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipient", help="phone number, e.g. +420777123456")
    parser.add_argument("slug", help="the template's slug (see 'smscore template list')")
    parser.add_argument(
        "--var", metavar="KEY=VALUE", type=_pair, action="append", default=[], help="template variable (repeatable)"
    )
    _sending_options(parser)


@command("send-template", help="send a message rendered from a stored template", arguments=_send_template_arguments)
def send_template(ctx: Context, args: argparse.Namespace) -> int:
    """Render template SLUG with the ``--var`` values and send it to RECIPIENT."""
    message = ctx.service.send_template(
        args.recipient,
        args.slug,
        dict(args.var),
        tag=args.tag,
        priority=args.priority,
        idempotency_key=args.idempotency_key,
    )
    if message is None:
        raise CLIError(f"template {args.slug!r} refused to send to {args.recipient}; nothing was stored")
    return _report_sent(ctx, message)


def _template_add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slug", help="the template's key (letters, digits, - and _)")
    parser.add_argument("body", help="Jinja2 text, e.g. 'Hello {{ name }}'")
    _json_flag(parser)


@command("template add", help="add a template, or replace the one with this slug", arguments=_template_add_arguments)
def template_add(ctx: Context, args: argparse.Namespace) -> int:
    """Store template SLUG with BODY."""
    template = SMSTemplate(slug=args.slug, body=args.body)
    validate = getattr(ctx.service.renderer, "validate", None)
    if callable(validate):
        validate(template.body)  # refuse a broken body now, not at the first send
    templates = ctx.service.templates
    try:
        templates.get(template.slug)
        replacing = True
    except TemplateNotFoundError:
        replacing = False
    saved = templates.save(template)
    verb = "replaced" if replacing else "added"
    ctx.emit(_template_json(saved), lambda: f"template {saved.slug!r} {verb}")
    return 0


@command("template list", help="list the templates", arguments=_json_flag)
def template_list(ctx: Context, args: argparse.Namespace) -> int:
    """Show every template with the start of its body."""
    found = ctx.service.templates.list()

    def table() -> str:
        if not found:
            return "no templates (add one with: smscore template add SLUG BODY)"
        rows = [(t.slug, t.changed_at, _short(t.body, 60)) for t in found]
        return format_table(["SLUG", "CHANGED (UTC)", "BODY"], rows)

    ctx.emit([_template_json(t) for t in found], table)
    return 0


def _slug_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slug", help="the template's slug")
    _json_flag(parser)


@command("template show", help="show one template", arguments=_slug_argument)
def template_show(ctx: Context, args: argparse.Namespace) -> int:
    """Show template SLUG in full."""
    template = ctx.service.templates.get(args.slug)
    details = [("slug", template.slug), ("created", template.created_at), ("changed", template.changed_at)]
    ctx.emit(_template_json(template), lambda: _details([*details, ("body", template.body)]))
    return 0


@command("template delete", help="delete a template", arguments=_slug_argument)
def template_delete(ctx: Context, args: argparse.Namespace) -> int:
    """Delete template SLUG (messages sent from it keep its slug)."""
    ctx.service.templates.delete(args.slug)
    ctx.emit({"deleted": args.slug}, lambda: f"template {args.slug!r} deleted")
    return 0


def _messages_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", type=_state, help="only messages in this state (waiting, sent, error...)")
    parser.add_argument("--tag", help="only messages with this tag")
    parser.add_argument("--recipient", help="only messages to this phone number")
    parser.add_argument("--provider", help="only messages of this configured provider")
    parser.add_argument("--limit", type=positive_int, default=20, help="show at most N messages (default 20)")
    _json_flag(parser)


@command("messages", help="list messages, newest first", arguments=_messages_arguments)
def messages(ctx: Context, args: argparse.Namespace) -> int:
    """List the newest messages matching the filters."""
    recipient = None
    if args.recipient is not None:
        recipient = normalize_recipient(args.recipient, default_region=ctx.config.default_region)
    found = ctx.service.messages.find(
        state=args.state, tag=args.tag, recipient=recipient, limit=args.limit, provider=args.provider
    )
    ctx.emit([message_json(m) for m in found], lambda: _messages_table(found))
    return 0


def _show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=positive_int, help="the message id (see 'smscore messages')")
    _json_flag(parser)


@command("show", help="show one message in full", arguments=_show_arguments)
def show(ctx: Context, args: argparse.Namespace) -> int:
    """Show every field of message ID."""
    message = ctx.service.messages.get(args.id)
    ctx.emit(message_json(message), lambda: _message_details(message))
    return 0


def _report_table(report: DeliveryCheckReport) -> str:
    rows = [
        ("checked", report.checked),
        ("changed", report.changed),
        ("timed out", report.timed_out),
        ("recovered leases", report.recovered),
        ("failed requests", report.failed_chunks),
    ]
    return format_table(["RESULT", "MESSAGES"], rows, numeric=[1])


@command("check-delivery", help="ask the providers what became of sent messages", arguments=_json_flag)
def check_delivery(ctx: Context, args: argparse.Namespace) -> int:
    """Run one delivery check, with a progress bar on a terminal."""
    service = ctx.service
    checkers = [name for name, provider in service.providers.items() if isinstance(provider, DeliveryChecker)]
    if not checkers and not ctx.json:
        print("smscore: no configured provider reports delivery; only idle timeouts are applied", file=ctx.stderr)
    repository = service.messages
    in_flight = (SMSState.SENDING, SMSState.UNKNOWN, SMSState.SENT)
    total = sum(repository.count(state, provider=name) for name in checkers for state in in_flight)
    progress = Progress(ctx.stderr, total=total, label="checking delivery")
    try:
        report = service.check_delivery(progress=progress.advance)
    finally:
        progress.close()
    ctx.emit(attrs.asdict(report), lambda: _report_table(report))
    return 0


def _stats_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spend", action="store_true", help="show what each provider cost per day instead")
    parser.add_argument(
        "--since", type=_duration, metavar="AGE", help="with --spend: only messages sent in the last AGE (e.g. 30d)"
    )
    _json_flag(parser)


@command(
    "stats", help="count messages per provider and state, or spend per provider and day", arguments=_stats_arguments
)
def stats(ctx: Context, args: argparse.Namespace) -> int:
    """Show how many messages each provider has in each state (or, with --spend, what they cost)."""
    if args.spend:
        return _spend(ctx, args)
    if args.since is not None:
        raise CLIError("--since applies to --spend only")
    counts = ctx.service.messages.stats()
    rows = [
        {"provider": provider, "state": state.value, "count": n}
        for (provider, state), n in sorted(counts.items(), key=lambda item: (item[0][0] or "", item[0][1].value))
    ]
    ctx.emit(rows, lambda: _stats_table(counts))
    return 0


def _spend(ctx: Context, args: argparse.Namespace) -> int:
    since = datetime.now(UTC) - args.since if args.since is not None else None
    found = spend_by_day(ctx.service.messages, since=since)
    rows = [
        {
            "day": r.day.isoformat(),
            "provider": r.provider,
            "currency": r.currency,
            "amount": str(r.amount),
            "messages": r.messages,
            "segments": r.segments,
            "unpriced": r.unpriced,
        }
        for r in found
    ]

    def table() -> str:
        if not found:
            return "no sent messages"
        lines = [
            (r.day.isoformat(), r.provider or "-", r.currency or "-", r.amount, r.messages, r.segments, r.unpriced)
            for r in found
        ]
        headers = ["DAY (UTC)", "PROVIDER", "CURRENCY", "AMOUNT", "PRICED", "SEGMENTS", "UNPRICED"]
        return format_table(headers, lines, numeric=[3, 4, 5, 6])

    ctx.emit(rows, table)
    return 0


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _purge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--older-than", type=_duration, required=True, metavar="AGE", help="e.g. 90d, 12h, 2w")
    parser.add_argument("--batch-size", type=positive_int, default=1000, help="messages deleted per transaction")
    _json_flag(parser)


@command("purge", help="delete finished messages older than an age (retention)", arguments=_purge_arguments)
def purge(ctx: Context, args: argparse.Namespace) -> int:
    """Delete DELIVERED, DEBUG, ERROR and SENT messages last changed longer ago than --older-than."""
    deleted = ctx.service.purge(args.older_than, batch_size=args.batch_size)
    ctx.emit({"deleted": deleted}, lambda: f"deleted {deleted} finished message(s)")
    return 0


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="stop when nothing is due instead of waiting for more")
    parser.add_argument(
        "--concurrency", type=positive_int, default=1, help="threads claiming and publishing (default 1)"
    )
    parser.add_argument("--batch-size", type=positive_int, help="messages claimed per step (default: batch_size)")
    parser.add_argument("--idle", type=float, default=1.0, metavar="SECONDS", help="wait when nothing is due")
    _json_flag(parser)


@command("worker", help="publish queued messages (outbox mode) until stopped", arguments=_worker_arguments)
def worker(ctx: Context, args: argparse.Namespace) -> int:
    """Drain the outbox; SIGTERM or Ctrl-C finishes the batch in hand, then stops."""
    from smscore.worker import Worker

    if args.idle <= 0:
        raise CLIError("--idle must be positive")
    service = ctx.service
    if not service.config.batch_sending and not ctx.json:
        print(
            "smscore: batch_sending is off, so send publishes at once; the worker only picks up retries",
            file=ctx.stderr,
        )
    runner = Worker(service, concurrency=args.concurrency, batch_size=args.batch_size, idle_seconds=args.idle)
    runner.install_signal_handlers()
    totals = runner.run(once=args.once)
    states = {state.value: n for state, n in sorted(totals.states.items(), key=lambda item: item[0].value)}
    data = {"steps": totals.steps, "claimed": totals.claimed, "recovered": totals.recovered, "states": states}

    def table() -> str:
        rows = [("claimed", totals.claimed), ("recovered leases", totals.recovered)]
        rows += [(f"now {state}", n) for state, n in states.items()]
        return format_table(["RESULT", "MESSAGES"], rows, numeric=[1])

    ctx.emit(data, table)
    return 0


def _stats_table(counts: Mapping[tuple[str | None, SMSState], int]) -> str:
    if not counts:
        return "no messages yet"
    states = list(SMSState)
    providers = sorted({provider for provider, _ in counts}, key=lambda p: (p is None, p or ""))
    rows: list[list[object]] = []
    for provider in providers:
        numbers = [counts.get((provider, state), 0) for state in states]
        rows.append([provider or "-", *numbers, sum(numbers)])
    totals = [sum(counts.get((p, state), 0) for p in providers) for state in states]
    rows.append(["TOTAL", *totals, sum(totals)])
    headers = ["PROVIDER", *(state.name for state in states), "TOTAL"]
    return format_table(headers, rows, numeric=range(1, len(headers)))


def _storage_tool(config: SMSConfig, name: str) -> Callable[[SMSConfig], str]:
    """The function ``name`` of the module that holds the configured storage factory, if it has one."""
    factory = resolve(STORAGE_ALIASES.get(config.storage, config.storage), key="storage")
    module = sys.modules.get(getattr(factory, "__module__", ""))
    tool = getattr(module, name, None)
    if not callable(tool):
        raise CLIError(f"storage {config.storage!r} has no database schema to manage")
    return cast(Callable[[SMSConfig], str], tool)


@command("db upgrade", help="create or upgrade the database schema")
def db_upgrade(ctx: Context, args: argparse.Namespace) -> int:
    """Apply the storage's migrations to the configured database."""
    ctx.echo(_storage_tool(ctx.config, "upgrade_database")(ctx.config))
    return 0


@command("db check", help="fail when the database schema differs from the code's")
def db_check(ctx: Context, args: argparse.Namespace) -> int:
    """Check that the configured database is at the newest revision and matches the models."""
    ctx.echo(_storage_tool(ctx.config, "check_database")(ctx.config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
