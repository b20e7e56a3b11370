"""The risk-of-bias traffic lights of a forest plot (Cochrane's layout): right of the weights,
one circle per domain (D1…D5 for RoB 2, D1…D7 for ROBINS-I) and one for the overall
judgement, each coloured by its judgement and marked with a symbol, under a header naming the
columns, with a legend naming the colours and the domains. A row without an assessment gets a
hollow "not assessed" circle in the overall column. Every circle carries `data-domain` and
`data-judgement` and a `<title>`.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from app.schemas.appraisal import Rob2Domains, RobinsDomains

DOMAINS = {"ROB2": list(Rob2Domains.model_fields),
           "ROBINS_I": list(RobinsDomains.model_fields)}
TOOL_NAMES = {"ROB2": "RoB 2", "ROBINS_I": "ROBINS-I"}
# judgement: (fill, symbol, legend)
LIGHTS = {
    "LOW": ("#2e8540", "+", "Low"),
    "SOME_CONCERNS": ("#f2c12e", "−", "Some concerns / moderate"),
    "MODERATE": ("#f2c12e", "−", None),
    "HIGH": ("#d0312d", "×", "High / serious"),
    "SERIOUS": ("#d0312d", "×", None),
    "CRITICAL": ("#7a0a0a", "!", "Critical"),
    "NO_INFORMATION": ("#9e9e9e", "?", "No information"),
}
NOT_ASSESSED = "NOT_ASSESSED"
STEP, RADIUS, GAP, LEGEND_LINE = 20, 7, 14, 14
WRAP = 130


def drawn(studies: list[dict[str, Any]]) -> bool:
    """Whether a plot of these rows has traffic lights: when any row is assessed."""
    return any(s.get("risk_of_bias") for s in studies)


class Lights:
    """The columns' geometry: they start at `left`, as many domains as the widest tool."""

    def __init__(self, studies: list[dict[str, Any]], left: float) -> None:
        self.tools = sorted({s["risk_of_bias"]["tool"] for s in studies
                             if s.get("risk_of_bias")}, key=list(DOMAINS).index)
        self.columns = max(len(DOMAINS[t]) for t in self.tools)
        self.left = left
        self.overall_x = left + self.columns * STEP + GAP
        self.width = self.overall_x + STEP
        self.legend_lines = _legend_text(self.tools)

    @property
    def legend_height(self) -> float:
        return (len(self.legend_lines) + 1) * LEGEND_LINE + 10

    def header(self, y: float) -> str:
        cells = [f'<text x="{self._x(i):.1f}" y="{y:.1f}" text-anchor="middle">D{i + 1}</text>'
                 for i in range(self.columns)]
        cells.append(f'<text x="{self.overall_x:.1f}" y="{y:.1f}" text-anchor="middle">'
                     "Overall</text>")
        return ('<g class="rob-header" font-weight="bold" font-size="10">'
                + "".join(cells) + "</g>")

    def row(self, s: dict[str, Any], y: float) -> str:
        rob = s.get("risk_of_bias")
        if not rob:
            return (f'<g class="rob-row" data-id="{s["id"]}">'
                    f'<circle class="rob-cell" data-domain="overall" '
                    f'data-judgement="{NOT_ASSESSED}" cx="{self.overall_x:.1f}" cy="{y:.1f}" '
                    f'r="{RADIUS}" fill="none" stroke="#9e9e9e" stroke-dasharray="2 2">'
                    "<title>not assessed for risk of bias</title></circle></g>")
        cells = [self._cell(self._x(i), y, name, rob["domains"].get(name), f"D{i + 1} "
                            + name.replace("_", " "))
                 for i, name in enumerate(DOMAINS[rob["tool"]])]
        cells.append(self._cell(self.overall_x, y, "overall", rob["overall"],
                                f"overall ({TOOL_NAMES[rob['tool']]})"))
        return f'<g class="rob-row" data-id="{s["id"]}">' + "".join(cells) + "</g>"

    def legend(self, x: float, y: float) -> str:
        keys, at = [], x
        for judgement, (fill, _symbol, name) in LIGHTS.items():
            if name is None:
                continue
            keys.append(f'<circle class="rob-key" data-judgement="{judgement}" cx="{at + 6:.1f}" '
                        f'cy="{y - 4:.1f}" r="5" fill="{fill}"/>'
                        f'<text x="{at + 14:.1f}" y="{y:.1f}">{escape(name)}</text>')
            at += 24 + 6.2 * len(name)
        keys.append(f'<circle class="rob-key" data-judgement="{NOT_ASSESSED}" cx="{at + 6:.1f}" '
                    f'cy="{y - 4:.1f}" r="5" fill="none" stroke="#9e9e9e"/>'
                    f'<text x="{at + 14:.1f}" y="{y:.1f}">Not assessed</text>')
        lines = [f'<text x="{x}" y="{y + (i + 1) * LEGEND_LINE:.1f}">{escape(line)}</text>'
                 for i, line in enumerate(self.legend_lines)]
        return ('<g class="rob-legend" font-size="10" fill="#333">'
                f'<text x="{x}" y="{y:.1f}" font-weight="bold">Risk of bias:</text>'
                f'<g transform="translate(72 0)">{"".join(keys)}</g>'
                + "".join(lines) + "</g>")

    def _x(self, i: int) -> float:
        return self.left + i * STEP + STEP / 2

    @staticmethod
    def _cell(x: float, y: float, domain: str, judgement: str | None, name: str) -> str:
        fill, symbol, _ = LIGHTS.get(judgement or "", ("#ffffff", "", None))
        shown = judgement or "not judged"
        return (f'<circle class="rob-cell" data-domain="{escape(domain)}" '
                f'data-judgement="{escape(shown)}" cx="{x:.1f}" cy="{y:.1f}" r="{RADIUS}" '
                f'fill="{fill}" stroke="#555" stroke-width="0.5">'
                f"<title>{escape(name)}: {escape(shown)}</title></circle>"
                f'<text x="{x:.1f}" y="{y + 3.5:.1f}" text-anchor="middle" font-size="10" '
                f'fill="#fff" pointer-events="none">{symbol}</text>')


def _legend_text(tools: list[str]) -> list[str]:
    """The domains of each tool drawn, wrapped into lines."""
    lines: list[str] = []
    for tool in tools:
        line = TOOL_NAMES[tool] + ":"
        for i, name in enumerate(DOMAINS[tool]):
            part = f" D{i + 1} {name.replace('_', ' ')}" + (";" if i + 1 < len(DOMAINS[tool])
                                                             else "")
            if len(line) + len(part) > WRAP:
                lines.append(line)
                line = "   "
            line += part
        lines.append(line)
    return lines
