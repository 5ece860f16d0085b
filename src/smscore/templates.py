"""SMS templates and their rendering.

Templates are edited by staff, so their bodies are hostile input: they are rendered in Jinja2's immutable
sandbox (no attribute walks to ``__class__``/``__globals__``) held to a :class:`~smscore.budget.RenderBudget`
(time, output size, loop iterations and calls, nesting depth; widths and repetitions checked before they are
built), with undefined variables as errors. Autoescape is off: SMS is plain text, ``&`` stays ``&``.

>>> SMSTemplate(slug="otp", body="Your code is {{ code }}").render_body({"code": "1234"})
'Your code is 1234'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs

from smscore.budget import MAX_RENDERED_LENGTH, RenderBudget
from smscore.errors import InvalidMessageError
from smscore.text import check_storable

if TYPE_CHECKING:
    from smscore._jinja import SandboxRenderer

__all__ = [
    "MAX_RENDERED_LENGTH",
    "JinjaRenderer",
    "SMSTemplate",
    "TemplateRenderer",
    "check_context",
    "default_renderer",
    "validate_slug",
]

_SLUG: Final = re.compile(r"[-a-zA-Z0-9_]+")


def validate_slug(value: object, *, what: str, max_length: int) -> str:
    """Return ``value`` if it is a slug of at most ``max_length`` characters.

    Raises :class:`~smscore.errors.InvalidMessageError` naming ``what`` otherwise.
    """
    if not isinstance(value, str) or not _SLUG.fullmatch(value) or len(value) > max_length:
        raise InvalidMessageError(
            f"{what} {value!r} is not a slug (letters, digits, '-' and '_', at most {max_length} characters)"
        )
    return value


def check_context(value: object) -> dict[str, Any]:
    """A copy of a template context: ``None`` is an empty one; anything but a mapping raises
    :class:`~smscore.errors.InvalidMessageError`."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidMessageError(f"template context must be a mapping, not {type(value).__name__}")
    return dict(value)


class TemplateRenderer(Protocol):
    """The renderer port: turns a template body and a context into text, and checks a body before it is stored.

    ``render`` raises :class:`~smscore.errors.TemplateRenderError` on failure; ``validate`` raises it for a body
    that can never render (a syntax error), so a broken template is refused when it is saved, not when it is sent.
    """

    def render(self, body: str, context: Mapping[str, Any]) -> str: ...

    def validate(self, body: str) -> None:
        """Compile ``body`` without rendering it; raise :class:`TemplateRenderError` when it cannot be."""
        ...


class JinjaRenderer:
    """The default renderer: one sandboxed Jinja2 environment held to ``budget``, compiled bodies cached.

    ``max_length``, when given, replaces the budget's output bound; rendering stops as soon as it is exceeded.
    Jinja2 is imported at the first render or validation, not when smscore is or a service is built: what renders
    nothing (``smscore stats``, a worker) starts without it.
    """

    def __init__(
        self, *, budget: RenderBudget | None = None, max_length: int | None = None, cache_size: int = 512
    ) -> None:
        budget = budget or RenderBudget()
        if max_length is not None:
            budget = attrs.evolve(budget, max_length=max_length)
        self.budget = budget
        self.max_length = budget.max_length
        self._cache_size = cache_size
        self._sandbox: SandboxRenderer | None = None

    @property
    def _impl(self) -> SandboxRenderer:
        if self._sandbox is None:
            from smscore._jinja import SandboxRenderer

            self._sandbox = SandboxRenderer(budget=self.budget, cache_size=self._cache_size)
        return self._sandbox

    def render(self, body: str, context: Mapping[str, Any]) -> str:
        """Render ``body`` with ``context``; see the module docstring for what is refused."""
        return self._impl.render(body, context)

    def validate(self, body: str) -> None:
        """Compile ``body`` without rendering it: raises :class:`~smscore.errors.TemplateRenderError` for a syntax
        error, so a broken template can be refused when it is saved rather than when it is sent."""
        self._impl.compile(body)


@functools.cache
def default_renderer() -> JinjaRenderer:
    """The renderer with the default budget, shared: what templates and repositories use when given none."""
    return JinjaRenderer()


def _slug(value: object) -> str:
    return validate_slug(value, what="template slug", max_length=100)


def _body(_instance: object, _attribute: object, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidMessageError(f"template body must be a string, not {type(value).__name__}")
    check_storable(value, "template body", InvalidMessageError)


@attrs.frozen(kw_only=True)
class SMSTemplate:
    """A stored template: ``slug`` (its key), ``body`` (Jinja2 text), ``is_active`` and timestamps.

    An inactive template (``is_active=False``) is kept but refuses to send: ``send_template`` raises
    :class:`~smscore.errors.TemplateInactiveError` and stores nothing. Subclass it to change behaviour: override
    :meth:`get_body` to adjust the body before rendering, :meth:`can_send` to refuse some sends (``send_template``
    then returns ``None`` and stores nothing). Raises :class:`~smscore.errors.InvalidMessageError` for a slug that
    is not a slug and for a body that is not a string or holds characters no storage can keep (NUL, lone
    surrogates).
    """

    slug: str = attrs.field(converter=_slug)
    body: str = attrs.field(validator=_body)
    is_active: bool = True
    created_at: datetime | None = None
    changed_at: datetime | None = None

    def get_body(self) -> str:
        """The body to render (override to update it before rendering)."""
        return self.body

    def render_body(self, context: Mapping[str, Any], renderer: TemplateRenderer | None = None) -> str:
        """Render :meth:`get_body` with ``context``. Raises :class:`~smscore.errors.TemplateRenderError`."""
        return (renderer or default_renderer()).render(self.get_body(), context)

    def can_send(self, recipient: str, context: Mapping[str, Any]) -> bool:
        """Whether this template may be sent to ``recipient`` with ``context``. True unless overridden."""
        return True
