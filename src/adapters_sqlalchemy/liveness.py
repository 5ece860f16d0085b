"""Making sure a pooled connection to a database server still works before it is handed out, without a round trip
to the server on every checkout.

SQLAlchemy's ``pool_pre_ping`` asks the server on every checkout; on PostgreSQL that is one more round trip per
transaction, a third of a ``send``'s. :func:`ping_when_in_doubt` asks only when the connection gives a reason to
doubt it:

* its socket has something to read. An idle connection is owed nothing by the server, so data or an end of file
  there is the server's goodbye: a restart, ``pg_terminate_backend``, ``idle_session_timeout``, a proxy closing it.
  Looking is one non-blocking ``select`` on the local socket, no network traffic;
* it has been idle for :data:`IDLE_SECONDS` or more: a firewall or NAT table may have forgotten it without a word,
  and only a round trip tells (a connection in steady use is checked out far more often than that);
* the driver already knows it is closed.

A failed ping makes the pool replace the connection and, like ``pool_pre_ping``, every connection older than it,
before the caller sees anything. What neither can catch is a server that vanishes between the checkout and the
statement; SQLAlchemy then invalidates the pool on the disconnect error, and the caller gets a
:class:`~adapters_sqlalchemy.errors.DatabaseUnavailableError` for that one call, exactly as with ``pool_pre_ping``.
"""

from __future__ import annotations

import select
import time
from typing import Any, Final

from sqlalchemy import Engine, event, exc
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

__all__ = ["IDLE_SECONDS", "ping_when_in_doubt"]

#: A connection idle this long is pinged before it is handed out again.
IDLE_SECONDS: Final = 10.0

_RETURNED: Final = "smscore_returned_at"


def ping_when_in_doubt(engine: Engine) -> None:
    """Check each connection of ``engine``'s pool on checkout as the module docstring says (for an engine made
    without ``pool_pre_ping``)."""
    dialect = engine.dialect

    def returned(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
        since = record.info.get(_RETURNED)
        if since is None:
            return  # just connected
        if time.monotonic() - since < IDLE_SECONDS and _looks_alive(dbapi_connection):
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            # As pool_pre_ping: a lost connection is replaced, any other error is the caller's.
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            alive = False
        if not alive:
            # What pool_pre_ping raises: this connection and every older one are replaced.
            raise exc.InvalidatePoolError()

    event.listen(engine, "checkin", returned)
    event.listen(engine, "checkout", checked_out)


def _looks_alive(dbapi_connection: Any) -> bool:
    """Whether the driver's connection is open and nothing waits on its socket (no goodbye from the server)."""
    if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
        return False
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:
        return False
    try:
        readable, _, _ = select.select([fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable
