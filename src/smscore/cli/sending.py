"""``smscore send`` and ``smscore send-template``: one message, shown as stored."""

from __future__ import annotations

import argparse

from smscore.cli.app import CLIError, Context, command
from smscore.cli.arguments import EXTRA_HELP, extra_data, json_flag, pair, priority
from smscore.cli.output import message_details, message_json
from smscore.message import SMSMessage

__all__ = ["send", "send_template", "sending_options"]


def sending_options(parser: argparse.ArgumentParser) -> None:
    """The options every sending command shares: ``--tag``, ``--priority``, ``--json``."""
    parser.add_argument("--tag", help="a label stored with the message (letters, digits, - and _)")
    parser.add_argument("--priority", type=priority, help="1 (highest) to 3 (lowest)")
    json_flag(parser)


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
    )
    if message is None:
        raise CLIError(f"template {args.slug!r} refused to send to {args.recipient}; nothing was stored")
    return _report_sent(ctx, message)
