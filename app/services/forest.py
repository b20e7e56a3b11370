"""The forest plot of a meta-analysis as a standalone SVG, laid out for 800 px.

One row per pooled estimate (label, CI whisker, a box whose area is proportional to its
random-effects weight, estimate with CI, weight %), then the pooled diamond, the prediction
interval, the line of no effect, an axis and which side favours which arm. Ratio measures are
drawn on a log axis labelled in ratios. When any row is assessed for risk of bias, its
traffic lights are drawn right of the weights (app.services.forest_rob).
"""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape

from app.enums import RATIO_EFFECTS
from app.services import forest_rob

WIDTH = 800
ROW = 24
TOP = 64
LABEL_X, PLOT_LEFT, PLOT_RIGHT, TEXT_X, WEIGHT_X = 12, 290, 560, 572, 788
MAX_BOX = 16.0
EFFECT_NAMES = {"COHENS_D": "Cohen's d", "HEDGES_G": "Hedges' g",
                "SMD": "standardized mean difference", "MEAN_DIFFERENCE": "mean difference",
                "RISK_RATIO": "risk ratio", "ODDS_RATIO": "odds ratio",
                "RISK_DIFFERENCE": "risk difference"}
RETRACTED_COLOUR = "#b3261e"
NULL = 0.0  # the line of no effect, on the pooling scale


def _nice_step(span: float) -> float:
    raw = span / 6
    power: float = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def _ticks(low: float, high: float, ratio: bool) -> list[float]:
    if ratio:
        candidates = [m * 10 ** e for e in range(-3, 4) for m in (1, 2, 5)]
        ticks = [math.log(c) for c in candidates if low <= math.log(c) <= high]
        while len(ticks) > 9:
            ticks = ticks[::2]
        return ticks
    step = _nice_step(high - low)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10)
            for i in range(int((high - first) / step + 1e-9) + 1)]


# Coordinates are computed within these bounds, so no span or step overflows.
LARGEST = 1e300


def _bounded(value: float) -> float:
    if math.isnan(value):
        return 0.0
    return max(-LARGEST, min(LARGEST, value))


