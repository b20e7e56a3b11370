"""Helpers for the import and dialect tests: the registry records and API keys."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.enums import Role
from app.services import keys

# Real ClinicalTrials.gov API v2 records, kept with the tests (see its README.md there).
RECORDS_DIR = Path(__file__).resolve().parent / "fixtures" / "ctgov"
RECORD_NAMES = ("NCT00763412", "NCT00973089", "NCT02210780", "NCT03475563", "NCT03630471",
                "NCT04207047")


def record(name: str) -> dict[str, Any]:
    return json.loads((RECORDS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def raw(name: str) -> bytes:
    return (RECORDS_DIR / f"{name}.json").read_bytes()


def changed(name: str, **changes: Any) -> dict[str, Any]:
    """A registry record with protocolSection modules replaced or patched."""
    rec = copy.deepcopy(record(name))
    for module, value in changes.items():
        rec["protocolSection"][module] = value
    return rec


def key_headers(db_session: Session, role: Role = Role.CURATOR, *,
                revoked: bool = False) -> dict[str, str]:
    """A new API key of this role (stored as its digest only) and the header presenting it."""
    _, token = keys.create(db_session, name=f"test {role.value.lower()}", role=role)
    if revoked:
        keys.revoke(db_session, token[:keys.PREFIX_LENGTH])
    return {"Authorization": f"Bearer {token}"}


def import_record(client: Any, headers: dict[str, str], body: Any) -> Any:
    if isinstance(body, bytes):
        return client.post("/api/v1/import/ctgov", content=body,
                           headers={**headers, "Content-Type": "application/json"})
    return client.post("/api/v1/import/ctgov", json=body, headers=headers)


@pytest.fixture
def imported(client: Any, db_session: Session) -> tuple[str, ...]:
    """Every registry record of the fixtures imported through the API."""
    headers = key_headers(db_session, Role.CURATOR)
    for name in RECORD_NAMES:
        assert import_record(client, headers, raw(name)).status_code == 201
    return RECORD_NAMES
