"""Risk of bias in a selection: which estimates `max_risk_of_bias` keeps, why it leaves the
others out, and the risk-of-bias sensitivity analysis of a pooling.

The scale is RoB 2's, LOW < SOME_CONCERNS < HIGH; ROBINS-I's judgements are mapped onto it
(LOW → LOW, MODERATE → SOME_CONCERNS, SERIOUS and CRITICAL → HIGH). NO_INFORMATION is on no
level, so it is never "at most" one; an estimate without an assessment is "not assessed".
Both are left out whenever a maximum is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.enums import (
    RISK_OF_BIAS_LEVELS,
    RISK_OF_BIAS_SCALE,
    RiskOfBiasJudgement,
    RiskOfBiasLevel,
)
from app.errors import UnprocessableContent
from app.schemas.appraisal import summary

NOT_ASSESSED = "NOT_ASSESSED"
# What a risk-of-bias sensitivity analysis pools at most.
SENSITIVITY_LEVEL = RiskOfBiasLevel.SOME_CONCERNS
SENSITIVITY_NOTE = (
    "sensitivity: pooled again without the estimates at high risk of bias (HIGH, SERIOUS, "
    "CRITICAL) and without those not assessed or judged NO_INFORMATION, which cannot be "
    "shown to be free of high risk")


def rank(overall: str | None) -> int | None:
    """An overall judgement's place on the RoB 2 scale (None: not assessed or not on it)."""
    on_scale = RISK_OF_BIAS_SCALE.get(overall) if overall is not None else None
    return None if on_scale is None else RISK_OF_BIAS_LEVELS.index(on_scale)


def left_out(tool: str | None, overall: str | None,
             level: RiskOfBiasLevel | None) -> dict[str, Any] | None:
    """Why `max_risk_of_bias=level` leaves an estimate of this assessment out (None when it
    keeps it, or when no maximum is given)."""
    if level is None:
        return None
    if overall is None:
        return {"reason": "not assessed for risk of bias", "risk_of_bias": None}
    judged = {"tool": tool, "overall": overall}
    place = rank(overall)
    if place is None:
        return {"reason": f"risk of bias {overall} ({tool}) is on no level of the scale, so "
                          f"not at most {level.value}", "risk_of_bias": judged}
    if place <= RISK_OF_BIAS_LEVELS.index(level):
        return None
    mapped = RISK_OF_BIAS_SCALE[overall]
    shown = overall if mapped == overall else f"{overall} ({tool}: {mapped.value} on RoB 2)"
    return {"reason": f"risk of bias {shown} above the maximum {level.value}",
            "risk_of_bias": judged}


def row_left_out(row: Any, level: RiskOfBiasLevel | None) -> dict[str, Any] | None:
    """`left_out` for a row carrying `rob_tool` and `rob_overall`."""
    return left_out(row.rob_tool, row.rob_overall, level)


def severity(overall: str) -> int:
    """How severe an overall judgement is: its place on the scale, NO_INFORMATION above
    HIGH (nothing shows it is not high)."""
    place = rank(overall)
    return len(RISK_OF_BIAS_LEVELS) if place is None else place


def most_severe(rows: list[Any]) -> dict[str, Any] | None:
    """The summary of the most severe assessment among some rows (one study's estimates);
    None when none is assessed."""
    assessed = [r for r in rows if r.rob_overall is not None]
    if not assessed:
        return None
    worst = max(assessed, key=lambda r: severity(r.rob_overall))
    return summary(worst.rob_tool, worst.rob_overall, worst.rob_domains)


def stricter(level: RiskOfBiasLevel | None) -> RiskOfBiasLevel:
    """The maximum a sensitivity analysis pools at: SOME_CONCERNS, or the caller's own
    maximum when that is stricter."""
    if level is not None and RISK_OF_BIAS_LEVELS.index(level) < RISK_OF_BIAS_LEVELS.index(
            SENSITIVITY_LEVEL):
        return level
    return SENSITIVITY_LEVEL


def levels_left_out(level: RiskOfBiasLevel) -> list[str]:
    """The overall judgements (and NOT_ASSESSED) that `max_risk_of_bias=level` leaves out."""
    top = RISK_OF_BIAS_LEVELS.index(level)
    out = []
    for judgement in RiskOfBiasJudgement:
        place = rank(judgement.value)
        if place is None or place > top:
            out.append(judgement.value)
    return [*out, NOT_ASSESSED]


def sensitivity(entries: list[Any], level: RiskOfBiasLevel | None,
                pool: Callable[[RiskOfBiasLevel], dict[str, Any]]) -> dict[str, Any]:
    """The risk-of-bias sensitivity answer: `pool` at SOME_CONCERNS (or the caller's stricter
    `level`) beside the main pooling of `entries`; when too few remain to pool, how many do
    and why, instead of a refusal of the whole request."""
    level = stricter(level)
    left = sorted({e.row.study_key for e in entries
                   if any(row_left_out(r, level) for r in e.rows)})
    out: dict[str, Any] = {
        "by": "risk_of_bias", "max_risk_of_bias": level.value,
        "excluded_levels": levels_left_out(level), "left_out": left, "reason": None}
    pooled: dict[str, Any] | None = None
    try:
        pooled = pool(level)
    except UnprocessableContent as refused:
        out["k"], out["reason"] = int(refused.extra.get("k", 0)), refused.detail
    out["k"] = pooled["k"] if pooled else out["k"]
    for name in ("estimate", "se", "ci_low", "ci_high", "p_value", "tau2", "i2"):
        out[name] = pooled[name] if pooled else None
    out["exponentiated"] = pooled.get("exponentiated") if pooled else None
    return out
