"""Every ``PYMESS_*`` setting is declared, documented and read in ``adapters_django.conf``, and nowhere else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import attrs
import pytest

from adapters_django import conf
from smscore import SMSConfig

PACKAGE = Path(conf.__file__).parent


def test_every_setting_is_documented_with_its_default() -> None:
    """The module's documentation names each setting the app reads, so a new one cannot go undocumented."""
    doc = conf.__doc__ or ""
    for setting in conf.SETTINGS:
        assert f"``{setting.name}``" in doc, setting.name


@pytest.mark.parametrize("setting", [s for s in conf.SETTINGS if s.core_key], ids=lambda s: s.name)
def test_the_default_of_a_setting_that_becomes_a_core_key_is_the_cores(setting: conf.Setting) -> None:
    """What the documentation promises for a setting left out is what the core then uses."""
    assert setting.core_key is not None
    default = attrs.fields_dict(SMSConfig)[setting.core_key].default
    if isinstance(default, attrs.Factory):
        default = default.factory()
    assert default == setting.default


def test_no_other_module_reads_a_pymess_setting() -> None:
    """Settings are read through conf only: no ``settings.PYMESS_*`` or ``getattr(..., "PYMESS_*")`` elsewhere
    (migrations name the swappable template model the way Django writes them)."""
    reading = re.compile(r"""settings\.PYMESS_|getattr\([^)]*["']PYMESS_""")
    offenders = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "conf.py"
        and "migrations" not in path.parts
        and reading.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_models_import_no_composition_root() -> None:
    """Loading the models (which Django does for every management command) builds nothing and imports neither
    the Django wiring nor the core's composition root at module level."""
    tree = ast.parse((PACKAGE / "models.py").read_text(encoding="utf-8"))
    imported = {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    assert imported.isdisjoint({"adapters_django.wiring", "smscore.config", "smscore.bootstrap"})
    assert "adapters_django.conf" in imported


def test_a_project_without_settings_gets_the_documented_defaults() -> None:
    """Left out, the template model and the database alias are the shipped model and ``default``."""
    assert conf.template_model_label(object()) == conf.DEFAULT_TEMPLATE_MODEL
    assert conf.database_alias(object()) == "default"
    assert conf.read("PYMESS_SMS_BACKENDS", object()) is conf.MISSING


def test_reading_an_undeclared_setting_is_a_programming_error() -> None:
    """A setting read without being declared (and so documented) fails at once."""
    with pytest.raises(KeyError):
        conf.read("PYMESS_SMS_UNDECLARED")
