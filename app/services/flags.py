"""Registry-versus-publication flags: computed from the study (the rules are in `flag_rules`),
shown on the study read and listed at /flags; a curator's explanation of a flag is written
with If-Match, audit, idempotent retries and dry runs.

Which flags a study raises is also stored (`study_flag`) whenever the study is written (a
single write, an import, a bulk load, and once for every study when the table is created),
so that the study filter `flag`, its facet and the flag list find the flagged studies by
index instead of computing every study's flags; the flags' values are computed on each read.

Writing an explanation moves the study to a new version, since its read shows the flag with
the explanation. An explanation stays stored when its flag stops being raised (it is shown
again if the flag returns), and its history stays in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.errors import Gone, NotFound
from app.models import FlagExplanation, StudyFlag
from app.queries import flags as q
from app.queries import studies as qs
from app.queries import writes as qw
from app.queries.pagination import (
    NOT_ISSUED,
    Cursor,
    InvalidPageToken,
    Page,
    decode_cursor,
    encode_cursor,
)
from app.schemas.flags import FlagExplanationDocument, FlagFilter
from app.services import audit, documents, writes
from app.services.flag_rules import flags_of
from app.services.writes import Performed, WriteRequest
from app.types import utcnow

ENTITY = "flag_explanation"
SORT = "flags"
BATCH = 100


@dataclass
class Explained:
    """What an explanation write stored: the document, whether it created it, ETag, path."""

    body: dict[str, Any]
    created: bool
    etag: str
    location: str


def etag_of(row: Any) -> str:
    return f'"flag-{row.id}-{row.version}"'


def location_of(key: str, flag_id: str) -> str:
    return f"/api/v1/studies/{key}/flags/{flag_id}/explanation"


def _shown(row: Any) -> dict[str, Any]:
    return {"reason": row.reason, "explained_by": {"id": row.explained_by,
                                                   "name": row.explainer_name},
            "compared": row.compared, "version": row.version, "updated_at": row.updated_at}


def _document(row: Any, key: str) -> dict[str, Any]:
    return {"reason": row.reason, "flag_id": row.flag_id, "study_key": key,
            "flag_type": row.flag_type, "compared": row.compared,
            "explained_by": {"id": row.explained_by, "name": row.explainer_name},
            "version": row.version, "created_at": row.created_at,
            "updated_at": row.updated_at}


def _raised(doc: dict[str, Any], record: Any, explained: dict[str, Any]) -> list[dict[str, Any]]:
    nct = next((r["identifier"] for r in doc.get("registry_ids") or []
                if r["registry"] == "NCT"), None)
    out = []
    for flag in flags_of(doc, record if isinstance(record, dict) else None):
        row = explained.get(flag["id"])
        out.append({**flag, "study": doc["key"], "registry": nct, "explained": row is not None,
                    "explanation": None if row is None else _shown(row)})
    return out


def _explained(session: Session, study_ids: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {i: {} for i in study_ids}
    for row in session.execute(q.explanations(study_ids)):
        out[row.study_id][row.flag_id] = row
    return out


def with_flags(session: Session, doc: dict[str, Any], study_id: int, record: Any
               ) -> dict[str, Any]:
    """A study document with the flags it raises (`flags`, read-only); `record` is the
    study's stored registry record (None for a curated study)."""
    explained = _explained(session, [study_id])[study_id]
    return {**doc, "flags": _raised(doc, record, explained)}


def store(session: Session, study_id: int, raised: list[dict[str, Any]]) -> None:
    """Keep which flags a study raises (`raised`: the `flags` of its document as just read),
    in place of those stored before."""
    session.execute(q.forget([study_id]))
    if raised:
        session.execute(insert(StudyFlag), [{"study_id": study_id, "flag_id": flag["id"],
                                             "flag_type": flag["type"]} for flag in raised])


def refresh(session: Session, study_ids: list[int]) -> None:
    """Compute and keep the flags of these studies (every stored study when empty), in
    batches; a study without registry data raises none."""
    session.execute(q.forget(study_ids or None))
    after_id = 0
    while True:
        rows = session.execute(q.with_registry_data(study_ids, after_id, BATCH)).all()
        if not rows:
            return
        docs = documents.assemble(session, rows, detail=True)
        values = [{"study_id": row.id, "flag_id": flag["id"], "flag_type": flag["type"]}
                  for row, doc in zip(rows, docs, strict=True)
                  for flag in flags_of(doc, row.source_record
                                       if isinstance(row.source_record, dict) else None)]
        if values:
            session.execute(insert(StudyFlag), values)
        after_id = rows[-1].id + 1


def _live(session: Session, key: str) -> Any:
    row = session.execute(qs.study_row(key)).first()
    if row is None:
        raise NotFound(f"no study with key {key!r}")
    if row.deleted_at is not None:
        raise Gone(f"study {key!r} was deleted", deleted_at=row.deleted_at.isoformat())
    return row


def _study_document(session: Session, row: Any) -> dict[str, Any]:
    doc = documents.assemble(session, [row], detail=True)[0]
    return with_flags(session, doc, row.id, row.source_record)


def _wanted(flag: dict[str, Any], f: FlagFilter) -> bool:
    return ((not f.type or flag["type"] in f.type)
            and (f.explained is None or flag["explained"] == f.explained))


