"""Risk of bias: one assessment per effect estimate, read and written whole.

A write is checked against the effect's study (each publication a source names must be one
of the study's), stored with its audit entry, and moves the study to a new version, since
study reads carry the assessment. A study rewrite (PUT, PATCH, registry import) hands each
assessment to the same effect written again — same outcome, timepoint, arms, effect type and
analysis population — and drops, with an audit entry, those whose effect is gone or whose
cited publication the study no longer lists.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.errors import NotFound, UnprocessableContent
from app.models import RiskOfBias
from app.queries import appraisal as q
from app.queries import writes as qw
from app.queries.pagination import Page
from app.schemas.appraisal import Rob2Assessment, RobinsIAssessment
from app.services import audit, documents, writes
from app.services.writes import Performed, WriteRequest
from app.types import utcnow

Assessment = Rob2Assessment | RobinsIAssessment
ENTITY = "risk_of_bias"


@dataclass
class Assessed:
    """What an assessment write stored: the document (None after a delete), whether it
    created the assessment, and its ETag and path."""

    body: dict[str, Any] | None
    created: bool
    etag: str
    location: str


@dataclass(frozen=True)
class _Seeding:
    """A write by no key: the seed storing a published assessment."""

    reason: str
    actor_id: None = None


def etag_of(row: Any) -> str:
    """The ETag of an assessment at a version."""
    return f'"rob-{row.id}-{row.version}"'


def location_of(effect_id: int) -> str:
    return f"/api/v1/outcomes/{effect_id}/risk-of-bias"


def _effect(session: Session, effect_id: int) -> Any:
    found = session.execute(q.effect_with_study(effect_id)).first()
    if found is None or found.deleted_at is not None:
        raise NotFound(f"no effect estimate with id {effect_id}")
    return found


def _document(row: Any, study_key: str) -> dict[str, Any]:
    judge = None if row.judged_by is None else {"id": row.judged_by, "name": row.judge_name}
    return {"tool": row.tool, "overall": row.overall, "domains": row.domains,
            "sources": row.sources, "published_assessment": row.published_assessment,
            "effect_id": row.effect_estimate_id, "study_key": study_key, "judged_by": judge,
            "version": row.version, "created_at": row.created_at,
            "updated_at": row.updated_at}


def _stored(session: Session, effect_id: int) -> Any:
    return session.execute(q.assessment(effect_id)).first()


def read(session: Session, effect_id: int) -> tuple[dict[str, Any], str]:
    """An effect's assessment and its ETag; 404 when the effect or its assessment is
    missing."""
    effect = _effect(session, effect_id)
    row = _stored(session, effect_id)
    if row is None:
        raise NotFound(f"effect estimate {effect_id} has no risk-of-bias assessment")
    return _document(row, effect.study_key), etag_of(row)


def history(session: Session, effect_id: int, page_size: int,
            page_token: str | None) -> Page[dict[str, Any]]:
    """Every change to an effect's assessment, oldest first."""
    _effect(session, effect_id)
    row = _stored(session, effect_id)
    if row is None:
        raise NotFound(f"effect estimate {effect_id} has no risk-of-bias assessment")
    return audit.history(session, ENTITY, str(row.id), page_size, page_token)


def _check_sources(session: Session, study_id: int, doc: Assessment) -> None:
    refs = set(session.scalars(q.publication_refs(study_id)))
    errors = [{"loc": ["body", "sources", i, "publication"],
               "msg": f"{s.publication!r} is not a publication of the effect's study",
               "type": "value_error"}
              for i, s in enumerate(doc.sources)
              if s.publication is not None and s.publication not in refs]
    if errors:
        raise UnprocessableContent(
            f"sources: {errors[0]['msg']} (name it by its ref in the study document)",
            errors=errors)


def _study_document(session: Session, study_id: int) -> dict[str, Any]:
    return documents.assemble(session, session.execute(qw.studies_by_id([study_id])).all(),
                              detail=True)[0]


def _store(session: Session, existing: Any, effect_id: int, doc: Assessment | None,
           actor_id: int | None) -> None:
    now = utcnow()
    if doc is None:
        session.execute(q.remove([existing.id]))
        return
    values = {"tool": doc.tool, "overall": doc.overall,
              "domains": doc.domains.model_dump(mode="json"),
              "sources": [s.model_dump(mode="json") for s in doc.sources],
              "published_assessment": doc.published_assessment,
              "judged_by": None if doc.published_assessment else actor_id, "updated_at": now}
    if existing is None:
        session.add(RiskOfBias(effect_estimate_id=effect_id, version=1, created_at=now,
                               **values))
    else:
        stored = session.get(RiskOfBias, existing.id)
        assert stored is not None
        for name, value in values.items():
            setattr(stored, name, value)
        stored.version = existing.version + 1
    session.flush()


