"""Bulk loading of study documents: validated like any write, inserted a batch at a time.

Each batch is planned in memory (ids assigned up front, derived columns computed with the same
rules as a single write) and inserted table by table with one multi-row statement per table,
in one transaction with one audit entry. A bad document fails its whole batch.
"""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Table, text
from sqlalchemy.orm import Session

from app.enums import InterventionType, RetractionStatus
from app.errors import ProblemError, validation_errors
from app.models import (
    AuditEntry,
    Condition,
    ConditionAlias,
    Intervention,
    InterventionAlias,
    Publication,
    Study,
)
from app.queries import vocab as qv
from app.queries import writes as qw
from app.schemas.study import PublicationIn, StudyCreate
from app.services import bulk_insert, feed, flags, rendered, rows
from app.services.load_resume import Loaded
from app.services.rows import PUBLICATION_ATTRS, table_of
from app.services.vocab import fold
from app.types import utcnow

# Insert order: every table after the tables it refers to.
_INTERVENTION, _INTERVENTION_ALIAS = table_of(Intervention), table_of(InterventionAlias)
_CONDITION, _CONDITION_ALIAS = table_of(Condition), table_of(ConditionAlias)
_PUBLICATION, _STUDY, _AUDIT = table_of(Publication), table_of(Study), table_of(AuditEntry)
TABLES: list[Table] = [_INTERVENTION, _INTERVENTION_ALIAS, _CONDITION, _CONDITION_ALIAS,
                       _PUBLICATION, *rows.STUDY_TABLES, _AUDIT]
# Found ids and names, across batches: folded alias -> id, and id -> canonical name.
VocabCache = dict[str, dict[Any, Any]]


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
            top = session.scalar(qw.top_id(table))
            self._next[table.name] = (top or 0) + 1

    def take(self, table: Table) -> int:
        value = self._next[table.name]
        self._next[table.name] = value + 1
        return value


class _Plan:
    def __init__(self, session: Session, ids: _Ids, vocab_cache: VocabCache):
        self.session = session
        self.ids = ids
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.vocab = vocab_cache
        self.publications: dict[tuple[int, str], tuple[int, RetractionStatus]] = {}
        # ("doi" | "pmid", value) -> the publication, stored or planned by this plan.
        self.stored_publications: dict[tuple[str, Any], Any] = {}
        self.now = utcnow()

    def add(self, table: Table, **values: Any) -> int:
        values.setdefault("id", self.ids.take(table))
        self.rows[table.name].append(values)
        ident: int = values["id"]
        return ident

    # vocabularies ----------------------------------------------------------
    def intervention(self, name: str, type_: InterventionType | None) -> tuple[int, str]:
        cache = self.vocab["intervention"]
        alias = fold(name)
        if alias not in cache:
            found: Any = self.session.execute(qv.intervention_name_by_alias(alias)).first()
            if found is None:
                new_id = self.add(_INTERVENTION, name=name,
                                  type=type_ or InterventionType.OTHER, synonyms=[],
                                  description=None)
                self.add(_INTERVENTION_ALIAS, intervention_id=new_id, alias=alias)
                found = (new_id, name)
            cache[alias] = found[0]
            self.vocab["intervention_name"][found[0]] = found[1]
        ident: int = cache[alias]
        canonical: str = self.vocab["intervention_name"][ident]
        return ident, canonical

    def condition(self, name: str) -> int:
        cache = self.vocab["condition"]
        alias = fold(name)
        if alias not in cache:
            found: Any = self.session.scalar(qv.condition_id_by_alias(alias))
            if found is None:
                found = self.add(_CONDITION, name=name, mesh_term=None, synonyms=[])
                self.add(_CONDITION_ALIAS, condition_id=found, alias=alias)
            cache[alias] = found
        condition_id: int = cache[alias]
        return condition_id


