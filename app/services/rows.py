"""Study rows: a validated study document becomes the rows of every table it fills.

Single writes (create, replace, merge patch, registry import) and bulk loads plan with
`plan_study`; they differ only in how new ids and the shared records (publications,
interventions, conditions, relation targets) are found — a `RowSource` — and in how the rows
reach the database: `insert_planned` here for a single write, COPY or executemany in
`services.bulk`. The derived columns (both clocks, follow-up length, search text, computed
effects) are taken from `services.derive` and `services.computed` in one place, here.

The retraction rule (DESIGN §2) lives here once, with its SQL form beside it: a number is
retracted when it has a source and every source is a retracted publication; a study is
retracted when it has a publication and all its publications are retracted. `is_retracted`
applies it to planned rows; `recompute_flags` applies it in SQL after a retraction is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any, Protocol, cast

from sqlalchemy import JSON, ColumnElement, Table, and_, exists, insert, null, select, update
from sqlalchemy.orm import Session

from app.enums import InterventionType, RetractionStatus, TimepointRole
from app.errors import UnprocessableContent
from app.models import (
    Arm,
    ArmIntervention,
    EffectEstimate,
    OutcomeMeasure,
    OutcomeResult,
    Provenance,
    Publication,
    RegistryId,
    Study,
    StudyCondition,
    StudyCountry,
    StudyKeyword,
    StudyPublication,
    StudyRelation,
    Timepoint,
)
from app.schemas.common import partial_date_sort_key
from app.schemas.study import (
    EffectEstimateIn,
    OutcomeMeasureIn,
    OutcomeResultIn,
    PublicationIn,
    SourceIn,
    StudyCreate,
)
from app.services import computed, derive, documents

RETRACTED = RetractionStatus.RETRACTED

# The publication columns a study document's entry gives (a stored one must match them).
PUBLICATION_ATTRS = ("doi", "pmid", "title", "journal", "year", "volume", "pages",
                     "first_author", "citation", "url", "retraction_status", "retraction_date",
                     "retraction_notice", "retraction_reason")


def table_of(model: Any) -> Table:
    """A mapped class's table, typed as the Table it is."""
    return cast(Table, model.__table__)


# The tables a study's rows go to, each after the tables it refers to.
STUDY_TABLES: list[Table] = [table_of(m) for m in (
    Study, RegistryId, StudyRelation, StudyCondition, StudyKeyword, StudyCountry,
    StudyPublication, Arm, ArmIntervention, Timepoint, OutcomeMeasure, OutcomeResult,
    EffectEstimate, Provenance)]
(_STUDY, _REGISTRY_ID, _STUDY_RELATION, _STUDY_CONDITION, _STUDY_KEYWORD, _STUDY_COUNTRY,
 _STUDY_PUBLICATION, _ARM, _ARM_INTERVENTION, _TIMEPOINT, _OUTCOME_MEASURE, _RESULT, _EFFECT,
 _PROVENANCE) = STUDY_TABLES
_PUBLICATION = table_of(Publication)


def is_retracted(statuses: Iterable[Any]) -> bool:
    """The retraction rule for planned rows. `statuses` are the retraction statuses of a
    number's sources (None for a source that is not a publication: a registry record or a
    web page always stands), or of a study's publications. True when there is at least one
    and every one is RETRACTED."""
    seen = False
    for status in statuses:
        if status != RETRACTED:
            return False
        seen = True
    return seen


def all_sources_retracted(number_id: Any, source_link: Any) -> ColumnElement[bool]:
    """The retraction rule in SQL for a number: it has a source, and every source of it is
    a retracted publication (`source_link` is the provenance column naming the number)."""
    p, pub = _PROVENANCE.c, _PUBLICATION.c
    has_source = exists(select(p.id).where(source_link == number_id))
    standing_source = exists(
        select(p.id).select_from(_PROVENANCE.outerjoin(
            _PUBLICATION, pub.id == p.publication_id))
        .where(source_link == number_id,
               p.publication_id.is_(None) | (pub.retraction_status != RETRACTED.value)))
    return and_(has_source, ~standing_source)


def all_publications_retracted(study_id: Any) -> ColumnElement[bool]:
    """The retraction rule in SQL for a study: it has a publication and none stands."""
    sp, pub = _STUDY_PUBLICATION.c, _PUBLICATION.c
    has_pub = exists().where(sp.study_id == study_id)
    live_pub = exists(select(sp.id).join(_PUBLICATION, pub.id == sp.publication_id)
                      .where(sp.study_id == study_id,
                             pub.retraction_status != RETRACTED.value))
    return and_(has_pub, ~live_pub)


