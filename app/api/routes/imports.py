"""Importing ClinicalTrials.gov records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response

from app.api.auth import WriteDep
from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, problems
from app.api.writes import imported, respond
from app.interop.ctgov.records import MAX_RECORDS
from app.schemas.read import DryRun, ImportResult
from app.services import importer

router = APIRouter(prefix="/import", tags=["import"], route_class=SessionRoute)

# What the import checks before it maps anything (app.interop.ctgov.records), as a schema.
_RECORD = {
    "type": "object", "required": ["protocolSection"],
    "description": "a ClinicalTrials.gov API v2 study record, as /api/v2/studies/{nctId} gives",
    "properties": {"protocolSection": {
        "type": "object", "required": ["identificationModule"],
        "properties": {"identificationModule": {
            "type": "object", "required": ["nctId", "briefTitle"],
            "properties": {"nctId": {"type": "string", "pattern": "^NCT[0-9]{8}$"},
                           "briefTitle": {"type": "string", "minLength": 1}}}}}},
}
_RECORDS = {"anyOf": [_RECORD, {
    "type": "object", "required": ["studies"],
    "properties": {"studies": {"type": "array", "items": _RECORD, "minItems": 1,
                               "maxItems": MAX_RECORDS}}}]}


@router.post("/ctgov", status_code=201, response_class=JSONBytes, response_model=ImportResult,
             responses={200: {"model": ImportResult | DryRun,
                              "description": "updated studies only, or a dry run"},
                        **problems(400, 401, 403, 409, 412, 413, 422, 429)},
             openapi_extra={"requestBody": {"content": {"application/json": {
                 "schema": _RECORDS}}}})
def import_ctgov(body: Annotated[Any, Body()], session: SessionDep, write: WriteDep,
                 if_match: Annotated[str | None, Header()] = None) -> Response:
    """Create or update studies from ClinicalTrials.gov API v2 records, by NCT id; the answer
    says what was mapped and what was skipped."""
    return respond(importer.import_records(session, body, write, imported, if_match))
