"""Studies: listing, reading and writing whole documents.

A document is written in one transaction with its audit entry; derived columns (sort keys,
follow-up length, retraction flags, search text) are recomputed on every write.
"""

from __future__ import annotations

import datetime as dt
import time
import weakref
from typing import Any

from sqlalchemy.orm import Session

from app.errors import (
    Conflict,
    Gone,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    UnprocessableContent,
)
from app.models import Study
from app.queries import pagination
from app.queries import studies as q
from app.queries import study_filter as qf
from app.queries import writes as qw
from app.queries.pagination import Cursor, Page
from app.schemas.common import partial_date_sort_key
from app.schemas.filters import StudyListParams
from app.schemas.study import PublicationIn, StudyCreate
from app.services import (
    appraisal,
    audit,
    documents,
    flags,
    patching,
    publications,
    rendered,
    rows,
    vocab,
    writes,
)
from app.services.writes import Frame, Performed, StudyVersion, WriteRequest, Written
from app.types import utcnow

# Sorts an index gives in order (the others are computed per row and sorted).
_INDEXED_SORTS = frozenset({"key", "start_date", "title", "updated_at"})
# A set of studies at least this large is checked, not read through, on SQLite.
LARGE_MEMBERSHIP = 1000


def _large_memberships(session: Session, terms: list[qf.Term], sort: str, dialect: str
                       ) -> frozenset[str]:
    """Which memberships of the filter (by name) a page should only check.

    SQLite's planner costs a plan without the LIMIT: given `condition=PTSD`, it reads every
    PTSD study and sorts them all for a page of 50, where walking the sort's index and
    checking each study stops after the page. Which is better depends on the set's size,
    so it is measured, up to LARGE_MEMBERSHIP ids, unless it is small by construction (a few
    registry ids). The size is kept for a minute (`_sizes`): it only chooses the plan, and
    the answer is the same either way. PostgreSQL weighs the LIMIT itself."""
    if dialect != "sqlite" or sort.removeprefix("-") not in _INDEXED_SORTS:
        return frozenset()
    sizes = _sizes.setdefault(session.get_bind(), {})
    now = time.monotonic()
    large = []
    for t in terms:
        if not t.member or t.small:
            continue
        key = (t.name, _hashable(t.value), t.shape)
        known = sizes.get(key)
        if known is None or now - known[1] > SIZE_KEPT_S:
            n = session.scalar(q.sample_size(t.clause(t.value), LARGE_MEMBERSHIP)) or 0
            if len(sizes) >= _SIZES_KEPT:
                sizes.clear()
            sizes[key] = known = (n, now)
        if known[0] >= LARGE_MEMBERSHIP:
            large.append(t.name)
    return frozenset(large)


# Membership sizes measured by `_large_memberships`, per database: (size up to
# LARGE_MEMBERSHIP, when measured).
SIZE_KEPT_S = 60.0
_SIZES_KEPT = 4096
_sizes: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], tuple[int, float]]] = (
    weakref.WeakKeyDictionary())


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _check_fields(params: StudyListParams) -> None:
    unknown = sorted(set(params.fields) - set(documents.list_item_keys())
                     - set(params.include) - {"outcome_measures"})
    if unknown:
        raise UnprocessableContent(
            f"unknown field {unknown[0]!r}",
            errors=[{"loc": ["query", "fields"], "msg": f"unknown field {f!r}",
                     "type": "value_error"} for f in unknown])


def _token_value(row: Any) -> Any:
    value = row._sort
    return value.isoformat() if isinstance(value, dt.datetime) else value


def list_page(session: Session, params: StudyListParams, *, spliced: bool = False
              ) -> Page[dict[str, Any]]:
    """One page of the studies a filter matches, in a stable keyset order. `spliced`: the
    nested parts may be rendered JSON (`orjson.Fragment`), for an answer that is only
    encoded (app.services.rendered)."""
    _check_fields(params)
    dialect = session.get_bind().dialect.name
    f = params  # the list's parameters are its filter too (no copy made: each costs)
    cursor = None
    if params.page_token:
        cursor = pagination.decode_cursor(params.page_token, params.sort)
        cursor = Cursor(cursor.sort, q.sort_value(params.sort, cursor.value), cursor.id)
    terms = qf.terms(f, dialect)
    stmt = q.page_select(terms, dialect, params.sort,
                         _large_memberships(session, terms, params.sort, dialect),
                         cursor is not None)
    values = qf.term_values(terms) | pagination.keyset_values(cursor, params.page_size)
    rows, token = pagination.page_of(session.execute(stmt, values).all(), params.page_size,
                                     params.sort, _token_value)
    items = (rendered.assemble if spliced else documents.assemble)(
        session, rows, set(params.include))
    if params.fields:
        keep = set(params.fields) | {"key"}
        items = [{k: v for k, v in item.items() if k in keep} for item in items]
    total = session.scalar(q.count_select(f, dialect)) if params.count_total else None
    return Page(items, token, total)


