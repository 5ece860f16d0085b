"""Every code example of the docs runs: Python blocks are executed page by page, ``pycon`` blocks are doctests,
``console`` blocks run the real ``smscore`` command and compare what it prints, TOML blocks are loaded as
configuration, shell lines are checked against the parser, the Makefile and the package's extras."""

from __future__ import annotations

import doctest
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.docs.blocks import ROOT, Block, blocks, pages

#: Languages that are shown, never run: output. (Diagrams are drawn by the build hook, as SVG.)
SHOWN = {"text"}
RUN = {"python", "pycon", "console", "toml", "sh"}
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
SCRIPT = Path(sys.executable).with_name("smscore")


def _pages_with(*langs: str) -> list[Path]:
    return [page for page in pages() if any(block.lang in langs for block in blocks(page))]


def _id(page: Path) -> str:
    return str(page.relative_to(ROOT / "docs"))


#: Widest code line, in characters, that the page shows without a scroll bar.
WIDEST = 84


def test_code_lines_fit_the_page() -> None:
    """Code a reader copies fits the column (output and diagrams may be wider)."""
    wide = [
        f"{b.where}: {line}"
        for page in pages()
        for b in blocks(page)
        if b.lang in RUN - {"console"}
        for line in b.text.splitlines()
        if len(line) > WIDEST
    ]
    assert wide == []


def test_every_block_has_a_language_that_is_run_or_shown() -> None:
    """A block without a known language would escape these tests."""
    strays = [b.where for page in pages() for b in blocks(page) if b.lang not in RUN | SHOWN]
    assert strays == []


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory and an environment without SMSCORE_* variables."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("SMSCORE_")]:
        monkeypatch.delenv(name)
    return tmp_path


def _django_settings(namespace: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in namespace.items() if name.startswith("PYMESS_")}


def _python_pages() -> list[Any]:
    """Pages with Python examples; those using the Django app get a database, as a Django test would."""
    django_db = pytest.mark.django_db(transaction=True)
    return [
        pytest.param(
            page, id=_id(page), marks=[django_db] if "adapters_django" in page.read_text(encoding="utf-8") else []
        )
        for page in _pages_with("python", "pycon")
    ]


