"""Studies: the filtered list, one study whole, its history, and the curators' writes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response

from app.api.auth import WriteDep
from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, paged, problems
from app.api.writes import answer, respond
from app.schemas.common import FilterText, JsonObject, PageToken
from app.schemas.filters import StudyListParams
from app.schemas.read import DryRun, HistoryPage, StudyPage
from app.schemas.study import StudyCreate, StudyDocument
from app.services import audit, studies

router = APIRouter(prefix="/studies", tags=["studies"], route_class=SessionRoute)

StudyKey = Annotated[FilterText, Path(description="the study's key")]
IfMatch = Annotated[str | None, Header(
    description="the study's current ETag, from its last read; required")]
MergePatch = Annotated[JsonObject, Body(
    media_type="application/merge-patch+json",
    description="JSON merge patch (RFC 7396) over the study document")]
WRITE = (400, 401, 403, 404, 409, 410, 412, 413, 422, 428, 429)


@router.get("", response_class=JSONBytes, response_model=StudyPage,
            responses=problems(400, 401, 422))
def list_studies(request: Request, params: Annotated[StudyListParams, Query()],
                 session: SessionDep) -> Response:
    """List the studies that match every given filter, one keyset page at a time."""
    return paged(request, studies.list_page(session, params, spliced=True))


@router.get("/{key}", response_class=JSONBytes, response_model=StudyDocument,
            responses={304: {"description": "unchanged since the ETag in If-None-Match"},
                       **problems(401, 404, 410, 422)})
def get_study(key: StudyKey, session: SessionDep,
              if_none_match: Annotated[str | None, Header()] = None,
              as_of: Annotated[dt.datetime | None, Query(
                  description="ISO timestamp: the study as it was then")] = None) -> Response:
    """Read one study with its arms, timepoints, outcomes, effects and sources."""
    if as_of is not None:
        return JSONBytes(audit.as_of(session, "study", key, as_of))
    # One read of the study row gives the ETag and the document, so they cannot disagree.
    row = studies.get_row(session, key)
    etag = studies.etag_of(row)
    if if_none_match is not None and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    return JSONBytes(studies.served(session, row), headers={"ETag": etag})


@router.get("/{key}/history", response_class=JSONBytes, response_model=HistoryPage,
            responses=problems(400, 401, 404, 422))
def get_study_history(request: Request, key: StudyKey, session: SessionDep,
                      page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
                      page_token: Annotated[PageToken | None, Query()] = None
                      ) -> Response:
    """List every change to a study, oldest first: when, who, what changed and why."""
    return paged(request, audit.history(session, "study", key, page_size, page_token))


@router.post("", status_code=201, response_class=JSONBytes, response_model=StudyDocument,
             responses={200: {"model": DryRun,
                              "description": "dry run: every check passed, nothing written"},
                        **problems(400, 401, 403, 409, 413, 422, 429)})
def create_study(doc: StudyCreate, session: SessionDep, write: WriteDep) -> Response:
    """Add a study with everything nested in one transaction; answers with the stored study."""
    return respond(studies.post(session, doc, write, answer))


@router.put("/{key}", response_class=JSONBytes, response_model=StudyDocument | DryRun,
            responses=problems(*WRITE))
def replace_study(key: StudyKey, doc: StudyCreate, session: SessionDep, write: WriteDep,
                  if_match: IfMatch = None) -> Response:
    """Replace a whole study; needs If-Match with its current ETag."""
    return respond(studies.replace(session, key, doc, if_match, write, answer))


@router.patch("/{key}", response_class=JSONBytes, response_model=StudyDocument | DryRun,
              responses=problems(*WRITE))
def patch_study(key: StudyKey, changes: MergePatch, session: SessionDep, write: WriteDep,
                if_match: IfMatch = None) -> Response:
    """Change parts of a study with a JSON merge patch; needs If-Match with its current ETag."""
    return respond(studies.patch(session, key, changes, if_match, write, answer))


@router.delete("/{key}", status_code=204, response_class=Response,
               responses=problems(400, 401, 403, 404, 409, 410, 412, 413, 422, 428, 429))
def delete_study(key: StudyKey, session: SessionDep, write: WriteDep,
                 if_match: IfMatch = None) -> Response:
    """Withdraw a study: gone from lists, 410 on read, its history kept."""
    return respond(studies.remove(session, key, if_match, write, answer))
