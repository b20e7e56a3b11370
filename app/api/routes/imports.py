"""Importing ClinicalTrials.gov records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response

from app.api.deps import SessionDep
from app.api.responses import JSONBytes, problems
from app.security import CuratorDep
from app.services import importer

router = APIRouter(prefix="/import", tags=["import"])


@router.post("/ctgov", status_code=201, response_class=JSONBytes,
             responses=problems(401, 403, 409, 412, 422))
def import_ctgov(body: Annotated[Any, Body()], curator: CuratorDep, session: SessionDep,
                 if_match: Annotated[str | None, Header()] = None) -> Response:
    """Create or update studies from ClinicalTrials.gov API v2 records, by NCT id; the answer
    says what was mapped and what was skipped."""
    results = importer.import_records(session, body, actor_id=curator.id, if_match=if_match)
    return JSONBytes({"imported": [r.as_dict() for r in results]},
                     status_code=importer.status_of(results),
                     headers=importer.headers_of(results))
