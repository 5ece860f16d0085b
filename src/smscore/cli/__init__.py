"""The ``smscore`` command line: send messages, manage templates, look at what happened, run the operators' jobs.

::

    smscore send +420777123456 "Your order has shipped" --tag orders --extra order_id=42
    smscore send-many campaign.csv --tag spring
    smscore template add welcome "Hello {{ name }}, welcome aboard!"
    smscore send-template +420777123456 welcome --var name=Eva
    smscore messages --state debug --limit 10
    smscore show 1
    smscore inbox --since 7d
    smscore show in:1
    smscore stats
    smscore optout add +420777123456 --reason "asked by phone"
    smscore optout import stop-list.csv
    smscore check-delivery
    smscore stats --spend --since 30d
    smscore worker --concurrency 4
    smscore purge --older-than 90d --dry-run
    smscore db upgrade

Configuration comes from ``--config FILE`` (else ``$SMSCORE_CONFIG``, else ``./smscore.toml`` when present) and
``SMSCORE_*`` environment variables, as :func:`smscore.load_config` reads them. With nothing configured, messages
are stored in ``./smscore.db`` (SQLite, created on first use) and handed to the dummy provider, so nothing leaves
the machine. Output is an aligned table, or JSON with ``--json``; long commands draw a progress line on a
terminal.

Exit status: 0 on success, 1 when the command failed (one line on stderr says why), 2 for a command line that
cannot be understood. Nothing here imports a database library: storage is whatever the configuration names.

The package: :mod:`~smscore.cli.app` (registry, parser, :func:`main`), :mod:`~smscore.cli.output`,
:mod:`~smscore.cli.progress`, :mod:`~smscore.cli.logs`, :mod:`~smscore.cli.arguments`, and one module per command
group. Adding a command is registering a function in such a module (and importing it below)::

    def _count_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--state", type=state)

    @command("count", help="count messages", arguments=_count_arguments)
    def count(ctx: Context, args: argparse.Namespace) -> int:
        ctx.echo(str(ctx.service.messages.count(args.state)))
        return 0
"""

from __future__ import annotations

from smscore.cli.app import COMMANDS, DEFAULTS, CLIError, Command, Context, build_parser, command, main
from smscore.cli.arguments import positive_int
from smscore.cli.output import format_table, message_json
from smscore.cli.progress import Progress

# The command groups register themselves on import, in the order of `smscore --help`.
from smscore.cli import sending, bulk, scheduling, templates, messages, inbox, optout, delivery, worker, purge, db  # noqa: F401  # isort: skip

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
