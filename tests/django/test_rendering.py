"""The Django template path: no silent blanks, and the same render budget as the Jinja2 sandbox."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from django.template import TemplateSyntaxError
from django.test import Client

from adapters_django.models import OutputSMSMessage, SMSTemplate
from adapters_django.rendering import render_template, validate_template
from adapters_django.repositories import DjangoMessageRepository
from adapters_django.template_repository import DjangoTemplateRepository
from providers.dummy import DummySMSBackend
from smscore import SMSService, TemplateRenderError
from smscore.budget import RenderBudget, metered
from tests.core.test_render_budget import bounded

OTP = "Hello {{ name }}, your code is {{ code }}"


@pytest.fixture(params=["default", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> str:
    """Each Django storage: SQLite (``default``) and PostgreSQL."""
    if request.param == "postgres":
        request.getfixturevalue("postgres")
    return str(request.param)


@pytest.fixture
def core(database: str) -> SMSService:
    """The core service over the Django storage on ``database``."""
    return SMSService(
        messages=DjangoMessageRepository(using=database),
        templates=DjangoTemplateRepository(using=database),
        providers={"default": DummySMSBackend()},
    )


@pytest.mark.django_db(transaction=True, databases=["default", "postgres"])
class TestNoSilentBlanks:
    def test_a_missing_variable_is_an_error_naming_it_and_nothing_is_stored(
        self, core: SMSService, database: str
    ) -> None:
        """The issue's case: {"name": "Eva"} for a body that also needs code raises, naming code; no row."""
        SMSTemplate.objects.using(database).create(slug="welcome", body=OTP)
        with pytest.raises(TemplateRenderError, match=r"missing: code\Z"):
            core.send_template("+420777123456", "welcome", {"name": "Eva"})
        assert not OutputSMSMessage.objects.using(database).exists()

    def test_every_missing_variable_is_named_once(self, core: SMSService, database: str) -> None:
        """All the gaps at once, each named once, in order."""
        SMSTemplate.objects.using(database).create(slug="welcome", body=OTP + " {{ code }}")
        with pytest.raises(TemplateRenderError, match=r"missing: name, code\Z"):
            core.send_template("+420777123456", "welcome", {})

    def test_a_complete_context_is_sent(self, core: SMSService, database: str) -> None:
        """With every variable given, the text goes out as rendered."""
        SMSTemplate.objects.using(database).create(slug="welcome", body=OTP)
        message = core.send_template("+420777123456", "welcome", {"name": "Eva", "code": "1234"})
        assert message is not None
        assert message.content == "Hello Eva, your code is 1234"


class TestMissingVariables:
    @pytest.mark.parametrize(
        ("body", "missing"),
        [
            ("{{ code|default:'none' }}", "code"),
            ("{{ code|upper }}", "code"),
            ("{% with a=code %}{{ a }}{% endwith %}", "code"),
            ("{{ name|add:code }}", "code"),
            ("{{ user.name }}", "user.name"),
        ],
    )
    def test_a_missing_variable_anywhere_its_value_is_used_is_an_error(self, body: str, missing: str) -> None:
        """Printed, filtered, bound or passed to a filter: each names the variable."""
        with pytest.raises(TemplateRenderError, match=missing):
            render_template(body, {"name": "Eva", "user": {}})

    @pytest.mark.parametrize(
        ("body", "text"),
        [
            ("{% if code %}{{ code }}{% else %}no code{% endif %}", "no code"),
            ("{% for x in items %}{{ x }}{% empty %}none{% endfor %}", "none"),
            ("{% firstof code name %}", "Eva"),
            ("{{ empty|default:'none' }}", "none"),
        ],
    )
    def test_tests_of_presence_and_given_empty_values_still_work(self, body: str, text: str) -> None:
        """{% if %}, {% firstof %} and loops test presence; a value given as "" takes its default."""
        assert render_template(body, {"name": "Eva", "empty": ""}) == text

    def test_the_model_renders_through_the_same_path(self) -> None:
        """AbstractSMSTemplate.render_body refuses the gap too (the admin preview and template.send use it)."""
        with pytest.raises(TemplateRenderError, match="code"):
            SMSTemplate(slug="otp", body=OTP).render_body({"name": "Eva"})


