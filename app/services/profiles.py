"""Evidence profiles: a saved question with its GRADE judgements, read with its summary of
findings, written with the guarantees of every write (If-Match to change or delete one,
audit, Idempotency-Key, dry run).

The certainty is the server's: it is computed from the study design and the domains on every
write (a `certainty` sent in is ignored, as every read-only field is), and the summary of
findings is computed from the question's meta-analysis on every read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.errors import NotFound
from app.models import EvidenceProfile
from app.queries import pagination
from app.queries import profiles as q
from app.queries.pagination import Page
from app.schemas.profiles import DOMAINS, EvidenceProfileDocument, ProfileListParams
from app.services import audit, grade, patching, writes
from app.services.writes import Performed, WriteRequest
from app.types import utcnow

ENTITY = "evidence_profile"
INPUT_FIELDS = ("question", "study_design", "domains", "sources")


@dataclass
class Profiled:
    """What a profile write stored: the document (None after a delete), whether it created
    the profile, and its ETag and path."""

    body: dict[str, Any] | None
    created: bool
    etag: str
    location: str


def etag_of(row: Any) -> str:
    """The ETag of a profile at a version."""
    return f'"profile-{row.id}-{row.version}"'


def location_of(profile_id: int) -> str:
    return f"/api/v1/evidence-profiles/{profile_id}"


def _document(row: Any) -> dict[str, Any]:
    """A stored profile as its document, without the summary of findings."""
    creator = None if row.created_by is None else {"id": row.created_by,
                                                   "name": row.creator_name}
    return {"id": row.id, "question": row.question, "study_design": row.study_design,
            "starting_level": grade.starting_level(row.study_design),
            "domains": row.domains, "certainty": row.certainty, "sources": row.sources,
            "created_by": creator, "version": row.version, "created_at": row.created_at,
            "updated_at": row.updated_at}


def _with_findings(session: Session, row: Any) -> dict[str, Any]:
    return {**_document(row), "summary_of_findings": grade.summary_of_findings(
        session, row.question, row.certainty)}


def _stored(session: Session, profile_id: int, *, lock: bool = False) -> Any:
    row = session.execute(q.profile(profile_id, lock=lock)).first()
    if row is None:
        raise NotFound(f"no evidence profile with id {profile_id}")
    return row


def read(session: Session, profile_id: int) -> tuple[dict[str, Any], str]:
    """A profile with its summary of findings, and its ETag."""
    row = _stored(session, profile_id)
    return _with_findings(session, row), etag_of(row)


def list_page(session: Session, params: ProfileListParams) -> Page[dict[str, Any]]:
    """Profiles in id order, one keyset page at a time (without the summaries of findings,
    which are computed per profile on its read)."""
    stmt = pagination.by_id(q.profiles(params.certainty), q.profile_id(), params.page_token,
                            params.page_size)
    rows, token = pagination.page_of(session.execute(stmt).all(), params.page_size)
    return Page([_document(r) for r in rows], token)


def history(session: Session, profile_id: int, page_size: int,
            page_token: str | None) -> Page[dict[str, Any]]:
    """Every change to a profile, oldest first (kept after a delete)."""
    return audit.history(session, ENTITY, str(profile_id), page_size, page_token)


def _values(doc: EvidenceProfileDocument) -> dict[str, Any]:
    """The stored columns of a document, with the certainty it gives."""
    domains = doc.domains.model_dump(mode="json")
    return {"question": {**doc.question.model_dump(mode="json", exclude={"parameters"}),
                         "parameters": doc.question.parameters.model_dump(
                             mode="json", exclude_unset=True)},
            "study_design": doc.study_design, "domains": domains,
            "certainty": grade.certainty(doc.study_design,
                                         [domains[d]["rating"] for d in DOMAINS]),
            "sources": [s.model_dump(mode="json", exclude_none=True) for s in doc.sources]}


def _check_precondition(row: Any, if_match: str | None) -> None:
    writes.check_if_match(etag_of(row), if_match, change="changing an evidence profile",
                          thing="profile")


def _audit(session: Session, req: WriteRequest, action: str, profile_id: int,
           before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    audit.record(session, actor_id=req.actor_id, action=action, entity=ENTITY,
                 entity_key=str(profile_id), version=None if after is None else after["version"],
                 before=before, after=after, reason=req.reason)


def _answer(session: Session, profile_id: int, created: bool) -> Profiled:
    row = _stored(session, profile_id)
    return Profiled(_with_findings(session, row), created, etag_of(row),
                    location_of(profile_id))


def create(session: Session, doc: EvidenceProfileDocument, req: WriteRequest,
           frame: Any) -> Performed:
    """Store a new profile (its certainty computed) with its audit entry."""
    def action() -> Profiled:
        now = utcnow()
        profile = EvidenceProfile(**_values(doc), created_by=req.actor_id, version=1,
                                  created_at=now, updated_at=now)
        session.add(profile)
        session.flush()
        _audit(session, req, "create", profile.id, None,
               _document(_stored(session, profile.id)))
        return _answer(session, profile.id, True)

    return writes.run(session, req, {"body": doc.model_dump(mode="json")}, action, frame)


def _rewrite(session: Session, profile_id: int, if_match: str | None, req: WriteRequest,
             action: str, document: Any) -> Profiled:
    """Replace a profile's fields with the document `document(stored)` gives, If-Match
    permitting."""
    row = _stored(session, profile_id, lock=True)
    _check_precondition(row, if_match)
    before = _document(row)
    doc = document(before)
    stored = session.get(EvidenceProfile, profile_id)
    assert stored is not None
    for name, value in _values(doc).items():
        setattr(stored, name, value)
    stored.version = row.version + 1
    stored.updated_at = utcnow()
    session.flush()
    _audit(session, req, action, profile_id, before,
           _document(_stored(session, profile_id)))
    return _answer(session, profile_id, False)


def replace(session: Session, profile_id: int, doc: EvidenceProfileDocument,
            if_match: str | None, req: WriteRequest, frame: Any) -> Performed:
    """Replace a profile whole (If-Match required); read-only fields sent back are ignored."""
    def action() -> Profiled:
        return _rewrite(session, profile_id, if_match, req, "replace", lambda _: doc)

    payload = {"if_match": if_match, "body": doc.model_dump(mode="json")}
    return writes.run(session, req, payload, action, frame)


def _patched(changes: dict[str, Any]) -> Any:
    # Read-only fields are ignored, as in every write (a null in a merge patch would
    # otherwise remove a member of the computed summary before it is ignored).
    read_only = set(EvidenceProfileDocument.model_fields) - set(INPUT_FIELDS)
    changes = {k: v for k, v in changes.items() if k not in read_only}

    def document(before: dict[str, Any]) -> EvidenceProfileDocument:
        merged = patching.merge_patch({k: before[k] for k in INPUT_FIELDS}, changes)
        return patching.validated(EvidenceProfileDocument, merged)

    return document


def patch(session: Session, profile_id: int, changes: dict[str, Any], if_match: str | None,
          req: WriteRequest, frame: Any) -> Performed:
    """Apply a JSON merge patch to a profile's document, validate it whole, then store it
    (If-Match required)."""
    def action() -> Profiled:
        return _rewrite(session, profile_id, if_match, req, "update", _patched(changes))

    return writes.run(session, req, {"if_match": if_match, "body": changes}, action, frame)


def remove(session: Session, profile_id: int, if_match: str | None, req: WriteRequest,
           frame: Any) -> Performed:
    """Delete a profile (If-Match required); its history is kept."""
    def action() -> Profiled:
        row = _stored(session, profile_id, lock=True)
        _check_precondition(row, if_match)
        session.execute(q.remove(profile_id))
        _audit(session, req, "delete", profile_id, _document(row), None)
        return Profiled(None, False, etag_of(row), location_of(profile_id))

    return writes.run(session, req, {"if_match": if_match}, action, frame)
