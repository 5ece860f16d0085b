"""The scaling chart of ``make bench``: drawn as SVG from the results of the PostgreSQL worker figures."""

from __future__ import annotations

from html import escape
from typing import Any

WORKERS = (1, 2, 4)
#: CPU per message parts, stacked in this order, with their colours.
PARTS = (("worker", "#3f51b5"), ("db", "#ff9800"), ("gateway", "#9e9e9e"))


def scaling_svg(figures: dict[str, Any]) -> str | None:
    """Throughput and CPU per message of the drain with 1, 2 and 4 workers, or ``None`` without those figures."""
    runs = [figures.get(f"pg_outbox_workers_{k}") for k in WORKERS]
    if any(run is None for run in runs):
        return None
    width, height, top, base = 640, 300, 40, 250
    rate_top = max(run["value"] for run in runs) * 1.15
    cpu = [[run[f"{part}_cpu_ms_per_msg"] for part, _ in PARTS] for run in runs]
    cpu_top = max(sum(parts) for parts in cpu) * 1.15 or 1.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif"'
        ' font-size="12">',
        '<text x="160" y="20" text-anchor="middle" font-weight="bold">messages/s</text>',
        '<text x="480" y="20" text-anchor="middle" font-weight="bold">CPU ms per message</text>',
    ]
    for index, (workers, run, parts) in enumerate(zip(WORKERS, runs, cpu, strict=True)):
        x = 60 + index * 80
        bar = (base - top) * run["value"] / rate_top
        out.append(f'<rect x="{x}" y="{base - bar:.1f}" width="50" height="{bar:.1f}" fill="#3f51b5"/>')
        out.append(f'<text x="{x + 25}" y="{base - bar - 5:.1f}" text-anchor="middle">{run["value"]:,.0f}</text>')
        out.append(f'<text x="{x + 25}" y="{base + 18}" text-anchor="middle">{workers} worker(s)</text>')
        y = float(base)
        for (part, colour), value in zip(PARTS, parts, strict=True):
            piece = (base - top) * value / cpu_top
            y -= piece
            out.append(
                f'<rect x="{x + 320}" y="{y:.1f}" width="50" height="{piece:.1f}" fill="{colour}">'
                f"<title>{escape(part)}: {value:.3f} ms</title></rect>"
            )
        out.append(f'<text x="{x + 345}" y="{y - 5:.1f}" text-anchor="middle">{sum(parts):.3f}</text>')
        out.append(f'<text x="{x + 345}" y="{base + 18}" text-anchor="middle">{workers} worker(s)</text>')
    for index, (part, colour) in enumerate(PARTS):
        out.append(f'<rect x="{380 + index * 85}" y="{base + 30}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{396 + index * 85}" y="{base + 41}">{part}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
