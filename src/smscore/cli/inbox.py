"""``smscore inbox``, and ``smscore show in:ID``: the SMS received, newest first, or one in full.

Inbound SMS have ids of their own, apart from the messages sent: ``smscore show 12`` is sent message 12,
``smscore show in:12`` received SMS 12 (the ``ID`` column of ``smscore inbox`` prints them so).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from smscore.cli.app import Context, command
from smscore.cli.arguments import duration, listing_flags
from smscore.cli.output import details, format_table, json_default, short

if TYPE_CHECKING:
    from smscore.inbound import InboundSMS

__all__ = ["INBOUND_PREFIX", "inbound_json", "inbox", "show_inbound"]

#: How an inbound id is written on the command line: ``in:12``.
INBOUND_PREFIX = "in:"


def inbound_json(sms: InboundSMS) -> dict[str, Any]:
    """Every field of ``sms`` as JSON-ready values (``received_at`` in ISO 8601 UTC)."""
    data = attrs.asdict(sms, recurse=False)
    data["received_at"] = json_default(sms.received_at)
    data["extra_data"] = dict(sms.extra_data)
    return data


def _inbox_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=duration, metavar="AGE", help="only SMS received in the last AGE (e.g. 7d)")
    parser.add_argument("--sender", help="only SMS from this phone number")
    listing_flags(parser, "SMS")


@command("inbox", help="list the SMS received, newest first", arguments=_inbox_arguments)
def inbox(ctx: Context, args: argparse.Namespace) -> int:
    """List the newest SMS received that match the filters (ids as ``in:N``, for ``smscore show``)."""
    from smscore.inbound import InboundQuery

    sender = args.sender
    if sender is not None:
        from smscore.phone import normalize_recipient

        sender = normalize_recipient(sender, default_region=ctx.config.default_region)
    since = datetime.now(UTC) - args.since if args.since is not None else None
    query = InboundQuery(sender=sender, provider=args.provider, since=since, limit=args.limit)
    found = ctx.service.inbound.find(query)

    def table() -> str:
        if not found:
            return "no SMS received"
        rows = [
            (f"{INBOUND_PREFIX}{s.id}", s.received_at, s.sender, s.recipient, s.provider, s.reply_to, short(s.content))
            for s in found
        ]
        return format_table(["ID", "RECEIVED (UTC)", "FROM", "TO", "PROVIDER", "REPLY TO", "TEXT"], rows)

    ctx.emit([inbound_json(s) for s in found], table)
    return 0


def show_inbound(ctx: Context, inbound_id: int) -> int:
    """``smscore show in:ID``: every field of the received SMS ``inbound_id``."""
    sms = ctx.service.inbound.get(inbound_id)
    fields = [
        ("id", f"{INBOUND_PREFIX}{sms.id}"),
        ("from", sms.sender),
        ("to", sms.recipient),
        ("content", sms.content),
        ("provider", sms.provider),
        ("provider ref", sms.provider_ref),
        ("received", sms.received_at),
        ("replies to", sms.reply_to),
        ("provider data", sms.extra_data),
    ]
    ctx.emit(inbound_json(sms), lambda: details(fields))
    return 0
