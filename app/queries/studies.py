"""The study filter as SQL: the only place a StudyFilter becomes a WHERE clause; and the
study selects the services read (a study by key, a sort's column and cursor value)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Select,
    and_,
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
from app.queries.pagination import NOT_ISSUED, InvalidPageToken
from app.schemas.filters import FOLLOW_UP_BOUNDS, FollowUpBucket, StudyFilter
from app.search import FTS_TABLE, PG_COLUMN, PG_CONFIG, fts5_query


def _fold(values: list[str]) -> list[str]:
    return [v.casefold() for v in values]


# How many registry ids a membership may name and still be small by construction.
SMALL_ID_LIST = 100
_SMALL = "evidencedb_small_membership"


def _small(ids: Select[Any]) -> Select[Any]:
    return ids.execution_options(**{_SMALL: True})


def is_small(ids: Select[Any]) -> bool:
    """Whether a membership is known to hold few studies without counting them."""
    return bool(ids.get_execution_options().get(_SMALL))


def condition_ids(names: list[str]) -> Select[Any]:
    """The ids of the conditions these names (or synonyms, any case) name: one per name at
    most, as an alias names one condition."""
    return select(ConditionAlias.condition_id).where(ConditionAlias.alias.in_(_fold(names)))


def memberships(f: StudyFilter, dialect: str) -> list[Select[Any]]:
    """The filter's conditions that name a set of study ids (a study is in a condition, has
    an intervention, matches the text, …), as SELECTs of those ids."""
    out: list[Select[Any]] = []
    if f.condition:
        out.append(select(StudyCondition.study_id)
                   .where(StudyCondition.condition_id.in_(condition_ids(f.condition))))
    if f.intervention:
        int_ids = select(InterventionAlias.intervention_id).where(
            InterventionAlias.alias.in_(_fold(f.intervention))
        )
        out.append(select(ArmIntervention.study_id)
                   .where(ArmIntervention.intervention_id.in_(int_ids)))
    if f.intervention_type:
        int_ids = select(Intervention.id).where(Intervention.type.in_(f.intervention_type))
        out.append(select(ArmIntervention.study_id)
                   .where(ArmIntervention.intervention_id.in_(int_ids)))
    if f.country:
        out.append(select(StudyCountry.study_id).where(
            func.lower(StudyCountry.country).in_(_fold(f.country))))
    if f.registry_id:
        by_id = select(RegistryId.study_id).where(RegistryId.identifier.in_(f.registry_id))
        # (registry, identifier) is unique: a few ids name a few studies.
        out.append(_small(by_id) if len(f.registry_id) <= SMALL_ID_LIST else by_id)
    if f.registry:
        out.append(select(RegistryId.study_id)
                   .where(RegistryId.registry_name.in_(f.registry)))
    if f.instrument:
        out.append(select(OutcomeMeasure.study_id).where(
            func.lower(OutcomeMeasure.instrument).in_(_fold(f.instrument))))
    if f.min_effect_size is not None:
        effect = select(EffectEstimate.study_id).where(
            EffectEstimate.comparator_arm_id.is_not(None),
            effect_size_at_least(f.effect_size_type or list(STANDARDIZED_EFFECTS),
                                 f.min_effect_size))
        if not f.include_retracted:
            effect = effect.where(EffectEstimate.retracted == false())
        out.append(effect)
    if f.retraction_status:
        out.append(select(StudyPublication.study_id).join(Publication).where(
            Publication.retraction_status.in_(f.retraction_status)))
    if f.flag:
        out.append(select(StudyFlag.study_id).where(StudyFlag.flag_type.in_(f.flag)))
    if f.q and dialect != "postgresql":
        match = fts5_query(f.q)
        out.append(
            select(literal_column("rowid")).select_from(text(FTS_TABLE)).where(
                text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=match))
            if match else select(Study.id).where(false()))
    return out


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


def study_conditions(f: StudyFilter, dialect: str, *,
                     as_filters: frozenset[int] = frozenset(),
                     members: list[Select[Any]] | None = None) -> list[ColumnElement[bool]]:
    """The WHERE terms for a study filter (live studies only).

    A membership (see `memberships`; `members` when the caller has them already) whose
    position is in `as_filters` is written so that SQLite only checks it for each study
    instead of reading the studies through it: for a page sorted on an index, when the set
    is large, walking the index and stopping after one page beats fetching and sorting the
    whole set."""
    s = Study.__table__.c
    where: list[ColumnElement[bool]] = [s.deleted_at.is_(None)]
    for position, ids in enumerate(memberships(f, dialect) if members is None else members):
        where.append(_check(ids) if position in as_filters else s.id.in_(ids))
    for column, values in ((s.phase, f.phase), (s.overall_status, f.status),
                           (s.study_type, f.study_type), (s.allocation, f.allocation),
                           (s.masking, f.masking)):
        if values:
            where.append(column.in_(values))
    if f.sponsor:
        where.append(func.lower(s.sponsor).in_(_fold(f.sponsor)))
    if f.min_enrollment is not None:
        where.append(s.enrollment >= f.min_enrollment)
    if f.max_enrollment is not None:
        where.append(s.enrollment <= f.max_enrollment)
    if f.start_year_min is not None:
        where.append(s.start_date_sort >= f.start_year_min * 10_000)
    if f.start_year_max is not None:
        where.append(and_(s.start_date_sort > 0,
                          s.start_date_sort < (f.start_year_max + 1) * 10_000))
    if f.min_follow_up_months is not None:
        where.append(s.follow_up_months_max >= f.min_follow_up_months)
    if f.max_follow_up_months is not None:
        where.append(s.follow_up_months_max <= f.max_follow_up_months)
    if f.follow_up:
        where.append(or_(*(_follow_up_bucket(b) for b in f.follow_up)))
    if f.has_results is not None:
        where.append(s.has_results == f.has_results)
    if f.include_retracted is False:
        where.append(s.retracted == false())
    if f.q and dialect == "postgresql":
        config: Any = literal_column(f"'{PG_CONFIG}'")
        where.append(literal_column(f"study.{PG_COLUMN}").bool_op("@@")(
            func.websearch_to_tsquery(config, f.q)))
    return where


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


# Made once: an expression is immutable, and making the two `coalesce` calls on each request
# cost more than reading the page's stored parts.
_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "key": Study.__table__.c.key,
    "start_date": Study.__table__.c.start_date_sort,
    "completion_date": func.coalesce(Study.__table__.c.completion_date, ""),
    "enrollment": func.coalesce(Study.__table__.c.enrollment, -1),
    "title": Study.__table__.c.title,
    "updated_at": Study.__table__.c.updated_at,
}


def sort_column(sort: str) -> tuple[ColumnElement[Any], bool]:
    """The column a sort name orders by (never null) and whether it descends."""
    return _SORT_COLUMNS[sort.removeprefix("-")], sort.startswith("-")


# What a list document or an export is built from: every study column but the stored registry
# record (tens of kilobytes of JSON for an imported study, which only a study's own read uses)
# and the search text.
_DOCUMENT_COLUMNS = tuple(c for c in Study.__table__.c
                          if c.name not in ("source_record", "search_text"))


# Made once (a SELECT of 30 columns costs about as much to make as its WHERE terms); each
# page adds its terms to a copy.
_DOCUMENT_SELECT = select(*_DOCUMENT_COLUMNS)


def study_select(f: StudyFilter, dialect: str, *, as_filters: frozenset[int] = frozenset(),
                 members: list[Select[Any]] | None = None) -> Select[Any]:
    """SELECT the columns a document is built from (`_DOCUMENT_COLUMNS`) for the studies a
    filter matches (unordered)."""
    return _DOCUMENT_SELECT.where(
        *study_conditions(f, dialect, as_filters=as_filters, members=members))


def study_ids_select(f: StudyFilter, dialect: str) -> Select[Any]:
    return select(Study.id).where(*study_conditions(f, dialect))


def count_select(f: StudyFilter, dialect: str) -> Select[Any]:
    return select(func.count()).select_from(Study).where(*study_conditions(f, dialect))


def sort_value(sort: str, value: Any) -> Any:
    """A page token's sort value as the sort column holds it; a value no token of ours
    holds for this sort is an InvalidPageToken."""
    name = sort.removeprefix("-")
    if name in ("start_date", "enrollment"):
        valid = isinstance(value, int) and not isinstance(value, bool)
    else:
        valid = isinstance(value, str)
    if valid and name == "updated_at":
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            valid = False
    if not valid:
        raise InvalidPageToken(NOT_ISSUED)
    return value


def sample_size(ids: Select[Any], limit: int) -> Select[Any]:
    """How many of a membership's study ids there are, counting no further than `limit`."""
    return select(func.count()).select_from(ids.limit(limit).subquery())


def study_row(key: str) -> Select[Any]:
    """The study row of a key, deleted or not."""
    return select(Study.__table__).where(Study.key == key)

