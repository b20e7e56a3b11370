"""Selects for durability and benefit against harm: arm-level results with their study,
outcome, arm and timepoint, for the studies the study filter matches."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select

from app.models import (
    Arm,
    EffectEstimate,
    OutcomeMeasure,
    OutcomeResult,
    RiskOfBias,
    Study,
    Timepoint,
)
from app.queries.study_filter import study_conditions
from app.schemas.synthesis import SynthesisFilter


def _study_where(f: SynthesisFilter, dialect: str) -> list[ColumnElement[bool]]:
    where = study_conditions(f.study_filter(), dialect)
    if f.study:
        where.append(Study.__table__.c.key.in_(f.study))
    return where


def _result_columns() -> list[Any]:
    s, om = Study.__table__.c, OutcomeMeasure.__table__.c
    r, a, tp = OutcomeResult.__table__.c, Arm.__table__.c, Timepoint.__table__.c
    return [
        r.id, s.id.label("study_id"), s.key.label("study_key"), s.title.label("study_title"),
        s.acronym.label("study_acronym"), s.treatment_end_months,
        om.id.label("outcome_id"), om.name.label("outcome"), om.instrument, om.unit,
        om.lower_is_better, a.id.label("arm_id"), a.label.label("arm"), a.arm_type,
        tp.id.label("timepoint_id"), tp.label.label("timepoint"),
        tp.role.label("timepoint_role"), tp.baseline_clock, tp.treatment_clock,
        r.n, r.mean, r.sd, r.se, r.change_mean, r.change_sd, r.change_se, r.ci_low, r.ci_high,
        r.count, r.denominator, r.percent, r.retracted,
    ]


def _joined(stmt: Select[Any]) -> Select[Any]:
    s, om = Study.__table__.c, OutcomeMeasure.__table__.c
    r, a, tp = OutcomeResult.__table__.c, Arm.__table__.c, Timepoint.__table__.c
    return (stmt.select_from(OutcomeResult.__table__)
            .join(OutcomeMeasure.__table__, om.id == r.outcome_measure_id)
            .join(Study.__table__, s.id == om.study_id)
            .join(Arm.__table__, a.id == r.arm_id)
            .join(Timepoint.__table__, tp.id == r.timepoint_id))


def score_results_select(f: SynthesisFilter, dialect: str) -> Select[Any]:
    """Every result that gives a score (a mean or a change from baseline), retracted ones
    too, of the studies the filter matches; `instrument` narrows the outcomes. Ordered by
    study, outcome, arm and timepoint as the study lists them."""
    om, r = OutcomeMeasure.__table__.c, OutcomeResult.__table__.c
    a, tp, s = Arm.__table__.c, Timepoint.__table__.c, Study.__table__.c
    where = [*_study_where(f, dialect), or_(r.mean.is_not(None), r.change_mean.is_not(None))]
    if f.instrument:
        where.append(func.lower(om.instrument).in_([i.casefold() for i in f.instrument]))
    return (_joined(select(*_result_columns())).where(*where)
            .order_by(s.key, om.position, om.id, a.position, a.id, tp.position, tp.id,
                      r.position, r.id))


def timepoints_select(study_ids: list[int]) -> Select[Any]:
    """Every timepoint of some studies, in the order each study lists them."""
    tp = Timepoint.__table__.c
    return (select(Timepoint.__table__).where(tp.study_id.in_(study_ids))
            .order_by(tp.study_id, tp.position, tp.id))


def named_outcome_results_select(f: SynthesisFilter, dialect: str,
                                 names: list[str]) -> Select[Any]:
    """The outcome measures named (by name or instrument, any case) in the studies the
    filter matches, each with its results (a measure without results gives one row of
    nulls), retracted ones too."""
    s, om = Study.__table__.c, OutcomeMeasure.__table__.c
    r, a, tp = OutcomeResult.__table__.c, Arm.__table__.c, Timepoint.__table__.c
    folded = [n.casefold() for n in names]
    columns = [c for c in _result_columns() if c.name != "id"]
    return (
        select(r.id, *columns)
        .select_from(OutcomeMeasure.__table__)
        .join(Study.__table__, s.id == om.study_id)
        .outerjoin(OutcomeResult.__table__, r.outcome_measure_id == om.id)
        .outerjoin(Arm.__table__, a.id == r.arm_id)
        .outerjoin(Timepoint.__table__, tp.id == r.timepoint_id)
        .where(*_study_where(f, dialect),
               or_(func.lower(om.name).in_(folded), func.lower(om.instrument).in_(folded)))
        .order_by(s.key, om.position, om.id, a.position, a.id, tp.position, tp.id,
                  r.position, r.id)
    )


def effect_judgements_select(study_ids: list[int]) -> Select[Any]:
    """The effects of some studies with their assessment's tool and overall judgement (null
    when not assessed): what each compares (outcome, timepoint, arms)."""
    e, rob = EffectEstimate.__table__.c, RiskOfBias.__table__.c
    return (select(e.outcome_measure_id, e.timepoint_id, e.experimental_arm_id,
                   e.comparator_arm_id, rob.tool, rob.overall)
            .select_from(EffectEstimate.__table__)
            .outerjoin(RiskOfBias.__table__, rob.effect_estimate_id == e.id)
            .where(e.study_id.in_(study_ids)))
