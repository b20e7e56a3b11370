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

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
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


class _Planned:
    """What is stored, as the records of a batch see it: what the database held when the
    batch began (read with one statement per kind) and what the batch planned before."""

    def __init__(self, plan: bulk._Plan, docs: list[dict[str, Any]]) -> None:
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


def _plan(session: Session, new: list[New]) -> tuple[bulk._Plan, list[tuple[int, StudyCreate]]]:
    plan = bulk._Plan(session, bulk._Ids(session), bulk.new_vocab_cache())
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


def create(session: Session, new: list[New], req: WriteRequest) -> list[ImportResult]:
    """Create a study from each record, all of them or none (it raises)."""
    session.flush()
    bulk._lock(session)
    plan, docs = _plan(session, new)
    bulk.insert_plan(session, plan)
    ids = [row["id"] for row in plan.rows[bulk._STUDY.name]]
    rows = session.execute(select(Study.__table__).where(Study.id.in_(ids))
                           .order_by(Study.id)).all()
    # The study as `studies.read` reads it: its document and the flags it raises.
    explained = flags._explained(session, ids)
    afters = [{**doc, "flags": flags._raised(doc, row.source_record, explained[row.id])}
              for row, doc in zip(rows, documents.assemble(session, rows, detail=True),
                                  strict=True)]
    raised = [{"study_id": row.id, "flag_id": flag["id"], "flag_type": flag["type"]}
              for row, after in zip(rows, afters, strict=True) for flag in after["flags"]]
    if raised:
        session.execute(insert(StudyFlag), raised)
    entries, changes, now = [], [], utcnow()
    for (_, doc), n, after in zip(docs, new, afters, strict=True):
        snapshot = audit.jsonable(after)
        entry = {"id": plan.ids.take(bulk._AUDIT), "at": now, "actor_id": req.actor_id,
                 "action": "create", "entity": "study", "entity_key": doc.key, "version": 1,
                 "changes": audit.diff(None, snapshot), "snapshot": snapshot,
                 "reason": req.reason or
                 f"imported from ClinicalTrials.gov record {ctgov.nct_id(n.record)}"}
        changes.append({"audit_entry_id": entry["id"], "at": now, "actor_id": req.actor_id,
                        "entity": "study", "entity_key": doc.key, "study_key": doc.key,
                        "action": "create", "version": 1, "summary": sorted(entry["changes"])})
        entries.append(entry)
    bulk._insert(session.connection(), bulk._AUDIT, entries)
    bulk._fix_sequences(session)
    feed.note_rows(session, changes)
    return [ImportResult(ctgov.nct_id(n.record), row.id, doc.key, "created", 1,
                         n.report.as_dict())
            for (_, doc), n, row in zip(docs, new, rows, strict=True)]
