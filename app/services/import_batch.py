"""Creating the studies of many registry records at once: the first import of a dump.

Records whose NCT id names no stored study are fitted to what is stored and validated
exactly as the single write does it (`importer.reconcile`, `importer.validated`), each seeing
what the records before it in the batch would have stored; then all their rows are planned
in memory by the bulk loader's planner and inserted a table at a time (COPY on PostgreSQL,
executemany on SQLite; on PostgreSQL their foreign keys checked once per batch, as the bulk
loader does it). What is stored is what `studies.create` stores, record by record:
the study with its source record at version 1, every part, its flags, one audit entry with
the study as it reads back and one change-feed row pointing at it.

The studies are not read back for their audit entries: `documents.assemble`'s own steps run
on the planned rows, shaped as its statements return them (`_documents`), which gives the
same document without a statement. The large JSON (source records, audit snapshots) is
encoded by orjson before it goes to the driver.

`create` writes all of them or raises; the caller runs it in a SAVEPOINT and, when it fails,
writes the records one by one, so that a refused file is still reported by name.
"""

from __future__ import annotations

import json
from collections import namedtuple
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Column, Float, MetaData, Table, Text, insert, select, text
from sqlalchemy.orm import Session

from app.enums import InterventionType
from app.interop import ctgov
from app.models import (
    Condition,
    ConditionAlias,
    Intervention,
    InterventionAlias,
    RegistryId,
    Study,
    StudyFlag,
)
from app.queries import direct
from app.queries import documents as q
from app.schemas.filters import META_FIELDS, STUDY_FIELDS
from app.schemas.study import StudyCreate
from app.services import audit, bulk, bulk_insert, documents, feed, flags, importer
from app.services.importer import ImportResult
from app.services.vocab import fold
from app.services.writes import WriteRequest
from app.types import utcnow


class NotBatched(Exception):
    """A record the batch cannot create; the caller writes the batch one record at a time."""


@dataclass
class New:
    """A mapped record (`importer.map_records`) whose NCT id names no stored study."""

    record: dict[str, Any]
    doc: dict[str, Any]
    report: ctgov.Report
    where: str


def _value(value: Any) -> str:
    return str(getattr(value, "value", value))


class _Plan(bulk._Plan):
    """The bulk loader's plan, told which names the vocabularies lacked when the batch began
    (read for the whole batch in one statement each, by `_Planned`): such a name is planned
    as a new entry without asking the database about it again."""

    def __init__(self, session: Session) -> None:
        super().__init__(session, bulk._Ids(session), bulk.new_vocab_cache())
        self.absent_conditions: set[str] = set()
        self.absent_interventions: set[str] = set()

    def condition(self, name: str) -> int:
        alias, cache = fold(name), self.vocab["condition"]
        if alias in self.absent_conditions and alias not in cache:
            cache[alias] = self.add(bulk._CONDITION, name=name, mesh_term=None, synonyms=[])
            self.add(bulk._CONDITION_ALIAS, condition_id=cache[alias], alias=alias)
        return super().condition(name)

    def intervention(self, name: str, type_: InterventionType | None) -> tuple[int, str]:
        alias, cache = fold(name), self.vocab["intervention"]
        if alias in self.absent_interventions and alias not in cache:
            cache[alias] = self.add(bulk._INTERVENTION, name=name,
                                    type=type_ or InterventionType.OTHER, synonyms=[],
                                    description=None)
            self.add(bulk._INTERVENTION_ALIAS, intervention_id=cache[alias], alias=alias)
            self.vocab["intervention_name"][cache[alias]] = name
        return super().intervention(name, type_)


