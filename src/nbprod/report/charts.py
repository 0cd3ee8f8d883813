"""Trend charts as inline SVG, drawn in Python.

Why SVG written by hand: the site must work offline and run no script at all (its
Content-Security-Policy forbids scripts), so no charting library that draws in the
browser; and matplotlib would turn each chart into an opaque PNG. Inline SVG is text,
styles with the page, scales, and gets a tooltip (``<title>``) and a link to the run
for every point without a line of JavaScript.

One chart per headline metric, x = run order (oldest left, evenly spaced: runs are
events, and a week without runs should not stretch the chart), y = the metric.
Every run gets exactly one marker:

- ``pt ok``       succeeded with a value: a blue dot, joined by the line;
- ``pt failed``   failed or interrupted: a red cross at its value when it glued one,
                  else on the axis, and the line has a gap there;
- ``pt missing``  succeeded without this metric: a hollow grey dot on the axis, a gap.

A model alias's timeline (:func:`timeline_svg`) is the other way round: there x is time,
because how long a version served is the point, but every span gets at least
:data:`MIN_SPAN` pixels, so a version rolled back after a minute still shows, and links.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 36


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.001:
        return f"{value:.3g}"
    return f"{value:.4g}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def trend_svg(name: str, runs: list[dict[str, Any]], *, goal: str | None = None, href=None) -> str:
    """The SVG of metric ``name`` over ``runs`` (summaries, oldest first).

    ``href(run_id)`` gives the link of a point (relative to the page). Returns
    markup to insert as is: every text in it is escaped here.
    """
    values = [_number((run.get("metrics") or {}).get(name)) for run in runs]
    known = [v for v in values if v is not None]
    low, high = (min(known), max(known)) if known else (0.0, 1.0)
    if high == low:
        pad = abs(high) * 0.05 or 0.5
        low, high = low - pad, high + pad
    else:
        pad = (high - low) * 0.08
        low, high = low - pad, high + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = len(runs)

    def x_of(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / count if count else plot_w / 2)

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - (v - low) / (high - low))

    base_y = TOP + plot_h
    direction = {"max": "higher is better", "min": "lower is better"}.get(goal or "", "")
    title = f"{name}" + (f" ({direction})" if direction else "")
    parts = [
        f'<svg class="chart" data-metric="{escape(name)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="18" class="ct">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{base_y}" x2="{WIDTH - RIGHT}" y2="{base_y}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base_y}" class="axis"/>',
    ]
    for tick in (low + (high - low) * f for f in (0.08 / 1.16, 0.5, 1.08 / 1.16)):
        y = y_of(tick)
        parts.append(f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="yt">{escape(_fmt(tick))}</text>')
    if runs:
        first, last = runs[0].get("started_at") or "", runs[-1].get("started_at") or ""
        parts.append(f'<text x="{LEFT}" y="{HEIGHT - 12}" class="xt">{escape(first[:10])}</text>')
        parts.append(
            f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 12}" class="xt end">{escape(last[:10])} '
            f"({count} run{'s' if count != 1 else ''})</text>"
        )
    # the line: consecutive successful values, broken at failed or missing runs
    path, pen_down = [], False
    for i, (run, value) in enumerate(zip(runs, values)):
        if value is None or run.get("status") != "succeeded":
            pen_down = False
            continue
        path.append(f"{'L' if pen_down else 'M'}{x_of(i):.1f},{y_of(value):.1f}")
        pen_down = True
    if path:
        parts.append(f'<path d="{" ".join(path)}" class="line"/>')
    for i, (run, value) in enumerate(zip(runs, values)):
        run_id = str(run.get("run_id", ""))
        status = str(run.get("status", ""))
        failed = status != "succeeded"
        x = x_of(i)
        y = y_of(value) if value is not None else base_y
        shown = _fmt(value) if value is not None else "no value"
        tip = escape(f"{run_id}: {name} = {shown} ({status})")
        if failed:
            marker = (f'<path class="pt failed" d="M{x - 4:.1f},{y - 4:.1f}L{x + 4:.1f},{y + 4:.1f}'
                      f'M{x - 4:.1f},{y + 4:.1f}L{x + 4:.1f},{y - 4:.1f}"><title>{tip}</title></path>')
        else:
            kind = "ok" if value is not None else "missing"
            marker = f'<circle class="pt {kind}" cx="{x:.1f}" cy="{y:.1f}" r="3.5"><title>{tip}</title></circle>'
        link = href(run_id) if href is not None else None
        if link:  # no page for the run (no record yet): a point without a link
            marker = f'<a href="{escape(link)}">{marker}</a>'
        parts.append(marker)
    parts.append("</svg>")
    return "\n".join(parts)


TL_WIDTH, TL_HEIGHT = 760, 84
TL_SIDE, TL_TOP, TL_LANE = 16, 26, 28
MIN_SPAN = 28  # pixels: the narrowest span, however short it lasted
COLOURS = 6  # span fills cycle by version number (classes c0..c5), so neighbours differ


def timeline_svg(alias: str, spans: list[dict[str, Any]], *, now: str) -> str:
    """The SVG of where ``alias`` pointed: ``spans`` oldest first, each ``{version, since,
    until (None: now), seconds, type, actor, reason, anchor}``; each span links ``#anchor``.
    Returns markup to insert as is: every text in it is escaped here."""
    left, plot_w = TL_SIDE, TL_WIDTH - 2 * TL_SIDE
    count = len(spans)
    floor = min(MIN_SPAN, plot_w / count) if count else 0.0
    spare = plot_w - floor * count
    total = sum(max(0.0, float(s.get("seconds") or 0)) for s in spans)
    widths = [floor + (spare * max(0.0, float(s.get("seconds") or 0)) / total if total else spare / count)
              for s in spans]
    bottom = TL_TOP + TL_LANE
    parts = [
        f'<svg class="chart timeline" data-alias="{escape(alias)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {TL_WIDTH} {TL_HEIGHT}" width="{TL_WIDTH}" height="{TL_HEIGHT}" role="img" '
        f'aria-label="{escape(f"{alias} over time")}">',
        f'<text x="{left}" y="16" class="ct">{escape(alias)} over time</text>',
    ]
    x, labelled = float(left), None  # labelled: where the last date under the lane starts
    for span, width in zip(spans, widths):
        version = span.get("version")
        current = span.get("until") is None
        kind = "rolled_back" if span.get("type") == "rolled_back" else "promoted"
        colour = f"c{version % COLOURS}" if isinstance(version, int) else "c0"
        until = span.get("until") or "now"
        tip = escape(f"{alias} v{version}: {span.get('since')} → {until} · "
                     f"{'rolled back' if kind == 'rolled_back' else 'promoted'}"
                     f"{' (forced)' if span.get('forced') else ''} by {span.get('actor') or '?'}: "
                     f"{span.get('reason') or ''}")
        rect = (f'<rect class="span {kind} {colour}{" current" if current else ""}" data-version="{escape(str(version))}" '
                f'x="{x:.1f}" y="{TL_TOP}" width="{max(width - 1, 1):.1f}" height="{TL_LANE}"><title>{tip}</title></rect>')
        label = (f'<text class="sl" x="{x + width / 2:.1f}" y="{TL_TOP + TL_LANE / 2 + 4:.1f}">v{escape(str(version))}</text>'
                 if width >= 22 else "")
        mark = (f'<path class="rb" d="M{x + 1:.1f},{TL_TOP - 6}L{x + 1:.1f},{bottom + 2}"/>' if kind == "rolled_back" else "")
        parts.append(f'<a href="#{escape(str(span.get("anchor") or ""))}">{rect}{label}</a>{mark}')
        if (labelled is None or x - labelled >= 100) and left + plot_w - x >= 180:  # dates never overlap
            labelled = x
            parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" class="xt">{escape(_minute(span.get("since")))}</text>')
        x += width
    parts.append(f'<text x="{left + plot_w}" y="{bottom + 16}" class="xt end">now ({escape(_minute(now))})</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _minute(moment: Any) -> str:
    """``2026-11-01T12:00:03.120Z`` as ``2026-11-01 12:00`` (what fits under a span)."""
    return str(moment or "")[:16].replace("T", " ")
