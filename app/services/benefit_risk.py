"""Benefit against harm: NNT and NNH on the same arms, per study and pooled, from counts.

A study takes part through an outcome named (by name or instrument) as the benefit and one
named as the harm, each with counted events and a denominator for an experimental arm and a
comparator arm — the same pair of arms on both sides (DESIGN, "Counts, not prose"). Per side
the risk difference (experimental minus comparator) and its variance are metafor's `escalc`
(app.services.binary, 1/2 added to every cell of a table with a zero cell), the CI normal,
and the number needed by Altman's method: NNT for the benefit, NNH for the harm (an NNTH when
the experimental arm has more harm events). Pooled: the risk differences of the studies with
both sides, random effects (DerSimonian–Laird), and the number needed from the pooled
difference. A study missing either side is listed with the reason; a study that offers
several comparisons for one side is a 422 naming them; retracted results are left out
unless `include_retracted` is true, and named.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.enums import ArmType
from app.errors import UnprocessableContent
from app.queries.synthesis import named_outcome_results_select
from app.schemas.synthesis import BenefitRiskParams
from app.services import binary, evidence

COMPARATORS = {ArmType.PLACEBO_COMPARATOR, ArmType.ACTIVE_COMPARATOR,
               ArmType.SHAM_COMPARATOR, ArmType.NO_INTERVENTION}
MAX_ROWS = 20_000
SIDES = ("benefit", "harm")


@dataclass(frozen=True)
class _Candidate:
    """One comparison a side could use: an outcome at a timepoint, two arms' counts."""

    experimental: Any
    comparator: Any

    @property
    def arms(self) -> tuple[int, int]:
        return self.experimental.arm_id, self.comparator.arm_id

    def describe(self) -> str:
        e = self.experimental
        return (f"{e.outcome} at {e.timepoint}: {e.arm} vs {self.comparator.arm}")


@dataclass
class _StudySide:
    """What one study offers one side: the outcomes named, and the counted comparisons."""

    outcomes: list[str]
    candidates: list[_Candidate]
    retracted: int = 0
    outside_window: int = 0
    percent_only: int = 0


def _in_window(row: Any, params: BenefitRiskParams) -> bool:
    low, high = params.timepoint_months_min, params.timepoint_months_max
    if low is None and high is None:
        return True
    months = row.baseline_clock
    return months is not None and (low is None or months >= low) and (
        high is None or months <= high)


def _candidates(rows: list[Any]) -> list[_Candidate]:
    """Every experimental-versus-comparator pair counted at one outcome and timepoint."""
    cells: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for r in rows:
        cells[(r.outcome_id, r.timepoint_id)].append(r)
    out: list[_Candidate] = []
    for group in cells.values():
        for e in (r for r in group if r.arm_type == ArmType.EXPERIMENTAL):
            out.extend(_Candidate(e, c) for c in group if c.arm_type in COMPARATORS)
    return out


def _study_side(rows: list[Any], params: BenefitRiskParams) -> _StudySide:
    outcomes = list(dict.fromkeys(r.outcome for r in rows))
    counted = [r for r in rows if r.count is not None and r.denominator]
    kept = [r for r in counted if params.include_retracted or not r.retracted]
    windowed = [r for r in kept if _in_window(r, params)]
    percent_only = sum(1 for r in rows if r.percent is not None
                       and (r.count is None or not r.denominator))
    return _StudySide(outcomes, _candidates(windowed), len(counted) - len(kept),
                      len(kept) - len(windowed), percent_only)


def _missing(side: str, names: list[str], offer: _StudySide) -> str:
    if not offer.outcomes:
        return f"{side}: no outcome named {' or '.join(names)}"
    why = (f"{side} ({', '.join(offer.outcomes)}): no counted events and denominators for an "
           "experimental and a comparator arm")
    if offer.retracted:
        why += f" ({offer.retracted} retracted result(s) left out)"
    if offer.percent_only:
        why += (f" ({offer.percent_only} rate(s) printed as a percentage without a count and "
                "denominator)")
    if offer.outside_window:
        why += f" ({offer.outside_window} result(s) outside the timepoint window)"
    return why