class _Planned:
    """What is stored, as the records of a batch see it: what the database held when the
    batch began (read with one statement per kind) and what the batch planned before."""

    def __init__(self, plan: _Plan, docs: list[dict[str, Any]]) -> None:
        session, self.plan = plan.session, plan
        identifiers = {r["identifier"] for d in docs for r in d.get("registry_ids", [])}
        self.holders: dict[tuple[str, str], str] = {
            (_value(row[0]), row[1]): row[2] for row in session.execute(
                select(RegistryId.registry_name, RegistryId.identifier, Study.key)
                .join(Study).where(RegistryId.identifier.in_(identifiers)))
        } if identifiers else {}
        names = {fold(n) for d in docs for n in d.get("conditions", [])}
        self.conditions: dict[str, tuple[Any, str]] = {}
        if names:
            for alias, ident, name in session.execute(
                    select(ConditionAlias.alias, Condition.id, Condition.name)
                    .join(Condition).where(ConditionAlias.alias.in_(names))):
                self.conditions[alias] = (ident, name)
                plan.vocab["condition"][alias] = ident
        plan.absent_conditions = names - set(self.conditions)
        names = {fold(i["name"]) for d in docs for a in d.get("arms", [])
                 for i in a["interventions"]}
        self.interventions: dict[str, tuple[str, str]] = {}
        self.types: dict[int, Any] = {}  # intervention id -> its stored type
        if names:
            for alias, ident, name, type_ in session.execute(
                    select(InterventionAlias.alias, Intervention.id, Intervention.name,
                           Intervention.type)
                    .join(Intervention).where(InterventionAlias.alias.in_(names))):
                self.interventions[alias] = (name, _value(type_))
                self.types[ident] = type_
                plan.vocab["intervention"][alias] = ident
                plan.vocab["intervention_name"][ident] = name
        plan.absent_interventions = names - set(self.interventions)
        for column in ("doi", "pmid"):
            bulk.find_publications(plan, column, {p.get(column) for d in docs
                                                  for p in d.get("publications", [])})

    def own_key(self, nct: str) -> str | None:
        return None

    def registry_holder(self, registry: str, identifier: str) -> str | None:
        return self.holders.get((registry, identifier))

    def condition(self, name: str) -> tuple[Any, str] | None:
        return self.conditions.get(fold(name))

    def intervention(self, name: str) -> tuple[str, str] | None:
        return self.interventions.get(fold(name))

    def publication(self, column: str, value: Any) -> Any:
        return self.plan.stored_publications.get((column, value))

    def planned(self, doc: StudyCreate) -> None:
        """What a planned document adds for the records after it."""
        for r in doc.registry_ids:
            self.holders.setdefault((_value(r.registry), r.identifier), doc.key)
        for name in doc.conditions:
            self.conditions.setdefault(fold(name),
                                       (self.plan.vocab["condition"][fold(name)], name))
        for arm in doc.arms:
            for i in arm.interventions:
                self.interventions.setdefault(
                    fold(i.name), (i.name, (i.type or InterventionType.OTHER).value))


def _plan(session: Session, new: list[New]
          ) -> tuple[_Plan, _Planned, list[tuple[int, StudyCreate]]]:
    plan = _Plan(session)
    stored = _Planned(plan, [n.doc for n in new])
    docs: list[tuple[int, StudyCreate]] = []
    batch_ids: dict[str, int] = {}
    for line, n in enumerate(new):
        importer.reconcile(stored, n.doc, n.report)
        doc = importer.validated(n.doc, n.where)
        if doc.relations or doc.key in batch_ids:
            raise NotBatched(n.where)
        bulk._publications(plan, [(line, doc)])
        batch_ids[doc.key] = plan.ids.take(bulk._STUDY)
        bulk._plan_study(plan, line, doc, {}, batch_ids, source_record=n.record)
        stored.planned(doc)
        docs.append((line, doc))
    bulk._check_unique(plan, docs)
    return plan, stored, docs


def _planned_rows(stmt: direct.Direct, rows: list[dict[str, Any]]) -> list[Any]:
    """Planned rows shaped as the document read `stmt` returns them (absent columns NULL)."""
    names = tuple(stmt.stmt.selected_columns.keys())
    make = _row_class(names)._make
    try:
        get = itemgetter(*names)
        return [make(get(row)) for row in rows]
    except KeyError:  # a row leaves a column out
        return [make([row.get(name) for name in names]) for row in rows]


@lru_cache
def _row_class(names: tuple[str, ...]) -> Any:
    return namedtuple("Row", names)  # noqa: PYI024


