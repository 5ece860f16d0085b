"""The reference and the code name the same things: configuration keys, Django settings, CLI commands, provider
options and public names. Each test fails when one exists in the code but not in the docs, or the other way round."""

from __future__ import annotations

import importlib
import re

import pytest

from tests.docs.blocks import DOCS, blocks, generator, pages

GENERATED = generator()


def _all_text() -> str:
    return "\n".join(page.read_text(encoding="utf-8") for page in pages())


def test_every_configuration_key_is_described_and_every_described_key_exists() -> None:
    """The keys SMSConfig.from_mapping accepts are the keys of the described table, and all are in the reference."""
    code = GENERATED.config_keys()
    assert set(GENERATED.described_config_keys()) == code
    reference = GENERATED.configuration()
    assert {key for key in code if f"| `{key}`<br>" not in reference} == set()


def test_every_django_setting_is_in_the_reference_and_the_docs_name_no_other() -> None:
    """Every setting adapters_django reads has a row; every PYMESS_* name the pages use is one it reads."""
    from adapters_django import conf

    reference = GENERATED.django_settings()
    assert {s for s in conf.SETTING_NAMES if f"| `{s}`" not in reference} == set()
    named = set(re.findall(r"\bPYMESS_[A-Z_]+[A-Z]\b", _all_text()))
    assert named - conf.SETTING_NAMES == set()


def test_every_command_is_in_the_reference_and_the_docs_name_no_other() -> None:
    """Every registered command has a section; every `smscore WORD` in the pages' code is a command."""
    from smscore.cli import COMMANDS

    reference = GENERATED.cli()
    sections = set(re.findall(r"^## smscore (.+)$", reference, re.M))
    assert sections == {" ".join(words) for words in COMMANDS}
    first_words = {words[0] for words in COMMANDS}
    used = set()
    for page in pages():
        for block in blocks(page):
            # A console line whose shown output is an error may misspell a command on purpose.
            shown_errors = re.findall(r"^\$ smscore ([a-z][\w-]*).*\nsmscore: error", block.text, re.M)
            used |= set(re.findall(r"^(?:\$ )?smscore ([a-z][\w-]*)", block.text, re.M)) - set(shown_errors)
    assert used - first_words == set()


def test_every_provider_option_is_in_the_reference() -> None:
    """Every option (and alias) each shipped provider declares is in its generated table."""
    for alias, cls in GENERATED.provider_classes().items():
        text = GENERATED.provider_options(alias)
        missing = [name for option in cls.option_spec or () for name in option.names if f"`{name}`" not in text]
        assert missing == [], alias


def _documented() -> set[str]:
    found: set[str] = set()
    for page in (DOCS / "reference" / "api").glob("*.md"):
        found |= set(re.findall(r"^::: ([\w.]+)$", page.read_text(encoding="utf-8"), re.M))
    return found


@pytest.mark.parametrize(
    "module", ["smscore", "smscore.testing", "smscore.webhooks", "adapters_django", "adapters_django.testing"]
)
def test_public_names_are_exactly_the_documented_ones(module: str) -> None:
    """Each public name of the module has its entry in the API reference, and the entries name only public names."""
    public = {f"{module}.{name}" for name in importlib.import_module(module).__all__}
    documented = {name for name in _documented() if name.rpartition(".")[0] == module}
    assert public - documented == set(), "public but not documented"
    assert documented - public == set(), "documented but not public"


def test_every_documented_name_exists() -> None:
    """Every `::: name` of the API pages imports (a renamed or removed name fails here before the build does)."""
    for name in _documented():
        module, _, attribute = name.rpartition(".")
        assert hasattr(importlib.import_module(module), attribute), name


