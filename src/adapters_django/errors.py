"""Django database errors become the core's :class:`~smscore.errors.StorageError` here, at the edge.

The repositories and the rate limiter run every port method inside :func:`storage_errors`, so callers of the core
catch one error tree whatever the storage. Only the driver's first line is kept: later lines may quote the row's
values (PostgreSQL's ``DETAIL: Key (...)=(...)``), and a connection error must never carry more than its reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError

from smscore.errors import StorageError

__all__ = ["DatabaseUnavailableError", "storage_errors"]


class DatabaseUnavailableError(StorageError):
    """The database could not be reached or used: locked, gone, refusing connections, out of time."""


def _reason(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines and lines[0].strip() else type(error).__name__


@contextmanager
def storage_errors() -> Iterator[None]:
    """Raise :class:`~smscore.errors.StorageError` (the Django error chained as its cause) for any database error
    inside the block; usable as a decorator too.

    Operational and interface errors (locked, unreachable, timed out, closed connection) become
    :class:`DatabaseUnavailableError`; an ``IntegrityError`` says the database refused the write.
    """
    try:
        yield
    except IntegrityError as error:
        raise StorageError(f"database refused the write: {_reason(error)}") from error
    except (OperationalError, InterfaceError) as error:
        raise DatabaseUnavailableError(f"database unavailable: {_reason(error)}") from error
    except DatabaseError as error:
        raise StorageError(f"database error: {_reason(error)}") from error
