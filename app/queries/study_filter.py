"""The study filter as SQL: the only place a StudyFilter becomes a WHERE clause, as terms
(`terms`) that give the clause with their values in place (`study_conditions`) or bound at
execution (`where_of(..., bound=True)`, `term_values`)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    Column,
    ColumnElement,
    Select,
    and_,
    bindparam,
    false,
    func,
    literal_column,
    or_,
    select,
    text,
)

from app.enums import RATIO_EFFECTS, STANDARDIZED_EFFECTS, EffectType
from app.models import (
    ArmIntervention,
    ConditionAlias,
    EffectEstimate,
    Intervention,
    InterventionAlias,
    OutcomeMeasure,
    Publication,
    RegistryId,
    Study,
    StudyCondition,
    StudyCountry,
    StudyFlag,
    StudyPublication,
)
from app.schemas.filters import FOLLOW_UP_BOUNDS, FollowUpBucket, StudyFilter
from app.search import FTS_TABLE, PG_COLUMN, PG_CONFIG, fts5_query

# How many registry ids a membership may name and still be small by construction.
SMALL_ID_LIST = 100


class Term(NamedTuple):
    """One term of a study filter. `clause(v)` is its WHERE condition or, for a membership
    (`member`), the SELECT of the study ids it names (in a condition, matching the text, ...),
    where `v` is `value` or a bind parameter standing for it (None: the term has no value).
    `shape` is whatever else the clause's form depends on: terms of the same names and shapes
    make the same statement, whatever their values. `small`: a set of few studies by
    construction (a few registry ids)."""

    name: str
    value: Any
    clause: Callable[[Any], Any]
    member: bool = False
    shape: Hashable = None
    small: bool = False


def _fold(values: list[str]) -> list[str]:
    return [v.casefold() for v in values]


def _alias_condition_ids(folded: Any) -> Select[Any]:
    return select(ConditionAlias.condition_id).where(ConditionAlias.alias.in_(folded))


def condition_ids(names: list[str]) -> Select[Any]:
    """The ids of the conditions these names (or synonyms, any case) name: one per name at
    most, as an alias names one condition."""
    return _alias_condition_ids(_fold(names))


def _in_condition(v: Any) -> Select[Any]:
    return select(StudyCondition.study_id).where(
        StudyCondition.condition_id.in_(_alias_condition_ids(v)))


def _with_intervention(v: Any) -> Select[Any]:
    named = select(InterventionAlias.intervention_id).where(InterventionAlias.alias.in_(v))
    return select(ArmIntervention.study_id).where(ArmIntervention.intervention_id.in_(named))


def _with_intervention_type(v: Any) -> Select[Any]:
    typed = select(Intervention.id).where(Intervention.type.in_(v))
    return select(ArmIntervention.study_id).where(ArmIntervention.intervention_id.in_(typed))


def _in_country(v: Any) -> Select[Any]:
    return select(StudyCountry.study_id).where(func.lower(StudyCountry.country).in_(v))


def _with_registry_id(v: Any) -> Select[Any]:
    return select(RegistryId.study_id).where(RegistryId.identifier.in_(v))


def _in_registry(v: Any) -> Select[Any]:
    return select(RegistryId.study_id).where(RegistryId.registry_name.in_(v))


def _with_instrument(v: Any) -> Select[Any]:
    return select(OutcomeMeasure.study_id).where(func.lower(OutcomeMeasure.instrument).in_(v))


def _with_retraction_status(v: Any) -> Select[Any]:
    return select(StudyPublication.study_id).join(Publication).where(
        Publication.retraction_status.in_(v))


def _raising_flag(v: Any) -> Select[Any]:
    return select(StudyFlag.study_id).where(StudyFlag.flag_type.in_(v))


def _matching_text(v: Any) -> Select[Any]:
    match = text(f"{FTS_TABLE} MATCH :q")
    return select(literal_column("rowid")).select_from(text(FTS_TABLE)).where(
        match.bindparams(v) if isinstance(v, BindParameter) else match.bindparams(q=v))


def _matching_nothing(_: Any) -> Select[Any]:
    return select(Study.id).where(false())


def _tsquery_match(v: Any) -> ColumnElement[bool]:
    config: Any = literal_column(f"'{PG_CONFIG}'")
    return literal_column(f"study.{PG_COLUMN}").bool_op("@@")(
        func.websearch_to_tsquery(config, v))


_S = Study.__table__.c
# Terms comparing a study column with the filter field of the same name.
_LISTED: tuple[tuple[str, Callable[[Any], ColumnElement[bool]]], ...] = (
    ("phase", _S.phase.in_), ("status", _S.overall_status.in_),
    ("study_type", _S.study_type.in_), ("allocation", _S.allocation.in_),
    ("masking", _S.masking.in_))
_BOUNDS: tuple[tuple[str, Callable[[Any], ColumnElement[bool]]], ...] = (
    ("min_enrollment", _S.enrollment.__ge__), ("max_enrollment", _S.enrollment.__le__),
    ("min_follow_up_months", _S.follow_up_months_max.__ge__),
    ("max_follow_up_months", _S.follow_up_months_max.__le__))


def _started_from(v: Any) -> ColumnElement[bool]:
    started: ColumnElement[bool] = _S.start_date_sort >= v
    return started


def _started_before(v: Any) -> ColumnElement[bool]:
    return and_(_S.start_date_sort > 0, _S.start_date_sort < v)


def _not_retracted(_: Any) -> ColumnElement[bool]:
    return _S.retracted == false()


def _memberships(f: StudyFilter, dialect: str) -> list[Term]:
    out: list[Term] = []
    for name, clause, folded in (
            ("condition", _in_condition, True), ("intervention", _with_intervention, True),
            ("intervention_type", _with_intervention_type, False),
            ("country", _in_country, True), ("registry_id", _with_registry_id, False),
            ("registry", _in_registry, False), ("instrument", _with_instrument, True)):
        values = getattr(f, name)
        if values:
            out.append(Term(name, _fold(values) if folded else values, clause, True,
                            small=name == "registry_id" and len(values) <= SMALL_ID_LIST))
    if f.min_effect_size is not None:
        types = tuple(f.effect_size_type or STANDARDIZED_EFFECTS)
        shape = (f.min_effect_size, types, bool(f.include_retracted))
        out.append(Term("min_effect_size", None, lambda _: _effect_ids(*shape), True, shape))
    for name, clause in (("retraction_status", _with_retraction_status),
                         ("flag", _raising_flag)):
        if getattr(f, name):
            out.append(Term(name, getattr(f, name), clause, True))
    if f.q and dialect != "postgresql":
        match = fts5_query(f.q)
        out.append(Term("q", match, _matching_text, True) if match
                   else Term("q", None, _matching_nothing, True, "nothing"))
    return out


def terms(f: StudyFilter, dialect: str) -> list[Term]:
    """The filter's terms: its memberships first, then the study's own columns."""
    out = _memberships(f, dialect)
    for name, clause in _LISTED:
        if getattr(f, name):
            out.append(Term(name, getattr(f, name), clause))
    if f.sponsor:
        out.append(Term("sponsor", _fold(f.sponsor), func.lower(_S.sponsor).in_))
    for name, clause in _BOUNDS:
        if getattr(f, name) is not None:
            out.append(Term(name, getattr(f, name), clause))
    if f.start_year_min is not None:
        out.append(Term("start_year_min", f.start_year_min * 10_000, _started_from))
    if f.start_year_max is not None:
        out.append(Term("start_year_max", (f.start_year_max + 1) * 10_000, _started_before))
    if f.follow_up:
        buckets = tuple(f.follow_up)
        out.append(Term("follow_up", None,
                        lambda _: or_(*(_follow_up_bucket(b) for b in buckets)), shape=buckets))
    if f.has_results is not None:
        out.append(Term("has_results", f.has_results, _S.has_results.__eq__))
    if f.include_retracted is False:
        out.append(Term("include_retracted", None, _not_retracted, shape=False))
    if f.q and dialect == "postgresql":
        out.append(Term("q", f.q, _tsquery_match))
    return out


def _effect_ids(threshold: float, types: tuple[EffectType, ...], retracted: bool
                ) -> Select[Any]:
    effect = select(EffectEstimate.study_id).where(
        EffectEstimate.comparator_arm_id.is_not(None),
        effect_size_at_least(list(types), threshold))
    return effect if retracted else effect.where(EffectEstimate.retracted == false())


def effect_size_at_least(types: list[EffectType], threshold: float) -> ColumnElement[bool]:
    """A contrast at least `threshold` in size, on each type's own terms: d, g and SMD by their
    benefit-oriented value (positive favours the experimental arm); ratios on the log scale,
    |log ratio| ≥ |log threshold|, so 2 and 0.5 ask the same; differences by magnitude."""
    e = EffectEstimate.__table__.c
    standardized = [t for t in types if t in STANDARDIZED_EFFECTS]
    ratios = [t for t in types if t in RATIO_EFFECTS]
    differences = [t for t in types if t not in STANDARDIZED_EFFECTS and t not in RATIO_EFFECTS]
    terms: list[ColumnElement[bool]] = []
    if standardized:
        terms.append(and_(e.effect_type.in_(standardized), e.value >= threshold))
    if ratios:
        if threshold <= 0:
            terms.append(e.effect_type.in_(ratios))
        else:
            high = max(threshold, 1 / threshold)
            terms.append(and_(e.effect_type.in_(ratios),
                              or_(e.value >= high, e.value <= 1 / high)))
    if differences:
        terms.append(and_(e.effect_type.in_(differences), func.abs(e.value) >= threshold))
    return or_(*terms)


def study_conditions(f: StudyFilter, dialect: str) -> list[ColumnElement[bool]]:
    """The WHERE terms for a study filter (live studies only), its values in place."""
    return where_of(terms(f, dialect))


def where_of(filter_terms: list[Term], *, bound: bool = False,
             as_filters: frozenset[str] = frozenset()) -> list[ColumnElement[bool]]:
    """The WHERE terms of a filter's terms (live studies only). `bound`: each value is a bind
    parameter named after its term, given at execution (`term_values`), so the statement
    serves every filter of its shape.

    A membership named in `as_filters` is written so that SQLite only checks it for each
    study instead of reading the studies through it: for a page sorted on an index, when the
    set is large, walking the index and stopping after one page beats fetching and sorting
    the whole set."""
    where: list[ColumnElement[bool]] = [_S.deleted_at.is_(None)]
    for t in filter_terms:
        value = t.value
        if bound and value is not None:
            value = bindparam(t.name, expanding=isinstance(value, list))
        clause = t.clause(value)
        if t.member:
            clause = _check(clause) if t.name in as_filters else _S.id.in_(clause)
        where.append(clause)
    return where


def term_values(filter_terms: list[Term]) -> dict[str, Any]:
    """The values of `where_of(..., bound=True)`'s parameters."""
    return {t.name: t.value for t in filter_terms if t.value is not None}


def shape_of(filter_terms: list[Term]) -> tuple[Any, ...]:
    """What a bound statement of these terms looks like: the same shape, the same statement."""
    return tuple((t.name, t.member, t.shape) for t in filter_terms)


def _check(ids: Select[Any]) -> ColumnElement[bool]:
    """A membership as a per-study check: a correlated EXISTS, which the table's study_id
    index answers in a probe; the text index has no such probe, so its matches are read
    once into a set (`id + 0` keeps SQLite from reading the studies through them)."""
    column = ids.selected_columns[0]
    study_id = Study.__table__.c.id
    if isinstance(column, Column):
        return ids.where(column == study_id).exists()
    return (study_id + 0).in_(ids)


def _follow_up_bucket(bucket: FollowUpBucket) -> ColumnElement[bool]:
    months = Study.__table__.c.follow_up_months_max
    if bucket == FollowUpBucket.NONE:
        return months.is_(None)
    low, high = FOLLOW_UP_BOUNDS[bucket]
    terms: list[ColumnElement[bool]] = ([months >= low] if low is not None
                                        else [months.is_not(None)])
    if high is not None:
        terms.append(months < high)
    return and_(*terms)
