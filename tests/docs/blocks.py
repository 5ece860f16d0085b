"""The docs as the tests see them: every page, its fenced code blocks, and the site's generator module."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import attrs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)(?P<attrs>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
_TITLE = re.compile(r'title="([^"]+)"')


@attrs.frozen
class Block:
    """One fenced code block: its page, language, ``title`` attribute, text and first line number."""

    page: Path
    lang: str
    title: str
    text: str
    line: int

    @property
    def where(self) -> str:
        """``docs/page.md:LINE``, for failure messages."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    """Every Markdown page of the site (the generator's folder excluded)."""
    return sorted(p for p in DOCS.rglob("*.md") if "_hooks" not in p.parts)


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of ``page``, in order, their indentation removed."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        indent = match["indent"]
        body = "".join(
            line[len(indent) :] if line.startswith(indent) else line for line in match["body"].splitlines(True)
        )
        title = _TITLE.search(match["attrs"])
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(page, match["lang"], title.group(1) if title else "", body, line))
    return found


def generator() -> ModuleType:
    """``docs/_hooks/generated.py``, the site's build hook, imported as MkDocs imports it (its folder on the
    path while it loads, for the modules beside it)."""
    path = DOCS / "_hooks" / "generated.py"
    spec = importlib.util.spec_from_file_location("docs_generated", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = sys.path.copy()
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module
