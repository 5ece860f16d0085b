"""The core's template storage port on the Django ORM: :class:`DjangoTemplateRepository`, the templates it returns
(:class:`DjangoSMSTemplate`), and the not-found error that is also the model's ``DoesNotExist``.

Every method is atomic on its own and raises the core's :class:`~smscore.StorageError` for a database error.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
from django.db import DEFAULT_DB_ALIAS, transaction
from django.template import TemplateSyntaxError

from adapters_django.errors import storage_errors
from adapters_django.models import AbstractSMSTemplate, get_template_model
from adapters_django.rendering import DjangoTemplateRenderer
from adapters_django.repositories import as_utc
from smscore import SMSTemplate, TemplateNotFoundError, TemplateRenderError
from smscore.templates import TemplateRenderer

__all__ = ["DjangoSMSTemplate", "DjangoTemplateRepository", "pinned_template", "template_not_found"]

_pinned: contextvars.ContextVar[AbstractSMSTemplate | None] = contextvars.ContextVar(
    "smscore_pinned_template", default=None
)


@contextlib.contextmanager
def pinned_template(template: AbstractSMSTemplate) -> Iterator[None]:
    """Within the block, :meth:`DjangoTemplateRepository.get` of ``template.slug`` returns this very instance
    (unsaved changes and all), so ``template.send(...)`` renders what the caller holds."""
    token = _pinned.set(template)
    try:
        yield
    finally:
        _pinned.reset(token)


_NOT_FOUND: dict[type[Any], type[TemplateNotFoundError]] = {}


def template_not_found(model: type[AbstractSMSTemplate], slug: str) -> TemplateNotFoundError:
    """The error for a missing template: a :class:`~smscore.TemplateNotFoundError` that is also the model's
    ``DoesNotExist``, so both the core's and Django's way of catching it work."""
    error_class = _NOT_FOUND.get(model)
    if error_class is None:
        error_class = type(
            f"{model.__name__}NotFound",
            (TemplateNotFoundError, model.DoesNotExist),
            {"__module__": __name__, "__doc__": f"No {model.__name__} has the slug."},
        )
        _NOT_FOUND[model] = error_class
    return error_class(slug)


@attrs.frozen(kw_only=True)
class DjangoSMSTemplate(SMSTemplate):
    """A core :class:`~smscore.SMSTemplate` backed by a template model instance.

    ``get_body``, ``render_body`` and ``can_send`` call the instance's methods, so overrides on a project's own
    template model apply to the core's ``send_template`` too. Rendering uses the instance's ``render_body``
    (Django's engine by default), not the core's renderer; Django's ``TemplateSyntaxError`` becomes a
    :class:`~smscore.TemplateRenderError`.
    """

    instance: AbstractSMSTemplate = attrs.field(eq=False, repr=False)

    @classmethod
    def of(cls, instance: AbstractSMSTemplate) -> DjangoSMSTemplate:
        """Wrap a template model instance."""
        return cls(
            slug=instance.slug,
            body=instance.body,
            is_active=instance.is_active,
            created_at=as_utc(instance.created_at),
            changed_at=as_utc(instance.changed_at),
            instance=instance,
        )

    def get_body(self) -> str:
        """The instance's :meth:`~adapters_django.models.AbstractSMSTemplate.get_body`."""
        return str(self.instance.get_body())

    def render_body(self, context: Mapping[str, Any], renderer: TemplateRenderer | None = None) -> str:
        """The instance's ``render_body(context)``. Raises :class:`~smscore.TemplateRenderError`."""
        try:
            return str(self.instance.render_body(dict(context)))
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(f"template {self.slug!r} cannot be rendered: {exc}") from exc

    def can_send(self, recipient: str, context: Mapping[str, Any]) -> bool:
        """The instance's ``can_send(recipient, context)``."""
        return bool(self.instance.can_send(recipient, dict(context)))


class DjangoTemplateRepository:
    """A :class:`smscore.ports.TemplateRepository` over the template model.

    ``model`` defaults to the one ``PYMESS_SMS_TEMPLATE_MODEL`` names; ``using`` is the database alias.
    Templates come back as :class:`DjangoSMSTemplate`.
    """

    def __init__(self, model: type[AbstractSMSTemplate] | None = None, *, using: str = DEFAULT_DB_ALIAS) -> None:
        self._model = model
        self.using = using

    @property
    def model(self) -> type[AbstractSMSTemplate]:
        """The template model."""
        return self._model or get_template_model()

    @property
    def _manager(self) -> Any:
        return self.model._default_manager.using(self.using)

    @storage_errors()
    def get(self, slug: str) -> SMSTemplate:
        """See :meth:`smscore.ports.TemplateRepository.get`; the error is also the model's ``DoesNotExist``."""
        pinned = _pinned.get()
        if pinned is not None and pinned.slug == slug:
            return DjangoSMSTemplate.of(pinned)
        try:
            instance = self._manager.get(slug=slug)
        except self.model.DoesNotExist:
            raise template_not_found(self.model, str(slug)) from None
        return DjangoSMSTemplate.of(instance)

    @storage_errors()
    def save(self, template: SMSTemplate) -> SMSTemplate:
        """See :meth:`smscore.ports.TemplateRepository.save`; the body is checked in Django's template language."""
        DjangoTemplateRenderer().validate(template.get_body())
        with transaction.atomic(using=self.using):
            instance = self._manager.select_for_update().filter(slug=template.slug).first()
            if instance is None:
                instance = self.model(slug=template.slug)
            instance.body = template.body
            instance.is_active = template.is_active
            if template.created_at is not None:
                instance.created_at = template.created_at
            instance.save(using=self.using)
        return DjangoSMSTemplate.of(instance)

    @storage_errors()
    def delete(self, slug: str) -> None:
        """See :meth:`smscore.ports.TemplateRepository.delete`."""
        deleted, _ = self._manager.filter(slug=slug).delete()
        if not deleted:
            raise template_not_found(self.model, slug)

    @storage_errors()
    def list(self) -> list[SMSTemplate]:
        """See :meth:`smscore.ports.TemplateRepository.list`."""
        return [DjangoSMSTemplate.of(instance) for instance in self._manager.order_by("slug")]
