"""The Jinja2 side of :mod:`smscore.templates`, imported only when a renderer is made: the sandbox held to a
:class:`~smscore.budget.RenderBudget`.

On top of Jinja2's immutable sandbox (no attribute walks to ``__class__``/``__globals__``, no changes to lists
and dicts), every loop iteration and every call counts against the budget and checks its deadline; the parsed
body may not nest deeper than the budget allows; and every operation that can build a large value from a small
body (repetition, concatenation, padding and format widths, ``replace``, ``join``, ``batch``, ``range``...)
checks the size it is about to build before building it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from string import Formatter
from types import BuiltinMethodType
from typing import Any, Final

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from smscore.budget import RenderBudget, check_built, format_spec_width, metered, printf_width, tick
from smscore.errors import TemplateRenderError

__all__ = ["SandboxRenderer"]

#: Largest integer a template may build by ``*`` or ``**``, in bits (far beyond any amount or code in an SMS).
_MAX_INT_BITS: Final = 4096
_LOOP_FILTER: Final = "smscore_metered_loop"
#: Where :func:`_weight` stops counting: far beyond any output budget.
_WEIGHT_LIMIT: Final = 10**7
_CONCAT_FILTER: Final = "smscore_bounded_concat"


def _weight(value: Any) -> int:
    """About how many characters ``value`` becomes as text: the lengths of its strings plus one per item, at any
    depth (a list holding one long string ten thousand times weighs ten thousand of them). Walked without
    recursion, and only until it is far beyond any budget."""
    if isinstance(value, str | bytes):
        return len(value)
    total = 0
    stack = [value]
    while stack and total <= _WEIGHT_LIMIT:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, dict):
            total += 1
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 1
            stack.extend(item)
        else:
            total += len(item) if isinstance(item, Sized) else 1
    return total


def _longest(args: Iterable[Any]) -> int:
    return max((_weight(arg) for arg in args), default=0)


def _format_size(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """What ``fmt.format(*args, **kwargs)`` may build, at most; refuses nested fields in a spec (``{:{w}}``)."""
    fields = 0
    widths = 0
    for _literal, field, spec, _conversion in Formatter().parse(fmt):
        if field is None:
            continue
        if spec and "{" in spec:
            raise TemplateRenderError("template format: a nested field in a format spec is not allowed")
        fields += 1
        widths += format_spec_width(spec or "")
    return len(fmt) + widths + fields * _longest([*args, *kwargs.values()])


def _printf_size(fmt: str | bytes, values: Any) -> int:
    """What ``fmt % values`` may build, at most."""
    items = values.values() if isinstance(values, Mapping) else values if isinstance(values, tuple) else (values,)
    conversions = fmt.count(b"%") if isinstance(fmt, bytes) else fmt.count("%")
    return len(fmt) + printf_width(fmt) + conversions * _longest(items)


def _method_size(method: BuiltinMethodType, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """What a method of a string, bytes or int called from a template may build, at most."""
    owner: Any = method.__self__
    name = method.__name__
    size = _weight(owner)
    if name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        occurrences: int = owner.count(old) if old else size + 1
        return size + occurrences * _weight(new)
    if name == "join" and args:
        return size * _weight(args[0]) + _weight(args[0])
    if name == "expandtabs":
        tabs: int = owner.count("\t" if isinstance(owner, str) else b"\t")
        return size + tabs * (_int(args[0]) if args else 8)
    if name == "translate" and args and isinstance(args[0], Mapping):
        return size * (1 + _longest(args[0].values()))
    # center, ljust, rjust, zfill, to_bytes...: numbers are widths or lengths.
    numbers = [arg for arg in (*args, *kwargs.values()) if isinstance(arg, int) and not isinstance(arg, bool)]
    return max([size, *numbers])


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox metered by a :class:`RenderBudget` (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, budget: RenderBudget) -> None:
        super().__init__(
            autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=False, finalize=self._finalize
        )
        self.budget = budget
        # lipsum builds any amount of text from two numbers; no SMS needs placeholder text.
        del self.globals["lipsum"]
        self.globals["range"] = self._range
        self.filters.update(_bounded_filters(self.filters))
        self.filters[_LOOP_FILTER] = _metered_loop
        self.filters[_CONCAT_FILTER] = _bounded_concat

    def _finalize(self, value: Any) -> Any:
        # Every printed value: a list or dict is measured before str() turns it into text.
        if not isinstance(value, str):
            self.budget.check_length(_weight(value), "printed value")
        return value

    def call_filter(self, name: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        tick()  # map, select and the like call a filter or test per item
        return super().call_filter(name, value, *args, **kwargs)

    def call_test(self, name: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        tick()
        return super().call_test(name, value, *args, **kwargs)

    def _range(self, *args: int) -> range:
        numbers = range(*args)
        self.budget.check_count(len(numbers), "range size")
        return numbers

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # The parse is where the body's shape is known: its depth is checked here, before anything walks the tree
        # recursively, and loops and ``~`` are routed through the metered filters.
        try:
            tree = super()._parse(source, name, filename)
        except RecursionError:
            raise TemplateRenderError(
                f"template exceeds its render budget: it nests more than {self.budget.max_depth} levels deep"
            ) from None
        _meter_tree(tree, self.budget)
        return tree

    def call_binop(self, context: jinja2.runtime.Context, operator_name: str, left: Any, right: Any) -> Any:
        tick()
        budget = self.budget
        if operator_name == "*":
            if isinstance(left, int) and isinstance(right, int):
                _check_bits(left.bit_length() + right.bit_length())
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | bytes | list | tuple) and isinstance(count, int):
                    check_built(budget, _weight(seq) * count, "repetition")
        elif operator_name == "**" and isinstance(left, int | float) and isinstance(right, int):
            if abs(right) > 64:
                raise TemplateRenderError("template exceeds its render budget: power too large")
            if isinstance(left, int):
                _check_bits(left.bit_length() * abs(right))
        elif operator_name == "+" and isinstance(left, str | bytes | list | tuple):
            check_built(budget, _weight(left) + _weight(right), "concatenation")
        elif operator_name == "%" and isinstance(left, str | bytes):
            check_built(budget, _printf_size(left, right), "formatted string")
        return super().call_binop(context, operator_name, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt: str = value.__self__
        by_map = value.__name__ == "format_map"
        budget = self.budget

        def checked(*args: Any, **kwargs: Any) -> str:
            values = args[0] if by_map and args and isinstance(args[0], Mapping) else kwargs
            check_built(budget, _format_size(fmt, () if by_map else args, values), "formatted string")
            return wrapped(*args, **kwargs)

        return checked

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        tick()
        if isinstance(__obj, BuiltinMethodType) and isinstance(__obj.__self__, str | bytes | int):
            if __obj.__name__ == "join" and args and not isinstance(args[0], Sized):
                args = (list(args[0]), *args[1:])  # a generator is counted before it is joined
            check_built(__self.budget, _method_size(__obj, args, kwargs), f"result of {__obj.__name__}()")
        return super().call(__context, __obj, *args, **kwargs)


def _check_bits(bits: int) -> None:
    if bits > _MAX_INT_BITS:
        raise TemplateRenderError(f"template exceeds its render budget: a number of more than {_MAX_INT_BITS} bits")


def _meter_tree(tree: nodes.Template, budget: RenderBudget) -> None:
    """Check the tree's depth without recursion; route loops and ``~`` through the metered filters."""
    stack: list[tuple[nodes.Node, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        budget.check_depth(depth)
        if isinstance(node, nodes.For):
            node.iter = nodes.Filter(node.iter, _LOOP_FILTER, [], [], None, None, lineno=node.lineno)
        for field in node.fields:
            value = getattr(node, field)
            children = value if isinstance(value, list) else [value]
            for index, child in enumerate(children):
                if isinstance(child, nodes.Concat):
                    items = nodes.List(child.nodes, lineno=child.lineno)
                    child = nodes.Filter(items, _CONCAT_FILTER, [], [], None, None, lineno=child.lineno)
                    if isinstance(value, list):
                        value[index] = child
                    else:
                        setattr(node, field, child)
                if isinstance(child, nodes.Node):
                    stack.append((child, depth + 1))


# Both take the context so that Jinja2 never folds them into constants at compile time.
@jinja2.pass_context
def _metered_loop(context: jinja2.runtime.Context, iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        tick()
        yield item


@jinja2.pass_context
def _bounded_concat(context: jinja2.runtime.Context, items: list[Any]) -> str:
    pieces = [str(item) for item in items]
    check_built(context.environment.budget, sum(map(len, pieces)), "joined string")  # type: ignore[attr-defined]
    return "".join(pieces)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


#: For each filter that can build more than its input, the size it is about to build (checked before it runs).
_FILTER_SIZES: Final[Mapping[str, Callable[..., int]]] = {
    "center": lambda value, width=80, *_: max(len(_text(value)), _int(width)),
    "indent": lambda s, width=4, *_, **__: (
        len(_text(s)) + (len(width) if isinstance(width, str) else _int(width)) * (_text(s).count("\n") + 2)
    ),
    "format": lambda value, *args, **kwargs: _printf_size(_text(value), kwargs or args),
    "wordwrap": lambda s, width=79, _breaks=True, wrapstring=None, *_, **__: (
        len(_text(s)) + (len(_text(s)) // max(_int(width), 1) + 1) * len(wrapstring or "\n")
    ),
    "replace": lambda s, old, new, count=None: (
        len(_text(s)) + (_text(s).count(_text(old)) if old else len(_text(s)) + 1) * len(_text(new))
    ),
    "join": lambda value, d="", *_: len(_text(d)) * _weight(value) + _weight(value),
    "batch": lambda value, linecount, *_: _int(linecount) + _weight(value),
    "slice": lambda value, slices, *_: _int(slices) + _weight(value),
    "tojson": lambda value, indent=None: _weight(value) * (2 + _int(indent)),
    **dict.fromkeys(
        # Filters that turn their value into text of about its weight (a list of long strings becomes long text).
        ("string", "pprint", "e", "escape", "forceescape", "urlencode", "upper", "lower", "title", "capitalize"),
        lambda value, *_, **__: _weight(value),
    ),
}


def _bounded_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """The filters of :data:`_FILTER_SIZES`, each checking its size before calling Jinja2's own."""
    bounded = {}
    for name, size in _FILTER_SIZES.items():
        original = filters[name]
        # How Jinja2 passes its context to a filter (the attribute its pass_* decorators set).
        passes = getattr(original, "jinja_pass_arg", None)

        @jinja2.pass_eval_context
        def checked(
            eval_ctx: jinja2.nodes.EvalContext,
            value: Any,
            *args: Any,
            _name: str = name,
            _size: Callable[..., int] = size,
            _original: Callable[..., Any] = original,
            _passes: Any = passes,
            **kwargs: Any,
        ) -> Any:
            if _name in {"join", "batch"} and not hasattr(value, "__len__"):
                value = list(value)
            budget = eval_ctx.environment.budget  # type: ignore[attr-defined]
            check_built(budget, _size(value, *args, **kwargs), f"result of {_name}")
            if _passes is None:
                return _original(value, *args, **kwargs)
            first = eval_ctx if _passes.name == "eval_context" else eval_ctx.environment
            return _original(first, value, *args, **kwargs)

        bounded[name] = checked
    return bounded


class SandboxRenderer:
    """One budgeted sandbox with compiled bodies cached; see :class:`smscore.templates.JinjaRenderer`."""

    def __init__(self, *, budget: RenderBudget, cache_size: int = 512) -> None:
        self.budget = budget
        self._env = _BoundedSandbox(budget)
        self._compile: Callable[[str], jinja2.Template] = functools.lru_cache(maxsize=cache_size)(self._env.from_string)

    def compile(self, body: str) -> jinja2.Template:
        """The compiled template (cached). Raises :class:`TemplateRenderError` for a syntax error or a body
        nested deeper than the budget allows."""
        try:
            return self._compile(body)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateRenderError(f"template syntax error on line {exc.lineno}: {exc.message}") from exc

    def render(self, body: str, context: Mapping[str, Any]) -> str:
        """Render ``body`` with ``context`` within the budget; see the module docstring for what is refused."""
        template = self.compile(body)
        pieces: list[str] = []
        size = 0
        limit = self.budget.max_length
        try:
            with metered(self.budget):
                for piece in template.generate(dict(context)):
                    size += len(piece)
                    if size > limit:
                        raise TemplateRenderError(f"rendered template is longer than {limit} characters")
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
