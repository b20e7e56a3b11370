"""The webhook outbox as SQL: which saved searches a change is owed to, which deliveries are
due, and a subscription's delivery log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.orm import aliased

from app.models import Change, DeliveryAttempt, Study, Subscription, WebhookDelivery

# A select of any columns (the return type of every builder here).
AnySelect = Select[*tuple[Any, ...]]

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

_d = WebhookDelivery.__table__.c


def hooked_subscriptions() -> AnySelect:
    """The active saved searches with a webhook URL, and their filters."""
    return (select(Subscription.id, Subscription.filter)
            .where(Subscription.active.is_(True), Subscription.url.is_not(None))
            .order_by(Subscription.id))


def matching_keys(keys: Collection[str], conditions: list[Any]) -> AnySelect:
    """Which of these study keys name a study the filter's conditions match."""
    return select(Study.key).where(Study.key.in_(sorted(keys)), *conditions)


def due(now: dt.datetime, limit: int, *, lock: bool) -> AnySelect:
    """The ids of the deliveries a worker may take now: pending, due, not held by a live
    claim, and each the oldest change still pending for its subscription (a subscription's
    deliveries go out one after another, in change order). With `lock`, the rows are
    locked and rows other workers hold locked are skipped (PostgreSQL)."""
    earlier = aliased(WebhookDelivery)
    stmt = (select(_d.id)
            .where(_d.status == PENDING, _d.next_attempt_at <= now,
                   or_(_d.claimed_until.is_(None), _d.claimed_until < now),
                   ~exists().where(and_(earlier.subscription_id == _d.subscription_id,
                                        earlier.status == PENDING,
                                        earlier.change_seq < _d.change_seq)))
            .order_by(_d.next_attempt_at, _d.id)
            .limit(limit))
    if lock:
        stmt = stmt.with_for_update(skip_locked=True, of=WebhookDelivery.__table__)
    return stmt


def to_send(ids: Collection[int]) -> Select[WebhookDelivery, Subscription, Change]:
    """The claimed deliveries with their subscriptions and changes, in claim order."""
    return (select(WebhookDelivery, Subscription, Change)
            .join(Subscription, Subscription.id == WebhookDelivery.subscription_id)
            .join(Change, Change.seq == WebhookDelivery.change_seq)
            .where(WebhookDelivery.id.in_(sorted(ids)))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id))


def log_select(subscription_id: int) -> AnySelect:
    """A subscription's deliveries (unordered: pagination orders them by id)."""
    return select(_d.id, _d.change_seq, _d.status, _d.attempts, _d.created_at,
                  _d.next_attempt_at, _d.delivered_at, _d.last_status_code,
                  _d.last_error).where(_d.subscription_id == subscription_id)


def delivery_id() -> Any:
    return _d.id


def attempts_of(delivery_ids: Collection[int]) -> AnySelect:
    a = DeliveryAttempt.__table__.c
    return (select(a.delivery_id, a.at, a.status_code, a.error, a.duration_ms)
            .where(a.delivery_id.in_(sorted(delivery_ids)))
            .order_by(a.delivery_id, a.id))
