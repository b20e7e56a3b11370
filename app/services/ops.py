"""Health, readiness and version of the service and its databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app import __version__, migrations
from app.errors import ServiceUnavailable
from app.queries import history


def _check(engine: Engine, role: str) -> str | None:
    try:
        with engine.connect() as conn:
            current = migrations.current_revision(conn)
    except SQLAlchemyError:
        raise ServiceUnavailable(f"the {role} database is not reachable",
                                 headers={"Retry-After": "1"}) from None
    head = migrations.head_revision()
    if current != head:
        raise ServiceUnavailable(f"the {role} database is at revision {current}, not {head}",
                                 headers={"Retry-After": "5"})
    return current


def readiness(engine: Engine, read_engine: Engine | None = None) -> dict[str, Any]:
    """The primary (and the read replica, when there is one) is reachable and migrated to the
    newest revision, or 503."""
    current = _check(engine, "primary")
    if read_engine is not None and read_engine is not engine:
        _check(read_engine, "replica")
    return {"status": "ready", "schema_revision": current}


def version(session: Session) -> dict[str, Any]:
    """The code's version, the schema revision and a data version that changes with every write
    (every write appends an audit entry: the newest entry's id and the number of entries)."""
    revision = migrations.current_revision(session.connection())
    count, last = session.execute(history.tally_select()).one()
    return {
        "version": __version__,
        "schema_revision": revision,
        "data_version": f"{last or 0}.{count}",
        "audit_entries": count,
        "last_audit_entry_id": last,
    }
