"""Bulk loading of study documents: validated like any write, inserted a batch at a time.

Each batch is planned in memory (ids assigned up front, derived columns computed with the same
rules as a single write) and inserted table by table with one multi-row statement per table,
in one transaction with one audit entry. A bad document fails its whole batch.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import JSON, Table, func, select, text
from sqlalchemy.orm import Session

from app.enums import InterventionType, RetractionStatus, TimepointRole
from app.errors import validation_errors
from app.models import (
    Arm,
    ArmIntervention,
    AuditEntry,
    Condition,
    ConditionAlias,
    EffectEstimate,
    Intervention,
    InterventionAlias,
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
from app.schemas.study import SourceIn, StudyCreate
from app.services import derive, documents, evidence
from app.services.studies import PUBLICATION_ATTRS
from app.services.vocab import fold
from app.types import UTCDateTime, utcnow

# Insert order: every table after the tables it refers to.
TABLES: list[Table] = [m.__table__ for m in (  # type: ignore[misc]
    Intervention, InterventionAlias, Condition, ConditionAlias, Publication, Study, RegistryId,
    StudyRelation, StudyCondition, StudyKeyword, StudyCountry, StudyPublication, Arm,
    ArmIntervention, Timepoint, OutcomeMeasure, OutcomeResult, EffectEstimate, Provenance,
    AuditEntry)]


class BatchError(Exception):
    """A document of the batch is invalid or conflicts with stored data."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass
class LoadReport:
    loaded: int = 0
    batches: int = 0
    errors: list[BatchError] = field(default_factory=list)


