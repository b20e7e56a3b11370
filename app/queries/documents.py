"""The statements that read a page of study documents: one per table for the whole page,
built once (each page binds only its ids, as `ids`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, bindparam, select

from app.models import (
    Arm,
    ArmIntervention,
    EffectEstimate,
    Intervention,
    OutcomeMeasure,
    OutcomeResult,
    Provenance,
    Publication,
    RegistryId,
    RiskOfBias,
    Study,
    StudyCondition,
    StudyKeyword,
    StudyPublication,
    StudyRelation,
    Timepoint,
)

_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_p, _rid, _sc = Provenance.__table__.c, RegistryId.__table__.c, StudyCondition.__table__.c
_ai, _iv, _kw = ArmIntervention.__table__.c, Intervention.__table__.c, StudyKeyword.__table__.c
_rel, _st, _rob = StudyRelation.__table__.c, Study.__table__.c, RiskOfBias.__table__.c
_sp, _arm, _tp = StudyPublication.__table__.c, Arm.__table__.c, Timepoint.__table__.c
_om, _ee, _res = (OutcomeMeasure.__table__.c, EffectEstimate.__table__.c,
                  OutcomeResult.__table__.c)

SOURCES = select(Provenance.__table__).where(_p.study_id.in_(_IDS)).order_by(_p.id)
REGISTRY_IDS = (select(_rid.study_id, _rid.registry, _rid.identifier)
                .where(_rid.study_id.in_(_IDS)).order_by(_rid.id))
CONDITIONS = (select(_sc.study_id, _sc.label).where(_sc.study_id.in_(_IDS))
              .order_by(_sc.study_id, _sc.position))
INTERVENTION_NAMES = (select(_ai.study_id, _iv.name)
                      .join(Intervention.__table__, _iv.id == _ai.intervention_id)
                      .where(_ai.study_id.in_(_IDS))
                      .order_by(_ai.study_id, _ai.arm_id, _ai.position))
KEYWORDS = (select(_kw.study_id, _kw.keyword).where(_kw.study_id.in_(_IDS))
            .order_by(_kw.position))
RELATIONS = (select(_rel.study_id, _rel.relation_type, _st.key)
             .join(Study.__table__, _st.id == _rel.target_study_id)
             .where(_rel.study_id.in_(_IDS)).order_by(_rel.id))
REFERENCED_BY = (select(_rel.target_study_id, _rel.relation_type, _st.key)
                 .join(Study.__table__, _st.id == _rel.study_id)
                 .where(_rel.target_study_id.in_(_IDS), _st.deleted_at.is_(None))
                 .order_by(_rel.id))
PUBLICATIONS = (select(_sp.study_id, _sp.ref, _sp.role, _sp.publication_id,
                       Publication.__table__)
                .join(Publication.__table__, Publication.__table__.c.id == _sp.publication_id)
                .where(_sp.study_id.in_(_IDS)).order_by(_sp.study_id, _sp.position))
ARMS = select(Arm.__table__).where(_arm.study_id.in_(_IDS)).order_by(_arm.study_id,
                                                                     _arm.position)
TIMEPOINTS = select(Timepoint.__table__).where(_tp.study_id.in_(_IDS)).order_by(
    _tp.study_id, _tp.position)
ARM_INTERVENTIONS = (select(ArmIntervention.__table__,
                            _iv.name.label("intervention_name"),
                            _iv.type.label("intervention_type"))
                     .join(Intervention.__table__, _iv.id == _ai.intervention_id)
                     .where(_ai.study_id.in_(_IDS)).order_by(_ai.arm_id, _ai.position))
OUTCOME_MEASURES = select(OutcomeMeasure.__table__).where(_om.study_id.in_(_IDS)).order_by(
    _om.study_id, _om.position)
# Each effect with its risk-of-bias assessment's tool, overall and domains (one outer join on
# a unique key).
EFFECTS = (select(EffectEstimate.__table__, _rob.tool.label("rob_tool"),
                  _rob.overall.label("rob_overall"), _rob.domains.label("rob_domains"))
           .outerjoin(RiskOfBias.__table__, _rob.effect_estimate_id == _ee.id)
           .where(_ee.study_id.in_(_IDS)).order_by(_ee.outcome_measure_id, _ee.position, _ee.id))
RESULTS = (select(OutcomeResult.__table__).where(_res.outcome_measure_id.in_(_IDS))
           .order_by(_res.outcome_measure_id, _res.position))
