"""Benefit against harm as a standalone SVG: two panels side by side, one row per study.

Left, the benefit: each study's risk difference (experimental minus comparator) with its CI
and its NNT; right, the harm with its NNH; the pooled row last, as a diamond. A side a study
lacks says so in grey. Each panel has its own axis through zero. Every text is escaped.
"""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape

WIDTH = 920
ROW = 40
TOP = 78
LABEL_X = 12
PANELS = {"benefit": (220, 540, "nnt"), "harm": (590, 910, "nnh")}
COLOURS = {"benefit": "#2e7d32", "harm": "#b3261e"}
MISSING = "#777"


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _step(span: float) -> float:
    raw = span / 4 or 0.1
    power: float = 10 ** math.floor(math.log10(raw))
    return next((m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw), 10 * power)


class _Scale:
    """One panel's x axis: risk differences from its rows' CIs and zero."""

    def __init__(self, side: str, entries: list[dict[str, Any]]) -> None:
        self.left, self.right, self.field = PANELS[side]
        bounds = [0.0] + [float(v) for e in entries for v in (e["ci_low"], e["ci_high"])]
        low, high = max(min(bounds), -1.0), min(max(bounds), 1.0)
        pad = (high - low) * 0.08 or 0.1
        self.low, self.high = low - pad, high + pad

    def x(self, value: float) -> float:
        value = min(max(value, self.low), self.high)
        return self.left + (value - self.low) / (self.high - self.low) * (self.right - self.left)

    def axis(self, y: float) -> str:
        step = _step(self.high - self.low)
        tick = math.ceil(self.low / step) * step
        out = [f'<line x1="{self.left}" y1="{y:.1f}" x2="{self.right}" y2="{y:.1f}" '
               'stroke="#000"/>']
        while tick <= self.high + 1e-12:
            tx = self.x(tick)
            out.append(f'<line x1="{tx:.1f}" y1="{y:.1f}" x2="{tx:.1f}" y2="{y + 4:.1f}" '
                       f'stroke="#000"/><text x="{tx:.1f}" y="{y + 16:.1f}" '
                       f'text-anchor="middle" font-size="10">{tick:g}</text>')
            tick = round(tick + step, 12)
        zero = self.x(0.0)
        out.append(f'<line class="null-line" x1="{zero:.1f}" y1="{TOP - 8}" x2="{zero:.1f}" '
                   f'y2="{y:.1f}" stroke="#999"/>')
        return "".join(out)


def _entry(scale: _Scale, side: str, entry: dict[str, Any], y: float, pooled: bool) -> str:
    colour = COLOURS[side]
    lo, hi, rd = scale.x(entry["ci_low"]), scale.x(entry["ci_high"]), scale.x(
        entry["risk_difference"])
    mark = (f'<polygon class="pooled" points="{lo:.1f},{y:.1f} {rd:.1f},{y - 6:.1f} '
            f'{hi:.1f},{y:.1f} {rd:.1f},{y + 6:.1f}" fill="{colour}"/>' if pooled else
            f'<line class="ci" x1="{lo:.1f}" y1="{y:.1f}" x2="{hi:.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="1.5"/><rect class="box" x="{rd - 4:.1f}" '
            f'y="{y - 4:.1f}" width="8" height="8" fill="{colour}"/>')
    wording = entry[scale.field]["wording"] or ""
    return (f'<g class="{side}">{mark}<text x="{scale.left}" y="{y + 16:.1f}" '
            f'font-size="10" fill="{colour}">{escape(wording)}</text></g>')


def _row(scales: dict[str, _Scale], study: dict[str, Any], y: float) -> str:
    name = study["study_acronym"] or study["study_key"]
    out = [f'<g class="study" data-study="{escape(study["study_key"], {chr(34): "&quot;"})}">'
           f'<title>{escape(name)}</title>'
           f'<text x="{LABEL_X}" y="{y + 4:.1f}">{escape(_short(name))}</text>']
    for side, scale in scales.items():
        if study[side] is not None:
            out.append(_entry(scale, side, study[side], y, pooled=False))
        else:
            why = next((r for r in study["reasons"] if r.startswith(side)), "not counted")
            out.append(f'<text class="missing" x="{scale.left}" y="{y + 4:.1f}" '
                       f'font-size="10" fill="{MISSING}">{escape(_short(why, 56))}'
                       f"<title>{escape(why)}</title></text>")
    out.append("</g>")
    return "".join(out)


def render(answer: dict[str, Any]) -> str:
    """The SVG document of a benefit-risk answer (services.benefit_risk)."""
    studies, pooled = answer["studies"], answer["pooled"]
    scales = {side: _Scale(side, [s[side] for s in studies if s[side]]
                           + ([pooled[side]] if pooled[side] else [])) for side in PANELS}
    rows = len(studies) + 1
    axis_y = TOP + rows * ROW
    height = int(axis_y + 64)
    level = round(answer["ci_level"] * 100)
    benefit, harm = " or ".join(answer["benefit"]), " or ".join(answer["harm"])
    heading = f"Benefit ({benefit}) against harm ({harm})"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" '
           f'font-size="12" role="img">', f"<title>{escape(heading)}</title>",
           f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
           f'<text x="{LABEL_X}" y="22" font-size="14" font-weight="bold">'
           f"{escape(_short(heading, 110))}</text>",
           f'<g class="header" font-weight="bold"><text x="{LABEL_X}" y="{TOP - 22}">Study</text>'
           f'<text x="{PANELS["benefit"][0]}" y="{TOP - 22}" fill="{COLOURS["benefit"]}">'
           f"NNT — benefit: {escape(_short(benefit, 34))}</text>"
           f'<text x="{PANELS["harm"][0]}" y="{TOP - 22}" fill="{COLOURS["harm"]}">'
           f"NNH — harm: {escape(_short(harm, 36))}</text></g>"]
    out += [_row(scales, s, TOP + (i + 0.4) * ROW) for i, s in enumerate(studies)]
    y = TOP + (len(studies) + 0.4) * ROW
    out.append(f'<g class="pooled-row"><text x="{LABEL_X}" y="{y + 4:.1f}" '
               f'font-weight="bold">Pooled (random effects, k = {pooled["k"]})</text>')
    for side, scale in scales.items():
        if pooled[side]:
            out.append(_entry(scale, side, pooled[side], y, pooled=True))
        else:
            out.append(f'<text class="missing" x="{scale.left}" y="{y + 4:.1f}" '
                       f'font-size="10" fill="{MISSING}">'
                       f'{escape(_short(pooled["reason"] or "not pooled", 56))}</text>')
    out.append("</g>")
    out += [scale.axis(axis_y) for scale in scales.values()]
    out.append(f'<text x="{LABEL_X}" y="{height - 10}" font-size="10" fill="#333">'
               f"Risk difference, experimental minus comparator, with its {level}% CI; "
               "numbers needed by Altman's method (NNTB: benefit, NNTH: harm)</text></svg>")
    return "\n".join(out)
