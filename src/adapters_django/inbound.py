"""The store of received SMS on the Django ORM: :class:`DjangoInboundRepository` over
:class:`~adapters_django.models.InputSMSMessage`.

A provider reference is stored once per provider by the table's unique key: the insert runs in a savepoint, and the
one that clashes reads the row that won (on PostgreSQL it waited for that row's transaction to commit).
"""

from __future__ import annotations

from typing import Any

import attrs
from django.db import IntegrityError, transaction

from adapters_django.errors import storage_errors
from adapters_django.models import InputSMSMessage
from adapters_django.stores import OnModel
from smscore.errors import DuplicateInboundError, InboundNotFoundError
from smscore.inbound import InboundQuery, InboundSMS

__all__ = ["DjangoInboundRepository"]

_FIELDS = tuple(field.name for field in attrs.fields(InboundSMS) if field.name != "id")


def _sms(row: InputSMSMessage) -> InboundSMS:
    return InboundSMS(id=row.pk, **{name: getattr(row, name) for name in _FIELDS})


class DjangoInboundRepository(OnModel):
    """A :class:`~smscore.ports.InboundRepository` over :class:`~adapters_django.models.InputSMSMessage` on the
    database alias ``using``. Database failures raise :class:`~smscore.errors.StorageError`."""

    model = InputSMSMessage

    @storage_errors()
    def add(self, sms: InboundSMS) -> InboundSMS:
        """See :meth:`smscore.ports.InboundRepository.add`."""
        if sms.id is not None:
            raise ValueError("an inbound SMS to add must have no id yet")
        row = InputSMSMessage(**{name: getattr(sms, name) for name in _FIELDS})
        row.extra_data = dict(sms.extra_data)
        try:
            with transaction.atomic(using=self.using):  # a savepoint: the clash must not poison the caller's
                row.save(using=self.using, force_insert=True)
        except IntegrityError:
            held = self._rows.filter(provider=sms.provider, provider_ref=sms.provider_ref).first()
            if held is None:
                raise
            raise DuplicateInboundError(_sms(held)) from None
        return attrs.evolve(sms, id=row.pk)

    @storage_errors()
    def get(self, inbound_id: int) -> InboundSMS:
        """See :meth:`smscore.ports.InboundRepository.get`."""
        row = self._rows.filter(pk=inbound_id).first()
        if row is None:
            raise InboundNotFoundError(inbound_id)
        return _sms(row)

    @storage_errors()
    def find(self, query: InboundQuery) -> list[InboundSMS]:
        """See :meth:`smscore.ports.InboundRepository.find`."""
        rows = self._matching(query).order_by("-id")
        if query.limit is not None:
            rows = rows[: max(query.limit, 0)]
        return [_sms(row) for row in rows]

    @storage_errors()
    def count(self, query: InboundQuery) -> int:
        """See :meth:`smscore.ports.InboundRepository.count`."""
        return int(self._matching(query).count())

    def _matching(self, query: InboundQuery) -> Any:
        filters = {
            "sender": query.sender,
            "provider": query.provider,
            "received_at__gte": query.since,
            "id__lt": query.before_id,
        }
        return self._rows.filter(**{name: value for name, value in filters.items() if value is not None})
