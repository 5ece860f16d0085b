"""The rate-limiter port on the Django ORM: :class:`DjangoRateLimiter`.

One :class:`~adapters_django.models.SMSRateLimit` row per key (a provider name) says when the key's next send
slot is free. Each reservation runs in ``transaction.atomic`` and holds the row locked from the moment it reads
it until the transaction ends, so reservations by every worker sharing the database follow each other:

- the row is read with ``select_for_update()`` through ``get_or_create``, which also settles two workers creating
  a key's row at once (the loser's insert fails inside a savepoint, and it then reads, and locks, the winner's row);
- SQLite has no row locks but one writer at a time: there the transaction starts with a write (a no-op
  ``UPDATE``), so it takes the write lock before reading and concurrent reservations queue behind it;
- the start, ``max(now, next_free)``, is computed in Python and ``next_free`` moved to its end.

Inside a caller's transaction the block is a savepoint, and the row stays locked until the caller commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import F

from adapters_django.errors import storage_errors
from adapters_django.models import SMSRateLimit
from smscore.ports import check_reservation

__all__ = ["DjangoRateLimiter"]


class DjangoRateLimiter:
    """A :class:`~smscore.ports.RateLimiter` in the ``SMSRateLimit`` table of database alias ``using``."""

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using

    @storage_errors()
    def reserve(self, key: str, count: int, *, interval: float, now: datetime) -> datetime:
        """See :meth:`smscore.ports.RateLimiter.reserve`.

        Raises ``ValueError`` for a count below one, an interval that is not positive, or a naive ``now``.
        """
        check_reservation(count, interval, now)
        rows = SMSRateLimit.objects.using(self.using)
        with transaction.atomic(using=self.using):
            if not connections[self.using].features.has_select_for_update:
                # SQLite: write first, so the database's write lock is ours before anything is read.
                rows.filter(key=key).update(next_free=F("next_free"))
            row, _ = rows.select_for_update().get_or_create(key=key, defaults={"next_free": now})
            start = max(now, row.next_free)
            rows.filter(key=key).update(next_free=start + timedelta(seconds=interval * count))
        return start
