"""Retractions: recorded on the publication, propagated to what it sources, never deleting.

A result or effect estimate is retracted when every source it has is a retracted publication;
a study is retracted when all its publications are (the rule, in Python and in SQL, is in
app.services.rows). Each affected study gets a new version and an audit entry, in the same
transaction as the publication's own entry.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.enums import RetractionStatus
from app.errors import Conflict, NotFound
from app.models import Publication
from app.queries import writes as qw
from app.schemas.publication import RetractionCreate
from app.schemas.study import PublicationIn
from app.services import audit, documents, rows, writes
from app.services.documents import PUBLICATION_FIELDS
from app.services.rows import PUBLICATION_ATTRS
from app.services.writes import Frame, Performed, WriteRequest, Written
from app.types import utcnow


def publication_document(pub: Publication) -> dict[str, Any]:
    return {"id": pub.id, **{f: getattr(pub, f) for f in PUBLICATION_FIELDS}}


def find(session: Session, p: PublicationIn) -> Publication | None:
    """The stored publication with the entry's DOI, else with its PMID."""
    for column in ("doi", "pmid"):
        value = getattr(p, column)
        if value:
            found: Publication | None = session.scalar(qw.publication_by(column, value))
            if found is not None:
                return found
    return None


def resolve(session: Session, p: PublicationIn, linked: int | None = None) -> Publication:
    """The stored publication a study's entry denotes; new ones are created. A publication
    already stored must be described the same way: a correction goes through its own route.
    `linked` is the publication the study already had under this ref (a rewrite keeps it when
    the entry, lacking DOI and PMID, still describes it exactly)."""
    found = find(session, p)
    given = p.model_dump(include=set(PUBLICATION_ATTRS))
    if found is None and linked is not None and not (p.doi or p.pmid):
        before = session.get(Publication, linked)
        if before is not None and all(getattr(before, a) == given[a] for a in PUBLICATION_ATTRS):
            return before
    if found is None:
        created = Publication(**given)
        session.add(created)
        session.flush()
        return created
    differing = [a for a in PUBLICATION_ATTRS if getattr(found, a) != given[a]]
    if differing:
        raise Conflict(
            f"publication {p.ref!r} is already stored with other values for "
            f"{', '.join(differing)}", publication_id=found.id, fields=differing)
    return found


def _flagged(doc: dict[str, Any]) -> dict[str, Any]:
    """How a study stands after a retraction: its flag, version and retracted numbers."""
    return {"key": doc["key"], "retracted": doc["retracted"], "version": doc["version"],
            "retracted_results": sum(x["retracted"] for o in doc["outcome_measures"]
                                     for x in o["results"]),
            "retracted_effects": sum(x["retracted"] for o in doc["outcome_measures"]
                                     for x in o["effects"])}


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
        ids: list[int] = list(session.scalars(qw.citing_studies(publication_id)))
        # Lock the studies first, as their own writers do, so none is rewritten meanwhile.
        session.execute(qw.lock_studies(ids))
        before_docs = documents.assemble(
            session, session.execute(qw.studies_by_id(ids)).all(), detail=True)
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
            session.execute(qw.next_versions(ids, now))
        after_rows = session.execute(qw.studies_by_id(ids)).all()
        after_docs = documents.assemble(session, after_rows, detail=True)
        after_pub = publication_document(pub)
        audit.record(session, actor_id=req.actor_id, action="retraction", entity="publication",
                     entity_key=str(publication_id), version=None, before=before_pub,
                     after=after_pub, reason=req.reason or data.reason)
        for row, before, after in zip(after_rows, before_docs, after_docs, strict=True):
            audit.record(session, actor_id=req.actor_id, action="retraction", entity="study",
                         entity_key=row.key, version=row.version, before=before, after=after,
                         reason=req.reason or data.reason)
        return Written({**after_pub, "studies": [_flagged(d) for d in after_docs]})

    payload = {"id": publication_id, "body": data.model_dump(mode="json")}
    return writes.run(session, req, payload, action, frame)
