"""The durability plot as a standalone SVG: score against months on one clock.

One line per arm (and outcome) of each study; a timepoint with a range on the clock (MP-1's
17–74-month follow-up) is drawn as a span with its mean marked, not as a point; a segment
that reaches a timepoint whose comparison is no longer controlled is dashed and the point is
hollow; retention (n assessed / n eligible, else the result's n) is printed at each point.
Each series plots the mean score when it reports one, else the change from baseline. Every
text is escaped.
"""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape

WIDTH = 820
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 70, 560, 56, 376
LEGEND_X = 576
LEGEND_ROW = 30
COLOURS = ("#1f3a5f", "#b35c1e", "#2e7d32", "#7b1fa2", "#00838f", "#c62828", "#5d4037",
           "#455a64")
CLOCKS = {"baseline": ("since_baseline", "months since baseline"),
          "treatment": ("after_treatment", "months after treatment")}


def _short(text: str, limit: int = 44) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(value: float) -> str:
    return f"{value:g}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def _step(span: float) -> float:
    raw = span / 6 or 1.0
    power: float = 10 ** math.floor(math.log10(raw))
    return next((m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw), 10 * power)


class _Point:
    """One plotted score: where it sits on the clock, its value and its timepoint."""

    def __init__(self, clock: dict[str, Any], value: float, timepoint: dict[str, Any],
                 n: int | None) -> None:
        self.x, self.y = float(clock["months"]), float(value)
        self.low = float(clock["min"] if clock["min"] is not None else self.x)
        self.high = float(clock["max"] if clock["max"] is not None else self.x)
        self.timepoint, self.n = timepoint, n

    @property
    def uncontrolled(self) -> bool:
        return self.timepoint["controlled"] is False

    @property
    def retention(self) -> str:
        t = self.timepoint
        if t["n_assessed"] is not None and t["n_eligible"] is not None:
            return f"{t['n_assessed']}/{t['n_eligible']}"
        return f"n={self.n}" if self.n is not None else ""


def _series(answer: dict[str, Any], clock: str) -> tuple[list[dict[str, Any]], int]:
    """The lines to draw (label, measure, points sorted by months) and how many scores are
    not placed on the clock."""
    key = CLOCKS[clock][0]
    lines: list[dict[str, Any]] = []
    unplaced = 0
    for study in answer["studies"]:
        timepoints = {t["id"]: t for t in study["timepoints"]}
        name = study["study_acronym"] or study["study_key"]
        for s in study["series"]:
            measure = "mean" if any(p["mean"] is not None for p in s["points"]) else "change_mean"
            points: list[_Point] = []
            for p in s["points"]:
                t = timepoints[p["timepoint_id"]]
                if t[key] is None or p[measure] is None:
                    unplaced += 1
                    continue
                points.append(_Point(t[key], p[measure], t, p["n"]))
            if points:
                what = "mean" if measure == "mean" else "change from baseline"
                lines.append({"label": f"{name} · {s['arm']} · {s['outcome']} ({what})",
                              "arm": f"{name} · {s['arm']}", "what": f"{s['outcome']} ({what})",
                              "points": sorted(points, key=lambda q: q.x)})
    return lines, unplaced


class _Axes:
    def __init__(self, lines: list[dict[str, Any]]) -> None:
        points: list[_Point] = [p for line in lines for p in line["points"]]
        self.x_high = max([p.high for p in points] + [1.0]) * 1.05
        ys = [p.y for p in points] or [0.0, 1.0]
        low, high = min(ys), max(ys)
        pad = (high - low) * 0.1 or max(abs(high) * 0.1, 1.0)
        self.y_low, self.y_high = low - pad, high + pad

    def x(self, months: float) -> float:
        return PLOT_LEFT + months / self.x_high * (PLOT_RIGHT - PLOT_LEFT)

    def y(self, value: float) -> float:
        share = (value - self.y_low) / (self.y_high - self.y_low)
        return PLOT_BOTTOM - share * (PLOT_BOTTOM - PLOT_TOP)

    def draw(self, x_title: str) -> list[str]:
        out = [f'<g class="axes"><line x1="{PLOT_LEFT}" y1="{PLOT_BOTTOM}" x2="{PLOT_RIGHT}" '
               f'y2="{PLOT_BOTTOM}" stroke="#000"/><line x1="{PLOT_LEFT}" y1="{PLOT_TOP}" '
               f'x2="{PLOT_LEFT}" y2="{PLOT_BOTTOM}" stroke="#000"/>']
        step = _step(self.x_high)
        for i in range(int(self.x_high / step) + 1):
            tx = self.x(i * step)
            out.append(f'<text x="{tx:.1f}" y="{PLOT_BOTTOM + 16}" text-anchor="middle">'
                       f"{_fmt(i * step)}</text>")
        step = _step(self.y_high - self.y_low)
        tick = math.ceil(self.y_low / step) * step
        while tick <= self.y_high:
            ty = self.y(tick)
            out.append(f'<text x="{PLOT_LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">'
                       f'{_fmt(tick)}</text><line x1="{PLOT_LEFT}" y1="{ty:.1f}" '
                       f'x2="{PLOT_RIGHT}" y2="{ty:.1f}" stroke="#e0e0e0"/>')
            tick += step
        out.append(f'<text x="{(PLOT_LEFT + PLOT_RIGHT) / 2}" y="{PLOT_BOTTOM + 34}" '
                   f'text-anchor="middle">{escape(x_title)}</text>'
                   f'<text x="16" y="{(PLOT_TOP + PLOT_BOTTOM) / 2}" text-anchor="middle" '
                   f'transform="rotate(-90 16 {(PLOT_TOP + PLOT_BOTTOM) / 2})">score</text></g>')
        return out