def _live(row: Any, key: str) -> Any:
    if row is None:
        raise NotFound(f"no study with key {key!r}")
    if row.deleted_at is not None:
        raise Gone(f"study {key!r} was deleted", deleted_at=row.deleted_at.isoformat())
    return row


def get_row(session: Session, key: str) -> Any:
    """The study row for a key; 404 when unknown, 410 when deleted."""
    return _live(session.execute(q.study_row(key)).first(), key)


def etag_of(row: Any) -> str:
    """The ETag of a study at a version (anything with its `id` and `version`): the one
    place the tag is spelled."""
    return f'"{row.id}-{row.version}"'


def read(session: Session, key: str) -> dict[str, Any]:
    """The whole study document with everything nested, and its registry-versus-publication
    flags."""
    row = get_row(session, key)
    doc = documents.assemble(session, [row], detail=True)[0]
    return flags.with_flags(session, doc, row.id, row.source_record)


def served(session: Session, row: Any) -> dict[str, Any]:
    """`read` of a study row (`get_row`) as GET /studies/{key} answers it: the nested parts
    are the study's stored render (JSON fragments, for the answer only) when it is current."""
    spliced = rendered.detail(session, row)
    if spliced is None:
        doc = documents.assemble(session, [row], detail=True)[0]
        return flags.with_flags(session, doc, row.id, row.source_record)
    doc, stored = spliced
    return {**flags.with_flags(session, doc, row.id, row.source_record), **stored}


# ---------------------------------------------------------------- writing


PUBLICATION_ATTRS = rows.PUBLICATION_ATTRS


def _check_unique(session: Session, doc: StudyCreate, own_id: int | None = None) -> None:
    existing = session.execute(qw.key_holder(doc.key)).first()
    if existing is not None and existing.id != own_id:
        raise Conflict(f"a study with key {doc.key!r} already exists",
                       existing_study=existing.key, location=location_of(existing.key))
    for r in doc.registry_ids:
        hit = session.execute(qw.registry_id_holder(r.registry, r.identifier)).first()
        if hit is not None and hit.id != own_id:
            raise Conflict(f"registry id {r.registry} {r.identifier} belongs to study {hit.key!r}",
                           existing_study=hit.key, location=location_of(hit.key))


class _SessionRows:
    """Ids and stored records for planning a single write: new rows get their ids when
    inserted; publications and vocabularies are found or created in this session."""

    def __init__(self, session: Session, linked: dict[str, int]) -> None:
        self.session, self.linked = session, linked

    def new_id(self, table: Any) -> rows.Ref:
        return rows.Ref()

    def publication(self, p: PublicationIn) -> tuple[int, Any]:
        pub = publications.resolve(self.session, p, self.linked.get(p.ref))
        return pub.id, pub.retraction_status

    def condition(self, name: str) -> int:
        return vocab.upsert_condition(self.session, name).id

    def intervention(self, name: str, type_: Any) -> tuple[int, str]:
        found = vocab.upsert_intervention(self.session, name, type_)
        return found.id, found.name

    def study_id(self, key: str) -> int | None:
        target = self.session.execute(qw.key_holder(key)).first()
        return None if target is None or target.deleted_at is not None else target.id


def populate(session: Session, study: Study, doc: StudyCreate,
             linked: dict[str, int] | None = None) -> None:
    """Insert every child row of `study` as the row planner plans them (the study has no
    children yet) and set its derived columns. `linked` maps the refs of the publications
    the study had before a rewrite to their ids."""
    planned: dict[str, list[dict[str, Any]]] = {}
    columns = rows.plan_study(doc, _SessionRows(session, linked or {}), planned, study.id)
    rows.insert_planned(session, planned)
    for name, value in columns.items():
        setattr(study, name, value)


def apply_scalars(study: Study, doc: StudyCreate) -> None:
    """The study row's own columns, so that it can be stored before its parts are planned."""
    for name, value in documents.study_columns(doc).items():
        setattr(study, name, value)
    study.start_date_sort = partial_date_sort_key(doc.start_date)


