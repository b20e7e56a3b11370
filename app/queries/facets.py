"""Facet counts as SQL: each groups the studies a StudyFilter matches by one attribute."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    case,
    distinct,
    func,
    literal_column,
    select,
    true,
    type_coerce,
    union,
)

from app.models import (
    ArmIntervention,
    Condition,
    EffectEstimate,
    Intervention,
    Publication,
    RiskOfBias,
    Study,
    StudyCondition,
    StudyCountry,
    StudyFlag,
    StudyPublication,
)
from app.queries.studies import study_ids_select
from app.queries.study_filter import condition_ids, study_conditions
from app.schemas.filters import FOLLOW_UP_BOUNDS, FollowUpBucket, StudyFilter

# The /studies parameter each facet's values are given to.
FACET_PARAMS = {"phase": "phase", "status": "status", "study_type": "study_type",
                "allocation": "allocation", "masking": "masking",
                "intervention": "intervention", "intervention_type": "intervention_type",
                "condition": "condition", "country": "country",
                "retraction_status": "retraction_status", "follow_up": "follow_up",
                "has_results": "has_results", "flag": "flag"}


def _follow_up_bucket() -> Any:
    months = Study.__table__.c.follow_up_months_max
    # Literal constants, so GROUP BY repeats the very expression the SELECT has.
    whens: list[Any] = []
    for bucket, (low, high) in FOLLOW_UP_BOUNDS.items():
        term = (months < literal_column(str(high)) if high is not None
                else months >= literal_column(str(low)))
        whens.append((term, literal_column(f"'{bucket.value}'")))
    return case(*whens, else_=literal_column(f"'{FollowUpBucket.NONE.value}'"))


def is_study_column(name: str) -> bool:
    """Whether a facet groups by a value of the study row itself."""
    return name in _STUDY_COLUMNS


def _study_column(name: str) -> Any:
    return _follow_up_bucket() if name == "follow_up" else _STUDY_COLUMNS[name]


def on_links(names: list[str], f: StudyFilter) -> bool:
    """Whether these facets' counts under this filter can be read from the links of the
    filter's condition alone: one condition name (so one condition, and no study counted
    twice), facets and filters among the study values the links carry."""
    if len(f.condition) != 1 or not set(names) <= _LINK_COLUMNS.keys():
        return False
    return all(name in _LINK_FILTERS or getattr(f, name) == field.get_default()
               for name, field in StudyFilter.model_fields.items())


def _link_conditions(f: StudyFilter) -> list[ColumnElement[bool]]:
    """`study_conditions` for a filter `on_links` accepts, on the links' copies of the
    study's values: one range of the (condition, live, phase, status, enrollment) index."""
    sc = StudyCondition.__table__.c
    where = [sc.condition_id.in_(condition_ids(f.condition)), sc.study_live == true()]
    if f.phase:
        where.append(sc.study_phase.in_([v.value for v in f.phase]))
    if f.status:
        where.append(sc.study_status.in_([v.value for v in f.status]))
    if f.min_enrollment is not None:
        where.append(sc.study_enrollment >= f.min_enrollment)
    if f.max_enrollment is not None:
        where.append(sc.study_enrollment <= f.max_enrollment)
    return where


def crosstab_select(names: list[str], f: StudyFilter, dialect: str) -> Select[Any]:
    """Study counts by every combination of several study-column facets, in one pass over
    the matching studies: each facet's counts are the sums over the others (its margins)."""
    if on_links(names, f):
        columns = [_LINK_COLUMNS[name].label(name) for name in names]
        where = _link_conditions(f)
    else:
        columns = [_study_column(name).label(name) for name in names]
        where = study_conditions(f, dialect)
    return select(*columns, func.count().label("count")).where(*where).group_by(*columns)