def _line(axes: _Axes, i: int, line: dict[str, Any]) -> str:
    colour = COLOURS[i % len(COLOURS)]
    points: list[_Point] = line["points"]
    parts = [f'<g class="series" data-index="{i}"><title>{escape(line["label"])}</title>']
    for a, b in zip(points, points[1:], strict=False):
        dashed = b.uncontrolled
        parts.append(
            f'<line class="segment{" uncontrolled" if dashed else ""}" x1="{axes.x(a.x):.1f}" '
            f'y1="{axes.y(a.y):.1f}" x2="{axes.x(b.x):.1f}" y2="{axes.y(b.y):.1f}" '
            f'stroke="{colour}" stroke-width="2"'
            + (' stroke-dasharray="6 4"/>' if dashed else "/>"))
    for p in points:
        px, py = axes.x(p.x), axes.y(p.y)
        if p.high > p.low:
            dash = ' stroke-dasharray="6 4"' if p.uncontrolled else ""
            parts.append(
                f'<g class="range"><line x1="{axes.x(p.low):.1f}" y1="{py:.1f}" '
                f'x2="{axes.x(p.high):.1f}" y2="{py:.1f}" stroke="{colour}" stroke-width="2"'
                f'{dash}/>'
                f'<line x1="{axes.x(p.low):.1f}" y1="{py - 5:.1f}" x2="{axes.x(p.low):.1f}" '
                f'y2="{py + 5:.1f}" stroke="{colour}"/><line x1="{axes.x(p.high):.1f}" '
                f'y1="{py - 5:.1f}" x2="{axes.x(p.high):.1f}" y2="{py + 5:.1f}" '
                f'stroke="{colour}"/><title>{escape(p.timepoint["label"])}: '
                f"{_fmt(p.low)}–{_fmt(p.high)} months, mean {_fmt(p.x)}</title></g>")
        fill = "#ffffff" if p.uncontrolled else colour
        parts.append(
            f'<circle class="point{" mean" if p.high > p.low else ""}" cx="{px:.1f}" '
            f'cy="{py:.1f}" r="4" fill="{fill}" stroke="{colour}" stroke-width="1.5">'
            f'<title>{escape(p.timepoint["label"])}: {_fmt(p.y)}</title></circle>'
            f'<text class="retention" x="{px + 6:.1f}" y="{py - 7:.1f}" font-size="10" '
            f'fill="{colour}">{escape(p.retention)}</text>')
    parts.append("</g>")
    return "".join(parts)


def _legend(lines: list[dict[str, Any]]) -> list[str]:
    out = ['<g class="legend">']
    for i, line in enumerate(lines):
        y = PLOT_TOP + i * LEGEND_ROW
        colour = COLOURS[i % len(COLOURS)]
        out.append(f'<line x1="{LEGEND_X}" y1="{y}" x2="{LEGEND_X + 18}" y2="{y}" '
                   f'stroke="{colour}" stroke-width="3"/><text x="{LEGEND_X + 24}" '
                   f'y="{y + 4}" font-size="10">{escape(_short(line["arm"]))}</text>'
                   f'<text x="{LEGEND_X + 24}" y="{y + 16}" font-size="10" fill="#555">'
                   f'{escape(_short(line["what"]))}</text>')
    out.append("</g>")
    return out


def render(answer: dict[str, Any], clock: str) -> str:
    """The SVG document of a durability answer (services.durability) on one clock."""
    lines, unplaced = _series(answer, clock)
    axes = _Axes(lines)
    x_title = CLOCKS[clock][1]
    height = max(PLOT_BOTTOM + 90, PLOT_TOP + len(lines) * LEGEND_ROW + 20)
    heading = f"Score over {x_title}"
    notes = ("dashed: no longer controlled (hollow point); bars: a range of months with its "
             "mean marked; numbers: assessed/eligible")
    if unplaced:
        notes += f"; {unplaced} score(s) not placed on this clock"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" '
           f'font-size="12" role="img">', f"<title>{escape(heading)}</title>",
           f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
           f'<text x="12" y="24" font-size="14" font-weight="bold">{escape(heading)}</text>']
    if lines:
        out += [*axes.draw(x_title), *(_line(axes, i, ln) for i, ln in enumerate(lines)),
                *_legend(lines)]
    else:
        out.append(f'<text x="{PLOT_LEFT}" y="{PLOT_TOP + 40}">No score is placed on this '
                   "clock for this selection</text>")
    out.append(f'<text class="notes" x="12" y="{height - 12}" font-size="10" fill="#333">'
               f"{escape(notes)}</text></svg>")
    return "\n".join(out)
