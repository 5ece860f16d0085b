"""Mapping between the core's values and table rows.

Message rows come from the one field list every storage shares (:mod:`smscore.rows`): the table's columns are
``id`` and :data:`~smscore.message.ROW_FIELDS`, and ``state`` is stored as the enum's string value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from smscore import SMSMessage, SMSTemplate
from smscore.message import ROW_FIELDS
from smscore.rows import DATETIME_FIELDS, message_from_row, row_values

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
    for name in DATETIME_FIELDS:
        _require_aware(getattr(message, name), name)
    return row_values(message)


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
    return cls(
        slug=row["slug"],
        body=row["body"],
        is_active=bool(row["is_active"]),
        created_at=row["created_at"],
        changed_at=row["changed_at"],
    )


def _require_aware(value: datetime | None, name: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware, not {value.isoformat()}")
