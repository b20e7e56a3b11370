"""Health of the service and its database."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app import migrations
from app.errors import ServiceUnavailable


def readiness(engine: Engine) -> dict[str, Any]:
    """The database is reachable and migrated to the newest revision, or 503."""
    try:
        with engine.connect() as conn:
            current = migrations.current_revision(conn)
    except SQLAlchemyError:
        raise ServiceUnavailable("the database is not reachable",
                                 headers={"Retry-After": "1"}) from None
    head = migrations.head_revision()
    if current != head:
        raise ServiceUnavailable(f"the database is at revision {current}, not {head}",
                                 headers={"Retry-After": "5"})
    return {"status": "ready", "schema_revision": current}