def create(session: Session, doc: StudyCreate, *, actor_id: int | None,
           reason: str | None = None, commit: bool = True,
           record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Store a new study with everything nested, and its audit entry, in one transaction;
    `record` is the registry record it was imported from."""
    after: dict[str, Any] = _insert(session, doc, actor_id, reason, record).body
    if commit:
        session.commit()
    return after


def _insert(session: Session, doc: StudyCreate, actor_id: int | None,
            reason: str | None, record: dict[str, Any] | None = None) -> Written:
    _check_unique(session, doc)
    now = utcnow()
    study = Study(version=1, created_at=now, updated_at=now, source_record=record)
    apply_scalars(study, doc)
    session.add(study)
    session.flush()
    populate(session, study, doc)
    session.flush()
    after = read(session, doc.key)
    flags.store(session, study.id, after["flags"])
    audit.record(session, actor_id=actor_id, action="create", entity="study",
                 entity_key=doc.key, version=1, before=None, after=after, reason=reason)
    return Written(after, created=True, study=StudyVersion(study.id, doc.key, 1))


def location_of(key: str) -> str:
    """The path of a study (its Location, and where a conflict points)."""
    return f"/api/v1/studies/{key}"


def post(session: Session, doc: StudyCreate, req: WriteRequest, frame: Frame) -> Performed:
    """Add a study with everything nested: all of it and its audit entry, or nothing."""
    def action() -> Written:
        return _insert(session, doc, req.actor_id, req.reason)

    return writes.run(session, req, doc.model_dump(mode="json"), action, frame)


def _expected_version(row: Any, if_match: str | None) -> int:
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            "this write needs an If-Match header with the study's current ETag "
            "(read the study to get it)")
    tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" in tags:
        raise PreconditionRequired("If-Match must name the study's ETag; * is not accepted")
    if etag_of(row) not in tags:
        raise PreconditionFailed("the study changed since that ETag was read; read it again "
                                 "and reapply the change")
    return int(row.version)


def _lock(session: Session, key: str, if_match: str | None) -> Any:
    """The study row, locked for this transaction, if it still has the version If-Match names.

    The conditional UPDATE is the atomic check: on PostgreSQL a concurrent writer waits for
    the row lock and then finds the version moved; on SQLite writers already run one at a time.
    """
    row = get_row(session, key)
    expected = _expected_version(row, if_match)
    if session.execute(qw.claim_version(row.id, expected)).rowcount != 1:  # type: ignore[attr-defined]
        raise PreconditionFailed("the study changed since that ETag was read; read it again "
                                 "and reapply the change")
    return row


def _replace(session: Session, row: Any, doc: StudyCreate, req: WriteRequest,
             action: str, record: dict[str, Any] | None = None) -> Written:
    """Replace a locked study's document; `record`, when given, is the registry record it
    is now imported from (else the stored one stays)."""
    if doc.key != row.key:
        raise UnprocessableContent(
            "key: the key in the body must be the key in the URL; a study's key never changes",
            errors=[{"loc": ["body", "key"], "msg": "differs from the key in the URL",
                     "type": "value_error"}])
    before = read(session, row.key)
    _check_unique(session, doc, own_id=row.id)
    linked = {r.ref: r.publication_id for r in session.execute(qw.publication_links(row.id))}
    assessments = appraisal.detach(session, row.id)
    for statement in qw.remove_parts(row.id):
        session.execute(statement)
    study = session.get(Study, row.id)
    assert study is not None
    apply_scalars(study, doc)
    if record is not None:
        study.source_record = record
    study.version = row.version + 1
    study.updated_at = utcnow()
    session.flush()
    populate(session, study, doc, linked)
    session.flush()
    appraisal.reattach(session, row.id, assessments, row.key, req.actor_id)
    after = read(session, row.key)
    flags.store(session, row.id, after["flags"])
    audit.record(session, actor_id=req.actor_id, action=action, entity="study",
                 entity_key=row.key, version=study.version, before=before, after=after,
                 reason=req.reason)
    return Written(after, study=StudyVersion(row.id, row.key, study.version))


def replace(session: Session, key: str, doc: StudyCreate, if_match: str | None,
            req: WriteRequest, frame: Frame) -> Performed:
    """Replace a whole study (If-Match required); its key and creation time stay."""
    def action() -> Written:
        return _replace(session, _lock(session, key, if_match), doc, req, "replace")

    return writes.run(session, req, {"if_match": if_match, "body": doc.model_dump(mode="json")},
                      action, frame)


def patch(session: Session, key: str, changes: dict[str, Any], if_match: str | None,
          req: WriteRequest, frame: Frame) -> Performed:
    """Apply a JSON merge patch to the stored document, validate it whole, then replace."""
    def action() -> Written:
        row = _lock(session, key, if_match)
        merged = patching.merge_patch(
            patching.input_document(StudyCreate, read(session, key)), changes)
        return _replace(session, row, patching.validated(StudyCreate, merged), req, "update")

    return writes.run(session, req, {"if_match": if_match, "body": changes}, action, frame)


def remove(session: Session, key: str, if_match: str | None, req: WriteRequest,
           frame: Frame) -> Performed:
    """Soft-delete a study: gone from lists and reads (410), its history kept."""
    def action() -> Written:
        row = _lock(session, key, if_match)
        before = read(session, key)
        study = session.get(Study, row.id)
        assert study is not None
        now = utcnow()
        study.deleted_at = now
        study.updated_at = now
        study.version = row.version + 1
        audit.record(session, actor_id=req.actor_id, action="delete", entity="study",
                     entity_key=key, version=study.version, before=before, after=None,
                     reason=req.reason)
        return Written(None, study=StudyVersion(row.id, key, study.version))

    return writes.run(session, req, {"if_match": if_match}, action, frame)
