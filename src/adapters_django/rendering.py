"""The Django template path of SMS templates: bodies rendered by Django's engine within the core's render budget,
with a missing variable an error instead of a blank.

Template bodies are edited by staff and so are hostile input. The engine used is the project's (its libraries
and loaders), plus this module's library, which meters every ``{% for %}`` iteration against the budget and its
deadline, checks the widths of ``center``, ``ljust``, ``rjust``, ``stringformat`` and ``floatformat`` and the
sizes ``add`` and ``join`` build before building them, and takes away ``{% lorem %}`` (any amount of text from a
number) and ``{% debug %}`` (the whole context and every loaded module). A body nested deeper than the budget
allows is refused when it is parsed.

A variable that is not in the context is a :class:`~smscore.TemplateRenderError` naming it wherever its value
would be used (printed, filtered, or bound by ``{% with %}``), so ``Hello {{ name }}`` never goes out as
``Hello``; ``{% if name %}`` still tests whether it is there. Give optional values in the context, even as
``""``: ``default`` then applies as usual.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.template import (
    Context,
    Engine,
    Library,
    Node,
    NodeList,
    TemplateSyntaxError,
    VariableDoesNotExist,
    defaultfilters,
    defaulttags,
)
from django.template.base import FilterExpression, Parser, Token

from smscore.budget import RenderBudget, active_meter, format_spec_width, metered, printf_width, tick
from smscore.errors import TemplateRenderError

__all__ = ["DjangoTemplateRenderer", "render_template", "validate_template"]

#: This module is a template library too: the engine adds it to its builtins, after Django's own.
register = Library()

_MISSING: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("smscore_missing", default=None)


class _MissingVariable(str):
    """The engine's ``string_if_invalid``: renders as an empty string and records the variable it stands for.

    Django substitutes ``string_if_invalid % variable`` when the text holds ``%s``: this one says it does, and
    notes the name for the render in progress instead of formatting.
    """

    __slots__ = ()

    def __bool__(self) -> bool:
        return True

    def __contains__(self, text: object) -> bool:
        return text == "%s"

    def __mod__(self, variable: object) -> str:
        missing = _MISSING.get()
        if missing is not None:
            missing.append(str(variable))
        return ""


class _MeteredSequence:
    """What a ``{% for %}`` loop iterates: each item counts against the running render's budget."""

    def __init__(self, values: Iterable[Any]) -> None:
        self._items = list(values)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        for item in self._items:
            tick()
            yield item

    def __reversed__(self) -> Iterator[Any]:
        for item in reversed(self._items):
            tick()
            yield item


class _MeteredExpression:
    """A loop's sequence expression whose value is metered (see :class:`_MeteredSequence`)."""

    def __init__(self, expression: FilterExpression) -> None:
        self._expression = expression

    def resolve(self, context: Context, ignore_failures: bool = False) -> _MeteredSequence | None:
        values = self._expression.resolve(context, ignore_failures=ignore_failures)
        return None if values is None else _MeteredSequence(values)

    def __str__(self) -> str:
        return str(self._expression)


@register.tag("for")
def _metered_for(parser: Parser, token: Token) -> Node:
    node = defaulttags.do_for(parser, token)
    node.sequence = _MeteredExpression(node.sequence)
    return node


@register.tag("lorem")
@register.tag("debug")
def _not_available(parser: Parser, token: Token) -> Node:
    raise TemplateSyntaxError(f"{{% {token.split_contents()[0]} %}} is not available in SMS templates")


def _budget() -> RenderBudget:
    meter = active_meter()
    return meter.budget if meter is not None else RenderBudget()


def _width(arg: Any) -> int:
    try:
        return int(arg)
    except (TypeError, ValueError):
        return 0


def _padded(name: str) -> Any:
    original = getattr(defaultfilters, name)

    def padded(value: Any, arg: Any) -> Any:
        _budget().check_length(_width(arg), f"{name} width")
        return original(value, arg)

    return register.filter(name, padded, is_safe=True)


_padded("center")
_padded("ljust")
_padded("rjust")


@register.filter(is_safe=True)
def stringformat(value: Any, arg: Any) -> Any:
    """Django's ``stringformat``, with its width and precision checked first."""
    _budget().check_length(printf_width(f"%{arg}") + len(str(value)), "formatted string")
    return defaultfilters.stringformat(value, arg)


