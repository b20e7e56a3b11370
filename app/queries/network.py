"""The selects of a network meta-analysis: the outcome filter's estimates (narrowed by outcome
name) and the arms of their studies with each arm's interventions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select

from app.models import Arm, ArmIntervention, Intervention, OutcomeMeasure
from app.queries.appraisal import with_risk_of_bias
from app.queries.outcomes import outcome_select
from app.schemas.network import NetworkSelection


def network_estimates_select(f: NetworkSelection, dialect: str) -> Select[Any]:
    """Every estimate the filter chooses, retracted ones, within-arm changes and those above
    `max_risk_of_bias` included (the answer says why it leaves them out), with its risk of
    bias, ordered by study and id."""
    stmt = with_risk_of_bias(outcome_select(f, dialect, keep_retracted=True,
                                            keep_within_arm=True, keep_any_risk=True))
    if f.outcome:
        om = OutcomeMeasure.__table__.c
        stmt = stmt.where(func.lower(om.name).in_([o.casefold() for o in f.outcome]))
    return stmt.order_by(stmt.selected_columns.study_key, stmt.selected_columns.id)


def study_arms_select(study_ids: list[int]) -> Select[Any]:
    """The arms of some studies, one row per arm and intervention (an arm without any
    intervention once, with a null name), in document order."""
    a, ai, i = Arm.__table__.c, ArmIntervention.__table__.c, Intervention.__table__.c
    return (select(a.id, a.study_id, a.label, a.arm_type, a.description,
                   i.name.label("intervention"))
            .select_from(Arm.__table__)
            .outerjoin(ArmIntervention.__table__, ai.arm_id == a.id)
            .outerjoin(Intervention.__table__, i.id == ai.intervention_id)
            .where(a.study_id.in_(study_ids))
            .order_by(a.study_id, a.position, a.id, ai.position, ai.id))