@pytest.mark.parametrize("page", _python_pages())
def test_python_examples_run(
    page: Path, workdir: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's Python and pycon blocks run in order in one namespace; pycon output matches what is shown.

    A block titled with a file name is that file of the reader's project: ``settings.py`` holds Django settings
    whose ``PYMESS_*`` values apply to the page's later blocks (with the test project's other settings), so a
    Django tutorial runs with the settings it tells you to write; ``urls.py`` runs; any other file is written into
    the working directory, importable. A ``test_*`` function a block defines is called with the pytest fixtures
    its parameters name, as pytest would.
    """
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    monkeypatch.syspath_prepend(str(workdir))
    overrides: list[Any] = []
    try:
        for block in blocks(page):
            if block.lang == "pycon":
                _doctest(block, namespace)
            elif block.lang == "python":
                _python(block, namespace, workdir, request, overrides)
    finally:
        for override in reversed(overrides):
            override.disable()
        for name in [
            m for m, module in sys.modules.items() if str(getattr(module, "__file__", "")).startswith(str(workdir))
        ]:
            del sys.modules[name]


def _doctest(block: Block, namespace: dict[str, Any]) -> None:
    test = doctest.DocTestParser().get_doctest(block.text, namespace, block.where, block.where, block.line)
    runner = doctest.DocTestRunner(optionflags=_FLAGS)
    runner.run(test, clear_globs=False)
    namespace.update(test.globs)  # the doctest ran on a copy; later blocks use its names
    assert runner.failures == 0, f"{block.where}: shown output differs (see the report above)"


def _python(
    block: Block, namespace: dict[str, Any], workdir: Path, request: pytest.FixtureRequest, overrides: list[Any]
) -> None:
    if block.title.endswith("settings.py"):
        from django.test import override_settings

        settings: dict[str, Any] = {}
        exec(compile(block.text, block.where, "exec"), settings)
        overrides.append(override_settings(**_django_settings(settings)))
        overrides[-1].enable()
    elif block.title and not block.title.endswith("urls.py"):
        path = workdir / block.title
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(workdir).parents:
            if parent != Path(".") and not (workdir / parent / "__init__.py").exists():
                (workdir / parent / "__init__.py").touch()
        path.write_text(block.text, encoding="utf-8")
    else:
        before = set(namespace)
        exec(compile(block.text, block.where, "exec"), namespace)
        for name in sorted(set(namespace) - before):
            if name.startswith("test_") and callable(namespace[name]):
                function = namespace[name]
                parameters = function.__code__.co_varnames[: function.__code__.co_argcount]
                function(**{p: request.getfixturevalue(p) for p in parameters})


def _run(command: str, cwd: Path) -> str:
    argv = shlex.split(command)
    assert argv[0] == "smscore", f"console blocks run smscore only, not {command!r}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCORE_")} | {"COLUMNS": "120"}
    runner = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "smscore.cli"]
    done = subprocess.run([*runner, *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


@pytest.mark.parametrize("page", _pages_with("console"), ids=_id)
def test_console_examples_print_what_they_show(page: Path, workdir: Path) -> None:
    """Each ``$ smscore ...`` line runs in one directory per page; what it prints matches the lines below it."""
    checker = doctest.OutputChecker()
    for block in blocks(page):
        if block.lang != "console":
            continue
        for command, expected in _commands(block):
            got = _run(command, workdir)
            assert checker.check_output(expected, got, _FLAGS), (
                f"{block.where}: $ {command}\n--- shown\n{expected}--- got\n{got}"
            )


def _commands(block: Block) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for line in block.text.splitlines(True):
        if line.startswith("$ "):
            found.append((line[2:].strip(), ""))
        else:
            assert found, f"{block.where}: output before the first command"
            found[-1] = (found[-1][0], found[-1][1] + line)
    return found


@pytest.mark.parametrize("page", _pages_with("toml"), ids=_id)
def test_toml_examples_are_valid_configuration(page: Path, workdir: Path) -> None:
    """Each TOML block is a configuration file load_config accepts (secrets in it would be refused)."""
    from smscore import load_config

    for block in blocks(page):
        if block.lang == "toml":
            path = workdir / "smscore.toml"
            path.write_text(block.text, encoding="utf-8")
            tomllib.loads(block.text)
            load_config(path, environ={})


def _extras() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(project["project"]["optional-dependencies"])


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return {
        line.split(":")[0]
        for line in text.splitlines()
        if line and line[0].isalpha() and ":" in line and "=" not in line
    }


def _check_shell_line(argv: list[str], where: str) -> None:
    from smscore.cli import build_parser

    if argv[0] == "smscore":
        build_parser().parse_args(argv[1:])  # exits (SystemExit) on a command line it cannot parse
    elif argv[0] == "make":
        assert set(argv[1:]) <= _make_targets(), where
    elif argv[:3] == ["python", "-m", "pip"] or argv[0] == "pip":
        verb = "install" if "install" in argv else "uninstall"
        for requirement in argv[argv.index(verb) + 1 :]:
            if requirement.startswith("smscore["):
                assert set(requirement[8:-1].split(",")) <= _extras(), where
    elif argv[:2] == ["python", "manage.py"]:
        from django.core.management import get_commands

        assert argv[2] in get_commands(), where
    elif argv[0] == "django-admin":
        assert argv[1] == "startproject", where
    elif argv[0] in {"celery", "cd", "export", "curl"}:
        pass  # third-party tools and the shell itself: shown as used, checked where their pages say
    else:
        raise AssertionError(f"{where}: no check for shell command {argv[0]!r}")


@pytest.mark.parametrize("page", _pages_with("sh"), ids=_id)
def test_shell_examples_name_real_commands_options_targets_and_extras(page: Path) -> None:
    """smscore lines parse with the real parser; make targets, pip extras and manage.py commands exist."""
    for block in blocks(page):
        if block.lang != "sh":
            continue
        for line in block.text.splitlines():
            command = line.split(" #", 1)[0].strip()
            if command and not command.startswith("#"):
                _check_shell_line(shlex.split(command), block.where)
