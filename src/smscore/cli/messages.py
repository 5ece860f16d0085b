"""``smscore messages``, ``show`` and ``stats``: reading what was stored (counts, spend, single messages; ``show
in:ID`` and the inbound count are the received SMS of :mod:`smscore.cli.inbox`)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import UTC, datetime

from smscore.cli.app import CLIError, Context, command
from smscore.cli.arguments import duration, json_flag, listing_flags, positive_int, state
from smscore.cli.inbox import INBOUND_PREFIX, show_inbound
from smscore.cli.output import format_table, message_details, message_json, messages_table
from smscore.states import SMSState

__all__ = ["messages", "show", "stats"]


def _messages_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", type=state, help="only messages in this state (waiting, sent, error...)")
    parser.add_argument("--tag", help="only messages with this tag")
    parser.add_argument("--recipient", help="only messages to this phone number")
    listing_flags(parser, "messages")


@command("messages", help="list messages, newest first", arguments=_messages_arguments)
def messages(ctx: Context, args: argparse.Namespace) -> int:
    """List the newest messages matching the filters."""
    from smscore.phone import normalize_recipient

    recipient = None
    if args.recipient is not None:
        recipient = normalize_recipient(args.recipient, default_region=ctx.config.default_region)
    found = ctx.service.messages.find(
        state=args.state, tag=args.tag, recipient=recipient, limit=args.limit, provider=args.provider
    )
    ctx.emit([message_json(m) for m in found], lambda: messages_table(found))
    return 0


def _message_id(text: str) -> tuple[bool, int]:
    """argparse type: a sent message's id (``12``) or a received SMS's (``in:12``); (inbound?, id)."""
    inbound = text.startswith(INBOUND_PREFIX)
    return inbound, positive_int(text.removeprefix(INBOUND_PREFIX))


def _show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "id",
        type=_message_id,
        help="the message id (see 'smscore messages'), or in:ID for a received SMS (see 'smscore inbox')",
    )
    json_flag(parser)


@command("show", help="show one message (or, as in:ID, one SMS received) in full", arguments=_show_arguments)
def show(ctx: Context, args: argparse.Namespace) -> int:
    """Show every field of message ID, or of received SMS in:ID."""
    inbound, number = args.id
    if inbound:
        return show_inbound(ctx, number)
    message = ctx.service.messages.get(number)
    ctx.emit(message_json(message), lambda: message_details(message))
    return 0


def _stats_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spend", action="store_true", help="show what each provider cost per day instead")
    parser.add_argument(
        "--since", type=duration, metavar="AGE", help="with --spend: only messages sent in the last AGE (e.g. 30d)"
    )
    json_flag(parser)


@command(
    "stats",
    help="count messages per provider and state (refusals per reason, SMS received), or spend per provider and day",
    arguments=_stats_arguments,
)
def stats(ctx: Context, args: argparse.Namespace) -> int:
    """Show how many messages each provider has in each state and how many the guards refused, per reason and tag
    (or, with --spend, what they cost)."""
    if args.spend:
        return _spend(ctx, args)
    if args.since is not None:
        raise CLIError("--since applies to --spend only")
    from smscore.inbound import InboundQuery

    counts = ctx.service.messages.stats()
    refused = sorted(ctx.service.refusals.totals().items(), key=lambda item: (item[0][0], item[0][1] or ""))
    rows: list[dict[str, object]] = [
        {"provider": provider, "state": state.value, "count": n}
        for (provider, state), n in sorted(counts.items(), key=lambda item: (item[0][0] or "", item[0][1].value))
    ]
    # Messages the guards refused were never stored: their own rows, one per reason and tag.
    rows += [{"refused": reason, "tag": tag, "count": n} for (reason, tag), n in refused]
    received = {name: ctx.service.inbound.count(InboundQuery(provider=name)) for name in ctx.service.providers}
    rows += [{"inbound": name, "count": n} for name, n in received.items() if n]

    def table() -> str:
        text = _stats_table(counts)
        if refused:
            lines = [(reason, tag or "-", n) for (reason, tag), n in refused]
            text += "\n\n" + format_table(["REFUSED", "TAG", "MESSAGES"], lines, numeric=[2])
        if any(received.values()):
            received_rows = [(name, n) for name, n in received.items() if n]
            text += "\n\n" + format_table(["RECEIVED BY", "SMS"], received_rows, numeric=[1])
        return text

    ctx.emit(rows, table)
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


def _spend(ctx: Context, args: argparse.Namespace) -> int:
    from smscore.reports import spend_by_day

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
