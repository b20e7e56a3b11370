"""Durability: how each arm's score moves over time, on both clocks.

For every study the filter matches, every timepoint placed on months since baseline and
months after treatment (DESIGN, "Two clocks"), with its retention (n assessed of n eligible)
and whether the comparison was still controlled; and per outcome and arm, the scores at those
timepoints (mean and change from baseline, as reported). A study appears when it has a score;
retracted results are left out unless `include_retracted` is true, and the answer names them;
so are, with `max_risk_of_bias`, the scores whose effects are judged above it or not assessed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from app.enums import TimepointRole
from app.errors import UnprocessableContent
from app.queries.synthesis import (
    effect_judgements_select,
    score_results_select,
    timepoints_select,
)
from app.schemas.synthesis import DurabilityParams
from app.services import bias
from app.services.documents import clocks_of

MAX_RESULTS = 20_000
POINT_FIELDS = ("n", "mean", "sd", "se", "change_mean", "change_sd", "change_se", "ci_low",
                "ci_high", "retracted")
INCLUDE_RETRACTED = "include_retracted=true"


def _timepoint(t: Any) -> dict[str, Any]:
    clocks = clocks_of(t)
    retention = (t.n_assessed / t.n_eligible
                 if t.n_assessed is not None and t.n_eligible else None)
    return {"id": t.id, "label": t.label, "role": t.role, "anchor": t.anchor,
            "months_mean": t.months_mean, "months_sd": t.months_sd,
            "since_baseline": clocks["since_baseline"],
            "after_treatment": clocks["after_treatment"],
            "n_assessed": t.n_assessed, "n_eligible": t.n_eligible, "retention": retention,
            "controlled": t.controlled}


def _series(rows: list[Any]) -> list[dict[str, Any]]:
    """One series per outcome and arm, its points in the order the rows come."""
    series: dict[tuple[int, int], dict[str, Any]] = {}
    for r in rows:
        entry = series.setdefault((r.outcome_id, r.arm_id), {
            "outcome": r.outcome, "instrument": r.instrument, "unit": r.unit,
            "lower_is_better": r.lower_is_better, "arm": r.arm, "arm_type": r.arm_type,
            "points": []})
        entry["points"].append({"timepoint_id": r.timepoint_id, "timepoint": r.timepoint,
                                **{name: getattr(r, name) for name in POINT_FIELDS}})
    return list(series.values())


def _left_out(rows: list[Any], biased: list[tuple[Any, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rows:
        out["retracted"] = {
            "count": len(rows), "include_with": INCLUDE_RETRACTED,
            "results": [{"study_key": r.study_key, "outcome": r.outcome, "arm": r.arm,
                         "timepoint": r.timepoint} for r in rows]}
    if biased:
        out["risk_of_bias"] = {
            "count": len(biased), "include_with": "omit max_risk_of_bias",
            "results": [{"study_key": r.study_key, "outcome": r.outcome, "arm": r.arm,
                         "timepoint": r.timepoint, "reason": why} for r, why in biased]}
    return out


def _judged(session: Session, rows: list[Any], params: DurabilityParams
            ) -> tuple[list[Any], list[tuple[Any, str]]]:
    """The scores `max_risk_of_bias` keeps, and those it leaves out with the reason: a
    score is judged by the most severe assessment of the effects that compare its arm at
    its outcome and timepoint; a baseline score stays with a kept score of its series."""
    if params.max_risk_of_bias is None or not rows:
        return rows, []
    judged: dict[tuple[int, int, int], list[tuple[str, str]]] = defaultdict(list)
    for j in session.execute(effect_judgements_select(sorted({r.study_id for r in rows}))):
        if j.overall is not None:
            for arm in (j.experimental_arm_id, j.comparator_arm_id):
                judged[(j.outcome_measure_id, j.timepoint_id, arm)].append((j.tool, j.overall))
    kept: list[Any] = []
    reasons: dict[int, str] = {}
    for r in rows:
        found = judged.get((r.outcome_id, r.timepoint_id, r.arm_id))
        worst = max(found, key=lambda tj: bias.severity(tj[1])) if found else (None, None)
        why = bias.left_out(worst[0], worst[1], params.max_risk_of_bias)
        if why is None:
            kept.append(r)
        else:
            reasons[r.id] = why["reason"]
    series = {(r.outcome_id, r.arm_id) for r in kept}
    baseline = [r for r in rows if r.id in reasons and r.timepoint_role == TimepointRole.BASELINE
                and (r.outcome_id, r.arm_id) in series]
    keep = {r.id for r in kept} | {r.id for r in baseline}
    return ([r for r in rows if r.id in keep],
            [(r, reasons[r.id]) for r in rows if r.id not in keep])


def durability(session: Session, params: DurabilityParams) -> dict[str, Any]:
    """Every matching study's timepoints on both clocks and its arms' scores at them."""
    stmt = score_results_select(params, session.get_bind().dialect.name)
    rows = session.execute(stmt.limit(MAX_RESULTS + 1)).all()
    if len(rows) > MAX_RESULTS:
        raise UnprocessableContent(f"the filter chooses more than {MAX_RESULTS} results; "
                                   "narrow it (study, instrument, …)")
    kept = [r for r in rows if params.include_retracted or not r.retracted]
    dropped = [r for r in rows if r.retracted and not params.include_retracted]
    kept, biased = _judged(session, kept, params)
    by_study: dict[int, list[Any]] = defaultdict(list)
    for r in kept:
        by_study[r.study_id].append(r)
    timepoints: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if by_study:
        for t in session.execute(timepoints_select(list(by_study))):
            timepoints[t.study_id].append(_timepoint(t))
    studies = []
    for study_id, study_rows in by_study.items():
        first = study_rows[0]
        studies.append({"study_key": first.study_key, "study_title": first.study_title,
                        "study_acronym": first.study_acronym,
                        "treatment_end_months": first.treatment_end_months,
                        "timepoints": timepoints[study_id], "series": _series(study_rows)})
    return {"include_retracted": bool(params.include_retracted), "studies": studies,
            "excluded": _left_out(dropped, biased)}
