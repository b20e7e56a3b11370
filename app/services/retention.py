"""Pruning by age: idempotency records, finished webhook deliveries and, when a retention is
configured, the oldest changes of the feed."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.dml import Delete

from app.config import Settings
from app.models import Change, IdempotencyRecord, WebhookDelivery

FINISHED = ("delivered", "failed")


def _deleted(session: Session, statement: Delete) -> int:
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount)


def old_changes(cutoff: dt.datetime) -> Delete:
    """The changes older than `cutoff` that may go: a prefix of the feed in seq order, so
    what is kept has no hole (a reader at a kept cursor misses nothing). It stops before the
    first change that is not old enough, before the first change a webhook delivery is still
    pending for, and before the newest change, which is always kept: the next change is
    numbered after the newest stored one, and numbers must never be given twice."""
    newer, head = aliased(Change), aliased(Change)
    owed = aliased(WebhookDelivery)
    last = select(func.max(head.seq)).scalar_subquery()
    first_new = select(func.min(newer.seq)).where(newer.at >= cutoff).scalar_subquery()
    first_owed = select(func.min(owed.change_seq)).where(owed.status == "pending") \
        .scalar_subquery()
    # One statement, so every bound is read from the same snapshot.
    return delete(Change).where(Change.seq < last,
                                Change.seq < func.coalesce(first_new, last),
                                Change.seq < func.coalesce(first_owed, last))


def prune(session: Session, settings: Settings, now: dt.datetime) -> dict[str, int]:
    """Delete what is older than the settings keep, in the caller's transaction; how many
    rows of each kind went. A delivered or failed delivery takes its attempts with it; a
    pending one is never pruned, nor the change it is owed for."""
    records = now - dt.timedelta(hours=settings.idempotency_retention_hours)
    deliveries = now - dt.timedelta(days=settings.delivery_retention_days)
    counts = {
        "idempotency records": _deleted(session, delete(IdempotencyRecord).where(
            IdempotencyRecord.created_at < records)),
        "webhook deliveries": _deleted(session, delete(WebhookDelivery).where(
            WebhookDelivery.status.in_(FINISHED), WebhookDelivery.created_at < deliveries)),
    }
    if settings.feed_retention_days is not None:
        changes = now - dt.timedelta(days=settings.feed_retention_days)
        counts["changes"] = _deleted(session, old_changes(changes))
    return counts
