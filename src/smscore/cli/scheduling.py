"""``smscore cancel``: stopping a message before the outbox publishes it (scheduling itself is ``--at`` / ``--in``
of the sending commands)."""

from __future__ import annotations

import argparse

from smscore.cli.app import Context, command
from smscore.cli.arguments import json_flag, positive_int
from smscore.cli.output import message_details, message_json

__all__ = ["cancel"]


def _cancel_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", type=positive_int, help="the message id (see 'smscore messages --state waiting')")
    json_flag(parser)


@command("cancel", help="cancel a message that is still waiting to be sent", arguments=_cancel_arguments)
def cancel(ctx: Context, args: argparse.Namespace) -> int:
    """Cancel message ID (it ends in ERROR, "cancelled"); refused once it is on its way or finished."""
    message = ctx.service.cancel(args.id)
    ctx.emit(message_json(message), lambda: message_details(message))
    return 0
