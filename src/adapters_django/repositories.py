"""The core's message storage port on the Django ORM: :class:`DjangoMessageRepository` (templates live in
:mod:`adapters_django.template_repository`).

Every method is atomic on its own (``transaction.atomic``; inside a caller's transaction it becomes a savepoint)
and raises the core's :class:`~smscore.StorageError` for a database error (see :mod:`adapters_django.errors`).
Rows map to values through the field list every storage shares (:mod:`smscore.rows`); nothing here decides a
state, it only stores what the core decided.

- ``save`` is compare-and-set: ``UPDATE ... WHERE id = %s AND version = %s``; no row updated means someone else
  wrote first (:class:`~smscore.ConcurrentUpdateError`) or the message is gone.
- Idempotency keys are unique in the database; a clash is caught inside a savepoint and reported with the
  message that holds the key.
- ``claim`` takes due messages with ``SELECT ... FOR UPDATE SKIP LOCKED`` where the database has it
  (PostgreSQL, MySQL 8, Oracle). SQLite has no row locks but lets one writer at a time: there the claim starts
  with a single ``UPDATE`` (so the write lock is taken first and concurrent claimers queue behind it) that marks
  the chosen rows, then reads the marked rows and sets their lease, all in one transaction.
- Related objects of any number of messages are loaded with one query (content types joined in).
- ``add_within_limits`` counts and inserts in one transaction holding a lock per (recipient, tag): a
  transaction-scoped advisory lock on PostgreSQL, SQLite's write lock (taken by a first ``UPDATE`` that changes
  nothing) elsewhere; see :mod:`adapters_django.guards`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import attrs
from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import Count, F, Q

from adapters_django.errors import storage_errors
from adapters_django.models import OutputSMSMessage, OutputSMSRelatedObject, get_template_model
from smscore import (
    ConcurrentUpdateError,
    DuplicateIdempotencyKeyError,
    MessageNotFoundError,
    RelatedObject,
    SMSMessage,
    SMSState,
)
from smscore.guards import RecipientLimit, limited_keys, within_limits
from smscore.ports import MessageRepository, check_new_batch
from smscore.query import MessageQuery
from smscore.rows import DATETIME_FIELDS, READ_FIELDS, SAVED_FIELDS, message_from_row, row_values

__all__ = [
    "DjangoMessageRepository",
]

#: Marks rows chosen by an SQLite claim until their lease is written (in the same transaction, never seen
#: by anyone else: SQLite lets one writer at a time and readers see only committed data).
_CLAIM_MARK: Final = datetime(1970, 1, 1, tzinfo=UTC)

#: Query parameters per ``IN (...)`` list, far below every database's limit.
_CHUNK: Final = 500


def as_utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware datetime (naive values are read as UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    # Only reachable with USE_TZ = False, which the system checks refuse: read it as UTC rather than crash.
    return value.replace(tzinfo=UTC)


def _label(app_label: str, model: str) -> str:
    return f"{app_label}.{model}" if app_label else model


def _saved_columns(message: SMSMessage) -> dict[str, Any]:
    """The columns a save writes: the fields that change over a message's life (see the port), version bumped."""
    values = row_values(message)
    saved = {name: values[name] for name in SAVED_FIELDS}
    saved["version"] = message.version + 1
    return saved


