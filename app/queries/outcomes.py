"""The outcome filter as SQL: effect estimates of the studies the study filter matches."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, false, func, select, true
from sqlalchemy.orm import aliased

from app.enums import Comparison, judgements_at_most
from app.models import (
    Arm,
    EffectEstimate,
    OutcomeMeasure,
    OutcomeResult,
    Provenance,
    Publication,
    RiskOfBias,
    Study,
    Timepoint,
)
from app.queries.study_filter import study_conditions
from app.schemas.filters import OutcomeFilter

ExperimentalArm = aliased(Arm, name="experimental_arm")
ComparatorArm = aliased(Arm, name="comparator_arm")


def _result_n(arm_id: Any) -> Any:
    """The n an arm's result reports for the same outcome and timepoint (first one)."""
    r = OutcomeResult.__table__.c
    e = EffectEstimate.__table__.c
    return (select(r.n).where(r.outcome_measure_id == e.outcome_measure_id,
                              r.timepoint_id == e.timepoint_id, r.arm_id == arm_id,
                              r.n.is_not(None))
            .order_by(r.position).limit(1).scalar_subquery())


def outcome_conditions(f: OutcomeFilter, dialect: str, *, keep_retracted: bool = False,
                       keep_within_arm: bool = False,
                       keep_any_risk: bool = False) -> list[ColumnElement[bool]]:
    e, om, tp = EffectEstimate.__table__.c, OutcomeMeasure.__table__.c, Timepoint.__table__.c
    where = study_conditions(f.study_filter(), dialect)
    if f.study:
        where.append(Study.__table__.c.key.in_(f.study))
    if f.instrument:
        where.append(func.lower(om.instrument).in_([i.casefold() for i in f.instrument]))
    if f.effect_type:
        where.append(e.effect_type.in_(f.effect_type))
    if f.origin:
        where.append(e.origin.in_(f.origin))
    if f.role:
        where.append(om.role.in_(f.role))
    if f.timepoint_months_min is not None:
        where.append(tp.baseline_clock >= f.timepoint_months_min)
    if f.timepoint_months_max is not None:
        where.append(tp.baseline_clock <= f.timepoint_months_max)
    if not keep_within_arm:
        where.extend(comparison_conditions(f.comparison))
    if not (f.include_retracted or keep_retracted):
        where.append(e.retracted == false())
    if f.max_risk_of_bias is not None and not keep_any_risk:
        where.append(risk_of_bias_at_most(f.max_risk_of_bias))
    return where


def risk_of_bias_at_most(level: Any) -> ColumnElement[bool]:
    """Estimates assessed with an overall judgement at most `level` (RoB 2 scale): a
    semi-join on the assessment's unique effect key, read through its index on overall."""
    rob = RiskOfBias.__table__.c
    return EffectEstimate.__table__.c.id.in_(
        select(rob.effect_estimate_id).where(rob.overall.in_(judgements_at_most(level))))


def comparison_conditions(comparison: list[Comparison]) -> list[ColumnElement[bool]]:
    e = EffectEstimate.__table__.c
    if set(comparison) == {Comparison.BETWEEN_ARMS}:
        return [e.comparator_arm_id.is_not(None)]
    if set(comparison) == {Comparison.WITHIN_ARM}:
        return [e.comparator_arm_id.is_(None)]
    return []