@pytest.mark.django_db
class TestAdminPreview:
    def test_the_preview_names_the_missing_variables(self, admin_client: Client) -> None:
        """The preview shows which variables the sample context lacks instead of a text with gaps."""
        template = SMSTemplate.objects.create(slug="otp", body=OTP)
        query = urlencode({"context": '{"name": "Eva"}'})
        page = admin_client.get(f"/admin/adapters_django/smstemplate/{template.pk}/preview/?{query}")
        assert page.status_code == 200
        assert "template variables are missing: code" in page.content.decode()


class TestRenderBudget:
    def test_nested_loops_over_context_data_stop_within_a_second(self) -> None:
        """Three levels over 1000 items is a billion iterations: the budget (iterations, or the one-second
        deadline on a busy machine) ends it."""
        items = list(range(1000))
        body = "{% for a in xs %}{% for b in xs %}{% for c in xs %}{% endfor %}{% endfor %}{% endfor %}"
        started = time.monotonic()
        with pytest.raises(TemplateRenderError, match="render budget"):
            render_template(body, {"xs": items})
        assert time.monotonic() - started < 1.5

    def test_the_deadline_ends_a_render_with_iterations_to_spare(self) -> None:
        """A render metered by a use case's budget stops at its deadline."""
        body = "{% for a in xs %}{% for b in xs %}{% endfor %}{% endfor %}"
        started = time.monotonic()
        with (
            metered(RenderBudget(seconds=0.05, max_iterations=10**12)),
            pytest.raises(TemplateRenderError, match=r"longer than 0\.05 s"),
        ):
            render_template(body, {"xs": range(3000)})
        assert time.monotonic() - started < 1

    @pytest.mark.parametrize(
        "body",
        [
            "{{ 'a'|center:1000000000 }}",
            "{{ 'a'|ljust:1000000000 }}",
            "{{ 'a'|rjust:1000000000 }}",
            "{{ 'a'|stringformat:'1000000000s' }}",
            "{{ 1.5|floatformat:1000000000 }}",
            "{{ big|add:big }}",
            "{{ many|join:big }}",
        ],
    )
    def test_widths_and_sizes_beyond_the_budget_are_refused_before_they_are_built(self, body: str) -> None:
        """Padding, format widths, precision and concatenation are checked first."""
        with bounded(), pytest.raises(TemplateRenderError, match="render budget"):
            render_template(body, {"big": "x" * 9000, "many": ["a"] * 9000})

    def test_sane_widths_render(self) -> None:
        """The same filters with sane sizes work as in Django."""
        body = (
            "{{ 'a'|center:5 }}|{{ 'b'|rjust:3 }}|{{ 7|stringformat:'03d' }}|{{ 1.25|floatformat:1 }}|{{ 'c'|add:'d' }}"
        )
        assert render_template(body, {}) == "  a  |  b|007|1.3|cd"

    @pytest.mark.parametrize("body", ["{% lorem 100000 w %}", "{% debug %}"])
    def test_tags_that_make_text_from_nothing_are_not_available(self, body: str) -> None:
        """{% lorem %} and {% debug %} are refused when the body is parsed."""
        with pytest.raises(TemplateSyntaxError, match="not available in SMS templates"):
            validate_template(body)

    def test_deep_nesting_is_refused_when_parsed(self) -> None:
        """Blocks nested thousands deep are a TemplateRenderError, not a RecursionError."""
        body = "{% if x %}" * 3000 + "{% endif %}" * 3000
        with bounded(), pytest.raises(TemplateRenderError, match="nests more than"):
            validate_template(body)

    def test_blocks_within_the_depth_budget_render(self) -> None:
        """Ordinary nesting renders."""
        body = "{% if x %}{% for i in xs %}{% if i %}{{ i }}{% endif %}{% endfor %}{% endif %}"
        assert render_template(body, {"x": True, "xs": [0, 1, 2]}) == "12"

    def test_output_longer_than_the_budget_is_refused(self) -> None:
        """The rendered text is bounded like the sandbox's."""
        with metered(RenderBudget(max_length=5)), pytest.raises(TemplateRenderError, match="longer than 5"):
            render_template("{{ text }}", {"text": "123456"})
