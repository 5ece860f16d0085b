"""The top-level names of ``smscore``: imported on first use, yet the same names and objects as the modules' own."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import smscore
from smscore import errors

INIT = Path(smscore.__file__)

#: Optional or heavy parts that a bare ``import smscore`` must leave alone.
HEAVY = [
    "attrs",
    "jinja2",
    "phonenumbers",
    "unidecode",
    "zoneinfo",
    "hashlib",
    "sqlalchemy",
    "alembic",
    "httpx",
    "boto3",
    "botocore",
    "twilio",
    "django",
    "celery",
    "psycopg",
    "providers",
    "adapters_sqlalchemy",
]


def _type_checking_imports() -> dict[str, str]:
    """The names the ``if TYPE_CHECKING:`` block of ``smscore/__init__.py`` imports, each with its module."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    (block,) = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"]
    imports: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        assert node.module is not None
        imports.update((alias.name, node.module) for alias in node.names)
    return imports


def test_the_lazy_names_are_the_ones_type_checkers_see() -> None:
    """The runtime table of lazy names is exactly what the TYPE_CHECKING block imports (which mypy and the API
    reference read), and together with the errors they are ``__all__``."""
    assert _type_checking_imports() == smscore._ORIGIN
    assert sorted(smscore.__all__) == sorted([*smscore._ORIGIN, *errors.__all__])


@pytest.mark.parametrize("name", smscore.__all__)
def test_each_public_name_is_the_object_of_its_module(name: str) -> None:
    """``smscore.NAME`` is the very object its module defines (not a copy), and ``dir(smscore)`` lists it."""
    origin = smscore._ORIGIN.get(name, "smscore.errors")
    assert getattr(smscore, name) is getattr(importlib.import_module(origin), name)
    assert name in dir(smscore)


def test_submodules_are_reachable_as_attributes_and_unknown_names_fail() -> None:
    """``smscore.ports`` works after a bare ``import smscore`` (as it did when everything loaded eagerly); a
    name that is neither a public name nor a submodule is an ``AttributeError``, which ``hasattr`` relies on."""
    code = (
        "import smscore\n"
        "print(smscore.ports.Storage.__name__, smscore.webhooks.__name__)\n"
        "print(hasattr(smscore, 'no_such_name'), hasattr(smscore, '_private'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["Storage", "smscore.webhooks", "False", "False"]


def test_import_smscore_loads_only_the_errors() -> None:
    """A fresh ``import smscore`` loads the error tree and nothing else of the package: no domain module (so no
    attrs), no guards, inbound, quiet hours or template engine, no phone-number data, no adapter."""
    code = (
        "import json, sys, smscore\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {'smscore', *"
        f"{HEAVY!r}}})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == ["smscore", "smscore.errors"]
