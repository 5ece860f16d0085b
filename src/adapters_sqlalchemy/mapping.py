"""Explicit mapping between the core's values and table rows.

Every column is named here once in each direction, so a new field of :class:`~smscore.SMSMessage` shows up as a
missing column in review rather than as silently lost data. ``state`` is stored as the enum's string value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from smscore import RelatedObject, SMSMessage, SMSState, SMSTemplate
from smscore.message import ROW_FIELDS

__all__ = [
    "MESSAGE_COLUMNS",
    "message_from_row",
    "message_to_row",
    "related_object_rows",
    "template_from_row",
]

#: Columns written by add and save (everything but the id; save computes ``version`` itself).
MESSAGE_COLUMNS: Final = ROW_FIELDS


def message_to_row(message: SMSMessage) -> dict[str, Any]:
    """The column values of ``message`` (without ``id``). Raises ``ValueError`` for a naive datetime."""
    for name in ("created_at", "changed_at", "sent_at", "next_attempt_at", "lease_expires_at"):
        _require_aware(getattr(message, name), name)
    return {
        "recipient": message.recipient,
        "content": message.content,
        "state": SMSState(message.state).value,
        "created_at": message.created_at,
        "changed_at": message.changed_at,
        "sent_at": message.sent_at,
        "sender": message.sender,
        "template_slug": message.template_slug,
        "backend": message.backend,
        "provider": message.provider,
        "error": message.error,
        "extra_data": dict(message.extra_data),
        "extra_sender_data": dict(message.extra_sender_data),
        "tag": message.tag,
        "attempts": message.attempts,
        "priority": message.priority,
        "provider_ref": message.provider_ref,
        "encoding": message.encoding,
        "segments": message.segments,
        "idempotency_key": message.idempotency_key,
        "next_attempt_at": message.next_attempt_at,
        "lease_expires_at": message.lease_expires_at,
        "price": message.price,
        "price_unit": message.price_unit,
        "version": message.version,
    }


def message_from_row(row: Mapping[Any, Any], related: Sequence[RelatedObject] = ()) -> SMSMessage:
    """The message stored in ``row``, with its ``related`` objects in order."""
    return SMSMessage.from_fields(
        {
            "id": row["id"],
            "recipient": row["recipient"],
            "content": row["content"],
            "state": SMSState(row["state"]),
            "created_at": row["created_at"],
            "changed_at": row["changed_at"],
            "sent_at": row["sent_at"],
            "sender": row["sender"],
            "template_slug": row["template_slug"],
            "backend": row["backend"],
            "provider": row["provider"],
            "error": row["error"],
            "extra_data": row["extra_data"] or {},
            "extra_sender_data": row["extra_sender_data"] or {},
            "tag": row["tag"],
            "related_objects": tuple(related),
            "attempts": row["attempts"],
            "priority": row["priority"],
            "provider_ref": row["provider_ref"],
            "encoding": row["encoding"],
            "segments": row["segments"],
            "idempotency_key": row["idempotency_key"],
            "next_attempt_at": row["next_attempt_at"],
            "lease_expires_at": row["lease_expires_at"],
            "price": row["price"],
            "price_unit": row["price_unit"],
            "version": row["version"],
        }
    )


def related_object_rows(message: SMSMessage) -> list[dict[str, Any]]:
    """One row per related object of a stored message, keeping their order in ``position``."""
    if message.id is None:
        raise ValueError("related objects belong to a stored message; it has no id yet")
    return [
        {
            "message_id": message.id,
            "position": position,
            "content_type": related.content_type,
            "object_id": related.object_id,
            "object_id_int": related.object_id_int,
            "created_at": message.created_at,
        }
        for position, related in enumerate(message.related_objects)
    ]


def template_from_row(row: Mapping[Any, Any], cls: type[SMSTemplate] = SMSTemplate) -> SMSTemplate:
    """The template stored in ``row``, as an instance of ``cls``."""
    return cls(slug=row["slug"], body=row["body"], created_at=row["created_at"], changed_at=row["changed_at"])


def _require_aware(value: datetime | None, name: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware, not {value.isoformat()}")
