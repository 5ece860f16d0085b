"""The guards' storage on the Django ORM: the opt-out list (:class:`DjangoOptOutRepository`), the refusal totals
(:class:`DjangoRefusalCounter`) and the locks recipient limits count under (:func:`lock_pairs`).

Every method is atomic on its own (inside a caller's transaction, a savepoint) and raises the core's
:class:`~smscore.StorageError` for a database error. Recipient limits are atomic across processes on PostgreSQL and
SQLite, the databases the adapter is tested on; inside a caller's transaction their locks are held until it ends.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Final

from django.db import IntegrityError, connections, transaction
from django.db.models import F

from adapters_django.errors import storage_errors
from adapters_django.models import OutputSMSMessage, SMSOptOut, SMSRefusalCount
from adapters_django.stores import OnModel
from smscore.guards import OptOut, lock_id, unique_chunks

__all__ = ["DjangoOptOutRepository", "DjangoRefusalCounter", "lock_pairs"]

#: Numbers per query and per transaction of an import.
_CHUNK: Final = 500


def lock_pairs(using: str, pairs: Sequence[tuple[str, str]]) -> None:
    """Inside the caller's transaction, lock each (recipient, tag) of ``pairs`` until it ends, so nobody counts or
    inserts for them meanwhile: a transaction-scoped advisory lock per pair on PostgreSQL (in the sorted order
    given, so two transactions never wait for each other), the database's write lock on SQLite."""
    if not pairs:
        return
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for recipient, tag in pairs:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id(recipient, tag)])
    else:
        # SQLite: a write first (it changes nothing), so the write lock is ours before anything is counted.
        OutputSMSMessage.objects.using(using).filter(pk=-1).update(version=F("version"))


def _entry(row: SMSOptOut) -> OptOut:
    return OptOut(recipient=row.recipient, reason=row.reason, source=row.source, created_at=row.created_at)


def _row(opt_out: OptOut) -> SMSOptOut:
    return SMSOptOut(
        recipient=opt_out.recipient, reason=opt_out.reason, source=opt_out.source, created_at=opt_out.created_at
    )


class DjangoOptOutRepository(OnModel):
    """A :class:`~smscore.ports.OptOutRepository` over :class:`~adapters_django.models.SMSOptOut` on the database
    alias ``using``."""

    model = SMSOptOut

    @storage_errors()
    def add(self, opt_out: OptOut) -> OptOut:
        """See :meth:`smscore.ports.OptOutRepository.add`."""
        with transaction.atomic(using=self.using):
            self._rows.bulk_create([_row(opt_out)], ignore_conflicts=True)
            return _entry(self._rows.get(recipient=opt_out.recipient))

    @storage_errors()
    def add_many(self, opt_outs: Iterable[OptOut]) -> int:
        """See :meth:`smscore.ports.OptOutRepository.add_many`: 500 numbers per transaction."""
        return sum(self._add_chunk(chunk) for chunk in unique_chunks(opt_outs, _CHUNK))

    def _add_chunk(self, chunk: Sequence[OptOut]) -> int:
        with transaction.atomic(using=self.using):
            before = self._rows.filter(recipient__in=[o.recipient for o in chunk]).count()
            self._rows.bulk_create([_row(o) for o in chunk], ignore_conflicts=True)
            after = self._rows.filter(recipient__in=[o.recipient for o in chunk]).count()
        return int(after - before)

    @storage_errors()
    def remove(self, recipient: str) -> OptOut | None:
        """See :meth:`smscore.ports.OptOutRepository.remove`."""
        with transaction.atomic(using=self.using):
            row = self._rows.select_for_update().filter(recipient=recipient).first()
            if row is None:
                return None
            self._rows.filter(pk=row.pk).delete()
            return _entry(row)

    @storage_errors()
    def get(self, recipient: str) -> OptOut | None:
        """See :meth:`smscore.ports.OptOutRepository.get`."""
        row = self._rows.filter(recipient=recipient).first()
        return None if row is None else _entry(row)

    @storage_errors()
    def contains(self, recipient: str) -> bool:
        """See :meth:`smscore.ports.OptOutRepository.contains`."""
        return bool(self._rows.filter(recipient=recipient).exists())

    @storage_errors()
    def among(self, recipients: Collection[str]) -> set[str]:
        """See :meth:`smscore.ports.OptOutRepository.among`."""
        numbers = sorted(set(recipients))
        found: set[str] = set()
        for start in range(0, len(numbers), _CHUNK):
            chunk = numbers[start : start + _CHUNK]
            found.update(self._rows.filter(recipient__in=chunk).values_list("recipient", flat=True))
        return found

    @storage_errors()
    def list(self, *, limit: int | None = None, after: str | None = None) -> list[OptOut]:
        """See :meth:`smscore.ports.OptOutRepository.list`."""
        rows = self._rows.order_by("recipient")
        if after is not None:
            rows = rows.filter(recipient__gt=after)
        if limit is not None:
            rows = rows[: max(limit, 0)]
        return [_entry(row) for row in rows]

    @storage_errors()
    def count(self) -> int:
        """See :meth:`smscore.ports.OptOutRepository.count`."""
        return int(self._rows.count())


class DjangoRefusalCounter(OnModel):
    """A :class:`~smscore.ports.RefusalCounter` over :class:`~adapters_django.models.SMSRefusalCount` on the
    database alias ``using``: each total is one row raised with ``UPDATE ... SET count = count + n``, created on its
    first refusal (a creation race is settled in a savepoint, the loser then updating the winner's row)."""

    model = SMSRefusalCount

    @storage_errors()
    def add(self, counts: Mapping[tuple[str, str | None], int]) -> None:
        """See :meth:`smscore.ports.RefusalCounter.add`."""
        rows = self._rows
        with transaction.atomic(using=self.using):
            for (reason, tag), count in sorted(counts.items(), key=lambda item: (item[0][0], item[0][1] or "")):
                if rows.filter(reason=reason, tag=tag or "").update(count=F("count") + count):
                    continue
                try:
                    with transaction.atomic(using=self.using):
                        rows.create(reason=reason, tag=tag or "", count=count)
                except IntegrityError:
                    rows.filter(reason=reason, tag=tag or "").update(count=F("count") + count)

    @storage_errors()
    def totals(self) -> dict[tuple[str, str | None], int]:
        """See :meth:`smscore.ports.RefusalCounter.totals`."""
        rows = SMSRefusalCount.objects.using(self.using).filter(count__gt=0)
        return {(reason, tag or None): int(count) for reason, tag, count in rows.values_list("reason", "tag", "count")}
