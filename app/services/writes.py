"""The frame of every write: one transaction, idempotent retries, dry runs.

`perform` opens the write transaction, replays the stored answer when an Idempotency-Key was
seen before with the same request (422 when with another), runs the write, and either rolls it
back (dry run) or stores the answer with the key and commits once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import begin_write
from app.errors import UnprocessableContent
from app.models import ApiKey, IdempotencyRecord
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


@dataclass
class Outcome:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def _request_hash(req: WriteRequest, payload: Any) -> str:
    raw = orjson.dumps([req.method, req.path, payload], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()


def _stored(session: Session, req: WriteRequest) -> IdempotencyRecord | None:
    return session.scalar(select(IdempotencyRecord).where(
        IdempotencyRecord.actor_id == req.actor_id,
        IdempotencyRecord.idempotency_key == req.idempotency_key))


def _replay(stored: IdempotencyRecord, request_hash: str) -> Outcome:
    if stored.request_hash != request_hash:
        raise UnprocessableContent(
            "this Idempotency-Key was already used with another request",
            errors=[{"loc": ["header", "idempotency-key"],
                     "msg": "already used with another request",
                     "type": "idempotency_key_reused"}])
    return Outcome(stored.status, orjson.loads(stored.body),
                   {**stored.headers, "Idempotent-Replayed": "true"})


def perform(session: Session, req: WriteRequest, payload: Any,
            action: Callable[[], Outcome]) -> Outcome:
    """Run `action` as one write transaction (see the module docstring)."""
    begin_write(session)
    keyed = req.idempotency_key is not None and not req.dry_run
    request_hash = _request_hash(req, payload) if keyed else ""
    if keyed and (stored := _stored(session, req)) is not None:
        return _replay(stored, request_hash)
    try:
        outcome = action()
        if req.dry_run:
            session.rollback()
            return Outcome(200, {"dry_run": True, "would_status": outcome.status,
                                 "result": outcome.body})
        session.execute(update(ApiKey).where(ApiKey.id == req.actor_id)
                        .values(last_used_at=utcnow()))
        if keyed:
            session.add(IdempotencyRecord(
                actor_id=req.actor_id, idempotency_key=req.idempotency_key, method=req.method,
                path=req.path, request_hash=request_hash, status=outcome.status,
                headers=outcome.headers, body=orjson.dumps(outcome.body), created_at=utcnow()))
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
    return outcome
