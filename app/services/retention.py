"""Pruning by age: idempotency records, finished webhook deliveries and, when a retention is
configured, the oldest changes of the feed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from app.config import Settings


def prune(session: Session, settings: Settings, now: dt.datetime) -> dict[str, int]:
    """Delete what is older than the settings keep, in the caller's transaction; how many
    rows of each kind went."""
    raise NotImplementedError
