"""Messages become rows and rows become messages from the one field list every storage maps."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs
import pytest

from smscore import RelatedObject, SMSMessage, SMSState
from smscore.message import MUTABLE_FIELDS, ROW_FIELDS
from smscore.rows import DATETIME_FIELDS, READ_FIELDS, SAVED_FIELDS, message_from_row, row_values
from tests.contracts.repositories import T0, make_message


def full_message() -> SMSMessage:
    """A message with every field away from its default."""
    return make_message(
        id=7,
        state=SMSState.SENT,
        sent_at=T0 + timedelta(seconds=1),
        sender="ACME",
        template_slug="otp",
        error="earlier failure",
        extra_data=MappingProxyType({"order_id": 42}),
        extra_sender_data={"uniq": "u-1"},
        tag="welcome",
        related_objects=(RelatedObject("shop.order", 42),),
        attempts=2,
        priority=1,
        provider_ref="ref-1",
        encoding="UCS-2",
        segments=3,
        idempotency_key="key-1",
        next_attempt_at=T0 + timedelta(minutes=5),
        lease_expires_at=T0 + timedelta(minutes=1),
        price=Decimal("0.0075"),
        price_unit="USD",
        version=4,
    )


def test_every_field_of_a_message_but_id_and_related_objects_is_a_row_column() -> None:
    """The row holds exactly the message's fields, less the storage's id and the related objects' own rows."""
    names = [field.name for field in attrs.fields(SMSMessage)]
    assert tuple(name for name in names if name not in {"id", "related_objects"}) == ROW_FIELDS
    assert ("id", *ROW_FIELDS) == READ_FIELDS
    assert set(SAVED_FIELDS) == MUTABLE_FIELDS
    assert DATETIME_FIELDS == ("created_at", "changed_at", "sent_at", "next_attempt_at", "lease_expires_at", "send_at")


def test_a_message_round_trips_through_its_row() -> None:
    """Every field comes back equal; the row holds the state's text and plain dicts a JSON encoder takes."""
    message = full_message()
    row = row_values(message)
    assert tuple(row) == ROW_FIELDS
    assert row["state"] == "sent"
    assert type(row["extra_data"]) is dict
    assert type(row["extra_sender_data"]) is dict
    assert row["extra_sender_data"] is not message.extra_sender_data
    assert message_from_row({"id": 7, **row}, message.related_objects) == message


def test_null_json_columns_read_as_empty_objects() -> None:
    """A row written by hand with NULL JSON reads as the columns' default, an empty object."""
    row: dict[str, Any] = {"id": 1, **row_values(make_message()), "extra_data": None, "extra_sender_data": None}
    message = message_from_row(row)
    assert (message.extra_data, message.extra_sender_data, message.related_objects) == ({}, {}, ())


def test_a_row_without_a_column_is_refused_naming_it() -> None:
    """A storage whose table lacks a column fails loudly instead of building a message without the field."""
    row = {"id": 1, **row_values(make_message())}
    del row["price_unit"]
    with pytest.raises(TypeError, match="price_unit"):
        message_from_row(row)


def test_an_unknown_state_in_a_row_is_refused() -> None:
    """A row whose state is not one of the core's is not silently read."""
    with pytest.raises(ValueError, match="bogus"):
        message_from_row({"id": 1, **row_values(make_message()), "state": "bogus"})