def _as_read(plan: _Plan) -> None:
    """The planned values as the database gives them back: a float column's integer is
    read as a float."""
    for table in bulk.TABLES:
        floats = _FLOATS.get(table.name)
        for row in plan.rows.get(table.name, []) if floats else ():
            for name in floats or ():
                if type(row.get(name)) is int:
                    row[name] = float(row[name])


_FLOATS = {t.name: [c.name for c in t.columns if isinstance(c.type, Float)]
           for t in bulk.TABLES}


def _fetched(plan: _Plan, stored: _Planned) -> documents.Fetched:
    """What `documents.assemble` reads for the batch's new studies, from the plan."""
    rows = plan.rows

    def got(table: str) -> list[dict[str, Any]]:
        return rows.get(table, [])

    names = plan.vocab["intervention_name"]
    types = {**stored.types, **{r["id"]: r["type"] for r in got("intervention")}}
    pubs = {r["id"]: r for r in got("publication")}
    pubs.update((p.id, dict(p._mapping)) for p in plan.stored_publications.values()
                if hasattr(p, "_mapping"))
    arm_ints = sorted(got("arm_intervention"), key=itemgetter("arm_id", "position"))
    return {
        q.REGISTRY_IDS: _planned_rows(q.REGISTRY_IDS, got("registry_id")),
        q.CONDITIONS: _planned_rows(q.CONDITIONS, got("study_condition")),
        q.INTERVENTION_NAMES: _planned_rows(q.INTERVENTION_NAMES, [
            {"study_id": r["study_id"], "name": names[r["intervention_id"]]}
            for r in sorted(got("arm_intervention"),
                            key=itemgetter("study_id", "arm_id", "position"))]),
        q.KEYWORDS: _planned_rows(q.KEYWORDS, got("study_keyword")),
        q.RELATIONS: [], q.REFERENCED_BY: [],  # a batch plans no relation (NotBatched)
        q.PUBLICATIONS: _planned_rows(q.PUBLICATIONS, [
            {**r, **pubs[r["publication_id"]]} for r in got("study_publication")]),
        q.SOURCES: _planned_rows(q.SOURCES, got("provenance")),
        q.ARMS: _planned_rows(q.ARMS, got("arm")),
        q.TIMEPOINTS: _planned_rows(q.TIMEPOINTS, got("timepoint")),
        q.ARM_INTERVENTIONS: _planned_rows(q.ARM_INTERVENTIONS, [
            {**r, "intervention_name": names[r["intervention_id"]],
             "intervention_type": types[r["intervention_id"]]} for r in arm_ints]),
        q.OUTCOME_MEASURES: _planned_rows(q.OUTCOME_MEASURES, got("outcome_measure")),
        q.EFFECTS: _planned_rows(q.EFFECTS, sorted(
            got("effect_estimate"), key=itemgetter("outcome_measure_id", "position", "id"))),
        q.RESULTS: _planned_rows(q.RESULTS, sorted(
            got("outcome_result"), key=itemgetter("outcome_measure_id", "position"))),
    }


def _documents(plan: _Plan, stored: _Planned) -> list[dict[str, Any]]:
    """The new studies' documents as `documents.assemble` reads them once inserted, built
    from the plan (`assemble`'s own steps, on the rows it would read)."""
    _as_read(plan)
    got = _fetched(plan, stored)
    studies = plan.rows[bulk._STUDY.name]
    docs: dict[int, dict[str, Any]] = {}
    for r in studies:
        doc = {name: r[name] for name in STUDY_FIELDS}
        doc["countries"] = list(r["countries"] or [])
        doc["conflicts"] = list(r["conflicts"] or [])
        docs[r["id"]] = doc
    reg = documents._group(got[q.REGISTRY_IDS])
    cond = documents._group(got[q.CONDITIONS])
    ints = documents._group(got[q.INTERVENTION_NAMES])
    for sid, doc in docs.items():
        doc["registry_ids"] = [{"registry": x.registry, "identifier": x.identifier}
                               for x in reg.get(sid, [])]
        doc["conditions"] = [x.label for x in cond.get(sid, [])]
        doc["interventions"] = list(dict.fromkeys(x.name for x in ints.get(sid, [])))
    documents.add_detail_extras(got, docs)
    documents._add_parts(got, docs, set(documents.ALL_PARTS), True)
    for r in studies:
        docs[r["id"]].update({name: r[name] for name in META_FIELDS})
    return [docs[r["id"]] for r in studies]


