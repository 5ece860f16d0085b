"""The render budget of the Jinja2 sandbox: hostile bodies end in TemplateRenderError quickly and without
allocating what they ask for."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from smscore import TemplateRenderError
from smscore.budget import RenderBudget, format_spec_width, printf_width
from smscore.templates import JinjaRenderer

#: The most a refused render may allocate: far below what any of the hostile bodies asks for.
_MAX_PEAK_BYTES = 8 * 1024 * 1024


@contextmanager
def bounded(seconds: float = 5.0) -> Iterator[None]:
    """Assert that the block allocates less than a few megabytes (traced, so slowly: ``seconds`` only catches a
    render that runs away)."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        yield
    finally:
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    assert peak < _MAX_PEAK_BYTES, f"allocated {peak} bytes"


@contextmanager
def within(seconds: float = 1.5) -> Iterator[None]:
    """Assert that the block takes less than ``seconds``: about the one-second default deadline, on a busy machine."""
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"took {elapsed:.2f} s"


def refused(body: str, renderer: JinjaRenderer | None = None, **context: object) -> str:
    """Render ``body``, expecting a TemplateRenderError without a large allocation; return its message."""
    with bounded(), pytest.raises(TemplateRenderError) as caught:
        (renderer or JinjaRenderer()).render(body, context)
    return str(caught.value)


def refused_in_time(body: str, **context: object) -> str:
    """Render ``body``, expecting a TemplateRenderError within about a second; return its message."""
    with within(), pytest.raises(TemplateRenderError) as caught:
        JinjaRenderer().render(body, context)
    return str(caught.value)