def facet_select(name: str, f: StudyFilter, dialect: str) -> Select[Any]:
    """(value, count) rows of one facet, most frequent first."""
    if name in _STUDY_COLUMNS:
        linked = on_links([name], f)
        column = _LINK_COLUMNS[name] if linked else _study_column(name)
        where = _link_conditions(f) if linked else study_conditions(f, dialect)
        count = func.count()
        stmt = (select(column.label("value"), count.label("count"))
                .where(*where).where(column.is_not(None)).group_by(column))
        return stmt.order_by(count.desc(), column)
    ids = study_ids_select(f, dialect)
    ai, iv = ArmIntervention.__table__.c, Intervention.__table__.c
    sc, c = StudyCondition.__table__.c, Condition.__table__.c
    sp, pub = StudyPublication.__table__.c, Publication.__table__.c
    country = StudyCountry.__table__.c
    value: Any
    if name in ("intervention", "intervention_type"):
        value = iv.name if name == "intervention" else iv.type
        stmt, count = _linked(value, ai.study_id, ids, Intervention.__table__,
                              iv.id == ai.intervention_id, [value])
    elif name == "condition":
        value = c.name
        stmt, count = _linked(value, sc.study_id, ids, Condition.__table__,
                              c.id == sc.condition_id, [c.id, c.name])
    elif name == "country":
        # The filter matches countries case-insensitively, so the facet groups them so too.
        value = func.min(country.country)
        count = func.count(distinct(country.study_id))
        stmt = (select(value.label("value"), count.label("count"))
                .where(country.study_id.in_(ids)).group_by(func.lower(country.country)))
    elif name == "risk_of_bias":
        return _risk_of_bias(ids)
    elif name == "flag":
        flag = StudyFlag.__table__.c
        value, count = flag.flag_type, func.count(distinct(flag.study_id))
        stmt = (select(value.label("value"), count.label("count"))
                .where(flag.study_id.in_(ids)).group_by(value))
    elif name == "retraction_status":
        value = pub.retraction_status
        stmt, count = _linked(value, sp.study_id, ids, Publication.__table__,
                              pub.id == sp.publication_id, [value])
    else:
        raise ValueError(f"unknown facet {name!r}")
    return stmt.order_by(count.desc(), value)


def _risk_of_bias(ids: Select[Any]) -> Select[Any]:
    """Studies by the overall risk-of-bias judgement of their effects: a study under each
    judgement any of its effects has, and under NOT_ASSESSED when it has effects and none is
    assessed."""
    e, rob = EffectEstimate.__table__.c, RiskOfBias.__table__.c
    assessed = (select(type_coerce(rob.overall, String()).label("value"), e.study_id)
                .select_from(EffectEstimate.__table__)
                .join(RiskOfBias.__table__, rob.effect_estimate_id == e.id)
                .where(e.study_id.in_(ids)))
    unassessed = (select(literal_column("'NOT_ASSESSED'").label("value"), e.study_id)
                  .where(e.study_id.in_(ids),
                         e.study_id.not_in(assessed.with_only_columns(e.study_id))))
    pairs = union(assessed, unassessed).subquery()  # one row per (value, study)
    count = func.count()
    return (select(pairs.c.value, count.label("count")).group_by(pairs.c.value)
            .order_by(count.desc(), pairs.c.value))


def _linked(value: Any, study_id: Any, ids: Select[Any], target: Any, on: Any,
            group_by: list[Any]) -> tuple[Select[Any], Any]:
    """Studies counted by a value of a table they link to (link table -> target table)."""
    count = func.count(distinct(study_id))
    stmt = (select(value.label("value"), count.label("count"))
            .select_from(study_id.table).join(target, on)
            .where(study_id.in_(ids)).group_by(*group_by))
    return stmt, count


# The facets a condition's links carry (migration 0013), and the filters they answer.
_LINK_COLUMNS: dict[str, Any] = {"phase": StudyCondition.__table__.c.study_phase,
                                 "status": StudyCondition.__table__.c.study_status}
_LINK_FILTERS = frozenset({"condition", "phase", "status", "min_enrollment",
                           "max_enrollment"})

_STUDY_COLUMNS: dict[str, Any] = {
    "phase": Study.__table__.c.phase, "status": Study.__table__.c.overall_status,
    "study_type": Study.__table__.c.study_type, "allocation": Study.__table__.c.allocation,
    "masking": Study.__table__.c.masking, "has_results": Study.__table__.c.has_results,
    "follow_up": None,
}
