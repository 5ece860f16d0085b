"""The base of the stores kept in one model on one database alias: the opt-out list, the refusal totals and the
inbound messages."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import DEFAULT_DB_ALIAS, models

__all__ = ["OnModel"]


class OnModel:
    """A store of rows of ``model`` on the database alias ``using`` (``rows`` is its manager there)."""

    model: ClassVar[type[models.Model]]

    def __init__(self, *, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using

    @property
    def _rows(self) -> Any:
        return self.model._default_manager.using(self.using)