def recompute_flags(session: Session, study_ids: list[int]) -> None:
    """Derive `retracted` again, by the rule, for the results, effects and studies given."""
    if not study_ids:
        return
    s, p = _STUDY, _PROVENANCE.c
    om = select(OutcomeMeasure.id).where(OutcomeMeasure.study_id.in_(study_ids))
    session.execute(update(_RESULT).where(_RESULT.c.outcome_measure_id.in_(om))
                    .values(retracted=all_sources_retracted(_RESULT.c.id, p.outcome_result_id)))
    session.execute(update(_EFFECT).where(_EFFECT.c.study_id.in_(study_ids))
                    .values(retracted=all_sources_retracted(_EFFECT.c.id,
                                                            p.effect_estimate_id)))
    session.execute(update(s).where(s.c.id.in_(study_ids))
                    .values(retracted=all_publications_retracted(s.c.id)))


# ---------------------------------------------------------------- planning


class RowSource(Protocol):
    """What planning needs from its surroundings: new ids, and the stored records a
    document refers to (created when new, where the path allows)."""

    def new_id(self, table: Table) -> Any:
        """An id for a new row (an int, or a `Ref` resolved when the row is inserted)."""

    def publication(self, p: PublicationIn) -> tuple[Any, Any]:
        """The id and retraction status of the publication an entry denotes."""

    def condition(self, name: str) -> Any:
        """The id of the condition a name denotes."""

    def intervention(self, name: str, type_: InterventionType | None) -> tuple[Any, str]:
        """The id and canonical name of the intervention a name denotes."""

    def study_id(self, key: str) -> Any:
        """The id of a live study a relation points at; None when there is none."""


class Ref:
    """The id of a row not inserted yet; `insert_planned` fills `value` in."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: int | None = None


def _fields(model: Any, table: Table, *own: str) -> set[str]:
    """A document part's fields that are columns of its row (ids and `own` set by the plan)."""
    return (set(model.model_fields) & set(table.c.keys())) - {"id", *own}


_MEASURE_FIELDS = _fields(OutcomeMeasureIn, _OUTCOME_MEASURE, "study_id", "position")
_RESULT_FIELDS = _fields(OutcomeResultIn, _RESULT, "outcome_measure_id", "arm_id",
                         "timepoint_id", "position", "retracted")
_EFFECT_FIELDS = _fields(EffectEstimateIn, _EFFECT, "study_id", "outcome_measure_id",
                         "experimental_arm_id", "comparator_arm_id", "timepoint_id",
                         "position", "origin", "retracted")
_TIMEPOINT_COLUMNS = set(_TIMEPOINT.c.keys()) - {"id", "study_id", "position"}


