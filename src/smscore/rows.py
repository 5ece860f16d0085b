"""A message as the row a storage keeps, and back: every storage maps rows from the one field list
:data:`~smscore.message.ROW_FIELDS`, so a new field of :class:`~smscore.SMSMessage` reaches every storage at once.

In a row, ``state`` is the enum's text and the JSON fields (``extra_data``, ``extra_sender_data``) are plain dicts;
everything else is the field's value as it is. ``id`` is the storage's and ``related_objects`` live in rows of their
own, so neither is in :data:`~smscore.message.ROW_FIELDS`.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from datetime import datetime
from operator import attrgetter
from typing import Any, Final

from smscore.message import MUTABLE_FIELDS, ROW_FIELDS, RelatedObject, SMSMessage
from smscore.states import SMSState

__all__ = ["DATETIME_FIELDS", "JSON_FIELDS", "READ_FIELDS", "SAVED_FIELDS", "message_from_row", "row_values"]

#: The fields stored as JSON objects.
JSON_FIELDS: Final = ("extra_data", "extra_sender_data")

#: The fields that hold a (timezone-aware) datetime, in row order.
DATETIME_FIELDS: Final = tuple(
    name for name in ROW_FIELDS if typing.get_type_hints(SMSMessage)[name] in (datetime, datetime | None)
)

#: What a storage reads to rebuild a message: its id and its row.
READ_FIELDS: Final = ("id", *ROW_FIELDS)

#: What a save writes, in row order: the fields that change over a message's life.
SAVED_FIELDS: Final = tuple(name for name in ROW_FIELDS if name in MUTABLE_FIELDS)

# Every value in one C call: this runs for each message written.
_read_row: Final = attrgetter(*ROW_FIELDS)


def row_values(message: SMSMessage) -> dict[str, Any]:
    """The values of ``message``'s row, one per name of :data:`~smscore.message.ROW_FIELDS`, in that order."""
    values = dict(zip(ROW_FIELDS, _read_row(message)))  # noqa: B905 - the getter reads exactly these names
    values["state"] = message.state.value
    values["extra_data"] = dict(message.extra_data)
    values["extra_sender_data"] = dict(message.extra_sender_data)
    return values


def message_from_row(row: dict[str, Any], related: Iterable[RelatedObject] = ()) -> SMSMessage:
    """The message stored in ``row`` (exactly the names of :data:`READ_FIELDS`), with its ``related`` objects in
    order.

    ``row`` is converted in place and then copied into the message: pass a dict of your own, such as a fresh
    database row. Raises ``TypeError`` naming a missing or unknown column.
    """
    row["state"] = SMSState(row["state"])
    for name in JSON_FIELDS:
        # A NULL from a hand-written row reads as an empty object, as the column's default.
        row[name] = row[name] or {}
    row["related_objects"] = tuple(related)
    return SMSMessage.from_fields(row)