def outcome_select(f: OutcomeFilter, dialect: str, *, keep_retracted: bool = False,
                   keep_within_arm: bool = False, keep_any_risk: bool = False) -> Select[Any]:
    """One row per effect estimate, with its study, outcome, timepoint and arms (unordered).

    `keep_retracted`, `keep_within_arm` and `keep_any_risk` keep retracted estimates,
    within-arm changes and estimates above `max_risk_of_bias` whatever the filter says, for
    callers that report what they leave out."""
    e, s = EffectEstimate.__table__.c, Study.__table__.c
    om, tp = OutcomeMeasure.__table__.c, Timepoint.__table__.c
    return (
        select(
            e.id, e.study_id, s.key.label("study_key"), s.title.label("study_title"),
            s.acronym.label("study_acronym"), s.phase.label("study_phase"),
            om.name.label("outcome"), om.instrument, om.role, om.unit, om.lower_is_better,
            om.position.label("outcome_position"), e.position.label("effect_position"),
            tp.label.label("timepoint"), tp.role.label("timepoint_role"),
            tp.baseline_clock.label("timepoint_months"),
            tp.treatment_clock.label("timepoint_months_after_treatment"),
            e.comparator_arm_id,
            ExperimentalArm.label.label("experimental_arm"),
            ComparatorArm.label.label("comparator_arm"),
            ExperimentalArm.arm_type.label("experimental_arm_type"),
            ComparatorArm.arm_type.label("comparator_arm_type"),
            ExperimentalArm.n_randomized.label("experimental_n_randomized"),
            ComparatorArm.n_randomized.label("comparator_n_randomized"),
            _result_n(e.experimental_arm_id).label("experimental_result_n"),
            _result_n(e.comparator_arm_id).label("comparator_result_n"),
            e.effect_type, e.value, e.ci_low, e.ci_high, e.ci_level, e.se, e.p_value,
            e.p_value_relation, e.analysis_population, e.origin, e.retracted, e.as_reported,
            e.inputs, e.notes,
        )
        .select_from(EffectEstimate.__table__)
        .join(Study.__table__, s.id == e.study_id)
        .join(OutcomeMeasure.__table__, om.id == e.outcome_measure_id)
        .join(Timepoint.__table__, tp.id == e.timepoint_id)
        .join(ExperimentalArm, ExperimentalArm.id == e.experimental_arm_id)
        .outerjoin(ComparatorArm, ComparatorArm.id == e.comparator_arm_id)
        .where(*outcome_conditions(f, dialect, keep_retracted=keep_retracted,
                                   keep_within_arm=keep_within_arm,
                                   keep_any_risk=keep_any_risk))
    )


def outcome_tally_select(f: OutcomeFilter, dialect: str,
                         *columns: ColumnElement[Any]) -> Select[Any]:
    """`columns` (aggregates over the effect_estimate columns) for every estimate the filter
    matches, retracted estimates and within-arm changes included: the joins the filter needs
    and nothing of a row's presentation."""
    e, s = EffectEstimate.__table__.c, Study.__table__.c
    om, tp = OutcomeMeasure.__table__.c, Timepoint.__table__.c
    return (select(*columns).select_from(EffectEstimate.__table__)
            .join(Study.__table__, s.id == e.study_id)
            .join(OutcomeMeasure.__table__, om.id == e.outcome_measure_id)
            .join(Timepoint.__table__, tp.id == e.timepoint_id)
            .where(*outcome_conditions(f, dialect, keep_retracted=True, keep_within_arm=True)))


def left_out_select(f: OutcomeFilter, dialect: str, kept: set[Comparison]) -> Select[Any]:
    """Three counts over the filter's estimates: the retracted ones among the comparisons
    kept, the within-arm changes and the between-arm contrasts among those shown."""
    c = EffectEstimate.__table__.c
    shown = true() if f.include_retracted else c.retracted == false()
    comparison_kept = (true() if kept == set(Comparison)
                       else c.comparator_arm_id.is_not(None) if Comparison.BETWEEN_ARMS in kept
                       else c.comparator_arm_id.is_(None))

    def count(*conditions: Any) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

    return outcome_tally_select(f, dialect, count(c.retracted == true(), comparison_kept),
                                count(c.comparator_arm_id.is_(None), shown),
                                count(c.comparator_arm_id.is_not(None), shown))


def effect_sources_select(effect_ids: list[int]) -> Select[Any]:
    """The sources of some effect estimates, with each publication's retraction status."""
    p, pub = Provenance.__table__.c, Publication.__table__.c
    return (
        select(p.effect_estimate_id, p.registry_record, p.source_url, p.locator,
               pub.id.label("publication_id"), pub.doi, pub.pmid, pub.citation,
               pub.title.label("publication_title"), pub.retraction_status,
               pub.retraction_date, pub.retraction_reason)
        .select_from(Provenance.__table__)
        .outerjoin(Publication.__table__, pub.id == p.publication_id)
        .where(p.effect_estimate_id.in_(effect_ids))
        .order_by(p.effect_estimate_id, p.id)
    )
