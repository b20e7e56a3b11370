"""Retractions: recorded on the publication, propagated to what it sources, never deleting.

A result or effect estimate is retracted when every source it has is a retracted publication;
a study is retracted when all its publications are (the rule, in Python and in SQL, is in
app.services.rows). Each affected study gets a new version and an audit entry, in the same
transaction as the publication's own entry.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.enums import RetractionStatus
from app.errors import Conflict, NotFound
from app.models import Publication, Study, StudyPublication
from app.schemas.publication import RetractionCreate
from app.services import audit, documents, rows, writes
from app.services.documents import PUBLICATION_FIELDS
from app.services.writes import Frame, Performed, WriteRequest, Written
from app.types import utcnow


def publication_document(pub: Publication) -> dict[str, Any]:
    return {"id": pub.id, **{f: getattr(pub, f) for f in PUBLICATION_FIELDS}}


def retract(session: Session, publication_id: int, data: RetractionCreate,
            req: WriteRequest, frame: Frame) -> Performed:
    """Record a retraction notice and flag every result that now has no standing source."""
    def action() -> Written:
        pub = session.get(Publication, publication_id, with_for_update=True)
        if pub is None:
            raise NotFound(f"no publication with id {publication_id}")
        if pub.retraction_status == data.status:
            raise Conflict(f"publication {publication_id} is already marked {data.status}",
                           retraction_status=data.status)
        ids = list(session.scalars(
            select(StudyPublication.study_id)
            .where(StudyPublication.publication_id == publication_id)
            .order_by(StudyPublication.study_id)))
        # Lock the studies first, as their own writers do, so none is rewritten meanwhile.
        session.execute(update(Study.__table__).where(Study.id.in_(ids))
                        .values(version=Study.version))
        study_rows = session.execute(
            select(Study.__table__).where(Study.id.in_(ids)).order_by(Study.id)).all()
        before_docs = documents.assemble(session, study_rows, detail=True)
        before_pub = publication_document(pub)
        now = utcnow()
        pub.retraction_status = RetractionStatus(data.status)
        pub.retraction_date = data.date
        pub.retraction_notice = data.notice
        pub.retraction_reason = data.reason
        pub.updated_at = now
        session.flush()
        rows.recompute_flags(session, ids)
        if ids:
            session.execute(update(Study.__table__).where(Study.id.in_(ids))
                            .values(version=Study.version + 1, updated_at=now))
        after_rows = session.execute(
            select(Study.__table__).where(Study.id.in_(ids)).order_by(Study.id)).all()
        after_docs = documents.assemble(session, after_rows, detail=True)
        after_pub = publication_document(pub)
        audit.record(session, actor_id=req.actor_id, action="retraction", entity="publication",
                     entity_key=str(publication_id), version=None, before=before_pub,
                     after=after_pub, reason=req.reason or data.reason)
        for row, before, after in zip(after_rows, before_docs, after_docs, strict=True):
            audit.record(session, actor_id=req.actor_id, action="retraction", entity="study",
                         entity_key=row.key, version=row.version, before=before, after=after,
                         reason=req.reason or data.reason)
        body = {**after_pub, "studies": [
            {"key": d["key"], "retracted": d["retracted"], "version": d["version"],
             "retracted_results": sum(x["retracted"] for o in d["outcome_measures"]
                                      for x in o["results"]),
             "retracted_effects": sum(x["retracted"] for o in d["outcome_measures"]
                                      for x in o["effects"])}
            for d in after_docs]}
        return Written(body)

    payload = {"id": publication_id, "body": data.model_dump(mode="json")}
    return writes.run(session, req, payload, action, frame)
