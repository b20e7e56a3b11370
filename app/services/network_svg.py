"""The network graph as a standalone SVG and the league table as CSV.

The graph puts the treatments on a circle, one line per compared pair whose width grows with
the number of studies comparing them (printed at its middle), each node labelled with its
name and P-score. Every text is escaped. The league table is one row per treatment and one
column per comparator, each cell the row minus the column (the ratio for ratio effect types)
with its CI, spreadsheet-safe.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any
from xml.sax.saxutils import escape

from app.spreadsheet import spreadsheet_safe

SIZE = 640
RADIUS = 220
LABEL_RADIUS = 250


def _positions(names: list[str]) -> dict[str, tuple[float, float]]:
    n = len(names)
    centre = SIZE / 2
    return {name: (centre + RADIUS * math.cos(2 * math.pi * i / n - math.pi / 2),
                   centre + RADIUS * math.sin(2 * math.pi * i / n - math.pi / 2))
            for i, name in enumerate(names)}


def render(result: dict[str, Any]) -> str:
    """The network graph of a network meta-analysis answer."""
    names = [n["name"] for n in result["nodes"]]
    pos = _positions(names)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE + 40}" '
             f'viewBox="0 0 {SIZE} {SIZE + 40}" font-family="sans-serif" font-size="12">',
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
    centre = SIZE / 2
    for node in result["nodes"]:
        x, y = pos[node["name"]]
        lx = centre + (x - centre) * LABEL_RADIUS / RADIUS
        ly = centre + (y - centre) * LABEL_RADIUS / RADIUS
        anchor = "middle" if abs(lx - centre) < 20 else "start" if lx > centre else "end"
        score = "" if node["p_score"] is None else f" (P {node['p_score']:.2f})"
        parts.append(f'<circle class="node" cx="{x:.1f}" cy="{y:.1f}" r="8" fill="#1d3557"/>')
        parts.append(f'<text x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="{anchor}">'
                     f"{escape(node['name'] + score)}</text>")
    parts.append(f'<text x="12" y="{SIZE + 24}" fill="#33475b">'
                 f"{escape(_caption(result))}</text>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _caption(result: dict[str, Any]) -> str:
    model = ("fixed effect" if result["model"] == "fixed"
             else f"random effects ({result['method_tau']}, τ² = {result['tau2']:.3g})")
    return (f"{result['k']} studies, {result['n_treatments']} treatments, {model}; "
            "edge width = number of studies")


def _cell(cell: dict[str, Any], ratio: bool) -> str:
    shown = cell["exponentiated"] if ratio else cell
    return f"{shown['estimate']:.3f} ({shown['ci_low']:.3f} to {shown['ci_high']:.3f})"


def league_csv(result: dict[str, Any]) -> str:
    """The league table: row treatment minus (or over) column comparator, with its CI."""
    treatments = result["treatments"]
    ratio = result["scale"] == "log"
    cells = {(c["treatment"], c["comparator"]): c for c in result["league"]}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([spreadsheet_safe(v) for v in ["treatment", *treatments]])
    for a in treatments:
        writer.writerow([spreadsheet_safe(v) for v in [a, *(
            a if a == b else _cell(cells[(a, b)], ratio) for b in treatments)]])
    return out.getvalue()
