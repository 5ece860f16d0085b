"""The site's diagrams, drawn as inline SVG from the code's own tables when the site is built.

No JavaScript and no network: a page shows its diagrams offline, in print and in the search index's text. The
state diagram is laid out from :data:`smscore.TRANSITIONS` (states that move on in one row in the order the table
lets a message travel, final states in a row below), the architecture from the import-linter ``layers`` contract
of ``pyproject.toml``. Each arrow carries a ``<title>`` naming its move, which browsers show on hover and
``tests/docs`` reads back to check that every move is drawn.
"""

from __future__ import annotations

import html
import itertools
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parents[2]

#: The admin's badge colours (src/adapters_django/static/adapters_django/admin.css), so the diagram and the
#: admin's message list speak the same colours.
STATE_COLOURS: Mapping[str, str] = {
    "waiting": "#5b6777",
    "sending": "#1c6ea4",
    "sent": "#0f7a74",
    "delivered": "#2e7d32",
    "unknown": "#9a5b00",
    "error": "#b3261e",
    "debug": "#6a4c9c",
}
OTHER_COLOUR = "#5b6777"

BOX_WIDTH, BOX_HEIGHT = 124, 44
COLUMN = 196
ROWS_APART = 190
ARC_RISE = 46
MARGIN = 30


@attrs.frozen
class Box:
    """A state's box: top-left corner and label."""

    x: float
    y: float
    label: str
    colour: str
    final: bool

    @property
    def centre(self) -> float:
        """Horizontal middle."""
        return self.x + BOX_WIDTH / 2

    @property
    def middle(self) -> float:
        """Vertical middle."""
        return self.y + BOX_HEIGHT / 2


def _travel_order(
    table: Mapping[Any, frozenset[Any]], moving: Sequence[Any]
) -> tuple[list[Any], set[tuple[Any, Any]]]:
    """Moving states in the order a message may travel (a topological order of the table without the moves
    back), and the moves back (those a depth-first walk from the first state finds closing a cycle)."""
    back: set[tuple[Any, Any]] = set()
    seen: set[Any] = set()
    walking: list[Any] = []

    def walk(state: Any) -> None:
        seen.add(state)
        walking.append(state)
        for target in sorted(table[state], key=list(table).index):
            if target in walking:
                back.add((state, target))
            elif target not in seen:
                walk(target)
        walking.pop()

    for state in moving:
        if state not in seen:
            walk(state)
    order: list[Any] = []
    waiting = list(moving)
    while waiting:
        ready = next(
            s
            for s in waiting
            if not any(
                s in table[other] and (other, s) not in back
                for other in waiting
                if other != s
            )
        )
        order.append(ready)
        waiting.remove(ready)
    return order, back


def _marker_id(colour: str) -> str:
    return "arrow-" + colour.lstrip("#").replace("currentColor", "text")


def _arrow(path: str, title: str, colour: str = "currentColor") -> str:
    return (
        f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.6" '
        f'marker-end="url(#{_marker_id(colour)})">'
        f"<title>{html.escape(title)}</title></path>"
    )


def _spread(left: float, right: float, count: int) -> list[float]:
    """``count`` points evenly inside ``[left, right]``."""
    step = (right - left) / (count + 1)
    return [left + step * (i + 1) for i in range(count)]


def _rise(span: int) -> float:
    """How high an arc over ``span`` columns climbs (its control points): wider arcs above narrower ones."""
    return ARC_RISE + 30 * (span - 2)


