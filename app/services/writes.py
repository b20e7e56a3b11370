"""The frame of every write: one transaction, idempotent retries, dry runs.

`run` opens the write transaction, replays the stored answer when an Idempotency-Key was
seen before with the same request (422 when with another), runs the write, and either rolls it
back (dry run) or renders the studies it wrote (app.services.rendered), stores the answer
with the key and commits once. Writes return what they
stored (`Written`); the HTTP layer (app.api.writes) decides status, ETag and Location and
passes that decision in as `frame`, so a replay answers exactly as the first time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import begin_write
from app.errors import PreconditionFailed, PreconditionRequired, UnprocessableContent
from app.models import IdempotencyRecord
from app.queries import writes as qw
from app.services import rendered
from app.types import utcnow


@dataclass(frozen=True)
class WriteRequest:
    """What a write needs to know about its request besides the payload."""

    actor_id: int
    method: str
    path: str
    reason: str | None = None
    idempotency_key: str | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class StudyVersion:
    """The study a write stored, at the version it stored."""

    id: int
    key: str
    version: int


@dataclass
class Written:
    """What a write did, in domain terms: the stored document (None when there is nothing to
    show, as after a delete), whether it created the record, and the study it wrote."""

    body: Any = None
    created: bool = False
    study: StudyVersion | None = None


@dataclass
class Answer:
    """The answer a write was given (status, body, headers), as the HTTP layer framed it;
    kept with an Idempotency-Key so that a retry gets the same answer."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


T = TypeVar("T")

# How the HTTP layer frames what a write stored (app.api.writes.answer).
Frame = Callable[[Written], Answer]


@dataclass
class Performed:
    """How a write ended: the answer (fresh, or the one stored for a repeated
    Idempotency-Key), whether it was such a replay, and whether it was a dry run (rolled
    back)."""

    answer: Answer
    replayed: bool = False
    dry_run: bool = False


def _request_hash(req: WriteRequest, payload: Any) -> str:
    raw = orjson.dumps([req.method, req.path, payload], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()


def _stored(session: Session, req: WriteRequest) -> IdempotencyRecord | None:
    found: IdempotencyRecord | None = session.scalar(
        qw.idempotency_record(req.actor_id, req.idempotency_key))
    return found


def _replay(stored: IdempotencyRecord, request_hash: str) -> Performed:
    if stored.request_hash != request_hash:
        raise UnprocessableContent(
            "this Idempotency-Key was already used with another request",
            errors=[{"loc": ["header", "idempotency-key"],
                     "msg": "already used with another request",
                     "type": "idempotency_key_reused"}])
    return Performed(Answer(stored.status, orjson.loads(stored.body), dict(stored.headers)),
                     replayed=True)


def run(session: Session, req: WriteRequest, payload: Any, action: Callable[[], T],
        frame: Callable[[T], Answer]) -> Performed:
    """Run `action` as one write transaction (see the module docstring); `frame` turns what
    it wrote into the answer the caller gives, which is stored with an Idempotency-Key."""
    begin_write(session)
    keyed = req.idempotency_key is not None and not req.dry_run
    request_hash = _request_hash(req, payload) if keyed else ""
    if keyed and (stored := _stored(session, req)) is not None:
        return _replay(stored, request_hash)
    started = utcnow()
    try:
        answer = frame(action())
        if req.dry_run:
            session.rollback()
            return Performed(answer, dry_run=True)
        # The studies this write moved to a new version, rendered for list pages.
        rendered.refresh(session, started)
        session.execute(qw.key_used(req.actor_id, utcnow()))
        if keyed:
            session.add(IdempotencyRecord(
                actor_id=req.actor_id, idempotency_key=req.idempotency_key, method=req.method,
                path=req.path, request_hash=request_hash, status=answer.status,
                headers=answer.headers, body=orjson.dumps(answer.body), created_at=utcnow()))
        session.commit()
    except IntegrityError:
        # The same keyed request, sent twice at once, collided with its twin (PostgreSQL,
        # where writers do not queue): answer as the twin did.
        if not keyed:
            raise
        session.rollback()
        stored = _stored(session, req)
        if stored is None:
            raise
        return _replay(stored, request_hash)
    return Performed(answer)


def check_if_match(current: str | None, if_match: str | None, *, change: str, thing: str,
                   absent: str = "") -> None:
    """The If-Match rule of a stored document written beside a study (an assessment, an
    explanation, an evidence profile): `change` ("replacing an assessment") needs If-Match
    with the document's current ETag `current`, never *; when nothing is stored yet
    (`current` None) the first one needs none, and an If-Match is refused with `absent`."""
    tags = [t.strip().removeprefix("W/") for t in (if_match or "").split(",") if t.strip()]
    if current is None:
        if tags:
            raise PreconditionFailed(absent)
        return
    if not tags or "*" in tags:
        raise PreconditionRequired(f"{change} needs an If-Match header with its current ETag "
                                   "(read it to get it; * is not accepted)")
    if current not in tags:
        raise PreconditionFailed(f"the {thing} changed since that ETag was read; read it "
                                 "again and reapply the change")