class _StudyPlan:
    """The rows of one study, appended to `rows` (table name -> row dicts) as planned."""

    def __init__(self, doc: StudyCreate, src: RowSource, rows: dict[str, list[dict[str, Any]]],
                 study_id: Any) -> None:
        self.doc, self.src, self.rows, self.sid = doc, src, rows, study_id
        self.status: dict[Any, Any] = {}  # publication id -> retraction status
        self.pubs: dict[str, Any] = {}  # ref -> publication id
        self.arms: dict[str, Any] = {}
        self.tps: dict[str, Any] = {}
        self.intervention_names: list[str] = []
        self.result_rows: list[SimpleNamespace] = []
        self.result_sources: dict[Any, list[SimpleNamespace]] = {}
        self.has_results = False

    def add(self, table: Table, values: dict[str, Any]) -> Any:
        values["id"] = self.src.new_id(table)
        self.rows.setdefault(table.name, []).append(values)
        return values["id"]

    def retracted(self, sources: list[SourceIn]) -> bool:
        return is_retracted(self.status[self.pubs[s.publication]] if s.publication else None
                            for s in sources)

    def sources(self, items: list[SourceIn], **subject: Any) -> None:
        for s in items:
            row = {"study_id": self.sid, "registry_record": s.registry,
                   "publication_id": self.pubs[s.publication] if s.publication else None,
                   "source_url": s.source_url, "locator": s.locator, "arm_id": None,
                   "timepoint_id": None, "outcome_result_id": None, "effect_estimate_id": None,
                   **subject}
            self.add(_PROVENANCE, row)
            result = subject.get("outcome_result_id")
            if result is not None:
                self.result_sources.setdefault(result, []).append(SimpleNamespace(**row))

    def study_parts(self) -> None:
        doc, sid = self.doc, self.sid
        for position, p in enumerate(doc.publications):
            pub_id, status = self.src.publication(p)
            self.pubs[p.ref] = pub_id
            self.status[pub_id] = status
            self.add(_STUDY_PUBLICATION, {"study_id": sid, "publication_id": pub_id,
                                                  "ref": p.ref, "role": p.role,
                                                  "position": position})
        self.sources(doc.sources)
        for r in doc.registry_ids:
            self.add(_REGISTRY_ID, {"study_id": sid, "registry": r.registry,
                                            "identifier": r.identifier})
        for rel in doc.relations:
            target = self.src.study_id(rel.target)
            if target is None:
                raise UnprocessableContent(
                    f"relations: no study with key {rel.target!r}",
                    errors=[{"loc": ["body", "relations"], "msg": f"unknown study {rel.target!r}",
                             "type": "value_error"}])
            self.add(_STUDY_RELATION, {"study_id": sid, "target_study_id": target,
                                               "relation_type": rel.relation_type})
        self.conditions()
        for position, word in enumerate(doc.keywords):
            self.add(_STUDY_KEYWORD, {"study_id": sid, "keyword": word,
                                              "position": position})
        for country in dict.fromkeys(doc.countries):
            self.add(_STUDY_COUNTRY, {"study_id": sid, "country": country})

    def conditions(self) -> None:
        seen: set[Any] = set()
        for position, name in enumerate(self.doc.conditions):
            condition_id = self.src.condition(name)
            if condition_id in seen:
                raise UnprocessableContent(f"conditions: {name!r} names a condition listed twice")
            seen.add(condition_id)
            self.add(_STUDY_CONDITION, {"study_id": self.sid, "label": name,
                                                "condition_id": condition_id,
                                                "position": position})

    def arms_and_timepoints(self) -> list[dict[str, Any]]:
        sid = self.sid
        for position, a in enumerate(self.doc.arms):
            arm_id = self.add(_ARM, {
                "study_id": sid, "position": position, "label": a.label,
                "arm_type": a.arm_type, "description": a.description,
                "n_randomized": a.n_randomized, "n_completed": a.n_completed, "notes": a.notes})
            self.arms[a.label] = arm_id
            for ipos, ai in enumerate(a.interventions):
                int_id, canonical = self.src.intervention(ai.name, ai.type)
                self.intervention_names.append(canonical)
                self.add(_ARM_INTERVENTION, {
                    "arm_id": arm_id, "intervention_id": int_id, "study_id": sid,
                    "position": ipos, "label": ai.name, "dose_mg": ai.dose_mg,
                    "dose_text": ai.dose_text, "sessions": ai.sessions, "notes": ai.notes})
            self.sources(a.sources, arm_id=arm_id)
        planned = []
        for position, t in enumerate(self.doc.timepoints):
            derived = derive.timepoint_columns(t, self.doc.treatment_end_months)
            row = {k: v for k, v in derived.items() if k in _TIMEPOINT_COLUMNS}
            planned.append(row)
            self.tps[t.label] = self.add(_TIMEPOINT,
                                         {"study_id": sid, "position": position, **row})
            self.sources(t.sources, timepoint_id=self.tps[t.label])
        return planned

    def outcomes(self) -> tuple[dict[Any, bool], dict[Any, int]]:
        lower_is_better: dict[Any, bool] = {}
        next_position: dict[Any, int] = {}
        for position, o in enumerate(self.doc.outcome_measures):
            om_id = self.add(_OUTCOME_MEASURE, {
                "study_id": self.sid, "position": position,
                **o.model_dump(include=_MEASURE_FIELDS)})
            if o.lower_is_better is not None:
                lower_is_better[om_id] = o.lower_is_better
            if o.effects:
                next_position[om_id] = len(o.effects) - 1
            for rpos, r in enumerate(o.results):
                self.result(om_id, rpos, r)
            for epos, e in enumerate(o.effects):
                self.effect(om_id, epos, e)
        return lower_is_better, next_position

    def result(self, om_id: Any, position: int, r: OutcomeResultIn) -> None:
        row = {**r.model_dump(include=_RESULT_FIELDS), "outcome_measure_id": om_id,
               "arm_id": self.arms[r.arm], "timepoint_id": self.tps[r.timepoint],
               "position": position, "retracted": self.retracted(r.sources)}
        rid = self.add(_RESULT, row)
        self.result_rows.append(SimpleNamespace(**row))
        self.sources(r.sources, outcome_result_id=rid)
        self.has_results = True

    def effect(self, om_id: Any, position: int, e: EffectEstimateIn) -> None:
        eid = self.add(_EFFECT, {
            **e.model_dump(include=_EFFECT_FIELDS), "study_id": self.sid,
            "outcome_measure_id": om_id, "experimental_arm_id": self.arms[e.experimental_arm],
            "comparator_arm_id": self.arms[e.comparator_arm] if e.comparator_arm else None,
            "timepoint_id": self.tps[e.timepoint], "position": position, "origin": "REPORTED",
            "retracted": self.retracted(e.sources)})
        self.sources(e.sources, effect_estimate_id=eid)
        self.has_results = True

    def computed(self, lower_is_better: dict[Any, bool], next_position: dict[Any, int]) -> None:
        """Effects computed from the arms' results; their sources are their inputs' sources,
        so the rule makes them retracted exactly when every input's source is retracted."""
        arm_types = {self.arms[a.label]: a.arm_type for a in self.doc.arms}
        baseline = {self.tps[t.label] for t in self.doc.timepoints
                    if t.role == TimepointRole.BASELINE}
        for c in computed.computed_effects(arm_types, baseline, lower_is_better,
                                           self.result_rows, self.result_sources, next_position):
            retracted = is_retracted(self.status[s.publication_id] if s.publication_id else None
                                     for s in c.sources)
            eid = self.add(_EFFECT, {"study_id": self.sid, "analysis_population": None,
                                     "p_value": None, "p_value_relation": None, **c.row(),
                                     "retracted": retracted})
            for s in c.sources:
                self.add(_PROVENANCE, {
                    "study_id": self.sid, "publication_id": s.publication_id,
                    "registry_record": s.registry_record, "source_url": s.source_url,
                    "locator": s.locator, "arm_id": None, "timepoint_id": None,
                    "outcome_result_id": None, "effect_estimate_id": eid})

    def study_row(self, timepoints: list[dict[str, Any]]) -> dict[str, Any]:
        doc = self.doc
        return {**documents.study_columns(doc),
                "start_date_sort": partial_date_sort_key(doc.start_date),
                "follow_up_months_max": derive.longest_follow_up(timepoints),
                "has_results": self.has_results,
                "retracted": is_retracted(self.status[i] for i in self.pubs.values()),
                "search_text": derive.search_text(
                    doc, list(dict.fromkeys(self.intervention_names)))}


