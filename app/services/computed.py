"""Effects we compute from a study's arm results: Hedges' g from means and SDs, and risk
ratios, odds ratios and risk differences from counts, for each experimental arm against each
comparator arm. Pure: the row planner (app.services.rows) stores them, with the union of
their inputs' sources, for single writes and bulk loads alike.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.enums import RATIO_EFFECTS, ArmType, EffectType, Origin
from app.services import binary
from app.services.evidence import hedges_g

COMPARATOR_ARMS = (ArmType.PLACEBO_COMPARATOR, ArmType.ACTIVE_COMPARATOR,
                   ArmType.SHAM_COMPARATOR, ArmType.NO_INTERVENTION)


def _summary_pair(a: Any, b: Any) -> tuple[str, tuple[float, float, float, float]] | None:
    """The scores two results can be compared on: change scores when both arms report them
    (trials analyse change from baseline), else endpoint scores."""
    if a.n is None or b.n is None:
        return None
    if None not in (a.change_mean, a.change_sd, b.change_mean, b.change_sd):
        return "change", (a.change_mean, a.change_sd, b.change_mean, b.change_sd)
    if None not in (a.mean, a.sd, b.mean, b.sd):
        return "endpoint", (a.mean, a.sd, b.mean, b.sd)
    return None


@dataclass
class ComputedEffect:
    """An effect we compute from arm results, with what it was computed from and the sources
    of those results (the row planner flags it retracted by the rule over those sources)."""

    outcome_measure_id: int
    timepoint_id: int
    experimental_arm_id: int
    comparator_arm_id: int
    position: int
    effect_type: EffectType
    value: float
    se: float  # on the pooling scale: log for ratios
    ci_low: float
    ci_high: float
    notes: str
    inputs: dict[str, Any]
    sources: list[Any]

    def row(self) -> dict[str, Any]:
        """The effect_estimate columns (without ids of its own)."""
        return {
            "outcome_measure_id": self.outcome_measure_id, "timepoint_id": self.timepoint_id,
            "experimental_arm_id": self.experimental_arm_id,
            "comparator_arm_id": self.comparator_arm_id, "position": self.position,
            "effect_type": self.effect_type, "value": self.value, "se": self.se,
            "ci_low": self.ci_low, "ci_high": self.ci_high, "ci_level": 0.95,
            "origin": Origin.COMPUTED, "notes": self.notes,
            "inputs": self.inputs, "as_reported": None,
        }


Z95 = 1.959963984540054
COUNT_MEASURES = (("RR", EffectType.RISK_RATIO), ("OR", EffectType.ODDS_RATIO),
                  ("RD", EffectType.RISK_DIFFERENCE))


def _hedges(e: Any, c: Any, lower_is_better: bool) -> tuple[Any, ...] | None:
    pair = _summary_pair(e, c)
    if pair is None:
        return None
    kind, (m1, s1, m2, s2) = pair
    g = hedges_g(e.n, m1, s1, c.n, m2, s2, lower_is_better)
    if g is None:
        return None
    value, variance = g
    se = math.sqrt(variance)
    inputs = {"scores": kind,
              "experimental": {"n": e.n, "mean": m1, "sd": s1},
              "comparator": {"n": c.n, "mean": m2, "sd": s2}}
    notes = (f"Hedges' g computed from {kind} scores (n, mean, SD of both arms); "
             "positive favours the experimental arm")
    return (EffectType.HEDGES_G, value, se, value - Z95 * se, value + Z95 * se, notes, inputs)


def _counted(e: Any, c: Any) -> list[tuple[Any, ...]]:
    """RR, OR and RD of two counted results, as metafor's escalc computes them (0.5 added to
    every cell of a table with a zero cell)."""
    if None in (e.count, e.denominator, c.count, c.denominator) or not (
            e.denominator and c.denominator):
        return []
    a, n1, k, n2 = e.count, e.denominator, c.count, c.denominator
    corrected = 0 in (a, n1 - a, k, n2 - k)
    inputs = {"experimental": {"events": a, "total": n1},
              "comparator": {"events": k, "total": n2},
              "zero_cell_correction": 0.5 if corrected else None}
    out = []
    for measure, effect_type in COUNT_MEASURES:
        found = binary.escalc(measure, a, n1, k, n2)
        if found is None:
            continue
        yi, vi = found
        se = math.sqrt(vi)
        low, high = yi - Z95 * se, yi + Z95 * se
        value = yi
        if effect_type in RATIO_EFFECTS:
            value, low, high = math.exp(yi), math.exp(low), math.exp(high)
        notes = (f"{effect_type} computed from counts ({a}/{n1} vs {k}/{n2})"
                 + (", 0.5 added to every cell for a zero cell" if corrected else "")
                 + ("; SE on the log scale" if effect_type in RATIO_EFFECTS else ""))
        out.append((effect_type, value, se, low, high, notes, inputs))
    return out


def computed_effects(arm_types: dict[int, ArmType], baseline: set[int],
                     lower_is_better: dict[int, bool], results: Iterable[Any],
                     sources: dict[int, list[Any]], next_position: dict[int, int]
                     ) -> list[ComputedEffect]:
    """For each experimental arm against each comparator arm at each timepoint other than a
    baseline: Hedges' g where both report n, mean and SD of an outcome whose direction is
    known, and RR, OR and RD where both report a count and its denominator.
    `results` are a study's outcome results (attributes as the table's columns) in position
    order; `sources` their source rows by result id. Pure: single writes and bulk loads use it
    on rows read back or planned."""
    cells: dict[tuple[int, int], dict[int, Any]] = defaultdict(dict)
    for r in results:
        if r.timepoint_id not in baseline:
            cells[(r.outcome_measure_id, r.timepoint_id)].setdefault(r.arm_id, r)
    out: list[ComputedEffect] = []
    for (om_id, tp_id), by_arm in cells.items():
        for e_id, e in by_arm.items():
            if arm_types[e_id] != ArmType.EXPERIMENTAL:
                continue
            for c_id, c in by_arm.items():
                if arm_types[c_id] not in COMPARATOR_ARMS:
                    continue
                found = _counted(e, c)
                if om_id in lower_is_better:
                    g = _hedges(e, c, lower_is_better[om_id])
                    if g is not None:
                        found.insert(0, g)
                if not found:
                    continue
                seen: set[tuple[Any, ...]] = set()
                merged = []
                for src in sources.get(e.id, []) + sources.get(c.id, []):
                    ident = (src.publication_id, src.registry_record, src.source_url,
                             src.locator)
                    if ident not in seen:
                        seen.add(ident)
                        merged.append(src)
                for effect_type, value, se, low, high, notes, inputs in found:
                    position = next_position.get(om_id, -1) + 1
                    next_position[om_id] = position
                    out.append(ComputedEffect(
                        om_id, tp_id, e_id, c_id, position, effect_type, value, se, low, high,
                        notes, inputs, merged))
    return out
