"""Durability: how each arm's score moves over time, on both clocks.

For every study the filter matches, every timepoint placed on months since baseline and
months after treatment (DESIGN, "Two clocks"), with its retention (n assessed of n eligible)
and whether the comparison was still controlled; and per outcome and arm, the scores at those
timepoints (mean and change from baseline, as reported). A study appears when it has a score;
retracted results are left out unless `include_retracted` is true, and the answer names them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from app.errors import UnprocessableContent
from app.queries.synthesis import score_results_select, timepoints_select
from app.schemas.synthesis import SynthesisFilter
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


def _left_out(rows: list[Any]) -> dict[str, Any]:
    if not rows:
        return {}
    return {"retracted": {
        "count": len(rows), "include_with": INCLUDE_RETRACTED,
        "results": [{"study_key": r.study_key, "outcome": r.outcome, "arm": r.arm,
                     "timepoint": r.timepoint} for r in rows]}}


def durability(session: Session, params: SynthesisFilter) -> dict[str, Any]:
    """Every matching study's timepoints on both clocks and its arms' scores at them."""
    stmt = score_results_select(params, session.get_bind().dialect.name)
    rows = session.execute(stmt.limit(MAX_RESULTS + 1)).all()
    if len(rows) > MAX_RESULTS:
        raise UnprocessableContent(f"the filter chooses more than {MAX_RESULTS} results; "
                                   "narrow it (study, instrument, …)")
    kept = [r for r in rows if params.include_retracted or not r.retracted]
    dropped = [r for r in rows if r.retracted and not params.include_retracted]
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
            "excluded": _left_out(dropped)}