def test_every_generated_marker_is_known_and_every_page_is_in_the_navigation() -> None:
    """Markers name a generator; the navigation lists every page (MkDocs only warns about orphans)."""
    nav = (DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8")
    for page in pages():
        for name, _ in GENERATED.MARKER.findall(page.read_text(encoding="utf-8")):
            assert name in GENERATED.GENERATORS, f"{page}: {name}"
        assert str(page.relative_to(DOCS)) in nav, page


def test_the_state_diagram_has_every_transition() -> None:
    """The diagram draws one arrow per allowed move of TRANSITIONS, and no other, each state once, and the
    final states (derived from the table) with their double border."""
    from smscore import FINAL_STATES, TRANSITIONS

    svg = GENERATED.state_diagram()
    arrows = re.findall(r"<path [^>]*><title>(\[\*\]|\w+) → (\w+)</title>", svg)
    assert sorted(arrows) == sorted(
        [("[*]", "WAITING")]
        + [(state.name, target.name) for state, targets in TRANSITIONS.items() for target in targets]
    )
    labels = re.findall(r'font-weight="bold">(\w+)</text>', svg)
    assert sorted(labels) == sorted(state.name for state in TRANSITIONS)
    framed = re.findall(r'<g class="state">(?:<rect [^>]*/>){2}<text [^>]*>(\w+)</text>', svg)
    assert set(framed) == {state.name for state in FINAL_STATES}


def test_the_architecture_diagram_draws_every_layer_of_the_import_contract() -> None:
    """Each layer of the import-linter layers contract is a box listing its public modules."""
    import tomllib

    project = tomllib.loads((DOCS.parent / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in project["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    svg = GENERATED.architecture_diagram()
    for layer in contract["layers"]:
        for module in layer.split(":"):
            name = module.strip().removeprefix("smscore.")
            assert name.startswith("_") or re.search(rf"(>| · ){name}( · |<)", svg), name


def test_the_site_needs_no_network() -> None:
    """No page draws with a script from a CDN (diagrams are SVG made at build time) and the theme asks for no
    web font, so the site reads the same offline."""
    import yaml

    config = yaml.safe_load((DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["theme"].get("font") is False
    assert [s for s in config.get("extra_javascript", []) if "//" in str(s)] == []
    assert [b.where for page in pages() for b in blocks(page) if b.lang == "mermaid"] == []
    built = GENERATED.expand("<!-- generated: state-diagram -->\n\n<!-- generated: architecture-diagram -->")
    assert "<script" not in built
    assert "http" not in built.replace("http://www.w3.org/2000/svg", "")


def test_every_django_check_id_is_described_in_the_reference_with_its_fix() -> None:
    """The ids adapters_django.checks raises are the ids its docstring describes; each has a row in the generated
    table and a line on fixing it in the page, so a new check without docs fails here."""
    import inspect

    from adapters_django import checks

    raised = set(re.findall(r'id="(adapters_django\.[EW]\d{3})"', inspect.getsource(checks)))
    assert raised == set(GENERATED.described_checks()) == set(GENERATED.check_ids_in_code())
    reference = GENERATED.django_checks()
    assert {check_id for check_id in raised if f"`{check_id}`" not in reference} == set()
    page = (DOCS / "reference" / "django-checks.md").read_text(encoding="utf-8")
    assert "<!-- generated: django-checks -->" in page
    fixes = page.split("## Fixing them", 1)[1]
    bold = {short for group in re.findall(r"^- \*\*([^*]+)\*\*", fixes, re.M) for short in group.split(", ")}
    assert {check_id.split(".")[1] for check_id in raised} == bold


def test_every_django_setting_is_compared_with_django_pymess() -> None:
    """The migration guide's settings table has a row, next to what the ancestor did, for each setting read."""
    from adapters_django import conf

    compared = GENERATED.pymess_settings()
    assert {s for s in conf.SETTING_NAMES if f"| `{s}`<br>" not in compared} == set()


def test_every_ancestor_state_is_in_the_migration_guide() -> None:
    """Each django-pymess state number import_pymess knows has its row, with the state it becomes."""
    from adapters_django.pymess_import import ANCESTOR_STATES

    states = GENERATED.pymess_states()
    for number, (name, state) in ANCESTOR_STATES.items():
        assert f"| {number} {name} | `{state.name}` |" in states


def test_every_django_command_is_in_the_reference() -> None:
    """Each management command adapters_django ships has its generated section, and the page names no other."""
    import pkgutil

    import adapters_django.management.commands as commands

    shipped = {module.name for module in pkgutil.iter_modules(commands.__path__)}
    page = (DOCS / "reference" / "django-commands.md").read_text(encoding="utf-8")
    assert set(re.findall(r"^<!-- generated: django-command (\w+) -->$", page, re.M)) == shipped
    for name in shipped:
        assert f"`python manage.py {name}`" in GENERATED.django_command(name)
