"""Exports: every row a filter matches, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.api.deps import SessionDep, SessionRoute
from app.api.responses import content, problems
from app.schemas.filters import OutcomeFilter, StudyFilter
from app.services import export

router = APIRouter(prefix="/export", tags=["exchange"], route_class=SessionRoute)


def _download(body: Iterator[bytes], media_type: str, filename: str) -> StreamingResponse:
    return StreamingResponse(body, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/studies.csv", response_class=StreamingResponse,
            responses={200: content("text/csv", "one study a row"), **problems(422)})
def export_studies_csv(f: Annotated[StudyFilter, Query()],
                       session: SessionDep) -> StreamingResponse:
    """Download every study the filter matches as CSV (list fields joined by " | ")."""
    return _download(export.studies_csv(session, f), "text/csv; charset=utf-8", "studies.csv")


@router.get("/studies.ndjson", response_class=StreamingResponse,
            responses={200: content("application/x-ndjson", "one study a line"),
                       **problems(422)})
def export_studies_ndjson(f: Annotated[StudyFilter, Query()],
                          session: SessionDep) -> StreamingResponse:
    """Download every study the filter matches, one JSON object a line."""
    return _download(export.studies_ndjson(session, f), "application/x-ndjson",
                     "studies.ndjson")


@router.get("/outcomes.csv", response_class=StreamingResponse,
            responses={200: content("text/csv", "one effect estimate a row"),
                       **problems(422)})
def export_outcomes_csv(f: Annotated[OutcomeFilter, Query()],
                        session: SessionDep) -> StreamingResponse:
    """Download every effect estimate the filter matches as CSV."""
    return _download(export.outcomes_csv(session, f), "text/csv; charset=utf-8",
                     "outcomes.csv")