@register.filter(is_safe=True)
def floatformat(text: Any, arg: Any = -1) -> Any:
    """Django's ``floatformat``, with its precision checked first."""
    _budget().check_length(format_spec_width(str(arg)), "float precision")
    return defaultfilters.floatformat(text, arg)


@register.filter(is_safe=False)
def add(value: Any, arg: Any) -> Any:
    """Django's ``add``, with the length of a joined string or list checked first."""
    if hasattr(value, "__len__") and hasattr(arg, "__len__"):
        _budget().check_length(len(value) + len(arg), "concatenation")
    return defaultfilters.add(value, arg)


@register.filter(is_safe=True, needs_autoescape=True)
def join(value: Any, arg: Any, autoescape: bool = True) -> Any:
    """Django's ``join``, with the length of the result checked first."""
    if hasattr(value, "__len__"):
        items = len(value)
        _budget().check_length(items * len(str(arg)) + sum(len(str(item)) for item in value), "joined string")
    return defaultfilters.join(value, arg, autoescape=autoescape)


def _base_engine() -> Engine:
    try:
        return Engine.get_default()
    except ImproperlyConfigured:
        # No DjangoTemplates engine in TEMPLATES: a plain engine with the built-in tags and filters.
        return Engine()


@functools.lru_cache(maxsize=4)
def _engine_like(base: Engine) -> Engine:
    """The project's engine (libraries, builtins, loaders) with this module's library and the missing-variable
    marker."""
    return Engine(
        dirs=base.dirs,
        loaders=base.loaders,
        libraries=base.libraries,
        builtins=[*base.builtins[len(Engine.default_builtins) :], __name__],
        string_if_invalid=_MissingVariable(),
        file_charset=base.file_charset,
    )


def _check_depth(nodelist: NodeList, budget: RenderBudget) -> None:
    stack = [(nodelist, 1)]
    while stack:
        nodes, depth = stack.pop()
        budget.check_depth(depth)
        for node in nodes:
            for attribute in node.child_nodelists:
                child = getattr(node, attribute, None)
                if child:
                    stack.append((child, depth + 1))


def _compile(body: str, budget: RenderBudget) -> Any:
    try:
        template = _engine_like(_base_engine()).from_string(body)
    except RecursionError:
        raise TemplateRenderError(
            f"template exceeds its render budget: it nests more than {budget.max_depth} levels deep"
        ) from None
    _check_depth(template.nodelist, budget)
    return template


def validate_template(body: str) -> None:
    """Parse ``body`` without rendering it. Raises Django's ``TemplateSyntaxError`` for a syntax error and
    :class:`~smscore.TemplateRenderError` for a body nested deeper than the render budget allows."""
    _compile(body, _budget())


def render_template(body: str, context: Mapping[str, Any]) -> str:
    """Render ``body`` with ``context`` within the running render's budget (the default one when none runs).

    Nothing is HTML-escaped: an SMS is plain text. Raises Django's ``TemplateSyntaxError`` for a syntax error and
    :class:`~smscore.TemplateRenderError` for a missing variable (naming every one) or a spent budget.
    """
    with metered(_budget()) as meter:
        template = _compile(body, meter.budget)
        missing: list[str] = []
        token = _MISSING.set(missing)
        try:
            text = str(template.render(Context(dict(context), autoescape=False)))
        except VariableDoesNotExist as exc:
            raise TemplateRenderError(f"template variable is missing: {exc.params[0]!r}") from exc
        finally:
            _MISSING.reset(token)
    if missing:
        names = ", ".join(dict.fromkeys(missing))
        raise TemplateRenderError(f"template variables are missing: {names}")
    if len(text) > meter.budget.max_length:
        raise TemplateRenderError(f"rendered template is longer than {meter.budget.max_length} characters")
    return text


class DjangoTemplateRenderer:
    """The renderer of the Django storage's templates (a :class:`smscore.templates.TemplateRenderer`): bodies in
    Django's template language, rendered and checked as :func:`render_template` and :func:`validate_template` do.
    """

    def render(self, body: str, context: Mapping[str, Any]) -> str:
        """Render ``body``; every failure, a syntax error included, is a :class:`~smscore.TemplateRenderError`."""
        try:
            return render_template(body, context)
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(f"template syntax error: {exc}") from exc

    def validate(self, body: str) -> None:
        """Parse ``body`` without rendering it: a syntax error is a :class:`~smscore.TemplateRenderError`, so a
        broken template is refused when it is saved rather than when it is sent."""
        try:
            validate_template(body)
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(f"template syntax error: {exc}") from exc