def _fmt(value: float, ratio: bool) -> str:
    if ratio:
        value = math.exp(value) if value < 709 else math.inf
    if not math.isfinite(value):
        return "∞" if value > 0 else "−∞" if value < 0 else "–"
    return f"{value:.3g}" if abs(value) >= 1e6 else f"{value:.2f}"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Plot:
    """The geometry of one forest plot: the x scale and the rows' y positions."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta
        self.ratio = meta["effect_type"] in RATIO_EFFECTS
        self.studies = meta["studies"]
        pi = meta["prediction_interval"]
        lows = [s["pooled_ci_low"] for s in self.studies] + [meta["ci_low"], NULL]
        highs = [s["pooled_ci_high"] for s in self.studies] + [meta["ci_high"], NULL]
        if pi:
            lows.append(pi["low"])
            highs.append(pi["high"])
        low, high = min(map(_bounded, lows)), max(map(_bounded, highs))
        pad = (high - low) * 0.05 or 0.5
        self.low, self.high = low - pad, high + pad
        self.pooled_y = TOP + (len(self.studies) + 0.8) * ROW
        self.pi_y = self.pooled_y + ROW
        self.axis_y = self.pi_y + ROW * 0.8
        self.height = int(self.axis_y + 64)
        self.lights = (forest_rob.Lights(self.studies, WIDTH)
                       if forest_rob.drawn(self.studies) else None)
        self.width = int(self.lights.width) + 8 if self.lights else WIDTH
        self.total_height = self.height + (int(self.lights.legend_height) if self.lights
                                           else 0)
        method = meta["method"] + (", Hartung–Knapp" if meta["hartung_knapp"] else "")
        self.model = ("Fixed effect (Mantel–Haenszel)" if meta["model"] == "mantel_haenszel"
                      else f"Random effects ({method})")

    def x(self, value: float) -> float:
        value = min(max(_bounded(value), self.low), self.high)
        return PLOT_LEFT + (value - self.low) / (self.high - self.low) * (PLOT_RIGHT - PLOT_LEFT)

    def interval(self, value: float, low: float, high: float) -> str:
        return f"{_fmt(value, self.ratio)} [{_fmt(low, self.ratio)}, {_fmt(high, self.ratio)}]"

    def heading(self, title: str | None) -> list[str]:
        meta, model = self.meta, self.model
        instruments = sorted({s["instrument"] for s in self.studies if s["instrument"]})
        what = EFFECT_NAMES.get(meta["effect_type"], meta["effect_type"])
        if instruments:
            what += " on " + ", ".join(instruments)
        heading = title or f"{what} — {model[0].lower()}{model[1:]}, k = {meta['k']}"
        level, null_x, height = round(meta["ci_level"] * 100), self.x(NULL), self.total_height
        width = self.width
        return [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" '
            f'font-size="12" role="img">',
            f"<title>{escape(heading)}</title>",
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
            f'<text x="{LABEL_X}" y="22" font-size="14" font-weight="bold">'
            f"{escape(_short(heading, 100))}</text>",
            f'<g class="header" font-weight="bold">'
            f'<text x="{LABEL_X}" y="{TOP - 12}">Study</text>'
            f'<text x="{TEXT_X}" y="{TOP - 12}">Estimate [{level}% CI]</text>'
            f'<text x="{WEIGHT_X}" y="{TOP - 12}" text-anchor="end">Weight</text></g>',
            f'<line class="null-line" x1="{null_x:.1f}" y1="{TOP - 4}" x2="{null_x:.1f}" '
            f'y2="{self.axis_y:.1f}" stroke="#555" stroke-width="1"/>',
            *([self.lights.header(TOP - 12)] if self.lights else []),
        ]

    def study(self, i: int, s: dict[str, Any], biggest: float) -> str:
        y = TOP + (i + 0.5) * ROW
        colour = RETRACTED_COLOUR if s["retracted"] else "#1f3a5f"
        label = s["label"] + (" (retracted)" if s["retracted"] else "")
        side = MAX_BOX * math.sqrt(s["weight_random"] / biggest) if biggest > 0 else 4
        side = max(side, 3.0)
        cx = self.x(s["yi"])
        box_fill = "none" if s["retracted"] else colour
        cls = "study retracted" if s["retracted"] else "study"
        return (
            f'<g class="{cls}" data-id="{s["id"]}"><title>{escape(label)}</title>'
            f'<text x="{LABEL_X}" y="{y + 4:.1f}" fill="{colour}">{escape(_short(label))}</text>'
            f'<line class="ci" x1="{self.x(s["pooled_ci_low"]):.1f}" y1="{y:.1f}" '
            f'x2="{self.x(s["pooled_ci_high"]):.1f}" y2="{y:.1f}" stroke="{colour}" '
            f'stroke-width="1.5"/>'
            f'<rect class="box" x="{cx - side / 2:.1f}" y="{y - side / 2:.1f}" '
            f'width="{side:.1f}" height="{side:.1f}" fill="{box_fill}" stroke="{colour}"/>'
            f'<text x="{TEXT_X}" y="{y + 4:.1f}">'
            f'{self.interval(s["yi"], s["pooled_ci_low"], s["pooled_ci_high"])}</text>'
            f'<text x="{WEIGHT_X}" y="{y + 4:.1f}" text-anchor="end">'
            f'{s["weight_random"]:.1f}%</text></g>')

    def pooled(self) -> list[str]:
        meta, x, py, pi_y = self.meta, self.x, self.pooled_y, self.pi_y
        est, lo, hi = meta["estimate"], meta["ci_low"], meta["ci_high"]
        out = [
            f'<g class="pooled-row" font-weight="bold">'
            f'<text x="{LABEL_X}" y="{py + 4:.1f}">{escape(self.model)}</text>'
            f'<polygon class="pooled" points="{x(lo):.1f},{py:.1f} '
            f'{x(est):.1f},{py - 7:.1f} {x(hi):.1f},{py:.1f} '
            f'{x(est):.1f},{py + 7:.1f}" fill="#000"/>'
            f'<text x="{TEXT_X}" y="{py + 4:.1f}">{self.interval(est, lo, hi)}</text>'
            f'<text x="{WEIGHT_X}" y="{py + 4:.1f}" text-anchor="end">100%</text></g>']
        pi = meta["prediction_interval"]
        if pi:
            out.append(
                f'<g class="prediction-interval"><text x="{LABEL_X}" y="{pi_y + 4:.1f}">'
                f"Prediction interval</text>"
                f'<line x1="{x(pi["low"]):.1f}" y1="{pi_y:.1f}" x2="{x(pi["high"]):.1f}" '
                f'y2="{pi_y:.1f}" stroke="#000" stroke-width="1.5" stroke-dasharray="4 3"/>'
                f'<text x="{TEXT_X}" y="{pi_y + 4:.1f}">[{_fmt(pi["low"], self.ratio)}, '
                f'{_fmt(pi["high"], self.ratio)}]</text></g>')
        else:
            why = ("a fixed-effect model has none" if meta["tau2"] is None
                   else "needs at least 3 studies")
            out.append(f'<text class="prediction-interval" x="{LABEL_X}" y="{pi_y + 4:.1f}" '
                       f'fill="#555">Prediction interval: {why}</text>')
        return out

    def axis(self) -> list[str]:
        axis_y, ratio = self.axis_y, self.ratio
        out = [f'<g class="axis"><line x1="{PLOT_LEFT}" y1="{axis_y:.1f}" x2="{PLOT_RIGHT}" '
               f'y2="{axis_y:.1f}" stroke="#000"/>']
        for tick in _ticks(self.low, self.high, ratio):
            tx = self.x(tick)
            out.append(f'<line x1="{tx:.1f}" y1="{axis_y:.1f}" x2="{tx:.1f}" '
                       f'y2="{axis_y + 5:.1f}" stroke="#000"/><text x="{tx:.1f}" '
                       f'y="{axis_y + 17:.1f}" text-anchor="middle">'
                       f'{_fmt(tick, ratio) if ratio else f"{tick:g}"}</text>')
        out.append("</g>")
        left, right = _favours(self.meta["direction"].get("favours_experimental"))
        null_x = self.x(NULL)
        out.append(
            f'<g class="favours" font-style="italic" fill="#333">'
            f'<text x="{null_x - 6:.1f}" y="{axis_y + 34:.1f}" text-anchor="end">'
            f"← {escape(left)}</text>"
            f'<text x="{null_x + 6:.1f}" y="{axis_y + 34:.1f}">{escape(right)} →</text></g>')
        return out

    def footer(self) -> str:
        meta = self.meta
        tau2 = "" if meta["tau2"] is None else f"τ² = {meta['tau2']:.3f}, "
        p_q = "" if meta["p_q"] is None else f", p = {meta['p_q']:.3g}"
        stats = (f"Heterogeneity: {tau2}I² = {meta['i2']:.0f}%, "
                 f"Q = {meta['q']:.2f} (df = {meta['df']}{p_q})")
        return f'<text x="{LABEL_X}" y="{self.height - 8}" fill="#333">{escape(stats)}</text>'


def render(meta: dict[str, Any], title: str | None = None) -> str:
    """The SVG document of a meta-analysis response (see services.pooling.meta_analysis)."""
    plot = _Plot(meta)
    weights = [s["weight_random"] for s in plot.studies]
    biggest = max(weights) if weights else 1.0
    lights = plot.lights
    traffic = [] if lights is None else [
        *(lights.row(s, TOP + (i + 0.5) * ROW) for i, s in enumerate(plot.studies)),
        lights.legend(LABEL_X, plot.height + 10)]
    return "\n".join([*plot.heading(title),
                      *(plot.study(i, s, biggest) for i, s in enumerate(plot.studies)),
                      *traffic, *plot.pooled(), *plot.axis(), plot.footer(), "</svg>"])


def _favours(side: str | None) -> tuple[str, str]:
    if side == "higher":
        return "favours comparator", "favours experimental"
    if side == "lower":
        return "favours experimental", "favours comparator"
    return "lower values", "higher values"
