"""The SQL of risk-of-bias assessments: an effect with its study, its assessment, the refs
of its study's publications, and the assessments of a study keyed by the effect they judge
(so that a study rewrite can hand each to the same effect written again)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Delete, Insert, Select, delete, insert, select
from sqlalchemy.orm import aliased

from app.models import (
    ApiKey,
    Arm,
    EffectEstimate,
    OutcomeMeasure,
    RiskOfBias,
    Study,
    StudyPublication,
    Timepoint,
)

_rob, _e, _s = RiskOfBias.__table__.c, EffectEstimate.__table__.c, Study.__table__.c
_om, _tp = OutcomeMeasure.__table__.c, Timepoint.__table__.c
_Experimental = aliased(Arm, name="rob_experimental_arm")
_Comparator = aliased(Arm, name="rob_comparator_arm")

# What identifies an effect within its study across a rewrite (ids do not survive one).
EFFECT_IDENTITY = ("outcome", "timepoint", "experimental_arm", "comparator_arm",
                   "effect_type", "analysis_population")


def effect_with_study(effect_id: int) -> Select[Any]:
    """An effect estimate's id with its study's id, key, version and deletion time."""
    return (select(_e.id, _s.id.label("study_id"), _s.key.label("study_key"),
                   _s.version.label("study_version"), _s.deleted_at)
            .join(Study.__table__, _s.id == _e.study_id).where(_e.id == effect_id))


def assessment(effect_id: int) -> Select[Any]:
    """The assessment of an effect, with the name of the key that judged it."""
    k = ApiKey.__table__.c
    return (select(RiskOfBias.__table__, k.name.label("judge_name"))
            .outerjoin(ApiKey.__table__, k.id == _rob.judged_by)
            .where(_rob.effect_estimate_id == effect_id))


def publication_refs(study_id: int) -> Select[Any]:
    """The refs a study's document gives its publications."""
    sp = StudyPublication.__table__.c
    return select(sp.ref).where(sp.study_id == study_id)


def _identified(*columns: Any) -> Select[Any]:
    return (select(*columns, _om.name.label("outcome"), _tp.label.label("timepoint"),
                   _Experimental.label.label("experimental_arm"),
                   _Comparator.label.label("comparator_arm"), _e.effect_type,
                   _e.analysis_population)
            .select_from(EffectEstimate.__table__)
            .join(OutcomeMeasure.__table__, _om.id == _e.outcome_measure_id)
            .join(Timepoint.__table__, _tp.id == _e.timepoint_id)
            .join(_Experimental, _Experimental.id == _e.experimental_arm_id)
            .outerjoin(_Comparator, _Comparator.id == _e.comparator_arm_id))


def study_effects(study_id: int) -> Select[Any]:
    """A study's effects with what identifies each, in document order."""
    return (_identified(_e.id).where(_e.study_id == study_id)
            .order_by(_om.position, _e.position, _e.id))


def study_assessments(study_id: int) -> Select[Any]:
    """A study's assessments with what identifies the effect each judges, in document
    order."""
    return (_identified(RiskOfBias.__table__)
            .join(RiskOfBias.__table__, _rob.effect_estimate_id == _e.id)
            .where(_e.study_id == study_id)
            .order_by(_om.position, _e.position, _e.id))


def remove(ids: list[int]) -> Delete:
    return delete(RiskOfBias).where(RiskOfBias.id.in_(ids))


def put_back() -> Insert:
    """Insert assessments as they were (same id, version and times), given as rows."""
    return insert(RiskOfBias)


def with_risk_of_bias(stmt: Select[Any]) -> Select[Any]:
    """An /outcomes row select with the tool, overall and domains of each effect's
    assessment (null without one): one outer join on a unique key."""
    return (stmt.outerjoin(RiskOfBias.__table__,
                           _rob.effect_estimate_id == stmt.selected_columns.id)
            .add_columns(_rob.tool.label("rob_tool"), _rob.overall.label("rob_overall"),
                         _rob.domains.label("rob_domains")))


def study_effects_by_key(study_key: str) -> Select[Any]:
    """A live study's effects with what identifies each and the id of its assessment (null
    when not assessed), in document order."""
    return (_identified(_e.id, _rob.id.label("assessment_id"))
            .join(Study.__table__, _s.id == _e.study_id)
            .outerjoin(RiskOfBias.__table__, _rob.effect_estimate_id == _e.id)
            .where(_s.key == study_key, _s.deleted_at.is_(None))
            .order_by(_om.position, _e.position, _e.id))
