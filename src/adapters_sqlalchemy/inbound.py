"""The store of received SMS on SQLAlchemy Core: :class:`SQLAlchemyInboundRepository` over ``smscore_inbound``.

A provider reference is stored once per provider by ``INSERT ... ON CONFLICT DO NOTHING`` on the unique
(provider, provider_ref) key: of concurrent adds, the database lets one insert and the others read the winner's row
(PostgreSQL waits for it to commit; SQLite has one writer at a time).
"""

from __future__ import annotations

from typing import Any

import attrs
from sqlalchemy import Select, func, select

from adapters_sqlalchemy.errors import storage_errors
from adapters_sqlalchemy.guards import _insert_for
from adapters_sqlalchemy.tables import OnTable
from smscore.errors import DuplicateInboundError, InboundNotFoundError
from smscore.inbound import InboundQuery, InboundSMS

__all__ = ["SQLAlchemyInboundRepository"]

_FIELDS = tuple(field.name for field in attrs.fields(InboundSMS) if field.name != "id")


class SQLAlchemyInboundRepository(OnTable):
    """A :class:`~smscore.ports.InboundRepository` in the ``smscore_inbound`` table (``tables`` as for
    :class:`~adapters_sqlalchemy.SQLAlchemyMessageRepository`). Database failures raise
    :class:`~smscore.errors.StorageError`."""

    table = "inbound"

    def add(self, sms: InboundSMS) -> InboundSMS:
        """See :meth:`smscore.ports.InboundRepository.add`."""
        if sms.id is not None:
            raise ValueError("an inbound SMS to add must have no id yet")
        t = self._t
        row = {name: getattr(sms, name) for name in _FIELDS}
        row["extra_data"] = dict(sms.extra_data)
        with storage_errors(), self.engine.begin() as conn:
            statement = _insert_for(conn)(t).values(row).on_conflict_do_nothing().returning(t.c.id)
            new_id = conn.execute(statement).scalar_one_or_none()
            if new_id is None:
                held = select(t).where(t.c.provider == sms.provider, t.c.provider_ref == sms.provider_ref)
                raise DuplicateInboundError(_sms(conn.execute(held).one()._mapping))
        return attrs.evolve(sms, id=int(new_id))

    def get(self, inbound_id: int) -> InboundSMS:
        """See :meth:`smscore.ports.InboundRepository.get`."""
        with storage_errors(), self.engine.begin() as conn:
            row = conn.execute(select(self._t).where(self._t.c.id == inbound_id)).one_or_none()
        if row is None:
            raise InboundNotFoundError(inbound_id)
        return _sms(row._mapping)

    def find(self, query: InboundQuery) -> list[InboundSMS]:
        """See :meth:`smscore.ports.InboundRepository.find`."""
        statement = self._where(select(self._t), query).order_by(self._t.c.id.desc())
        if query.limit is not None:
            statement = statement.limit(max(query.limit, 0))
        with storage_errors(), self.engine.begin() as conn:
            return [_sms(row._mapping) for row in conn.execute(statement)]

    def count(self, query: InboundQuery) -> int:
        """See :meth:`smscore.ports.InboundRepository.count`."""
        statement = self._where(select(func.count()).select_from(self._t), query)
        with storage_errors(), self.engine.begin() as conn:
            return int(conn.execute(statement).scalar_one())

    def _where(self, statement: Select[Any], query: InboundQuery) -> Select[Any]:
        c = self._t.c
        conditions = [
            c.sender == query.sender if query.sender is not None else None,
            c.provider == query.provider if query.provider is not None else None,
            c.received_at >= query.since if query.since is not None else None,
            c.id < query.before_id if query.before_id is not None else None,
        ]
        return statement.where(*(condition for condition in conditions if condition is not None))


def _sms(row: Any) -> InboundSMS:
    return InboundSMS(id=int(row["id"]), **{name: row[name] for name in _FIELDS})
