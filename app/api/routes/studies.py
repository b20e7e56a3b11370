"""Reading studies: the filtered list and one study whole."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from app.api.deps import SessionDep, next_page_url
from app.api.responses import JSONBytes, page_response, problems
from app.schemas.filters import StudyListParams
from app.services import studies

router = APIRouter(prefix="/studies", tags=["studies"])


@router.get("", response_class=JSONBytes, responses=problems(400, 422))
def list_studies(request: Request, params: Annotated[StudyListParams, Query()],
                 session: SessionDep) -> Response:
    """List the studies that match every given filter, one keyset page at a time."""
    page = studies.list_page(session, params)
    return page_response(page.items, page.next_page_token, page.total_count,
                         next_page_url(request, page.next_page_token))


@router.get("/{key}", response_class=JSONBytes, responses=problems(404, 410))
def get_study(key: str, session: SessionDep,
              if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """Read one study with its arms, timepoints, outcomes, effects and sources."""
    etag = studies.etag_of(studies.get_version(session, key))
    if if_none_match is not None and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    return JSONBytes(studies.read(session, key), headers={"ETag": etag})