class TestLoops:
    def test_nested_range_loops_stop_within_a_second(self) -> None:
        """100000 x 100000 iterations run out of the iteration budget instead of running for minutes."""
        message = refused_in_time("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
        assert "render budget" in message

    def test_nested_loops_over_context_data_are_counted(self) -> None:
        """Loops over the caller's lists count too: three levels over 1000 items is a billion iterations."""
        items = list(range(1000))
        body = "{% for a in xs %}{% for b in xs %}{% for c in xs %}{% endfor %}{% endfor %}{% endfor %}"
        assert "render budget" in refused_in_time(body, xs=items)

    def test_the_deadline_stops_a_render_within_budget_otherwise(self) -> None:
        """With iterations to spare, the time budget ends the render at its deadline."""
        renderer = JinjaRenderer(budget=RenderBudget(seconds=0.05, max_iterations=10**12))
        started = time.monotonic()
        message = refused("{% for i in xs %}{% for j in xs %}{% endfor %}{% endfor %}", renderer, xs=range(10**6))
        assert "longer than 0.05 s" in message
        assert time.monotonic() - started < 0.5

    def test_a_recursive_macro_is_a_render_error(self) -> None:
        """Calls count against the budget, so a macro calling itself stops with the template's error type."""
        refused("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}")

    def test_a_range_larger_than_the_budget_is_refused_before_it_is_made(self) -> None:
        """range() checks its length against the iteration budget."""
        renderer = JinjaRenderer(budget=RenderBudget(max_iterations=20))
        assert renderer.render("{% for i in range(10) %}{{ i }}{% endfor %}", {}) == "0123456789"
        assert "range size would be 21" in refused("{{ range(21)|list }}", renderer)

    def test_small_loops_render(self) -> None:
        """Ordinary loops, with loop variables and else, are untouched."""
        body = "{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% else %}none{% endfor %}"
        assert JinjaRenderer().render(body, {"xs": ["a", "b"]}) == "1a,2b"
        assert JinjaRenderer().render(body, {"xs": []}) == "none"


class TestWidthsAndSizes:
    @pytest.mark.parametrize(
        "body",
        [
            "{{ 'a'|center(1000000000) }}",
            "{{ '%1000000000s'|format('a') }}",
            "{{ '%.1000000000f'|format(1.5) }}",
            "{{ '%1000000000s' % 'a' }}",
            "{{ '%(a)1000000000s' % {'a': 1} }}",
            "{{ 'a'.center(1000000000) }}",
            "{{ 'a'.ljust(1000000000) }}",
            "{{ 'a'.rjust(1000000000) }}",
            "{{ '1'.zfill(1000000000) }}",
            "{{ '{:1000000000}'.format('a') }}",
            "{{ '{:>1000000000}'.format_map({'a': 1}) }}",
            "{{ '{0:.1000000000f}'.format(1.5) }}",
            "{{ 'a'|indent(1000000000, true) }}",
            "{{ ('a' * 9000)|replace('a', 'b' * 9000) }}",
            "{{ ('a' * 9000).replace('', 'b' * 9000) }}",
            "{{ range(10000)|join('x' * 9000) }}",
            "{{ ('x' * 9000).join(['a'] * 9000) }}",
            "{{ ('x' * 9000).join(range(9000)|map('string')) }}",
            "{{ ('a' * 5000)|wordwrap(1, true, 'x' * 9000) }}",
            "{{ [1]|batch(1000000000, 'x')|list }}",
            "{{ [1]|slice(1000000000)|list }}",
            "{{ range(10000)|list|tojson(1000000) }}",
            "{{ (1).to_bytes(1000000000, 'big') }}",
            "{{ ('\t' * 9000).expandtabs(1000000) }}",
            "{{ 'x' * 1000000000 }}",
            "{{ ['a' * 9000] * 9000 }}",
            "{{ ('a' * 9000) + ('a' * 9000) }}",
            "{% set ns = namespace(s='a' * 9000) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "{% set ns = namespace(x=3) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
            "{{ 99 ** 64 ** 64 }}",
            "{{ '%*s' % (1000000000, 'a') }}",
            "{{ '{:{w}}'.format('a', w=1000000000) }}",
            "{{ range(100000)|map('center', 9000)|list|length }}",
            "{% set d = dict.fromkeys(range(10000), 'x' * 9000) %}{{ d }}",
            "{{ dict.fromkeys(range(10000), 'x' * 9000)|string }}",
            "{{ [['x' * 9000] * 1] * 10000 }}",
        ],
    )
    def test_a_size_larger_than_the_budget_is_refused_before_it_is_built(self, body: str) -> None:
        """Padding, format widths, repetition and growth are checked before anything is allocated."""
        refused(body)

    def test_widths_within_the_budget_render(self) -> None:
        """The same operations with sane sizes work as in Jinja2."""
        body = (
            "{{ 'a'|center(5) }}|{{ '%3s'|format('b') }}|{{ '%-3s' % 'c' }}|{{ 'd'.ljust(3) }}|{{ '7'.zfill(3) }}"
            "|{{ '{:>3}'.format('e') }}|{{ 'f' ~ 'g' }}|{{ ['h', 'i']|join('-') }}|{{ 'ab'|replace('a', 'x') }}"
        )
        assert JinjaRenderer().render(body, {}) == "  a  |  b|c  |d  |007|  e|fg|h-i|xb"

    def test_lists_and_dicts_cannot_be_changed_in_place(self) -> None:
        """The sandbox is immutable: extend() cannot double a list on every iteration."""
        refused("{% set xs = [1] %}{{ xs.extend(xs) }}")

    def test_lipsum_is_not_available(self) -> None:
        """lipsum builds any amount of text from two numbers; templates do not get it."""
        refused("{{ lipsum(100000, false, 100000, 100000) }}")


class TestNesting:
    @pytest.mark.parametrize(
        "body",
        [
            "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
            "{{ " + "+".join(["1"] * 3000) + " }}",
            "{{ " + "not " * 3000 + "x }}",
            "{{ " + "-" * 3000 + "1 }}",
            "{{ x" + "|e" * 3000 + " }}",
            "{{ x" + ".a" * 3000 + " }}",
            "{{ " + "[" * 3000 + "]" * 3000 + " }}",
            "{% if x %}" * 3000 + "{% endif %}" * 3000,
        ],
    )
    def test_deep_nesting_is_refused_when_parsed(self, body: str) -> None:
        """Expressions and blocks nested thousands deep are a TemplateRenderError, not a RecursionError."""
        renderer = JinjaRenderer()
        with bounded(), pytest.raises(TemplateRenderError, match="nests more than 100 levels"):
            renderer.validate(body)

    def test_the_depth_limit_is_configurable(self) -> None:
        """A body within the depth budget renders; one level more is refused."""
        renderer = JinjaRenderer(budget=RenderBudget(max_depth=10))
        assert renderer.render("{{ (((1))) }}", {}) == "1"
        with pytest.raises(TemplateRenderError, match="nests more than 10 levels"):
            renderer.validate("{{ " + "+".join(["1"] * 20) + " }}")


class TestBudgetValue:
    @pytest.mark.parametrize("field", ["seconds", "max_length", "max_iterations", "max_depth"])
    @pytest.mark.parametrize("value", [0, -1])
    def test_limits_must_be_positive(self, field: str, value: int) -> None:
        """A budget of nothing is a mistake, refused when the budget is made."""
        with pytest.raises(ValueError, match=field):
            RenderBudget(**{field: value})

    def test_the_max_length_keyword_replaces_the_budgets_output_bound(self) -> None:
        """JinjaRenderer(max_length=...) keeps working and sets the output part of the budget."""
        renderer = JinjaRenderer(budget=RenderBudget(max_iterations=7), max_length=5)
        assert renderer.budget == RenderBudget(max_iterations=7, max_length=5)

    @pytest.mark.parametrize(
        ("fmt", "width"),
        [("%s", 0), ("%10s %.3f", 13), ("%(a)-5d%%", 5), ("%0" + "9" * 5000 + "d", 10**18), ("plain", 0)],
    )
    def test_printf_width_sums_widths_and_precisions(self, fmt: str, width: int) -> None:
        """What a printf format may add to its arguments, without parsing huge numbers."""
        assert printf_width(fmt) == width

    @pytest.mark.parametrize(("spec", "width"), [("", 0), (">10", 10), ("0=20,.2f", 22), ("9" * 5000, 10**18)])
    def test_format_spec_width_sums_its_numbers(self, spec: str, width: int) -> None:
        """What a str.format spec may add, without parsing huge numbers."""
        assert format_spec_width(spec) == width