def parse(line_no: int, raw: str | bytes) -> StudyCreate:
    try:
        return StudyCreate.model_validate_json(raw)
    except ValidationError as exc:
        first = validation_errors(exc.errors())[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BatchError(line_no, f"{where}: {first['msg']}" if where else first["msg"]) from None


class _Ids:
    """Ids handed out in advance: the loader holds the write lock while it inserts."""

    def __init__(self, session: Session) -> None:
        self._next: dict[str, int] = {}
        for table in TABLES:
            top = session.scalar(select(func.max(table.c.id)))
            self._next[table.name] = (top or 0) + 1

    def take(self, table: Table) -> int:
        value = self._next[table.name]
        self._next[table.name] = value + 1
        return value


class _Plan:
    def __init__(self, session: Session, ids: _Ids, vocab_cache: dict[str, dict[str, int]]):
        self.session = session
        self.ids = ids
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.vocab = vocab_cache
        self.publications: dict[tuple[int, str], tuple[int, RetractionStatus]] = {}
        self.now = utcnow()

    def add(self, table: Table, **values: Any) -> int:
        values.setdefault("id", self.ids.take(table))
        self.rows[table.name].append(values)
        return values["id"]

    # vocabularies ----------------------------------------------------------
    def intervention(self, name: str, type_: InterventionType | None) -> tuple[int, str]:
        cache = self.vocab["intervention"]
        alias = fold(name)
        if alias not in cache:
            found = self.session.execute(
                select(Intervention.id, Intervention.name).join(InterventionAlias)
                .where(InterventionAlias.alias == alias)).first()
            if found is None:
                new_id = self.add(Intervention.__table__, name=name,
                                  type=type_ or InterventionType.OTHER, synonyms=[],
                                  description=None)
                self.add(InterventionAlias.__table__, intervention_id=new_id, alias=alias)
                found = (new_id, name)
            cache[alias] = found[0]
            self.vocab["intervention_name"][found[0]] = found[1]
        ident = cache[alias]
        return ident, self.vocab["intervention_name"][ident]

    def condition(self, name: str) -> int:
        cache = self.vocab["condition"]
        alias = fold(name)
        if alias not in cache:
            found = self.session.scalar(
                select(ConditionAlias.condition_id).where(ConditionAlias.alias == alias))
            if found is None:
                found = self.add(Condition.__table__, name=name, mesh_term=None, synonyms=[])
                self.add(ConditionAlias.__table__, condition_id=found, alias=alias)
            cache[alias] = found
        return cache[alias]


def _publications(plan: _Plan, docs: list[tuple[int, StudyCreate]]) -> None:
    """Find or plan every publication the batch names, refusing conflicting descriptions."""
    t = Publication.__table__
    stored: dict[tuple[str, str], Any] = {}
    for column in ("doi", "pmid"):
        values = {getattr(p, column) for _, d in docs for p in d.publications
                  if getattr(p, column)}
        if values:
            for row in plan.session.execute(select(t).where(t.c[column].in_(values))):
                stored[(column, row._mapping[column])] = row
    for line, doc in docs:
        for p in doc.publications:
            given = p.model_dump(include=set(PUBLICATION_ATTRS))
            row = (stored.get(("doi", p.doi)) if p.doi else None) or \
                (stored.get(("pmid", p.pmid)) if p.pmid else None)
            if row is None:
                new_id = plan.add(t, created_at=plan.now, updated_at=plan.now, **given)
                row = _Stored(new_id, given)
                for column in ("doi", "pmid"):
                    if getattr(p, column):
                        stored[(column, getattr(p, column))] = row
            else:
                differing = [a for a in PUBLICATION_ATTRS if getattr(row, a) != given[a]]
                if differing:
                    raise BatchError(line, f"publication {p.ref!r} is already stored with other "
                                           f"values for {', '.join(differing)}")
            plan.publications[(line, p.ref)] = (row.id, row.retraction_status)


class _Stored:
    def __init__(self, ident: int, values: dict[str, Any]) -> None:
        self.id = ident
        self.retraction_status = values["retraction_status"]
        self.__dict__.update(values)


def _check_unique(plan: _Plan, docs: list[tuple[int, StudyCreate]]) -> dict[str, int]:
    keys = [d.key for _, d in docs]
    seen: dict[str, int] = {}
    for line, d in docs:
        if d.key in seen:
            raise BatchError(line, f"key {d.key!r} also on line {seen[d.key]}")
        seen[d.key] = line
    taken = set(plan.session.scalars(select(Study.key).where(Study.key.in_(keys))))
    for line, d in docs:
        if d.key in taken:
            raise BatchError(line, f"a study with key {d.key!r} already exists")
    pairs = {(r.registry, r.identifier): line for line, d in docs for r in d.registry_ids}
    identifiers = {i for _, i in pairs}
    if identifiers:
        hits = plan.session.execute(
            select(RegistryId.registry_name, RegistryId.identifier)
            .where(RegistryId.identifier.in_(identifiers))).all()
        for hit in hits:
            if (hit[0], hit[1]) in pairs:
                raise BatchError(pairs[(hit[0], hit[1])],
                                 f"registry id {hit[0]} {hit[1]} belongs to another study")
    targets = {r.target for _, d in docs for r in d.relations} - set(keys)
    known = dict(plan.session.execute(
        select(Study.key, Study.id).where(Study.key.in_(targets), Study.deleted_at.is_(None))
    ).all()) if targets else {}
    for line, d in docs:
        for r in d.relations:
            if r.target not in known and r.target not in seen:
                raise BatchError(line, f"relations: no study with key {r.target!r}")
    return known


def _plan_study(plan: _Plan, line: int, doc: StudyCreate, targets: dict[str, int],
                batch_ids: dict[str, int]) -> None:
    sid = plan.ids.take(Study.__table__)
    batch_ids[doc.key] = sid
    pubs: dict[str, tuple[int, RetractionStatus]] = {}
    for position, p in enumerate(doc.publications):
        pubs[p.ref] = plan.publications[(line, p.ref)]
        plan.add(StudyPublication.__table__, study_id=sid, publication_id=pubs[p.ref][0],
                 ref=p.ref, role=p.role, position=position)

    result_sources: dict[int, list[Any]] = {}

    def sources(items: list[SourceIn], **subject: Any) -> None:
        for s in items:
            plan.add(Provenance.__table__, study_id=sid,
                     publication_id=pubs[s.publication][0] if s.publication else None,
                     registry_record=s.registry, source_url=s.source_url, locator=s.locator,
                     arm_id=subject.get("arm_id"), timepoint_id=subject.get("timepoint_id"),
                     outcome_result_id=subject.get("outcome_result_id"),
                     effect_estimate_id=subject.get("effect_estimate_id"))
            if subject.get("outcome_result_id") is not None:
                result_sources.setdefault(subject["outcome_result_id"], []).append(
                    SimpleNamespace(**plan.rows[Provenance.__table__.name][-1]))

    def retracted(items: list[SourceIn]) -> bool:
        return bool(items) and all(
            s.publication is not None and pubs[s.publication][1] == RetractionStatus.RETRACTED
            for s in items)

    sources(doc.sources)
    for r in doc.registry_ids:
        plan.add(RegistryId.__table__, study_id=sid, registry=r.registry,
                 identifier=r.identifier)
    for rel in doc.relations:
        target = targets.get(rel.target) or batch_ids[rel.target]
        plan.add(StudyRelation.__table__, study_id=sid, relation_type=rel.relation_type,
                 target_study_id=target)
    for position, name in enumerate(doc.conditions):
        plan.add(StudyCondition.__table__, study_id=sid, condition_id=plan.condition(name),
                 position=position, label=name)
    for position, word in enumerate(doc.keywords):
        plan.add(StudyKeyword.__table__, study_id=sid, keyword=word, position=position)
    for country in dict.fromkeys(doc.countries):
        plan.add(StudyCountry.__table__, study_id=sid, country=country)
    arms: dict[str, int] = {}
    names: list[str] = []
    for position, a in enumerate(doc.arms):
        arm_id = plan.add(Arm.__table__, study_id=sid, position=position, label=a.label,
                          arm_type=a.arm_type, description=a.description,
                          n_randomized=a.n_randomized, n_completed=a.n_completed,
                          notes=a.notes)
        arms[a.label] = arm_id
        for ipos, ai in enumerate(a.interventions):
            int_id, canonical = plan.intervention(ai.name, ai.type)
            names.append(canonical)
            plan.add(ArmIntervention.__table__, arm_id=arm_id, intervention_id=int_id,
                     study_id=sid, position=ipos, label=ai.name, dose_mg=ai.dose_mg,
                     dose_text=ai.dose_text, sessions=ai.sessions, notes=ai.notes)
        sources(a.sources, arm_id=arm_id)
    tps: dict[str, int] = {}
    tp_rows = [derive.timepoint_columns(t, doc.treatment_end_months) for t in doc.timepoints]
    for position, (t, row) in enumerate(zip(doc.timepoints, tp_rows, strict=True)):
        tp_id = plan.add(Timepoint.__table__, study_id=sid, position=position, **row)
        tps[t.label] = tp_id
        sources(t.sources, timepoint_id=tp_id)
    has_results = False
    result_rows: list[SimpleNamespace] = []
    lower_is_better: dict[int, bool] = {}
    next_position: dict[int, int] = {}
    for position, o in enumerate(doc.outcome_measures):
        om_id = plan.add(OutcomeMeasure.__table__, study_id=sid, position=position,
                         **o.model_dump(exclude={"results", "effects"}))
        if o.lower_is_better is not None:
            lower_is_better[om_id] = o.lower_is_better
        if o.effects:
            next_position[om_id] = len(o.effects) - 1
        for rpos, r in enumerate(o.results):
            rid = plan.add(OutcomeResult.__table__, outcome_measure_id=om_id,
                           arm_id=arms[r.arm], timepoint_id=tps[r.timepoint], position=rpos,
                           retracted=retracted(r.sources),
                           **r.model_dump(exclude={"arm", "timepoint", "sources"}))
            result_rows.append(SimpleNamespace(**plan.rows[OutcomeResult.__table__.name][-1]))
            sources(r.sources, outcome_result_id=rid)
            has_results = True
        for epos, e in enumerate(o.effects):
            eid = plan.add(
                EffectEstimate.__table__, study_id=sid, outcome_measure_id=om_id,
                experimental_arm_id=arms[e.experimental_arm],
                comparator_arm_id=arms[e.comparator_arm] if e.comparator_arm else None,
                timepoint_id=tps[e.timepoint], position=epos, origin="REPORTED",
                retracted=retracted(e.sources),
                **e.model_dump(exclude={"experimental_arm", "comparator_arm", "timepoint",
                                        "sources"}))
            sources(e.sources, effect_estimate_id=eid)
            has_results = True
    arm_types = {arms[a.label]: a.arm_type for a in doc.arms}
    baseline = {tps[t.label] for t in doc.timepoints if t.role == TimepointRole.BASELINE}
    for c in evidence.computed_effects(arm_types, baseline, lower_is_better, result_rows,
                                       result_sources, next_position):
        eid = plan.add(EffectEstimate.__table__, study_id=sid, analysis_population=None,
                       p_value=None, p_value_relation=None, **c.row())
        for src in c.sources:
            plan.add(Provenance.__table__, study_id=sid, publication_id=src.publication_id,
                     registry_record=src.registry_record, source_url=src.source_url,
                     locator=src.locator, arm_id=None, timepoint_id=None,
                     outcome_result_id=None, effect_estimate_id=eid)
    study = documents.study_columns(doc)
    study.update(
        id=sid, start_date_sort=partial_date_sort_key(doc.start_date),
        follow_up_months_max=derive.longest_follow_up(tp_rows), has_results=has_results,
        retracted=bool(pubs) and all(
            s == RetractionStatus.RETRACTED for _, s in pubs.values()),
        search_text=derive.search_text(doc, list(dict.fromkeys(names))), version=1,
        created_at=plan.now, updated_at=plan.now, deleted_at=None, source_record=None)
    plan.rows[Study.__table__.name].append(study)


def _converters(table: Table, dialect: Any) -> dict[str, Any]:
    """Column name -> converter, for the few columns that need one. Plain values go to the
    driver as they are: enumeration members are `str` already, booleans and dates the drivers
    adapt themselves; only JSON and timestamps need the column type's own conversion."""
    return {column.name: column.type._cached_bind_processor(dialect)  # noqa: SLF001
            for column in table.columns if isinstance(column.type, JSON | UTCDateTime)}


def _tuples(table: Table, rows: list[dict[str, Any]], dialect: Any) -> list[tuple[Any, ...]]:
    """The rows as tuples in column order, built by `itemgetter` (C speed). A batch shares one
    timestamp, so each distinct timestamp is converted once."""
    names = [column.name for column in table.columns]
    converters = _converters(table, dialect)
    wanted = set(names)
    memo: dict[Any, Any] = {}
    for row in rows:
        if not wanted <= row.keys():
            for name in wanted - row.keys():
                row[name] = None
        for name, convert in converters.items():
            value = row[name]
            if isinstance(value, dt.datetime):
                if value not in memo:
                    memo[value] = convert(value)
                row[name] = memo[value]
            elif value is not None:  # an absent document stays SQL NULL, not JSON null
                row[name] = convert(value)
    getter = itemgetter(*names)
    return [getter(row) for row in rows]


def _insert(conn: Any, table: Table, rows: list[dict[str, Any]]) -> None:
    """Many rows at once, straight to the driver: the per-row parameter handling of a
    compiled statement costs more than the insert itself."""
    dialect = conn.dialect
    params = _tuples(table, rows, dialect)
    quoted = ", ".join(dialect.identifier_preparer.quote(c.name) for c in table.columns)
    target = f"{dialect.identifier_preparer.quote(table.name)} ({quoted})"
    cursor = conn.connection.driver_connection.cursor()
    try:
        if dialect.name == "postgresql":
            with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                for row in params:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(table.columns))
            cursor.executemany(f"INSERT INTO {target} VALUES ({marks})", params)
    finally:
        cursor.close()


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        # A large page cache for this connection: the indexes of a growing file otherwise
        # spill out of SQLite's 2 MB default on every batch.
        session.execute(text("PRAGMA cache_size=-131072"))
        return
    if session.get_bind().dialect.name == "postgresql":
        names = ", ".join(t.name for t in TABLES)
        session.execute(text(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE"))


def _fix_sequences(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT max(id) FROM {table.name}), 1))"))


