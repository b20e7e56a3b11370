"""The SQL of saved searches: the feed's head, an owner's subscriptions in id order, and one
subscription of one owner."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Delete, Select, delete, func, select

from app.models import Change, Subscription


def head() -> Select[Any]:
    """The newest change's seq (0 for an empty feed)."""
    return select(func.coalesce(func.max(Change.seq), 0))


def owned(owner_id: int) -> Select[Any]:
    return select(Subscription).where(Subscription.owner_id == owner_id)


def one(subscription_id: int, owner_id: int) -> Select[Any]:
    return owned(owner_id).where(Subscription.id == subscription_id)


def remove(subscription_id: int, owner_id: int) -> Delete:
    return delete(Subscription).where(Subscription.id == subscription_id,
                                      Subscription.owner_id == owner_id)