def _row_moves(
    boxes: Mapping[Any, Box],
    column: Mapping[Any, int],
    moves: Sequence[tuple[Any, Any]],
) -> Iterator[str]:
    """Moves between states of the top row: neighbours by straight lines, the others by arcs above the row."""
    neighbours = [(a, b) for a, b in moves if abs(column[a] - column[b]) == 1]
    for a, b in neighbours:
        both = (b, a) in neighbours
        start, end = boxes[a], boxes[b]
        rightwards = column[b] > column[a]
        dy = (-7 if rightwards else 7) if both else 0
        x1 = start.x + BOX_WIDTH if rightwards else start.x
        x2 = end.x if rightwards else end.x + BOX_WIDTH
        y = start.middle + dy
        yield _arrow(f"M {x1} {y} L {x2} {y}", f"{a.name} → {b.name}")
    arcs = [(a, b) for a, b in moves if abs(column[a] - column[b]) > 1]
    ends: dict[Any, list[tuple[tuple[int, int], tuple[Any, Any], Any]]] = {}
    for a, b in arcs:
        for here, there in ((a, b), (b, a)):
            going_right = column[there] > column[here]
            key = (int(going_right), -column[there])
            ends.setdefault(here, []).append((key, (a, b), here))
    port: dict[tuple[tuple[Any, Any], Any], float] = {}
    for state, found in ends.items():
        box = boxes[state]
        found.sort(key=lambda item: item[0])
        xs = _spread(box.x + 24, box.x + BOX_WIDTH, len(found))
        for x, (_, arc, here) in zip(xs, found, strict=True):
            port[(arc, here)] = x
    for a, b in arcs:
        rise = _rise(abs(column[a] - column[b]))
        top = boxes[a].y
        x1, x2 = port[((a, b), a)], port[((a, b), b)]
        path = (
            f"M {x1:.1f} {top} C {x1:.1f} {top - rise} "
            f"{x2:.1f} {top - rise} {x2:.1f} {top}"
        )
        yield _arrow(path, f"{a.name} → {b.name}")


def _final_moves(
    boxes: Mapping[Any, Box], moves: Sequence[tuple[Any, Any]]
) -> Iterator[str]:
    """Moves from the top row into final states: straight lines from the bottom of one box to the top of the
    other, each end on its own point."""
    out: dict[Any, list[tuple[Any, Any]]] = {}
    into: dict[Any, list[tuple[Any, Any]]] = {}
    for a, b in moves:
        out.setdefault(a, []).append((a, b))
        into.setdefault(b, []).append((a, b))
    start: dict[tuple[Any, Any], float] = {}
    end: dict[tuple[Any, Any], float] = {}
    for where, by, other in ((out, start, 1), (into, end, 0)):
        for state, found in where.items():
            box = boxes[state]
            found.sort(key=lambda move: boxes[move[other]].centre)
            xs = _spread(box.x + 8, box.x + BOX_WIDTH - 8, len(found))
            by.update(zip(found, xs, strict=True))
    for a, b in moves:
        colour = STATE_COLOURS.get(b.value, OTHER_COLOUR)
        path = (
            f"M {start[(a, b)]:.1f} {boxes[a].y + BOX_HEIGHT} "
            f"L {end[(a, b)]:.1f} {boxes[b].y}"
        )
        yield _arrow(path, f"{a.name} → {b.name}", colour)


def _self_moves(
    boxes: Mapping[Any, Box], states: Sequence[Any]
) -> Iterator[str]:
    """A state that may stay where it is: a loop over its top-left corner."""
    for state in states:
        box = boxes[state]
        path = (
            f"M {box.x + 16} {box.y} C {box.x + 10} {box.y - 34} "
            f"{box.x - 34} {box.y + 6} {box.x} {box.y + 14}"
        )
        yield _arrow(path, f"{state.name} → {state.name}")


def _box(box: Box) -> str:
    inner = ""
    if box.final:
        inner = (
            f'<rect x="{box.x + 4}" y="{box.y + 4}" width="{BOX_WIDTH - 8}" '
            f'height="{BOX_HEIGHT - 8}" rx="5" fill="none" stroke="#fff" '
            'stroke-width="1.4"/>'
        )
    return (
        f'<g class="state"><rect x="{box.x}" y="{box.y}" width="{BOX_WIDTH}" '
        f'height="{BOX_HEIGHT}" rx="8" fill="{box.colour}"/>{inner}'
        f'<text x="{box.centre}" y="{box.middle + 5}" text-anchor="middle" '
        f'fill="#fff" font-weight="bold">{html.escape(box.label)}</text></g>'
    )


