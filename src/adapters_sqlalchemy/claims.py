"""The outbox claim in SQL: taking the due WAITING messages for one worker, never the same ones for two.

Per priority, the messages due by now are one range of the claim index (state, priority, next_attempt_at, id),
read in due-time order, so a backlog of messages scheduled for later is never read. On PostgreSQL the ranges are
read ``FOR UPDATE SKIP LOCKED``, highest priority first until the page is full, and leased in the same
transaction; on SQLite one ``UPDATE ... WHERE id IN (...) RETURNING`` over the union of the ranges runs under the
database's single write lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, Table, select, union_all, update

from smscore.message import PRIORITIES
from smscore.states import SMSState

__all__ = ["claim_rows"]


def claim_rows(conn: Connection, m: Table, *, now: datetime, lease_until: datetime, limit: int) -> Sequence[Row[Any]]:
    """Lease up to ``limit`` due messages of the table ``m`` until ``lease_until``; return their whole rows, in no
    particular order. Runs in the caller's transaction, which must commit to hand them over."""
    pages = [_due(m, priority, now, limit) for priority in PRIORITIES]
    lease = update(m).values(lease_expires_at=lease_until, version=m.c.version + 1)
    if conn.dialect.name == "sqlite":
        # Each range keeps its own ORDER BY and LIMIT only as a subquery of the union.
        due = union_all(*(select(page.subquery()) for page in pages)).subquery()
        first = select(due.c.id).order_by(due.c.priority, due.c.next_attempt_at, due.c.id).limit(limit)
        return conn.execute(lease.where(m.c.id.in_(first)).returning(*m.c)).all()
    ids: list[int] = []
    for page in pages:
        ids += conn.execute(page.limit(limit - len(ids)).with_for_update(skip_locked=True)).scalars()
        if len(ids) == limit:
            break
    if not ids:
        return []
    return conn.execute(lease.where(m.c.id.in_(ids)).returning(*m.c)).all()


def _due(m: Table, priority: int, now: datetime, limit: int) -> Select[Any]:
    """The first ``limit`` unleased WAITING messages of ``priority`` due by ``now``, by due time then id."""
    return (
        select(m.c.id, m.c.priority, m.c.next_attempt_at)
        .where(
            m.c.state == SMSState.WAITING.value,
            m.c.priority == priority,
            m.c.next_attempt_at <= now,
            m.c.lease_expires_at.is_(None),
        )
        .order_by(m.c.next_attempt_at, m.c.id)
        .limit(limit)
    )
