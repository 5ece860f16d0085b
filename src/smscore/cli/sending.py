"""``smscore send`` and ``smscore send-template``: one message, shown as stored."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from smscore.cli.app import CLIError, Context, command
from smscore.cli.arguments import EXTRA_HELP, duration, extra_data, json_flag, pair, priority, send_time
from smscore.cli.output import message_details, message_json

if TYPE_CHECKING:
    from smscore.message import SMSMessage

__all__ = ["scheduled_time", "send", "send_template", "sending_options"]


def sending_options(parser: argparse.ArgumentParser) -> None:
    """The options every sending command shares: ``--tag``, ``--priority``, ``--at`` / ``--in``, ``--json``."""
    parser.add_argument("--tag", help="a label stored with the message (letters, digits, - and _)")
    parser.add_argument("--priority", type=priority, help="1 (highest) to 3 (lowest)")
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--at",
        type=send_time,
        metavar="TIME",
        help="send at TIME, ISO 8601 with its offset (2026-12-24T09:00+01:00); a worker publishes it then",
    )
    when.add_argument("--in", dest="after", type=duration, metavar="DELAY", help="send after DELAY (30m, 2h, 1d)")
    json_flag(parser)


def scheduled_time(ctx: Context, args: argparse.Namespace) -> datetime | None:
    """The send time ``--at`` or ``--in`` asks for (``None``: now)."""
    after: timedelta | None = args.after
    at: datetime | None = args.at
    if after is None:
        return at
    try:
        return ctx.service.clock.now() + after
    except OverflowError:
        raise CLIError("--in: that delay goes beyond the calendar") from None


def _one_message_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--idempotency-key", metavar="KEY", help="sending again with the same key sends nothing")
    sending_options(parser)


def _send_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipient", help="phone number, e.g. +420777123456")
    parser.add_argument("text", help="the message text")
    parser.add_argument("--extra", metavar="KEY=VALUE", type=pair, action="append", default=[], help=EXTRA_HELP)
    _one_message_options(parser)


def _report_sent(ctx: Context, message: SMSMessage) -> int:
    ctx.emit(message_json(message), lambda: message_details(message))
    if message.failed:
        raise CLIError(f"message {message.id} failed: {message.error or 'no reason given'}")
    return 0


@command("send", help="send a message", arguments=_send_arguments)
def send(ctx: Context, args: argparse.Namespace) -> int:
    """Send TEXT to RECIPIENT and show the stored message."""
    extra = extra_data(args.extra)
    message = ctx.service.send(
        args.recipient,
        args.text,
        tag=args.tag,
        priority=args.priority,
        idempotency_key=args.idempotency_key,
        send_at=scheduled_time(ctx, args),
        **extra,
    )
    return _report_sent(ctx, message)


def _send_template_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipient", help="phone number, e.g. +420777123456")
    parser.add_argument("slug", help="the template's slug (see 'smscore template list')")
    parser.add_argument(
        "--var",
        metavar="KEY=VALUE",
        type=pair,
        action="append",
        default=[],
        help="template variable, as text (repeatable)",
    )
    _one_message_options(parser)


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
        send_at=scheduled_time(ctx, args),
    )
    if message is None:
        raise CLIError(f"template {args.slug!r} refused to send to {args.recipient}; nothing was stored")
    return _report_sent(ctx, message)
