"""The statements that read a page of study documents: one per table for the whole page,
built once and run on the driver (app.queries.direct); each binds only the page's ids."""

from __future__ import annotations

from sqlalchemy import func, select

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
from app.queries.direct import Direct, in_ids

_p, _rid, _sc = Provenance.__table__.c, RegistryId.__table__.c, StudyCondition.__table__.c
_ai, _iv, _kw = ArmIntervention.__table__.c, Intervention.__table__.c, StudyKeyword.__table__.c
_rel, _st, _rob = StudyRelation.__table__.c, Study.__table__.c, RiskOfBias.__table__.c
_sp, _arm, _tp = StudyPublication.__table__.c, Arm.__table__.c, Timepoint.__table__.c
_om, _ee, _res = (OutcomeMeasure.__table__.c, EffectEstimate.__table__.c,
                  OutcomeResult.__table__.c)

# What a source says and what it sources, in the order app.services.documents unpacks them.
SOURCES = Direct(select(_p.study_id, _p.publication_id, _p.registry_record, _p.source_url,
                        _p.locator, _p.arm_id, _p.timepoint_id, _p.outcome_result_id,
                        _p.effect_estimate_id).where(in_ids(_p.study_id)).order_by(_p.id))
# The sources of the study itself (none of its arms, timepoints, results or effects). One
# test of the four ids together, which no index answers: SQLite otherwise searches the index
# of one of them for NULL (most of the table) instead of the study's (0.2 s at 100,000
# studies against a fraction of a millisecond).
STUDY_SOURCES = Direct(select(_p.study_id, _p.publication_id, _p.registry_record,
                              _p.source_url, _p.locator, _p.arm_id, _p.timepoint_id,
                              _p.outcome_result_id, _p.effect_estimate_id)
                       .where(in_ids(_p.study_id),
                              func.coalesce(_p.arm_id, _p.timepoint_id, _p.outcome_result_id,
                                            _p.effect_estimate_id).is_(None))
                       .order_by(_p.id))
REGISTRY_IDS = Direct(select(_rid.study_id, _rid.registry, _rid.identifier)
                      .where(in_ids(_rid.study_id)).order_by(_rid.id))
CONDITIONS = Direct(select(_sc.study_id, _sc.label).where(in_ids(_sc.study_id))
                    .order_by(_sc.study_id, _sc.position))
INTERVENTION_NAMES = Direct(select(_ai.study_id, _iv.name)
                            .join(Intervention.__table__, _iv.id == _ai.intervention_id)
                            .where(in_ids(_ai.study_id))
                            .order_by(_ai.study_id, _ai.arm_id, _ai.position))
KEYWORDS = Direct(select(_kw.study_id, _kw.keyword).where(in_ids(_kw.study_id))
                  .order_by(_kw.position))
RELATIONS = Direct(select(_rel.study_id, _rel.relation_type, _st.key)
                   .join(Study.__table__, _st.id == _rel.target_study_id)
                   .where(in_ids(_rel.study_id)).order_by(_rel.id))
REFERENCED_BY = Direct(select(_rel.target_study_id, _rel.relation_type, _st.key)
                       .join(Study.__table__, _st.id == _rel.study_id)
                       .where(in_ids(_rel.target_study_id), _st.deleted_at.is_(None))
                       .order_by(_rel.id))
PUBLICATIONS = Direct(select(_sp.study_id, _sp.ref, _sp.role, _sp.publication_id,
                             Publication.__table__)
                      .join(Publication.__table__,
                            Publication.__table__.c.id == _sp.publication_id)
                      .where(in_ids(_sp.study_id)).order_by(_sp.study_id, _sp.position))
ARMS = Direct(select(Arm.__table__).where(in_ids(_arm.study_id))
              .order_by(_arm.study_id, _arm.position))
TIMEPOINTS = Direct(select(Timepoint.__table__).where(in_ids(_tp.study_id))
                    .order_by(_tp.study_id, _tp.position))
ARM_INTERVENTIONS = Direct(select(ArmIntervention.__table__,
                                  _iv.name.label("intervention_name"),
                                  _iv.type.label("intervention_type"))
                           .join(Intervention.__table__, _iv.id == _ai.intervention_id)
                           .where(in_ids(_ai.study_id)).order_by(_ai.arm_id, _ai.position))
OUTCOME_MEASURES = Direct(select(OutcomeMeasure.__table__).where(in_ids(_om.study_id))
                          .order_by(_om.study_id, _om.position))
# Each effect with its risk-of-bias assessment's tool, overall and domains (one outer join on
# a unique key).
EFFECTS = Direct(select(EffectEstimate.__table__, _rob.tool.label("rob_tool"),
                        _rob.overall.label("rob_overall"), _rob.domains.label("rob_domains"))
                 .outerjoin(RiskOfBias.__table__, _rob.effect_estimate_id == _ee.id)
                 .where(in_ids(_ee.study_id))
                 .order_by(_ee.outcome_measure_id, _ee.position, _ee.id))
# By the measures' study, so that it needs no earlier statement's rows.
RESULTS = Direct(select(OutcomeResult.__table__)
                 .join(OutcomeMeasure.__table__, _om.id == _res.outcome_measure_id)
                 .where(in_ids(_om.study_id))
                 .order_by(_res.outcome_measure_id, _res.position))