def _write(session: Session, effect_id: int, doc: Assessment | None, if_match: str | None,
           req: WriteRequest | _Seeding) -> Assessed:
    effect = _effect(session, effect_id)
    # Lock the study as its own writers do: a study rewrite and this write never interleave.
    session.execute(qw.lock_studies([effect.study_id]))
    existing = _stored(session, effect_id)
    if doc is None and existing is None:
        raise NotFound(f"effect estimate {effect_id} has no risk-of-bias assessment")
    writes.check_if_match(
        None if existing is None else etag_of(existing), if_match,
        change="replacing an assessment", thing="assessment",
        absent="this effect has no assessment for If-Match to match")
    if doc is not None:
        _check_sources(session, effect.study_id, doc)
    study_before = _study_document(session, effect.study_id)
    _store(session, existing, effect_id, doc, req.actor_id)
    session.execute(qw.next_versions([effect.study_id], utcnow()))
    row = _stored(session, effect_id)
    after = None if row is None else _document(row, effect.study_key)
    before = None if existing is None else _document(existing, effect.study_key)
    action = "delete" if doc is None else "create" if existing is None else "replace"
    subject = row if row is not None else existing
    audit.record(session, actor_id=req.actor_id, action=action, entity=ENTITY,
                 entity_key=str(subject.id), version=None if row is None else row.version,
                 before=before, after=after, reason=req.reason)
    study_after = _study_document(session, effect.study_id)
    audit.record(session, actor_id=req.actor_id, action=f"risk-of-bias {action}",
                 entity="study", entity_key=effect.study_key, version=study_after["version"],
                 before=study_before, after=study_after, reason=req.reason)
    return Assessed(after, existing is None, etag_of(subject) if row is None else etag_of(row),
                    location_of(effect_id))


def store_published(session: Session, effect_id: int, doc: Assessment, reason: str) -> None:
    """Store a published assessment on an effect that has none (the seed), audited like any
    write but by no key; the caller commits."""
    if not doc.published_assessment:
        raise ValueError("only a published assessment is stored without a curator")
    _write(session, effect_id, doc, None, _Seeding(reason))


def put(session: Session, effect_id: int, doc: Assessment, if_match: str | None,
        req: WriteRequest, frame: Any) -> Performed:
    """Create or replace an effect's assessment (If-Match required to replace one)."""
    def action() -> Assessed:
        return _write(session, effect_id, doc, if_match, req)

    payload = {"if_match": if_match, "body": doc.model_dump(mode="json")}
    return writes.run(session, req, payload, action, frame)


def remove(session: Session, effect_id: int, if_match: str | None, req: WriteRequest,
           frame: Any) -> Performed:
    """Delete an effect's assessment (If-Match required); its history is kept."""
    def action() -> Assessed:
        return _write(session, effect_id, None, if_match, req)

    return writes.run(session, req, {"if_match": if_match}, action, frame)


# ---------------------------------------------------------------- study rewrites


def detach(session: Session, study_id: int) -> list[Any]:
    """Take a study's assessments out before its parts are written again."""
    kept = list(session.execute(q.study_assessments(study_id)).all())
    if kept:
        session.execute(q.remove([r.id for r in kept]))
    return kept


def reattach(session: Session, study_id: int, kept: list[Any], study_key: str,
             actor_id: int | None) -> None:
    """Hand each detached assessment to the effect written again with the same identity (the
    n-th of several alike to the n-th); drop, with an audit entry, those with no such effect
    or citing a publication the study no longer lists."""
    if not kept:
        return
    slots: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for e in session.execute(q.study_effects(study_id)):
        slots[tuple(getattr(e, f) for f in q.EFFECT_IDENTITY)].append(e.id)
    refs = set(session.scalars(q.publication_refs(study_id)))
    columns = RiskOfBias.__table__.columns.keys()
    restored = []
    for r in kept:
        free = slots.get(tuple(getattr(r, f) for f in q.EFFECT_IDENTITY))
        cited = {s.get("publication") for s in r.sources} - {None}
        if free and cited <= refs:
            restored.append({**{c: getattr(r, c) for c in columns},
                             "effect_estimate_id": free.pop(0)})
            continue
        before = {c: getattr(r, c) for c in columns if c != "effect_estimate_id"}
        audit.record(session, actor_id=actor_id, action="drop",
                     entity=ENTITY, entity_key=str(r.id), version=r.version,
                     before={**before, "study_key": study_key}, after=None,
                     reason="the study was written again without the effect it judged, or "
                     "without a publication it cites")
    if restored:
        session.execute(q.put_back(), restored)
