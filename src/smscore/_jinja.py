"""The Jinja2 side of :mod:`smscore.templates`, imported only when a renderer is made."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from smscore.errors import TemplateRenderError
from smscore.templates import MAX_RENDERED_LENGTH

__all__ = ["SandboxRenderer"]


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox, plus a bound on ``*`` and ``**`` so ``{{ 'x' * 10**9 }}`` cannot exhaust memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**" and _is_big_power(left, right):
            raise jinja2.exceptions.SecurityError("power too large")
        if operator_name == "*" and _is_big_repeat(left, right):
            raise jinja2.exceptions.SecurityError("repetition too large")
        return super().call_binop(context, operator_name, left, right)


def _is_big_power(left: Any, right: Any) -> bool:
    return isinstance(right, int) and isinstance(left, int | float) and abs(right) > 64


def _is_big_repeat(left: Any, right: Any) -> bool:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int):
            return len(seq) * count > MAX_RENDERED_LENGTH
    return False


class SandboxRenderer:
    """One sandboxed Jinja2 environment with compiled bodies cached; see :class:`smscore.templates.JinjaRenderer`."""

    def __init__(self, *, max_length: int = MAX_RENDERED_LENGTH, cache_size: int = 512) -> None:
        self.max_length = max_length
        self._env = _BoundedSandbox(autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
        self._compile: Callable[[str], jinja2.Template] = functools.lru_cache(maxsize=cache_size)(self._env.from_string)

    def compile(self, body: str) -> jinja2.Template:
        """The compiled template (cached). Raises :class:`TemplateRenderError` for a syntax error."""
        try:
            return self._compile(body)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateRenderError(f"template syntax error on line {exc.lineno}: {exc.message}") from exc

    def render(self, body: str, context: Mapping[str, Any]) -> str:
        """Render ``body`` with ``context``; see the module docstring for what is refused."""
        template = self.compile(body)
        pieces: list[str] = []
        size = 0
        try:
            for piece in template.generate(dict(context)):
                size += len(piece)
                if size > self.max_length:
                    raise TemplateRenderError(f"rendered template is longer than {self.max_length} characters")
                pieces.append(piece)
        except jinja2.UndefinedError as exc:
            raise TemplateRenderError(f"template variable is missing: {exc.message}") from exc
        except jinja2.exceptions.SecurityError as exc:
            raise TemplateRenderError(f"template tried something unsafe: {exc}") from exc
        except TemplateRenderError:
            raise
        except Exception as exc:  # a filter or a context value failed: still the template's fault
            raise TemplateRenderError(f"template failed to render: {type(exc).__name__}: {exc}") from exc
        return "".join(pieces)