def plan_study(doc: StudyCreate, src: RowSource, rows: dict[str, list[dict[str, Any]]],
               study_id: Any) -> dict[str, Any]:
    """Append the rows of every part of the study to `rows` (table name -> row dicts, in
    insert order) and return the study row's document and derived columns."""
    plan = _StudyPlan(doc, src, rows, study_id)
    plan.study_parts()
    timepoints = plan.arms_and_timepoints()
    plan.computed(*plan.outcomes())
    return plan.study_row(timepoints)


# ---------------------------------------------------------------- single writes


def _column_defaults(table: Table) -> dict[str, Any]:
    """Each column's value when a row leaves it out: its scalar default, else NULL (SQL NULL
    for a JSON column, as the bulk loader stores it)."""
    out: dict[str, Any] = {}
    for column in table.columns:
        if column.name == "id":
            continue
        default = column.default
        if default is not None and getattr(default, "is_scalar", False):
            out[column.name] = default.arg  # type: ignore[attr-defined]
        else:
            out[column.name] = None
    return out


_DEFAULTS = {t.name: _column_defaults(t) for t in STUDY_TABLES}
_JSON_COLUMNS = {t.name: [c.name for c in t.columns if isinstance(c.type, JSON)]
                 for t in STUDY_TABLES}


def insert_planned(session: Session, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Insert one study's planned child rows table by table, filling each `Ref` with the id
    its row was given (one multi-row INSERT … RETURNING per table)."""
    for table in STUDY_TABLES[1:]:
        planned = rows.get(table.name)
        if not planned:
            continue
        defaults, json_columns = _DEFAULTS[table.name], _JSON_COLUMNS[table.name]
        params = []
        for row in planned:
            values = {**defaults, **{k: v.value if type(v) is Ref else v
                                     for k, v in row.items() if k != "id"}}
            for name in json_columns:
                if values[name] is None:
                    values[name] = null()
            params.append(values)
        ids = session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                              params).all()
        for row, ident in zip(planned, ids, strict=True):
            row["id"].value = ident
