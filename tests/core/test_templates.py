"""Template rendering: plain text, strict variables, and a sandbox for staff-edited bodies."""

from __future__ import annotations

import pytest

from smscore import InvalidMessageError, SMSTemplate, TemplateRenderError
from smscore.templates import JinjaRenderer, check_context


def render(body: str, **context: object) -> str:
    return SMSTemplate(slug="t", body=body).render_body(context)


class TestRendering:
    def test_variables_are_rendered_without_html_escaping(self) -> None:
        """SMS is plain text: & and quotes stay as they are (the ancestor sent &amp;)."""
        assert render("Hi {{ name }}, {{ what }}", name="Tom & Jerry", what='it\'s "ok" <3') == (
            'Hi Tom & Jerry, it\'s "ok" <3'
        )

    def test_get_body_can_be_overridden_before_rendering(self) -> None:
        """A subclass may change the body before it is rendered, as the seed allows."""

        class Shouting(SMSTemplate):
            def get_body(self) -> str:
                return self.body.replace("hello", "HELLO")

        assert Shouting(slug="s", body="hello {{ name }}").render_body({"name": "x"}) == "HELLO x"

    def test_can_send_is_true_by_default(self) -> None:
        """The default template allows every send."""
        assert SMSTemplate(slug="s", body="x").can_send("+420777123456", {}) is True

    @pytest.mark.parametrize("slug", ["has space", "", "x" * 101, "slash/slug", "ž"])
    def test_a_bad_slug_is_refused(self, slug: str) -> None:
        """Slugs are letters, digits, - and _, at most 100 characters."""
        with pytest.raises(InvalidMessageError, match="slug"):
            SMSTemplate(slug=slug, body="x")


class TestErrors:
    def test_a_missing_variable_is_an_error_naming_it(self) -> None:
        """Undefined variables raise instead of rendering an empty string."""
        with pytest.raises(TemplateRenderError, match="code"):
            render("Your code is {{ code }}")

    def test_a_syntax_error_names_the_line(self) -> None:
        """Broken syntax is a TemplateRenderError with the line number."""
        with pytest.raises(TemplateRenderError, match="line 2"):
            render("ok\n{% if %}")

    @pytest.mark.parametrize(
        "body",
        [
            "{{ ''.__class__.__mro__ }}",
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "{{ cycler.__init__.__globals__ }}",
            "{{ self._TemplateReference__context }}",
            "{{ ().__class__.__bases__[0] }}",
        ],
    )
    def test_sandbox_escapes_are_refused(self, body: str) -> None:
        """Walking to Python internals is a TemplateRenderError, never a leak."""
        with pytest.raises(TemplateRenderError):
            render(body)

    @pytest.mark.parametrize(
        "body",
        [
            "{{ 'x' * 1000000000 }}",
            "{{ 10 ** 100000000 }}",
            "{% for i in range(100000) %}abcdefgh{% endfor %}",
            "{{ ['a'] * 100000000 }}",
        ],
    )
    def test_output_and_work_are_bounded(self, body: str) -> None:
        """Huge repetition, powers and loops stop with an error instead of eating memory."""
        with pytest.raises(TemplateRenderError):
            render(body)

    def test_the_length_bound_is_configurable(self) -> None:
        """A renderer with a smaller bound refuses longer output."""
        renderer = JinjaRenderer(max_length=5)
        assert renderer.render("{{ a }}", {"a": "12345"}) == "12345"
        with pytest.raises(TemplateRenderError, match="longer than 5"):
            renderer.render("{{ a }}", {"a": "123456"})

    def test_a_failing_filter_is_a_render_error(self) -> None:
        """An exception inside rendering is still the template's error type."""
        with pytest.raises(TemplateRenderError, match="ZeroDivisionError"):
            render("{{ 1 // zero }}", zero=0)


class TestValidate:
    def test_validate_refuses_syntax_errors_without_rendering(self) -> None:
        """A body can be checked when saved: syntax errors raise, missing variables do not (no context yet)."""
        renderer = JinjaRenderer()
        renderer.validate("Code {{ code }}")
        with pytest.raises(TemplateRenderError, match="line 1"):
            renderer.validate("Code {{ code }")


class TestTemplateValues:
    @pytest.mark.parametrize("slug", ["otp\n", "otp\r\n", "\notp"])
    def test_a_slug_with_a_line_break_is_refused(self, slug: str) -> None:
        """The whole slug must match, a trailing newline included."""
        with pytest.raises(InvalidMessageError, match="slug"):
            SMSTemplate(slug=slug, body="x")

    @pytest.mark.parametrize("body", [5, None, b"bytes", ["a"]])
    def test_a_body_that_is_not_a_string_is_refused(self, body: object) -> None:
        """SMSTemplate(slug="b", body=5) is refused instead of being stored and sent as "5"."""
        with pytest.raises(InvalidMessageError, match="body must be a string"):
            SMSTemplate(slug="b", body=body)  # type: ignore[arg-type]

    @pytest.mark.parametrize(("body", "kind"), [("a\ud800b", "lone surrogate"), ("a\x00b", "control character")])
    def test_a_body_no_storage_can_keep_is_refused(self, body: str, kind: str) -> None:
        """Lone surrogates and NUL cannot be stored anywhere: a typed error when the template is made."""
        with pytest.raises(InvalidMessageError, match=kind):
            SMSTemplate(slug="b", body=body)

    @pytest.mark.parametrize("context", [[1, 2], "ab", 5])
    def test_a_context_that_is_not_a_mapping_is_refused(self, context: object) -> None:
        """context_data=[1, 2] is a typed error, not TypeError."""
        with pytest.raises(InvalidMessageError, match="context must be a mapping"):
            check_context(context)

    def test_a_missing_context_is_empty(self) -> None:
        """None stands for no variables; a mapping is copied."""
        given = {"a": 1}
        assert check_context(None) == {}
        assert check_context(given) == given
        assert check_context(given) is not given