def state_diagram(
    table: Mapping[Any, frozenset[Any]], initial: Any | None = None
) -> str:
    """An SVG drawing of a transition ``table`` (state -> states it may move to; states are enums whose
    ``value`` picks their colour). ``initial`` (by default the table's first state) gets the start marker."""
    states = list(table)
    initial = states[0] if initial is None else initial
    final = [s for s in states if not table[s]]
    moving = [s for s in states if table[s]]
    order, _ = _travel_order(table, moving)
    column = {state: i for i, state in enumerate(order)}
    # A cubic arc peaks at three quarters of its control points' rise.
    top = MARGIN + 0.75 * _rise(max(len(order) - 1, 2)) + 4
    left = MARGIN + 46
    boxes: dict[Any, Box] = {}
    for state in order:
        colour = STATE_COLOURS.get(state.value, OTHER_COLOUR)
        x = left + column[state] * COLUMN
        boxes[state] = Box(x, top, state.name, colour, False)

    def pull(state: Any) -> tuple[float, int]:
        sources = [column[s] for s in order if state in table[s]]
        return (sum(sources) / max(len(sources), 1), states.index(state))

    first = left + BOX_WIDTH / 2
    last = left + (len(order) - 1) * COLUMN + BOX_WIDTH / 2
    below = sorted(final, key=pull)
    centres = (
        [(first + last) / 2]
        if len(below) == 1
        else [
            first + (last - first) * i / (len(below) - 1)
            for i in range(len(below))
        ]
    )
    for state, centre in zip(below, centres, strict=True):
        colour = STATE_COLOURS.get(state.value, OTHER_COLOUR)
        boxes[state] = Box(
            centre - BOX_WIDTH / 2, top + ROWS_APART, state.name, colour, True
        )
    moves = [
        (a, b)
        for a in states
        for b in sorted(table[a], key=states.index)
        if a != b
    ]
    start = boxes[initial]
    shapes = [
        f'<circle cx="{start.x - 40}" cy="{start.middle + 8}" r="7" '
        'fill="currentColor"><title>a new message</title></circle>',
        _arrow(
            f"M {start.x - 33} {start.middle + 8} L {start.x} {start.middle + 8}",
            f"[*] → {initial.name}",
        ),
        *_self_moves(boxes, [s for s in states if s in table[s]]),
        *_row_moves(boxes, column, [m for m in moves if m[1] in column]),
        *_final_moves(boxes, [m for m in moves if m[1] not in column]),
        *(_box(box) for box in boxes.values()),
    ]
    width = left + (len(order) - 1) * COLUMN + BOX_WIDTH + MARGIN
    height = top + ROWS_APART + BOX_HEIGHT + MARGIN
    legend_y = height - 6
    shapes.append(
        f'<text x="{MARGIN}" y="{legend_y}" fill="currentColor" '
        'font-size="12">● a new message · double border: a final state, no '
        "way out</text>"
    )
    return _svg(
        "state-diagram", width, height + 8, "The states and their moves", shapes
    )


def _svg(
    css: str, width: float, height: float, label: str, shapes: Sequence[str]
) -> str:
    # One arrowhead per colour: a marker's fill cannot follow the line's stroke in every browser.
    colours = ["currentColor", *sorted(set(STATE_COLOURS.values()))]
    marker = (
        "<defs>"
        + "".join(
            f'<marker id="{_marker_id(c)}" viewBox="0 0 10 10" refX="9" refY="5" '
            'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{c}"/></marker>'
            for c in colours
        )
        + "</defs>"
    )
    return "\n".join(
        [
            f'<svg class="diagram {css}" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'role="img" aria-label="{html.escape(label)}" '
            'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" '
            'font-size="13">',
            marker,
            *shapes,
            "</svg>",
        ]
    )


# -- architecture ----------------------------------------------------------------------------------------------


