"""The application of the command line: the command registry, the parser, the run context and :func:`main`.

Everything a command module needs to register itself and run lives here; what a command prints lives in
:mod:`smscore.cli.output`, argument types in :mod:`smscore.cli.arguments`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Final, NoReturn, cast

import attrs

from smscore.cli.logs import LineHandler, configure_logging
from smscore.cli.output import json_default
from smscore.cli.progress import Progress, is_terminal
from smscore.errors import SMSError

if TYPE_CHECKING:
    from smscore.config import SMSConfig
    from smscore.service import SMSService

__all__ = ["COMMANDS", "DEFAULTS", "CLIError", "Command", "Context", "build_parser", "command", "main"]

#: What the command line uses when the configuration says nothing: the embedded SQLite storage.
DEFAULTS: Final[Mapping[str, Any]] = {"storage": "sqlalchemy"}


class CLIError(Exception):
    """A command cannot do what was asked; the message is shown as the one-line error."""


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
    "optout": "manage the opt-out list (numbers that get no SMS)",
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
    """An argument parser whose errors are one line (what is wrong, a suggestion for a typo, where to read
    more)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        # argparse's own check, plus "did you mean" for a mistyped command or choice.
        choices = action.choices
        if choices is None or value in choices or not isinstance(value, str):
            return
        names = [str(choice) for choice in choices]
        hint = _did_you_mean(value, names) or f" (choose from {', '.join(repr(name) for name in names)})"
        raise argparse.ArgumentError(action, f"invalid choice: {value!r}{hint}")

    def parse_args(  # type: ignore[override]  # the whole command line only, as main uses it
        self, args: Sequence[str] | None = None, namespace: None = None
    ) -> argparse.Namespace:
        parsed, unknown = self.parse_known_args(args)
        if unknown:
            sub = getattr(parsed, "parser", None)
            options = [*self._option_strings(), *(sub._option_strings() if isinstance(sub, _Parser) else ())]
            first = unknown[0].partition("=")[0]
            hint = _did_you_mean(first, options) if first.startswith("-") else ""
            (sub if isinstance(sub, _Parser) else self).error(f"unrecognized arguments: {' '.join(unknown)}{hint}")
        return parsed

    def _option_strings(self) -> list[str]:
        return [option for action in self._actions for option in action.option_strings]


def _did_you_mean(word: str, known: Iterable[str]) -> str:
    """``"; did you mean 'send'?"`` when one of ``known`` is close to ``word``, else ``""``."""
    import difflib  # only on this error path

    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


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
    parser.add_argument("--version", action=_Version, nargs=0, help="show the installed version and exit")
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
        sub = target.add_parser(
            words[-1], help=entry.help, description=entry.help, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        entry.arguments(sub)
        sub.set_defaults(selected=entry, parser=sub)
    return parser


class _Version(argparse.Action):
    """``--version``: the installed version, read only when asked (the package metadata is slow to load)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from importlib import metadata

        try:
            version = metadata.version("smscore")
        except metadata.PackageNotFoundError:
            version = "unknown"
        print(f"{parser.prog} {version}")
        parser.exit()


# -- running ----------------------------------------------------------------------------------------------


class Context:
    """What a command runs with: the parsed arguments, the configuration, the service and the output streams.

    The service is built on first use and closed by :func:`main`.
    """

    def __init__(self, args: argparse.Namespace, stdout: IO[str], stderr: IO[str], log: LineHandler) -> None:
        self.args = args
        self.stdout = stdout
        self.stderr = stderr
        self.log = log
        self._config: SMSConfig | None = None
        self._service: SMSService | None = None

    @property
    def config(self) -> SMSConfig:
        """The configuration (file, environment, :data:`DEFAULTS`). Raises ``ConfigurationError``."""
        from smscore.config import load_config

        if self._config is None:
            self._config = load_config(self.args.config, defaults=DEFAULTS)
        return self._config

    @property
    def service(self) -> SMSService:
        """The service built from :attr:`config`. Raises ``ConfigurationError`` or ``StorageError``."""
        from smscore.bootstrap import build_service

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

    def note(self, text: str) -> None:
        """Print a one-line remark on stderr (``smscore: ...``), unless JSON output was asked for."""
        if not self.json:
            print(f"smscore: {text}", file=self.stderr)

    def emit(self, data: Any, text: Callable[[], str]) -> None:
        """Print ``data`` as JSON when asked, else the readable ``text()``."""
        if self.json:
            self.echo(json.dumps(data, ensure_ascii=False, indent=2, default=json_default))
        else:
            self.echo(text())

    @property
    def draws_progress(self) -> bool:
        """Whether a progress line would be drawn (stderr is a terminal, no ``--json``): counting the work ahead
        is worth a query only then."""
        return not self.json and is_terminal(self.stderr)

    def progress(self, label: str, *, total: int | None = None, unit: str = "messages") -> Progress:
        """A progress line on stderr: drawn on a terminal, silent otherwise and with ``--json``.

        Log lines printed while it runs clear it first and redraw it after.
        """
        bar = Progress(self.stderr, label=label, total=total, unit=unit, enabled=not self.json)
        self.log.bar = bar if bar.enabled else None
        return bar

    def close(self) -> None:
        """Release the service's resources."""
        self.log.bar = None
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
    ctx = Context(args, out, err, configure_logging(err, verbose=args.verbose))
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
