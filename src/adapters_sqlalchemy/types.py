"""Column types that give the same values back on every database.

:class:`UTCDateTime` keeps datetimes timezone-aware: PostgreSQL stores ``timestamptz``; SQLite (and any database
without time zones) stores naive UTC, and the zone is put back on the way out. :class:`ExactDecimal` keeps a
``Decimal`` exactly: ``NUMERIC`` where the driver speaks decimals, text on SQLite (whose driver would round it
through a float).

Migrations refer to these classes by their import path, so they must stay importable under these names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["ExactDecimal", "UTCDateTime"]

#: Dialects whose datetime columns keep an offset; elsewhere naive UTC is stored.
_ZONE_AWARE_DIALECTS = frozenset({"postgresql"})


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored as UTC and always read back timezone-aware in UTC.

    Binding a naive datetime raises ``ValueError``: its meaning would depend on the machine's clock settings.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; drop the zone where the database cannot keep it."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored: give it a time zone")
        utc = value.astimezone(UTC)
        return utc if dialect.name in _ZONE_AWARE_DIALECTS else utc.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None] | None:
        """On SQLite, the stored text to an aware UTC datetime in one step: SQLAlchemy's own reading of the text
        (``datetime.fromisoformat``) and :meth:`process_result_value` together, without the two calls a value
        otherwise costs (six datetime columns on every message row read)."""
        if dialect.name == "sqlite":
            return _utc_from_text
        return super().result_processor(dialect, coltype)


def _utc_from_text(value: str | None) -> datetime | None:
    """SQLite's stored text of a :class:`UTCDateTime` as an aware UTC datetime (naive text is UTC)."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """A ``Decimal`` kept digit for digit: ``NUMERIC`` without a fixed scale, or text on SQLite."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Text on SQLite (no decimal type), an unconstrained ``NUMERIC`` elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Pass the decimal on, as its exact text on SQLite."""
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"price must be a Decimal, not {type(value).__name__}")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Always a ``Decimal``."""
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))