def load_batch(session: Session, docs: list[tuple[int, StudyCreate]], *, source: str,
               actor_id: int | None, vocab_cache: dict[str, dict[str, int]]) -> int:
    """Insert one batch of valid documents in one transaction, or nothing."""
    snapshot = {k: dict(v) for k, v in vocab_cache.items()}
    try:
        _lock(session)
        plan = _Plan(session, _Ids(session), vocab_cache)
        targets = _check_unique(plan, docs)
        _publications(plan, docs)
        batch_ids: dict[str, int] = {}
        for line, doc in docs:
            _plan_study(plan, line, doc, targets, batch_ids)
        plan.add(AuditEntry.__table__, at=plan.now, actor_id=actor_id, action="bulk-load",
                 entity="study", entity_key=source[:200], version=None,
                 changes={"created": [d.key for _, d in docs],
                          "lines": [docs[0][0], docs[-1][0]]},
                 snapshot=None, reason=None)
        conn = session.connection()
        for table in TABLES:
            rows = plan.rows.get(table.name)
            if rows:
                _insert(conn, table, rows)
        _fix_sequences(session)
        session.commit()
    except BaseException:
        session.rollback()
        vocab_cache.clear()
        vocab_cache.update(snapshot)
        raise
    return len(docs)


def batches(lines: Iterable[bytes], size: int, errors: list[BatchError]
            ) -> Iterator[list[tuple[int, StudyCreate]]]:
    """Valid documents in batches; a batch with an invalid line is reported and skipped."""
    batch: list[tuple[int, StudyCreate]] = []
    bad = False
    for line_no, raw in enumerate(lines, start=1):
        if raw.strip():
            try:
                batch.append((line_no, parse(line_no, raw)))
            except BatchError as exc:
                errors.append(exc)
                bad = True
        if line_no % size == 0:
            if batch and not bad:
                yield batch
            batch, bad = [], False
    if batch and not bad:
        yield batch


def refresh_statistics(session: Session) -> None:
    """Planner statistics after a load: without them both databases pick plans (an ordered
    scan of every study, say) that are orders of magnitude slower at registry scale."""
    session.execute(text("ANALYZE"))
    session.commit()


def new_vocab_cache() -> dict[str, dict[str, int]]:
    return {"intervention": {}, "intervention_name": {}, "condition": {}}