def _message(row: dict[str, Any], related: Mapping[int, tuple[RelatedObject, ...]]) -> SMSMessage:
    for name in DATETIME_FIELDS:
        row[name] = as_utc(row[name])
    return message_from_row(row, related.get(row["id"], ()))


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class DjangoMessageRepository(MessageRepository):
    """A :class:`smscore.ports.MessageRepository` over :class:`~adapters_django.models.OutputSMSMessage`.

    ``using`` is the database alias. See the module docstring for how each method keeps its promise.
    """

    def __init__(self, *, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using

    # -- helpers ------------------------------------------------------------------------------------------

    @property
    def _rows(self) -> Any:
        return OutputSMSMessage.objects.using(self.using).order_by()

    def _atomic(self) -> Any:
        return transaction.atomic(using=self.using)

    def _related(self, ids: Sequence[int]) -> dict[int, tuple[RelatedObject, ...]]:
        found: dict[int, list[RelatedObject]] = {}
        for chunk in _chunks(ids):
            rows = (
                OutputSMSRelatedObject.objects.using(self.using)
                .filter(output_sms_message_id__in=chunk)
                .order_by("id")
                .values_list("output_sms_message_id", "content_type__app_label", "content_type__model", "object_id")
            )
            for message_id, app_label, model, object_id in rows:
                found.setdefault(message_id, []).append(RelatedObject(_label(app_label, model), object_id))
        return {message_id: tuple(items) for message_id, items in found.items()}

    def _load(self, rows: Iterable[dict[str, Any]]) -> list[SMSMessage]:
        rows = list(rows)
        related = self._related([row["id"] for row in rows])
        return [_message(row, related) for row in rows]

    def _content_type_ids(self, labels: Collection[str]) -> dict[str, int]:
        """Content type ids for ``"app_label.model"`` labels, creating rows for labels of no installed model."""
        if not labels:
            return {}
        manager = ContentType.objects.db_manager(self.using)
        pairs = {label: label.rpartition(".")[::2] for label in labels}
        wanted = Q(pk__in=[])
        for app_label, model in pairs.values():
            wanted |= Q(app_label=app_label, model=model)
        ids = {_label(a, m): pk for a, m, pk in manager.filter(wanted).values_list("app_label", "model", "pk")}
        for label in sorted(set(labels) - ids.keys()):
            # Not the manager's cache: a row created here may yet be rolled back with this transaction.
            app_label, model = pairs[label]
            ids[label] = manager.get_or_create(app_label=app_label, model=model)[0].pk
        return ids

    def _template_ids(self, slugs: Collection[str]) -> dict[str, Any]:
        if not slugs:
            return {}
        model = get_template_model()
        rows = model._default_manager.using(self.using).filter(slug__in=list(slugs)).values_list("slug", "pk")
        return dict(rows)

    def _related_rows(
        self, messages: Iterable[SMSMessage], content_types: Mapping[str, int]
    ) -> list[OutputSMSRelatedObject]:
        return [
            OutputSMSRelatedObject(
                output_sms_message_id=message.id,
                content_type_id=content_types[related.content_type],
                object_id=related.object_id,
                object_id_int=related.object_id_int,
            )
            for message in messages
            for related in message.related_objects
        ]

    # -- the port ------------------------------------------------------------------------------------------

    def add(self, message: SMSMessage) -> SMSMessage:
        """See :meth:`smscore.ports.MessageRepository.add`."""
        return self.add_many([message])[0]

    @storage_errors()
    def add_many(self, messages: Sequence[SMSMessage]) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.add_many`."""
        messages = list(messages)
        keys = check_new_batch(messages)
        if not messages:
            return []
        with self._atomic():
            templates = self._template_ids({m.template_slug for m in messages if m.template_slug is not None})
            content_types = self._content_type_ids({r.content_type for m in messages for r in m.related_objects})
            rows = [
                OutputSMSMessage(**row_values(m), template_id=templates.get(m.template_slug or "")) for m in messages
            ]
            try:
                with self._atomic():  # a savepoint: the clash must not poison the caller's transaction
                    self._insert(rows)
            except IntegrityError:
                holder = next(filter(None, map(self.get_by_idempotency_key, keys)), None)
                if holder is None:
                    raise
                raise DuplicateIdempotencyKeyError(holder) from None
            stored = [attrs.evolve(m, id=row.pk) for m, row in zip(messages, rows, strict=True)]
            OutputSMSRelatedObject.objects.using(self.using).bulk_create(self._related_rows(stored, content_types))
        return stored

    @storage_errors()
    def add_within_limits(
        self, messages: Sequence[SMSMessage], limits: Mapping[str, RecipientLimit]
    ) -> list[SMSMessage | None]:
        """See :meth:`smscore.ports.MessageRepository.add_within_limits` (and the module docstring)."""
        from adapters_django.guards import lock_pairs

        with self._atomic():  # an empty call locks nothing, counts nothing and stores nothing
            lock_pairs(self.using, limited_keys(messages, limits))
            allowed = within_limits(messages, limits, self._created_since)
            stored = iter(self.add_many([m for m, ok in zip(messages, allowed, strict=True) if ok]))
            return [next(stored) if ok else None for ok in allowed]

    def _created_since(self, recipient: str, tag: str, since: datetime) -> int:
        return int(self._rows.filter(recipient=recipient, tag=tag, created_at__gt=since).count())

    def _insert(self, rows: list[OutputSMSMessage]) -> None:
        if connections[self.using].features.can_return_rows_from_bulk_insert:
            OutputSMSMessage.objects.using(self.using).bulk_create(rows)  # one INSERT ... RETURNING id
            return
        for row in rows:
            row.save(using=self.using, force_insert=True)

    @storage_errors()
    def get(self, message_id: int) -> SMSMessage:
        """See :meth:`smscore.ports.MessageRepository.get`."""
        found = self._load(self._rows.filter(pk=message_id).values(*READ_FIELDS))
        if not found:
            raise MessageNotFoundError(message_id)
        return found[0]

    def save(self, message: SMSMessage) -> SMSMessage:
        """See :meth:`smscore.ports.MessageRepository.save`."""
        return self.save_many([message])[0]

    @storage_errors()
    def save_many(self, messages: Sequence[SMSMessage]) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.save_many`."""
        messages = list(messages)
        if not messages:
            return []
        with self._atomic():
            conflicts: list[int] = []
            for message in messages:
                if message.id is None:
                    raise MessageNotFoundError(0)
                updated = self._rows.filter(pk=message.id, version=message.version).update(**_saved_columns(message))
                if not updated:
                    conflicts.append(message.id)
            if conflicts:
                # Raising rolls back the updates already made: all or nothing.
                present = set(self._rows.filter(pk__in=conflicts).values_list("pk", flat=True))
                missing = [i for i in conflicts if i not in present]
                if missing:
                    raise MessageNotFoundError(missing[0])
                raise ConcurrentUpdateError(conflicts)
        return [attrs.evolve(m, version=m.version + 1) for m in messages]

    @storage_errors()
    def fetch(self, query: MessageQuery) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.fetch`."""
        if query.is_empty:
            return []
        rows = self._matching(query).order_by("-pk" if query.newest_first else "pk")
        if query.limit is not None:
            rows = rows[: query.limit]
        return self._load(rows.values(*READ_FIELDS))

    @storage_errors()
    def tally(self, query: MessageQuery) -> int:
        """See :meth:`smscore.ports.MessageRepository.tally`."""
        return int(self._matching(query).count())

    def _matching(self, query: MessageQuery) -> Any:
        lookups = {
            "state__in": None if query.states is None else [s.value for s in query.states],
            "pk__gt": query.after_id or None,
            "tag": query.tag,
            "recipient": query.recipient,
            "provider": query.provider,
            "sent_at__lt": query.sent_before,
            "sent_at__gte": query.sent_after,
            "changed_at__lt": query.changed_before,
        }
        return self._rows.filter(**{name: value for name, value in lookups.items() if value is not None})

    @storage_errors()
    def stats(self) -> dict[tuple[str | None, SMSState], int]:
        """See :meth:`smscore.ports.MessageRepository.stats`."""
        rows = self._rows.values_list("provider", "state").annotate(total=Count("pk"))
        return {(provider, SMSState(state)): total for provider, state, total in rows}

    @storage_errors()
    def get_by_idempotency_key(self, key: str) -> SMSMessage | None:
        """See :meth:`smscore.ports.MessageRepository.get_by_idempotency_key`."""
        found = self._load(self._rows.filter(idempotency_key=key).values(*READ_FIELDS))
        return found[0] if found else None

    @storage_errors()
    def get_by_provider_ref(self, provider_ref: str, *, provider: str | None = None) -> SMSMessage | None:
        """See :meth:`smscore.ports.MessageRepository.get_by_provider_ref`."""
        rows = self._matching(MessageQuery(provider=provider)).filter(provider_ref=provider_ref).order_by("pk")[:1]
        found = self._load(rows.values(*READ_FIELDS))
        return found[0] if found else None

    @storage_errors()
    def claim(self, *, now: datetime, lease_until: datetime, limit: int) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.claim` (and the module docstring for the SQLite way)."""
        due = self._rows.filter(
            Q(state=SMSState.WAITING.value, lease_expires_at__isnull=True)
            & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        )
        due = due.order_by("priority", "pk")
        with self._atomic():
            if connections[self.using].features.has_select_for_update_skip_locked:
                rows = list(due.select_for_update(skip_locked=True)[:limit].values(*READ_FIELDS))
                if not rows:
                    return []
                self._rows.filter(pk__in=[row["id"] for row in rows]).update(
                    lease_expires_at=lease_until, version=F("version") + 1
                )
                for row in rows:
                    row["version"] += 1
            else:
                marked = self._rows.filter(pk__in=due[:limit].values("pk")).update(
                    lease_expires_at=_CLAIM_MARK, version=F("version") + 1
                )
                if not marked:
                    return []
                rows = list(
                    self._rows.filter(lease_expires_at=_CLAIM_MARK).order_by("priority", "pk").values(*READ_FIELDS)
                )
                self._rows.filter(lease_expires_at=_CLAIM_MARK).update(lease_expires_at=lease_until)
            for row in rows:
                row["lease_expires_at"] = lease_until
            return self._load(rows)

    @storage_errors()
    def find_expired_leases(self, *, now: datetime, limit: int) -> list[SMSMessage]:
        """See :meth:`smscore.ports.MessageRepository.find_expired_leases`."""
        rows = self._rows.filter(state=SMSState.WAITING.value, lease_expires_at__lt=now).order_by("pk")
        return self._load(rows[:limit].values(*READ_FIELDS))

    @storage_errors()
    def purge(self, *, states: Collection[SMSState], changed_before: datetime, limit: int) -> int:
        """See :meth:`smscore.ports.MessageRepository.purge`."""
        with self._atomic():
            ids = list(
                self._rows.filter(state__in=[SMSState(s).value for s in states], changed_at__lt=changed_before)
                .order_by("pk")
                .values_list("pk", flat=True)[:limit]
            )
            if not ids:
                return 0
            OutputSMSRelatedObject.objects.using(self.using).filter(output_sms_message_id__in=ids).delete()
            _, per_model = self._rows.filter(pk__in=ids).delete()
            return int(per_model.get(OutputSMSMessage._meta.label, 0))