def _publications(plan: _Plan, docs: list[tuple[int, StudyCreate]]) -> None:
    """Find or plan every publication the batch names, refusing conflicting descriptions."""
    t = _PUBLICATION
    stored = plan.stored_publications
    for column in ("doi", "pmid"):
        find_publications(plan, column, {getattr(p, column) for _, d in docs
                                         for p in d.publications})
    for line, doc in docs:
        for p in doc.publications:
            given = p.model_dump(include=set(PUBLICATION_ATTRS))
            row: Any = (stored.get(("doi", p.doi)) if p.doi else None) or \
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


def find_publications(plan: _Plan, column: str, values: Iterable[Any]) -> None:
    """Remember the stored publications whose DOI or PMID (`column`) is one of `values`."""
    wanted = {v for v in values if v and (column, v) not in plan.stored_publications}
    if wanted:
        for found in plan.session.execute(qw.publications_with(column, wanted)):
            plan.stored_publications[(column, found._mapping[column])] = found


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
    taken: set[str] = set(plan.session.scalars(qw.keys_taken(keys)))
    for line, d in docs:
        if d.key in taken:
            raise BatchError(line, f"a study with key {d.key!r} already exists")
    pairs = {(r.registry, r.identifier): line for line, d in docs for r in d.registry_ids}
    identifiers = {i for _, i in pairs}
    if identifiers:
        hits = plan.session.execute(qw.registry_ids_taken(identifiers)).all()
        for hit in hits:
            if (hit[0], hit[1]) in pairs:
                raise BatchError(pairs[(hit[0], hit[1])],
                                 f"registry id {hit[0]} {hit[1]} belongs to another study")
    targets = {r.target for _, d in docs for r in d.relations} - set(keys)
    known = {r.key: r.id for r in plan.session.execute(qw.live_study_ids(targets))
             } if targets else {}
    for line, d in docs:
        for r in d.relations:
            if r.target not in known and r.target not in seen:
                raise BatchError(line, f"relations: no study with key {r.target!r}")
    return known


class _BatchSource:
    """The batch's ids and records, as planning one of its documents needs them."""

    def __init__(self, plan: _Plan, line: int, targets: dict[str, int],
                 batch_ids: dict[str, int]) -> None:
        self.plan, self.line, self.targets, self.batch_ids = plan, line, targets, batch_ids

    def new_id(self, table: Table) -> int:
        return self.plan.ids.take(table)

    def publication(self, p: PublicationIn) -> tuple[int, RetractionStatus]:
        return self.plan.publications[(self.line, p.ref)]

    def condition(self, name: str) -> int:
        return self.plan.condition(name)

    def intervention(self, name: str, type_: InterventionType | None) -> tuple[int, str]:
        return self.plan.intervention(name, type_)

    def study_id(self, key: str) -> int | None:
        return self.targets.get(key) or self.batch_ids.get(key)


def _plan_study(plan: _Plan, line: int, doc: StudyCreate, targets: dict[str, int],
                batch_ids: dict[str, int], source_record: Any = None) -> None:
    """Plan one document's rows with the same planner as a single write; `source_record`
    is the registry record it was imported from."""
    sid = batch_ids[doc.key]
    try:
        study = rows.plan_study(doc, _BatchSource(plan, line, targets, batch_ids), plan.rows,
                                sid)
    except ProblemError as exc:
        raise BatchError(line, exc.detail) from None
    study.update(id=sid, version=1, created_at=plan.now, updated_at=plan.now, deleted_at=None,
                 source_record=source_record)
    plan.rows[_STUDY.name].append(study)


_insert = bulk_insert.insert


def insert_plan(session: Session, plan: _Plan) -> None:
    """Every planned row, a table at a time."""
    conn = session.connection()
    for table in TABLES:
        rows = plan.rows.get(table.name)
        if rows:
            _insert(conn, table, rows)


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
    bulk_insert.fix_sequences(session, TABLES)


