"""Living evidence: the change feed (every committed change, numbered in commit order), saved
searches that follow it, and the outbox of their webhook deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.types import JSONType, UTCDateTime, utcnow


class Change(Base):
    """One committed change, as the feed serves it. `seq` is given under a lock held until
    the writing transaction commits, so it follows commit order with no gap: a reader that
    has seen seq n has seen every change before it. The audit entry holds the whole diff."""

    __tablename__ = "change"
    __table_args__ = (Index("ix_change_study_key_seq", "study_key", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    audit_entry_id: Mapped[int] = mapped_column(
        ForeignKey("audit_entry.id", ondelete="RESTRICT"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    entity: Mapped[str] = mapped_column(String(50))
    entity_key: Mapped[str] = mapped_column(String(200))
    # The study the change is to (a study write, or a publication's retraction as each of
    # its studies saw it); null for changes to no single study.
    study_key: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    version: Mapped[int | None] = mapped_column(Integer)
    # The top-level members the change touched, a short summary of the audit entry's diff.
    summary: Mapped[list[str]] = mapped_column(JSONType, default=list)


class Subscription(Base):
    """A saved search: a study filter, optionally a meta-analysis question and a webhook
    URL, owned by the key that saved it. `acknowledged_seq` is how far its owner has read;
    `acknowledged_estimate` the question's pooled estimate at that point."""

    __tablename__ = "subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("api_key.id", ondelete="CASCADE"),
                                          index=True)
    filter: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    question: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    url: Mapped[str | None] = mapped_column(String(2000))
    # The signing secret of its webhook (shown once, when the subscription is created).
    secret: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_estimate: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class WebhookDelivery(Base):
    """One change owed to one subscription's webhook, written in the transaction of the
    change itself; sent, retried and finally marked by the delivery worker."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "change_seq"),
        Index("ix_webhook_delivery_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscription.id", ondelete="CASCADE"))
    change_seq: Mapped[int] = mapped_column(BigInteger, ForeignKey("change.seq",
                                                                   ondelete="CASCADE"))
    # pending, delivered or failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A worker that took the delivery holds it until then; after that another may take it.
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)


class DeliveryAttempt(Base):
    """One try at sending a delivery: when, the receiver's status code or the error."""

    __tablename__ = "delivery_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float | None] = mapped_column()
