"""Translating SQLAlchemy and driver errors into the core's :class:`~smscore.errors.StorageError`, at the edge.

Only the driver's own first line of text is kept: SQLAlchemy's rendering adds the SQL and its parameters, and
connection errors must never carry a URL (it may hold a password).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

from smscore.errors import StorageError

__all__ = ["DatabaseUnavailableError", "reason", "storage_errors"]


class DatabaseUnavailableError(StorageError):
    """The database could not be reached or used: locked, missing, read-only, refusing connections."""


def reason(error: BaseException) -> str:
    """The first line of what the driver said about ``error`` (never the SQL, parameters or URL)."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    text = lines[0].strip() if lines else ""
    return text or type(original).__name__


@contextmanager
def storage_errors(*, integrity: bool = True) -> Iterator[None]:
    """Raise :class:`~smscore.errors.StorageError` for any database error inside the block.

    Operational errors (locked, unreachable, read-only) become :class:`DatabaseUnavailableError`. With
    ``integrity=False`` an ``IntegrityError`` passes through untouched, for callers that handle it themselves.
    """
    try:
        yield
    except exc.IntegrityError as error:
        if not integrity:
            raise
        raise StorageError(f"database refused the write: {reason(error)}") from error
    except exc.OperationalError as error:
        raise DatabaseUnavailableError(f"database unavailable: {reason(error)}") from error
    except exc.StatementError as error:
        raise StorageError(f"database error: {reason(error)}") from error
    except exc.TimeoutError as error:
        raise DatabaseUnavailableError(f"database unavailable: {reason(error)}") from error
