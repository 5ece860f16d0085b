"""The render budget: how much time, output, loop work and nesting one template render may take, and the checks
that every renderer (the Jinja2 sandbox, the Django template path) runs before it allocates anything.

Template bodies are edited by staff and so are hostile input. A render meters itself: every loop iteration and
every call made by the template counts against the budget and checks the deadline, with no thread or signal
(renders may run in worker threads). Sizes are checked before they are allocated: a padding width, a format
width, a repetition count or a range length larger than the output budget is refused at once.

>>> budget = RenderBudget(max_length=100)
>>> budget.check_length(1_000_000_000, "padding width")
Traceback (most recent call last):
...
smscore.errors.TemplateRenderError: template exceeds its render budget: padding width would be 1000000000 characters; at most 100 are allowed
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import time
from collections.abc import Iterator
from typing import Any, Final

import attrs

from smscore.errors import TemplateRenderError

__all__ = [
    "MAX_RENDERED_LENGTH",
    "Meter",
    "RenderBudget",
    "active_meter",
    "check_built",
    "format_spec_width",
    "metered",
    "printf_width",
    "tick",
]

#: Longest rendered body accepted by default, in characters (far above any sane SMS; the segment limit applies
#: after rendering).
MAX_RENDERED_LENGTH: Final = 10_000

# One printf conversion: mapping key, flags, width, precision, length modifier, type.
_PRINTF: Final = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.)", re.DOTALL)
_DIGITS: Final = re.compile(r"\d+")


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not value > 0:
        raise ValueError(f"render budget {attribute.name} must be positive, not {value!r}")


@attrs.frozen(kw_only=True)
class RenderBudget:
    """What one render may spend: ``seconds`` of wall time, ``max_length`` characters of output (also the
    largest width, repetition or string a template may build), ``max_iterations`` loop iterations and calls
    in all, and ``max_depth`` levels of nesting in the parsed body.

    The defaults stop a hostile body well within a second and leave room for any real SMS template.
    """

    seconds: float = attrs.field(default=1.0, validator=_positive)
    max_length: int = attrs.field(default=MAX_RENDERED_LENGTH, validator=_positive)
    max_iterations: int = attrs.field(default=100_000, validator=_positive)
    max_depth: int = attrs.field(default=100, validator=_positive)

    def check_length(self, size: int, what: str) -> None:
        """Refuse a size (a width, a count, a length about to be built) above ``max_length``."""
        if size > self.max_length:
            raise TemplateRenderError(
                f"template exceeds its render budget: {what} would be {size} characters; at most {self.max_length} "
                "are allowed"
            )

    def check_count(self, count: int, what: str) -> None:
        """Refuse a number of items about to be made (a range, a batch) above ``max_iterations``."""
        if count > self.max_iterations:
            raise TemplateRenderError(
                f"template exceeds its render budget: {what} would be {count}; at most {self.max_iterations} "
                "iterations are allowed"
            )

    def check_depth(self, depth: int) -> None:
        """Refuse a parsed body nested deeper than ``max_depth``."""
        if depth > self.max_depth:
            raise TemplateRenderError(
                f"template exceeds its render budget: it nests more than {self.max_depth} levels deep"
            )


#: How many times its output budget a render may build in text along the way (strings it builds and drops).
BUILT_TEXT_FACTOR: Final = 100


class Meter:
    """The budget spent so far by one render: iterations counted against ``max_iterations``, a deadline, and
    the text built along the way (at most :data:`BUILT_TEXT_FACTOR` times ``max_length``)."""

    __slots__ = ("budget", "deadline", "remaining", "unbuilt")

    def __init__(self, budget: RenderBudget) -> None:
        self.budget = budget
        self.deadline = time.monotonic() + budget.seconds
        self.remaining = budget.max_iterations
        self.unbuilt = budget.max_length * BUILT_TEXT_FACTOR

    def build(self, size: int, what: str) -> None:
        """Count ``size`` characters about to be built (each within ``max_length``: check that first)."""
        self.unbuilt -= size
        if self.unbuilt < 0:
            raise TemplateRenderError(
                f"template exceeds its render budget: {what} would build more than "
                f"{self.budget.max_length * BUILT_TEXT_FACTOR} characters in all"
            )

    def tick(self, count: int = 1) -> None:
        """Count ``count`` iterations; raise :class:`TemplateRenderError` once the budget is spent."""
        self.remaining -= count
        if self.remaining < 0:
            raise TemplateRenderError(
                f"template exceeds its render budget: more than {self.budget.max_iterations} loop iterations and calls"
            )
        if time.monotonic() > self.deadline:
            raise TemplateRenderError(
                f"template exceeds its render budget: rendering took longer than {self.budget.seconds:g} s"
            )


_ACTIVE: contextvars.ContextVar[Meter | None] = contextvars.ContextVar("smscore_render_meter", default=None)


def active_meter() -> Meter | None:
    """The meter of the render running in this thread or task, if any."""
    return _ACTIVE.get()


@contextlib.contextmanager
def metered(budget: RenderBudget) -> Iterator[Meter]:
    """Meter the render run inside the block against ``budget`` (per thread and per task).

    Inside a metered block the running meter goes on: a use case that meters a render against the configured
    budget covers whatever renderer the template uses.
    """
    running = _ACTIVE.get()
    if running is not None:
        yield running
        return
    meter = Meter(budget)
    token = _ACTIVE.set(meter)
    try:
        yield meter
    finally:
        _ACTIVE.reset(token)


def check_built(budget: RenderBudget, size: int, what: str) -> None:
    """Refuse ``size`` characters about to be built when one value that size, or the running render's text built
    in all, would exceed the budget."""
    budget.check_length(size, what)
    meter = _ACTIVE.get()
    if meter is not None:
        meter.build(size, what)


def tick(count: int = 1) -> None:
    """Count ``count`` iterations against the running render's budget (nothing outside a render, e.g. while a
    body is compiled)."""
    meter = _ACTIVE.get()
    if meter is not None:
        meter.tick(count)


def printf_width(template: str | bytes) -> int:
    """The characters the widths and precisions of a printf-style format (``%10s``, ``%.3f``) may add.

    Raises :class:`TemplateRenderError` for a ``*`` width, which takes its size from the arguments.
    """
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    if "%" not in text:
        return 0
    total = 0
    for width, precision, _type in _PRINTF.findall(text):
        if "*" in (width, precision):
            raise TemplateRenderError("template format: a '*' width or precision is not allowed")
        total += _number(width) + _number(precision)
    return total


def format_spec_width(spec: str) -> int:
    """The characters the widths and precisions of a ``str.format`` spec (``>10``, ``.3f``, ``0=20,``) may add."""
    return sum(_number(digits) for digits in _DIGITS.findall(spec))


def _number(digits: str) -> int:
    # Too many digits for int() to parse (Python refuses beyond 4300) is simply very large.
    return int(digits) if 0 < len(digits) <= 18 else (10**18 if digits else 0)
