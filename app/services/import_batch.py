"""Creating the studies of many registry records at once: the first import of a dump.

Records whose NCT id names no stored study are fitted to what is stored and validated
exactly as the single write does it (`importer.reconcile`, `importer.validated`), each seeing
what the records before it in the batch would have stored; then all their rows are planned
in memory by the bulk loader's planner and inserted a table at a time (COPY on PostgreSQL,
executemany on SQLite). What is stored is what `studies.create` stores, record by record:
the study with its source record at version 1, every part, its flags, one audit entry with
the study as read back and one change-feed row pointing at it.

`create` writes all of them or raises; the caller runs it in a SAVEPOINT and, when it fails,
writes the records one by one, so that a refused file is still reported by name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import JSON, Column, MetaData, Table, Text, insert, select, text
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
from app.schemas.study import StudyCreate
from app.services import audit, bulk, documents, feed, flags, importer
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
        if names:
            for alias, ident, name, type_ in session.execute(
                    select(InterventionAlias.alias, Intervention.id, Intervention.name,
                           Intervention.type)
                    .join(Intervention).where(InterventionAlias.alias.in_(names))):
                self.interventions[alias] = (name, _value(type_))
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


def _plan(session: Session, new: list[New]) -> tuple[_Plan, list[tuple[int, StudyCreate]]]:
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
    return plan, docs


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
# The study row as the document reads it: its source record is the one in hand.
_STUDY_READ = select(*[c for c in bulk._STUDY.columns if c.name != "source_record"])


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


def _afters(session: Session, ids: list[int], new: list[New]) -> tuple[Sequence[Any],
                                                                      list[dict[str, Any]]]:
    """The new studies' rows and documents as `studies.read` reads them, with their flags."""
    rows = session.execute(_STUDY_READ.where(bulk._STUDY.c.id.in_(ids))
                           .order_by(bulk._STUDY.c.id)).all()
    explained = flags._explained(session, ids)
    afters = [{**doc, "flags": flags._raised(doc, n.record, explained[row.id])}
              for row, doc, n in zip(rows, documents.assemble(session, rows, detail=True), new,
                                     strict=True)]
    return rows, afters


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
    plan, docs = _plan(session, new)
    _insert(session, plan)
    rows, afters = _afters(session, [row["id"] for row in plan.rows[bulk._STUDY.name]], new)
    raised = [{"study_id": row.id, "flag_id": flag["id"], "flag_type": flag["type"]}
              for row, after in zip(rows, afters, strict=True) for flag in after["flags"]]
    if raised:
        session.execute(insert(StudyFlag), raised)
    entries, changes, now = [], [], utcnow()
    for (_, doc), n, after in zip(docs, new, afters, strict=True):
        snapshot = audit.jsonable(after)
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
    return [ImportResult(ctgov.nct_id(n.record), row.id, doc.key, "created", 1,
                         n.report.as_dict())
            for (_, doc), n, row in zip(docs, new, rows, strict=True)]