def _one(side: str, study_key: str, candidates: list[_Candidate]) -> _Candidate:
    """A study's one comparison for a side; several are a 422 (a study counts once)."""
    if len(candidates) > 1:
        named = "; ".join(c.describe() for c in candidates)
        raise UnprocessableContent(
            f"study {study_key} offers several comparisons for the {side}: {named}; narrow "
            "the selection (benefit, harm, timepoint_months_*, study)", study_key=study_key,
            side=side, comparisons=[c.describe() for c in candidates])
    return candidates[0]


def _arm_counts(r: Any) -> dict[str, Any]:
    return {"arm": r.arm, "events": r.count, "total": r.denominator,
            "risk": r.count / r.denominator}


def _side(side: str, c: _Candidate, level: float) -> tuple[dict[str, Any] | None, str | None]:
    """One side's risk difference with its CI and number needed (or why there is none)."""
    e, k = c.experimental, c.comparator
    if e.lower_is_better is None:
        return None, (f"{side} ({e.outcome}): whether fewer events are better is not "
                      "recorded, so benefit and harm cannot be told apart")
    effect = binary.escalc("RD", e.count, e.denominator, k.count, k.denominator)
    if effect is None:
        return None, f"{side} ({e.outcome}): no risk difference for these counts"
    rd, variance = effect
    low, high = binary.ci(rd, variance, level)
    number = binary.nnt(rd, low, high, events_are_good=not e.lower_is_better, level=level)
    zero = 0 in (e.count, e.denominator - e.count, k.count, k.denominator - k.count)
    return {"outcome": e.outcome, "instrument": e.instrument,
            "lower_is_better": e.lower_is_better, "timepoint": e.timepoint,
            "timepoint_role": e.timepoint_role, "timepoint_months": e.baseline_clock,
            "timepoint_months_after_treatment": e.treatment_clock,
            "experimental": _arm_counts(e), "comparator": _arm_counts(k),
            "risk_difference": rd, "se": math.sqrt(variance), "ci_low": low, "ci_high": high,
            "zero_cell_correction": zero, "nnt" if side == "benefit" else "nnh": number}, None


def _pair(key: str, offers: dict[str, _StudySide]
          ) -> tuple[dict[str, _Candidate | None], list[str]]:
    """The comparison each side uses: on a pair of arms both sides count when there is
    one, else each side's own when it has exactly one."""
    benefit, harm = offers["benefit"].candidates, offers["harm"].candidates
    shared = {c.arms for c in benefit} & {c.arms for c in harm}
    if len(shared) > 1:
        raise UnprocessableContent(
            f"study {key} counts benefit and harm on several pairs of arms; narrow the "
            "selection (study, benefit, harm)", study_key=key)
    if shared:
        arms = next(iter(shared))
        return {side: _one(side, key, [c for c in offers[side].candidates if c.arms == arms])
                for side in SIDES}, []
    chosen: dict[str, _Candidate | None] = {}
    reasons = (["benefit and harm are not counted on the same pair of arms"]
               if benefit and harm else [])
    for side in SIDES:
        candidates = offers[side].candidates
        chosen[side] = candidates[0] if len(candidates) == 1 else None
        if len(candidates) > 1:
            reasons.append(f"{side}: several comparisons ("
                           + "; ".join(c.describe() for c in candidates) + ")")
    return chosen, reasons


