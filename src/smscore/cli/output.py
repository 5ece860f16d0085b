"""What commands print: aligned tables, labelled details and JSON-ready values of messages and templates."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import attrs

if TYPE_CHECKING:
    from smscore.message import SMSMessage
    from smscore.templates import SMSTemplate

__all__ = [
    "details",
    "format_table",
    "json_default",
    "message_details",
    "message_json",
    "messages_table",
    "short",
    "template_json",
]


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


def short(text: str, width: int = 40) -> str:
    """``text`` on one line, cut to ``width`` characters with ``...``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def json_default(value: object) -> Any:
    """``json.dumps`` hook: ISO 8601 UTC times, decimals as strings, mappings as objects."""
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
    return {key: json_default(v) if isinstance(v, datetime | Decimal) else v for key, v in data.items()}


def template_json(template: SMSTemplate) -> dict[str, Any]:
    """A template's slug, body and times as JSON-ready values."""
    return {
        "slug": template.slug,
        "body": template.body,
        "created_at": json_default(template.created_at) if template.created_at else None,
        "changed_at": json_default(template.changed_at) if template.changed_at else None,
    }


def details(pairs: Iterable[tuple[str, object]]) -> str:
    """One ``label  value`` line per pair that has a value, the values aligned."""
    shown = [(label, value) for label, value in pairs if value not in (None, "", {}, ())]
    width = max(len(label) for label, _ in shown)
    return "\n".join(f"{label.ljust(width)}  {_detail(value)}" for label, value in shown)


def _detail(value: object) -> str:
    if isinstance(value, datetime):
        return _when(value) + " UTC"
    if isinstance(value, Mapping):
        return json.dumps(dict(value), ensure_ascii=False, default=json_default)
    return str(value)


#: The lines of ``smscore show``: a label and the message field it shows; the rest are worded in place.
_SHOWN_FIELDS: Final = (
    ("id", "id"),
    ("state", "state"),
    ("recipient", "recipient"),
    ("sender", "sender"),
    ("content", "content"),
    ("template", "template_slug"),
    ("tag", "tag"),
    ("provider", "provider"),
    ("backend", "backend"),
    ("provider ref", "provider_ref"),
    ("error", "error"),
    ("encoding", None),
    ("priority", "priority"),
    ("attempts", "attempts"),
    ("created", "created_at"),
    ("changed", "changed_at"),
    ("sent", "sent_at"),
    ("scheduled for", "send_at"),
    ("deferred", "deferred_reason"),
    ("next attempt", "next_attempt_at"),
    ("price", None),
    ("extra data", "extra_data"),
    ("provider data", "extra_sender_data"),
    ("related", None),
    ("idempotency key", "idempotency_key"),
)


def message_details(message: SMSMessage) -> str:
    """Every field of ``message`` that has a value, one labelled line each."""
    worded = {
        "state": message.state.value,
        "encoding": f"{message.encoding}, {message.segments} segment(s)",
        "price": f"{message.price} {message.price_unit or ''}".strip() if message.price is not None else None,
        "related": ", ".join(f"{r.content_type}:{r.object_id}" for r in message.related_objects),
    }
    return details(
        (label, worded[label] if label in worded else getattr(message, field or label))
        for label, field in _SHOWN_FIELDS
    )


def messages_table(messages: Sequence[SMSMessage]) -> str:
    """The messages as a table, one row each."""
    if not messages:
        return "no messages"
    rows = [(m.id, m.state.value, m.recipient, m.provider, m.tag, m.created_at, short(m.content)) for m in messages]
    return format_table(["ID", "STATE", "RECIPIENT", "PROVIDER", "TAG", "CREATED (UTC)", "CONTENT"], rows, numeric=[0])
