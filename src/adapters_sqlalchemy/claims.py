"""The outbox claim in SQL: taking the due WAITING messages for one worker, never the same ones for two.

Per priority, the messages due by now are one range of the claim index (state, priority, next_attempt_at, id),
read in due-time order, so a backlog of messages scheduled for later is never read. The ranges are taken highest
priority first until the page is full, each leased in the claim's transaction: on PostgreSQL read
``FOR UPDATE SKIP LOCKED`` and updated in one statement; on SQLite with one ``UPDATE ... WHERE id IN (...) RETURNING`` each,
the first of which takes the database's single write lock until the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Integer, Row, Table, Update, bindparam, select, update

from smscore.message import PRIORITIES
from smscore.states import SMSState

__all__ = ["claim_rows", "claim_statement", "highest_priority_first"]

_R = TypeVar("_R")


def claim_rows(conn: Connection, m: Table, *, now: datetime, lease_until: datetime, limit: int) -> Sequence[Row[Any]]:
    """Lease up to ``limit`` due messages of the table ``m`` until ``lease_until``; return their whole rows, in no
    particular order. Runs in the caller's transaction, which must commit to hand them over."""
    sqlite = conn.dialect.name == "sqlite"

    def lease(priority: int, count: int) -> Sequence[Row[Any]]:
        statement = claim_statement(m, priority, sqlite=sqlite)
        return conn.execute(statement, {"now": now, "lease_until": lease_until, "limit": count}).all()

    return highest_priority_first(lease, limit)


def highest_priority_first(lease: Callable[[int, int], Sequence[_R]], limit: int) -> list[_R]:
    """Up to ``limit`` claimed rows, taken from each priority in turn, highest first, until the page is full;
    ``lease(priority, count)`` claims up to ``count`` rows of one priority."""
    rows: list[_R] = []
    for priority in PRIORITIES:
        rows += lease(priority, limit - len(rows))
        if len(rows) >= limit:
            break
    return rows


def claim_statement(m: Table, priority: int, *, sqlite: bool) -> Update:
    """The lease of the first ``limit`` unleased WAITING messages of ``priority`` due by ``now`` (by due time, then
    id) until ``lease_until``, returning their whole rows; ``now``, ``lease_until`` and ``limit`` are its bound
    parameters. ``sqlite`` picks SQLite's form, else PostgreSQL's."""
    due = (
        select(m.c.id)
        .where(
            m.c.state == SMSState.WAITING.value,
            m.c.priority == priority,
            m.c.next_attempt_at <= bindparam("now", type_=m.c.next_attempt_at.type),
            m.c.lease_expires_at.is_(None),
        )
        .order_by(m.c.next_attempt_at, m.c.id)
        .limit(bindparam("limit", type_=Integer()))
    )
    lease = update(m).values(
        lease_expires_at=bindparam("lease_until", type_=m.c.lease_expires_at.type), version=m.c.version + 1
    )
    if sqlite:
        # The first UPDATE takes SQLite's single write lock, held to the commit: nobody claims in between.
        return lease.where(m.c.id.in_(due)).returning(*m.c)
    # One statement: the due rows locked in a CTE the database runs once (MATERIALIZED), then leased.
    # Not ``IN (SELECT ... SKIP LOCKED)``: a plan may run that subquery again, each time with other rows.
    locked = due.with_for_update(skip_locked=True).cte(f"due_{priority}").prefix_with("MATERIALIZED")
    return lease.where(m.c.id == locked.c.id).returning(*m.c)