def list_page(session: Session, f: FlagFilter) -> Page[dict[str, Any]]:
    """The flags that match the filter, in (study id, flag id) order, one keyset page at a
    time: the studies that raise a stored flag of the wanted types are read in batches from
    the cursor's study on and their flags computed until the page is full."""
    cursor = decode_cursor(f.page_token, SORT) if f.page_token else None
    if cursor is not None and not isinstance(cursor.value, str):
        raise InvalidPageToken(NOT_ISSUED)  # a flag id is text
    after_id = cursor.id if cursor is not None else 0
    found: list[tuple[int, dict[str, Any]]] = []
    while len(found) <= f.page_size:
        rows = session.execute(q.flagged(f.study, f.registry_id, f.type, after_id, BATCH)).all()
        if not rows:
            break
        docs = documents.assemble(session, rows, detail=True)
        explained = _explained(session, [r.id for r in rows])
        for row, doc in zip(rows, docs, strict=True):
            for flag in _raised(doc, row.source_record, explained[row.id]):
                if cursor is not None and row.id == cursor.id and flag["id"] <= cursor.value:
                    continue
                if _wanted(flag, f):
                    found.append((row.id, flag))
        after_id = rows[-1].id + 1
    page = found[:f.page_size]
    token = None
    if len(found) > f.page_size:
        last_id, last = page[-1]
        token = encode_cursor(Cursor(SORT, last["id"], last_id))
    return Page([flag for _, flag in page], token)


def _flag_of(doc: dict[str, Any], key: str, flag_id: str) -> dict[str, Any]:
    """The raised flag with this id; 404 when the study does not raise it."""
    flag = next((f for f in doc["flags"] if f["id"] == flag_id), None)
    if flag is None:
        raise NotFound(f"study {key!r} raises no flag {flag_id!r} (GET the study to see its "
                       "flags)")
    return dict(flag)


def _stored_row(session: Session, study_id: int, flag_id: str) -> Any:
    return session.execute(q.explanation(study_id, flag_id)).first()


def read(session: Session, key: str, flag_id: str) -> tuple[dict[str, Any], str]:
    """A flag's explanation and its ETag; 404 when the study or the explanation is missing
    (an explanation of a flag no longer raised is still read)."""
    study = _live(session, key)
    row = _stored_row(session, study.id, flag_id)
    if row is None:
        raise NotFound(f"flag {flag_id!r} of study {key!r} has no explanation")
    return _document(row, key), etag_of(row)


def history(session: Session, key: str, flag_id: str, page_size: int,
            page_token: str | None) -> Page[dict[str, Any]]:
    """Every change to a flag's explanation, oldest first, also after the flag is gone."""
    _live(session, key)
    return audit.history(session, ENTITY, f"{key}/{flag_id}", page_size, page_token)


def _store(session: Session, existing: Any, study_id: int, flag: dict[str, Any],
           reason: str, actor_id: int) -> None:
    now = utcnow()
    compared = {"registry_value": flag["registry_value"],
                "published_value": flag["published_value"]}
    if existing is None:
        session.add(FlagExplanation(study_id=study_id, flag_id=flag["id"], flag_type=flag["type"],
                                    reason=reason, compared=compared, explained_by=actor_id,
                                    version=1, created_at=now, updated_at=now))
    else:
        stored = session.get(FlagExplanation, existing.id)
        assert stored is not None
        stored.reason, stored.compared, stored.explained_by = reason, compared, actor_id
        stored.version, stored.updated_at = existing.version + 1, now
    session.flush()


def _write(session: Session, key: str, flag_id: str, doc: FlagExplanationDocument,
           if_match: str | None, req: WriteRequest) -> Explained:
    study = _live(session, key)
    # Lock the study as its own writers do: a study rewrite and this write never interleave.
    session.execute(qw.lock_studies([study.id]))
    study_before = _study_document(session, _live(session, key))
    flag = _flag_of(study_before, key, flag_id)
    existing = _stored_row(session, study.id, flag_id)
    writes.check_if_match(
        None if existing is None else etag_of(existing), if_match,
        change="replacing an explanation", thing="explanation",
        absent="this flag has no explanation for If-Match to match")
    _store(session, existing, study.id, flag, doc.reason, req.actor_id)
    session.execute(qw.next_versions([study.id], utcnow()))
    row = _stored_row(session, study.id, flag_id)
    after = _document(row, key)
    before = None if existing is None else _document(existing, key)
    action = "create" if existing is None else "replace"
    audit.record(session, actor_id=req.actor_id, action=action, entity=ENTITY,
                 entity_key=f"{key}/{flag_id}", version=row.version, before=before,
                 after=after, reason=req.reason)
    study_after = _study_document(session, _live(session, key))
    audit.record(session, actor_id=req.actor_id, action=f"flag explanation {action}",
                 entity="study", entity_key=key, version=study_after["version"],
                 before=study_before, after=study_after, reason=req.reason)
    return Explained(after, existing is None, etag_of(row), location_of(key, flag_id))


def put(session: Session, key: str, flag_id: str, doc: FlagExplanationDocument,
        if_match: str | None, req: WriteRequest, frame: Any) -> Performed:
    """Explain a raised flag, or replace its explanation (If-Match required to replace)."""
    def action() -> Explained:
        return _write(session, key, flag_id, doc, if_match, req)

    payload = {"if_match": if_match, "body": doc.model_dump(mode="json")}
    return writes.run(session, req, payload, action, frame)
