"""How to read a stored effect: what it compares, which sign is better, whom it favours.

Stored contrasts are experimental minus comparator (ratios: experimental over comparator);
standardized differences (d, g, SMD) are positive when they favour the experimental arm. So a
client never needs to know an instrument to read a sign, every served effect says:

- `comparison`: BETWEEN_ARMS (two distinct arms) or WITHIN_ARM (one arm, pre vs post);
- `direction`: which sign favours the experimental arm — always higher for d, g and SMD; for
  differences and ratios, from the outcome's `lower_is_better` (null when that is unknown);
- `favours`: EXPERIMENTAL, COMPARATOR or NEITHER — from the CI when there is one (a CI that
  excludes the null value), else from the p-value (below 0.05), else null; null for
  within-arm changes and where the direction is unknown;
- `nnt`: for a risk difference with a known direction, the number needed to treat (benefit
  or harm, Altman's wording when the CI crosses zero).
"""

from __future__ import annotations

from typing import Any

from app.enums import (
    RATIO_EFFECTS,
    STANDARDIZED_EFFECTS,
    Comparison,
    Direction,
    EffectType,
    Favours,
    PValueRelation,
)
from app.services import binary

SIGNIFICANCE = 0.05


def null_value(effect_type: EffectType) -> float:
    return 1.0 if effect_type in RATIO_EFFECTS else 0.0


def direction(effect_type: EffectType, lower_is_better: bool | None) -> Direction | None:
    """Which side of the null favours the experimental arm of a contrast."""
    if effect_type in STANDARDIZED_EFFECTS:
        return Direction.HIGHER_FAVOURS_EXPERIMENTAL
    if lower_is_better is None:
        return None
    return (Direction.LOWER_FAVOURS_EXPERIMENTAL if lower_is_better
            else Direction.HIGHER_FAVOURS_EXPERIMENTAL)


def _significant(p_value: float, relation: str | None) -> bool:
    if relation == PValueRelation.GT:
        return False
    if relation == PValueRelation.LT:
        return p_value <= SIGNIFICANCE
    return p_value < SIGNIFICANCE


def favours(effect_type: EffectType, value: float | None, ci_low: float | None,
            ci_high: float | None, p_value: float | None, p_value_relation: str | None,
            side: Direction | None) -> Favours | None:
    """Whom a contrast favours: from its CI, else its p-value; None when unknown."""
    if p_value is not None and not _significant(p_value, p_value_relation) and (
            ci_low is None or ci_high is None):
        return Favours.NEITHER
    if side is None or value is None:
        return None
    null = null_value(effect_type)
    if ci_low is not None and ci_high is not None:
        if ci_low <= null <= ci_high:
            return Favours.NEITHER
    elif p_value is None:
        return None
    if value == null:
        return Favours.NEITHER
    higher = value > null
    return (Favours.EXPERIMENTAL
            if higher == (side == Direction.HIGHER_FAVOURS_EXPERIMENTAL)
            else Favours.COMPARATOR)


def nnt(effect_type: EffectType, value: float | None, ci_low: float | None,
        ci_high: float | None, ci_level: float | None, lower_is_better: bool | None
        ) -> dict[str, Any] | None:
    """Number needed to treat from a risk difference whose direction is known."""
    if effect_type != EffectType.RISK_DIFFERENCE or value is None or lower_is_better is None:
        return None
    if ci_low is None or ci_high is None:
        kind = None if value == 0 else (
            "NNTB" if (value > 0) != lower_is_better else "NNTH")
        return {"value": None if value == 0 else 1 / abs(value), "kind": kind,
                "ci_low": None, "ci_high": None}
    return binary.nnt(value, ci_low, ci_high, events_are_good=not lower_is_better,
                      level=ci_level or 0.95)


def describe(effect_type: EffectType, value: float | None, ci_low: float | None,
             ci_high: float | None, ci_level: float | None, p_value: float | None,
             p_value_relation: str | None, between_arms: bool,
             lower_is_better: bool | None) -> dict[str, Any]:
    """`comparison`, `direction`, `favours` and `nnt` of one effect."""
    if not between_arms:
        return {"comparison": Comparison.WITHIN_ARM, "direction": None, "favours": None,
                "nnt": None}
    side = direction(effect_type, lower_is_better)
    return {
        "comparison": Comparison.BETWEEN_ARMS, "direction": side,
        "favours": favours(effect_type, value, ci_low, ci_high, p_value, p_value_relation,
                           side),
        "nnt": nnt(effect_type, value, ci_low, ci_high, ci_level, lower_is_better),
    }


def of_row(row: Any, lower_is_better: bool | None) -> dict[str, Any]:
    """`describe` for an effect row (columns as the effect_estimate table's)."""
    return describe(row.effect_type, row.value, row.ci_low, row.ci_high, row.ci_level,
                    row.p_value, row.p_value_relation, row.comparator_arm_id is not None,
                    lower_is_better)
