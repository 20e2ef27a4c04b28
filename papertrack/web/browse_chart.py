"""The landing page's chart, drawn on the server as inline SVG (no script, nothing fetched):
papers per tag per month, one line per tag, a legend whose entries filter by the tag."""

from __future__ import annotations

import math
from collections.abc import Callable
from html import escape

from markupsafe import Markup

# Tableau 10: distinct in colour and in grey scale, readable in a screenshot
COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
WIDTH, HEIGHT = 980, 300
LEFT, RIGHT, TOP, BOTTOM = 52, 210, 14, 42
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def nice_step(top: float, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` grid lines."""
    raw = max(top / ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def month_label(month: str) -> str:
    """'2025-01' -> 'Jan 2025'."""
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


def tag_chart(months: list[str], series: dict[str, list[int]], tag_url: Callable[[str], str], most: int = 10) -> Markup:
    """SVG of the `most` busiest tags' papers per month (the rest are counted in a note)."""
    if not months or not series:
        return Markup("")
    ranked = sorted(series.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    shown, hidden = ranked[:most], ranked[most:]
    top = max(max(counts) for _, counts in shown) or 1
    step = nice_step(top)
    ceiling = step * math.ceil(top / step)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (len(months) - 1) if len(months) > 1 else plot_w / 2)

    def y(n: int) -> float:
        return TOP + plot_h * (1 - n / ceiling)

    first, last = month_label(months[0]), month_label(months[-1])
    out = [
        f'<svg class="tag-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="tag-chart-title" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12">',
        f'<title id="tag-chart-title">Papers per tag per month, {first} to {last}</title>',
    ]
    for n in range(0, ceiling + 1, step):
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(n):.1f}" y2="{y(n):.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y(n) + 4:.1f}" text-anchor="end" fill="#555">{n:,}</text>'
        )
    every = max(1, math.ceil(len(months) / 8))
    for i, month in enumerate(months):
        if i % every == 0 or i == len(months) - 1:
            out.append(
                f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 4}" stroke="#999"/>'
                f'<text x="{x(i):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle" fill="#555">{month_label(month)}</text>'
            )
    out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#999"/>')
    for j, (tag, counts) in enumerate(shown):
        colour = COLOURS[j % len(COLOURS)]
        points = " ".join(f"{x(i):.1f},{y(n):.1f}" for i, n in enumerate(counts))
        out.append(
            f'<g class="series" data-tag="{escape(tag)}"><polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        for i, n in enumerate(counts):
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y(n):.1f}" r="2.5" fill="{colour}">'
                f"<title>{escape(tag)}: {n:,} papers in {month_label(months[i])}</title></circle>"
            )
        out.append("</g>")
        ly = TOP + 8 + j * 22
        lx = LEFT + plot_w + 18
        out.append(
            f'<a href="{escape(tag_url(tag))}"><line x1="{lx}" x2="{lx + 18}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="3"/>'
            f'<text x="{lx + 24}" y="{ly + 4}" fill="#222">{escape(tag)} ({sum(counts):,})</text></a>'
        )
    if hidden:
        ly = TOP + 8 + len(shown) * 22
        out.append(f'<text x="{LEFT + plot_w + 18}" y="{ly + 4}" fill="#555">and {len(hidden)} more tags</text>')
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle" fill="#333">'
        f"papers submitted per month, by tag ({first} to {last})</text></svg>"
    )
    return Markup("".join(out))