def _encoded(value: Any) -> str | None:
    """A JSON column's text, written by orjson (several times faster than the standard
    library's encoder the column type would use); what orjson refuses (integers past 64 bits)
    is written by the standard library, as the column type would."""
    if value is None:  # an absent document stays SQL NULL
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _as_text(table: Table) -> Table:
    """The table with its JSON columns as text, for rows whose JSON is encoded already."""
    return Table(table.name, MetaData(), *[
        Column(c.name, Text() if isinstance(c.type, JSON) else c.type) for c in table.columns])


_STUDY_TEXT, _AUDIT_TEXT = _as_text(bulk._STUDY), _as_text(bulk._AUDIT)
_STUDY_JSON = [c.name for c in bulk._STUDY.columns if isinstance(c.type, JSON)]
def _insert(session: Session, plan: _Plan) -> None:
    """Every planned row, a table at a time; the studies' JSON encoded here."""
    conn = session.connection()
    for row in plan.rows.get(bulk._STUDY.name, []):
        for name in _STUDY_JSON:
            row[name] = _encoded(row.get(name))
    for table in bulk.TABLES:
        rows = plan.rows.get(table.name)
        if rows:
            bulk._insert(conn, _STUDY_TEXT if table is bulk._STUDY else table, rows)


# PostgreSQL compresses the large JSON of the new rows (registry record, audit snapshot) with
# LZ4 where the server has it: about twice as fast to write as its default (pglz), read the
# same; for the rest of this transaction only.
_LZ4 = text("SELECT set_config('default_toast_compression', 'lz4', true) FROM pg_settings "
            "WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")


def create(session: Session, new: list[New], req: WriteRequest) -> list[ImportResult]:
    """Create a study from each record, all of them or none (it raises)."""
    session.flush()
    bulk._lock(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LZ4)
    plan, stored, docs = _plan(session, new)
    ids = [row["id"] for row in plan.rows[bulk._STUDY.name]]
    # The study as `studies.read` will read it: its document and the flags it raises.
    explained = flags._explained(session, ids)
    afters = [{**doc, "flags": flags._raised(doc, n.record, explained[sid])}
              for sid, doc, n in zip(ids, _documents(plan, stored), new, strict=True)]
    snapshots = [audit.jsonable(after) for after in afters]
    with bulk_insert.deferred_reference_checks(session, bulk.TABLES, plan.rows):
        _insert(session, plan)
    raised = [{"study_id": sid, "flag_id": flag["id"], "flag_type": flag["type"]}
              for sid, after in zip(ids, afters, strict=True) for flag in after["flags"]]
    if raised:
        session.execute(insert(StudyFlag), raised)
    entries, changes, now = [], [], utcnow()
    for (_, doc), n, snapshot in zip(docs, new, snapshots, strict=True):
        changed = audit.diff(None, snapshot)
        entry = {"id": plan.ids.take(bulk._AUDIT), "at": now, "actor_id": req.actor_id,
                 "action": "create", "entity": "study", "entity_key": doc.key, "version": 1,
                 "changes": _encoded(changed), "snapshot": _encoded(snapshot),
                 "reason": req.reason or
                 f"imported from ClinicalTrials.gov record {ctgov.nct_id(n.record)}"}
        changes.append({"audit_entry_id": entry["id"], "at": now, "actor_id": req.actor_id,
                        "entity": "study", "entity_key": doc.key, "study_key": doc.key,
                        "action": "create", "version": 1, "summary": sorted(changed)})
        entries.append(entry)
    bulk._insert(session.connection(), _AUDIT_TEXT, entries)
    bulk._fix_sequences(session)
    feed.note_rows(session, changes)
    return [ImportResult(ctgov.nct_id(n.record), sid, doc.key, "created", 1,
                         n.report.as_dict())
            for (_, doc), n, sid in zip(docs, new, ids, strict=True)]
