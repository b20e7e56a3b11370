"""The network graph as a standalone SVG and the league table as CSV.

The graph puts the treatments on a circle, one line per compared pair whose width grows with
the number of studies comparing them (printed at its middle), each node labelled with its
name and P-score. Every text is escaped. The league table is one row per treatment and one
column per comparator, each cell the row minus the column (the ratio for ratio effect types)
with its CI, or one row per pair (`layout=long`); every cell spreadsheet-safe.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any
from xml.sax.saxutils import escape

from app.spreadsheet import spreadsheet_safe

WIDTH, HEIGHT = 900, 560
CX, CY = WIDTH / 2, 270
RADIUS = 200
LABEL_GAP = 16


def _positions(names: list[str]) -> dict[str, tuple[float, float]]:
    n = len(names)
    return {name: (CX + RADIUS * math.cos(2 * math.pi * i / n - math.pi / 2),
                   CY + RADIUS * math.sin(2 * math.pi * i / n - math.pi / 2))
            for i, name in enumerate(names)}


def _label(x: float, y: float, text: str) -> str:
    """A node's label outside the circle: beside it on the sides, above or below it at the
    top and bottom."""
    dx, dy = x - CX, y - CY
    if abs(dx) < RADIUS * 0.3:
        ly = y - LABEL_GAP if dy < 0 else y + LABEL_GAP + 8
        return f'<text x="{x:.1f}" y="{ly:.1f}" text-anchor="middle">{escape(text)}</text>'
    anchor = "start" if dx > 0 else "end"
    lx = x + LABEL_GAP if dx > 0 else x - LABEL_GAP
    return f'<text x="{lx:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}">{escape(text)}</text>'



def render(result: dict[str, Any]) -> str:
    """The network graph of a network meta-analysis answer."""
    names = [n["name"] for n in result["nodes"]]
    pos = _positions(names)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="13">',
             f"<title>{escape('Network of ' + str(result['effect_type']))}</title>",
             '<rect width="100%" height="100%" fill="white"/>']
    for edge in result["edges"]:
        (x1, y1), (x2, y2) = pos[edge["treatment1"]], pos[edge["treatment2"]]
        width = 1.5 + 2.5 * edge["k"]
        studies = escape(", ".join(edge["studies"]))
        parts.append(f'<line class="edge" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" '
                     f'y2="{y2:.1f}" stroke="#5b7fa6" stroke-width="{width:.1f}">'
                     f"<title>{escape(edge['treatment1'])} vs {escape(edge['treatment2'])}: "
                     f"{studies}</title></line>")
        parts.append(f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 4:.1f}" '
                     f'text-anchor="middle" fill="#33475b">{edge["k"]}</text>')
    for node in result["nodes"]:
        x, y = pos[node["name"]]
        score = "" if node["p_score"] is None else f" (P-score {node['p_score']:.2f})"
        parts.append(f'<circle class="node" cx="{x:.1f}" cy="{y:.1f}" r="8" fill="#1d3557"/>')
        parts.append(_label(x, y, node["name"] + score))
    parts.append(f'<text x="12" y="{HEIGHT - 14}" fill="#33475b">'
                 f"{escape(_caption(result))}</text>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _caption(result: dict[str, Any]) -> str:
    model = ("fixed effect" if result["model"] == "fixed"
             else f"random effects ({result['method_tau']}, τ² = {result['tau2']:.3g})")
    return (f"{result['effect_type']}: {result['k']} studies, {result['n_treatments']} "
            f"treatments, {model}; "
            "edge width = number of studies")


def _cell(cell: dict[str, Any], ratio: bool) -> str:
    shown = cell["exponentiated"] if ratio else cell
    return f"{shown['estimate']:.3f} ({shown['ci_low']:.3f} to {shown['ci_high']:.3f})"


LONG_COLUMNS = ("treatment", "comparator", "estimate", "se", "ci_low", "ci_high", "p_value")


def league_csv(result: dict[str, Any], layout: str = "square") -> str:
    """The league table: row treatment minus (or over) column comparator, with its CI; or
    `long`, one row per ordered pair with the numbers in columns of their own (on the
    analysis scale, log for ratios)."""
    treatments = result["treatments"]
    ratio = result["scale"] == "log"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if layout == "long":
        writer.writerow(LONG_COLUMNS)
        for cell in result["league"]:
            writer.writerow([spreadsheet_safe(cell[k]) for k in LONG_COLUMNS])
        return out.getvalue()
    cells = {(c["treatment"], c["comparator"]): c for c in result["league"]}
    writer.writerow([spreadsheet_safe(v) for v in ["treatment", *treatments]])
    for a in treatments:
        writer.writerow([spreadsheet_safe(v) for v in [a, *(
            a if a == b else _cell(cells[(a, b)], ratio) for b in treatments)]])
    return out.getvalue()
