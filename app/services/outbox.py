"""The webhook outbox: when changes are stored, the deliveries they owe are written in the
same transaction, one per (active saved search with a webhook URL, change it matches).

A change that does not commit owes nothing, and one that commits cannot lose its
deliveries: they commit with it. A saved search with no study filter is owed every change;
one with a filter, the changes to the studies its filter matches when the change commits
(so a study's deletion reaches filtered searches no more, as in the feed)."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.models import WebhookDelivery
from app.queries import deliveries as q
from app.queries.study_filter import study_conditions
from app.schemas.filters import StudyFilter
from app.services import feed
from app.types import utcnow

log = logging.getLogger("evidencedb.webhooks")


def _matched(session: Session, stored_filter: dict[str, Any] | None,
             rows: list[dict[str, Any]], dialect: str) -> list[dict[str, Any]]:
    """The stored changes a saved search's filter matches (one query when it has one)."""
    try:
        f = StudyFilter.model_validate(stored_filter or {})
    except ValidationError:
        # A filter stored by an older release that no longer validates matches nothing
        # rather than failing every write.
        log.warning("a saved search's filter is not a valid study filter; it is skipped")
        return []
    if not feed.is_filtered(f):
        return rows
    keys = {row["study_key"] for row in rows if row["study_key"] is not None}
    if not keys:
        return []
    found: set[str] = set(session.execute(
        q.matching_keys(keys, study_conditions(f, dialect))).scalars())
    return [row for row in rows if row["study_key"] in found]


def owe(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write the deliveries the just-stored changes owe, inside their transaction."""
    subscriptions = session.execute(q.hooked_subscriptions()).all()
    if not subscriptions:
        return
    dialect = session.get_bind().dialect.name
    now = utcnow()
    owed = [{"subscription_id": sub.id, "change_seq": row["seq"], "status": q.PENDING,
             "attempts": 0, "created_at": now, "next_attempt_at": now}
            for sub in subscriptions
            for row in _matched(session, sub.filter, rows, dialect)]
    if owed:
        session.execute(insert(WebhookDelivery), owed)


if owe not in feed.on_stored:
    feed.on_stored.append(owe)