def load_batch(session: Session, docs: list[tuple[int, StudyCreate]], *, source: str,
               actor_id: int | None, vocab_cache: VocabCache, sha256: str | None = None,
               committed: Callable[[list[int]], None] | None = None) -> int:
    """Insert one batch of valid documents in one transaction, or nothing. Its audit entry
    names the batch's lines and, when given, the file's digest, so that a later run of the
    same file can skip what this one committed (`loaded_lines`). The batch's studies are
    rendered in it, or handed to `committed` once it is committed (rendered elsewhere)."""
    snapshot = {k: dict(v) for k, v in vocab_cache.items()}
    try:
        _lock(session)
        plan = _Plan(session, _Ids(session), vocab_cache)
        targets = _check_unique(plan, docs)
        _publications(plan, docs)
        # Every study of the batch has its id before any is planned: a relation may point
        # at a study further down the batch.
        batch_ids = {doc.key: plan.ids.take(_STUDY) for _, doc in docs}
        for line, doc in docs:
            _plan_study(plan, line, doc, targets, batch_ids)
        entry_id = plan.add(_AUDIT, at=plan.now, actor_id=actor_id, action="bulk-load",
                 entity="study", entity_key=source[:200], version=None,
                 changes={"created": [d.key for _, d in docs],
                          "lines": [docs[0][0], docs[-1][0]],
                          **({"sha256": sha256} if sha256 else {})},
                 snapshot=None, reason=None)
        with bulk_insert.deferred_reference_checks(session, TABLES, plan.rows):
            insert_plan(session, plan)
        flags.refresh(session, list(batch_ids.values()))
        if committed is None:
            rendered.store(session, batch_ids.values())
        _fix_sequences(session)
        feed.note_rows(session, [
            {"audit_entry_id": entry_id, "at": plan.now, "actor_id": actor_id,
             "entity": "study", "entity_key": doc.key, "study_key": doc.key,
             "action": "create", "version": 1, "summary": []} for _, doc in docs])
        session.commit()
    except BaseException:
        session.rollback()
        vocab_cache.clear()
        vocab_cache.update(snapshot)
        raise
    if committed is not None:
        committed(list(batch_ids.values()))
    return len(docs)


def batches(lines: Iterable[bytes], size: int, errors: list[BatchError],
            done: Loaded | None = None) -> Iterator[list[tuple[int, StudyCreate]]]:
    """Valid documents in batches; a batch with an invalid line is reported and skipped.
    Lines an earlier run committed (`done`) are passed over unread."""
    batch: list[tuple[int, StudyCreate]] = []
    bad = False
    for line_no, raw in enumerate(lines, start=1):
        if done is not None and line_no in done:
            pass
        elif raw.strip():
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


def read_ahead(lines: Iterable[bytes], size: int, errors: list[BatchError],
               done: Loaded | None = None) -> Iterator[list[tuple[int, StudyCreate]]]:
    """`batches`, read and validated by a thread one batch ahead of the caller, so that the
    next batch is parsed while the database works on this one. Errors reach `errors` in line
    order, as the caller passes them."""
    found: list[BatchError] = []
    ready: queue.Queue[tuple[Any, int, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: tuple[Any, int, BaseException | None]) -> None:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for batch in batches(lines, size, found, done):
                put((batch, len(found), None))
                if stop.is_set():
                    return
            put((None, len(found), None))
        except BaseException as exc:  # handed to the caller, raised there
            put((None, len(found), exc))

    thread = threading.Thread(target=produce, name="bulk-read-ahead", daemon=True)
    thread.start()
    passed = 0
    try:
        while True:
            batch, seen, failure = ready.get()
            errors.extend(found[passed:seen])
            passed = seen
            if failure is not None:
                raise failure
            if batch is None:
                return
            yield batch
    finally:
        stop.set()
        thread.join()


def new_vocab_cache() -> VocabCache:
    return {"intervention": {}, "intervention_name": {}, "condition": {}}