def _study(key: str, rows: list[Any], params: BenefitRiskParams) -> dict[str, Any]:
    """One study's benefit and harm, or the reasons one is missing."""
    folded = {side: {n.casefold() for n in getattr(params, side)} for side in SIDES}
    offers = {side: _study_side([r for r in rows if r.outcome.casefold() in folded[side]
                                 or (r.instrument or "").casefold() in folded[side]], params)
              for side in SIDES}
    chosen, reasons = _pair(key, offers)
    answer: dict[str, Any] = {"study_key": key, "study_title": rows[0].study_title,
                              "study_acronym": rows[0].study_acronym}
    for side in SIDES:
        candidate = chosen[side]
        if candidate is None:
            answer[side] = None
            if not offers[side].candidates:
                reasons.append(_missing(side, getattr(params, side), offers[side]))
            continue
        answer[side], why = _side(side, candidate, params.ci_level)
        if why:
            reasons.append(why)
    answer["complete"] = not reasons and all(answer[side] for side in SIDES)
    answer["reasons"] = reasons
    return answer


def _pooled_side(side: str, studies: list[dict[str, Any]], level: float
                 ) -> dict[str, Any] | str:
    """The pooled risk difference of one side and its number needed (or why none)."""
    entries = [s[side] for s in studies]
    directions = {e["lower_is_better"] for e in entries}
    if len(directions) > 1:
        return f"the {side} outcomes disagree on whether fewer events are better"
    result = evidence.meta_analyse([e["risk_difference"] for e in entries],
                                   [e["se"] ** 2 for e in entries], method="DL", level=level)
    random = result["random"]
    number = binary.nnt(random["estimate"], random["ci_low"], random["ci_high"],
                        events_are_good=not directions.pop(), level=level)
    return {"k": len(entries), "method": "DL", "risk_difference": random["estimate"],
            "se": random["se"], "ci_low": random["ci_low"], "ci_high": random["ci_high"],
            "tau2": result["tau2"], "i2": result["i2"], "q": result["q"],
            "nnt" if side == "benefit" else "nnh": number}


def _pooled(studies: list[dict[str, Any]], level: float) -> dict[str, Any]:
    complete = [s for s in studies if s["complete"]]
    keys = [s["study_key"] for s in complete]
    out: dict[str, Any] = {"k": len(complete), "studies": keys, "benefit": None, "harm": None,
                           "reason": None}
    if len(complete) < 2:
        out["reason"] = (f"{len(complete)} study(ies) count both benefit and harm on the same "
                         "arms; pooling needs at least two")
        return out
    why = []
    for side in SIDES:
        pooled = _pooled_side(side, complete, level)
        if isinstance(pooled, str):
            why.append(pooled)
        else:
            out[side] = pooled
    out["reason"] = "; ".join(why) or None
    return out


def _left_out(rows: list[Any], params: BenefitRiskParams) -> dict[str, Any]:
    hidden = [r for r in rows if r.retracted and r.count is not None and r.denominator
              and not params.include_retracted]
    if not hidden:
        return {}
    return {"retracted": {
        "count": len(hidden), "include_with": "include_retracted=true",
        "results": [{"study_key": r.study_key, "outcome": r.outcome, "arm": r.arm,
                     "timepoint": r.timepoint} for r in hidden]}}


def benefit_risk(session: Session, params: BenefitRiskParams) -> dict[str, Any]:
    """NNT for the benefit and NNH for the harm, per study and pooled (see the module)."""
    stmt = named_outcome_results_select(params, session.get_bind().dialect.name,
                                        [*params.benefit, *params.harm])
    rows = list(session.execute(stmt.limit(MAX_ROWS + 1)).all())
    if len(rows) > MAX_ROWS:
        raise UnprocessableContent(f"the filter chooses more than {MAX_ROWS} results; narrow it")
    by_study: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_study[r.study_key].append(r)
    studies = [_study(key, study_rows, params) for key, study_rows in by_study.items()]
    return {"benefit": params.benefit, "harm": params.harm, "ci_level": params.ci_level,
            "include_retracted": bool(params.include_retracted), "studies": studies,
            "pooled": _pooled(studies, params.ci_level), "excluded": _left_out(rows, params)}