def core_layers() -> list[tuple[str, list[str]]]:
    """The layers contract of ``pyproject.toml``: each layer's name (from the contract's name) and modules."""
    project = tomllib.loads(
        (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    )
    contract = next(
        c
        for c in project["tool"]["importlinter"]["contracts"]
        if c["type"] == "layers"
    )
    names = contract["name"].split(": ", 1)[1].split(", ")
    layers = [
        [m.strip().removeprefix("smscore.") for m in layer.split(":")]
        for layer in contract["layers"]
    ]
    if len(names) != len(layers):
        raise ValueError(
            f"the layers contract names {len(names)} layers and lists {len(layers)}"
        )
    return list(zip(names, layers, strict=True))


def outer_packages() -> list[str]:
    """The import-linter root packages other than the core: the adapters and the compatibility package."""
    project = tomllib.loads(
        (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    )
    roots = project["tool"]["importlinter"]["root_packages"]
    return [name for name in roots if name != "smscore"]


def _joined(words: Sequence[str], width: int) -> list[str]:
    """``words`` joined by middle dots into lines of at most ``width`` characters, breaking between words."""
    lines = [""]
    for word in words:
        joined = f"{lines[-1]} · {word}" if lines[-1] else word
        if len(joined) > width and lines[-1]:
            lines.append(word)
        else:
            lines[-1] = joined
    return lines


def _text_lines(x: float, y: float, lines: Sequence[str], bold: int = 1) -> str:
    parts = []
    for i, line in enumerate(lines):
        weight = ' font-weight="bold"' if i < bold else ""
        parts.append(
            f'<text x="{x}" y="{y + 18 * i}" fill="#fff"{weight}>'
            f"{html.escape(line)}</text>"
        )
    return "".join(parts)


def architecture_diagram() -> str:
    """The core's layers, top to bottom, each importing only those below, and the adapters around the core."""
    layers = core_layers()
    width, inner, gap, x = 560, 536, 26, MARGIN + 12
    shapes: list[str] = []
    y = MARGIN + 30
    tops: list[tuple[float, float]] = []
    for name, modules in layers:
        lines = [name[:1].upper() + name[1:]]
        lines += _joined([m for m in modules if not m.startswith("_")], 66)
        height = 16 + 18 * len(lines)
        shapes.append(
            f'<rect x="{x}" y="{y}" width="{inner}" height="{height}" rx="6" '
            'fill="#3f51b5"/>' + _text_lines(x + 12, y + 22, lines)
        )
        tops.append((y, y + height))
        y += height + gap
    for (_, bottom), (top, _) in itertools.pairwise(tops):
        middle = x + inner / 2
        shapes.append(
            _arrow(
                f"M {middle} {bottom} L {middle} {top}", "imports only below"
            )
        )
    frame_bottom = y - gap + 12
    shapes.insert(
        0,
        f'<rect x="{MARGIN}" y="{MARGIN}" width="{width}" '
        f'height="{frame_bottom - MARGIN}" rx="10" fill="none" '
        'stroke="currentColor" stroke-dasharray="6 4"/>'
        f'<text x="{MARGIN + 12}" y="{MARGIN + 20}" fill="currentColor" '
        'font-weight="bold">smscore, the core: imports no adapter, framework, '
        "ORM, SDK or HTTP client</text>",
    )
    side_x = MARGIN + width + 70
    packages = outer_packages()
    side_height = 40 + 20 * len(packages)
    side_y = (MARGIN + frame_bottom - side_height) / 2
    shapes.append(
        f'<rect x="{side_x}" y="{side_y}" width="230" height="{side_height}" '
        'rx="6" fill="#5b6777"/>'
        + _text_lines(side_x + 12, side_y + 24, ["Around the core", *packages])
    )
    shapes.append(
        _arrow(
            f"M {side_x} {side_y + side_height / 2} "
            f"L {MARGIN + width + 4} {side_y + side_height / 2}",
            "the adapters implement the ports and call the use cases",
        )
    )
    shapes.append(
        f'<text x="{side_x}" y="{side_y + side_height + 20}" '
        'fill="currentColor" font-size="12">implement the ports,</text>'
        f'<text x="{side_x}" y="{side_y + side_height + 36}" '
        'fill="currentColor" font-size="12">call the use cases</text>'
    )
    return _svg(
        "architecture-diagram",
        side_x + 230 + MARGIN,
        frame_bottom + MARGIN,
        "The core in layers and the adapters around it",
        shapes,
    )
