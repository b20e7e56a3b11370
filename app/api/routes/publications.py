"""Publications: recording a retraction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from app.api.auth import WriteDep
from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, problems
from app.api.writes import answer, respond
from app.schemas.publication import RetractionCreate
from app.schemas.read import DryRun, RetractionResult
from app.services import publications

router = APIRouter(prefix="/publications", tags=["publications"], route_class=SessionRoute)


@router.post("/{publication_id}/retraction", response_class=JSONBytes,
             response_model=RetractionResult | DryRun,
             responses=problems(400, 401, 403, 404, 409, 413, 422, 429))
def retract_publication(publication_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                        data: RetractionCreate, session: SessionDep,
                        write: WriteDep) -> Response:
    """Record a retraction; every result sourced only by retracted papers becomes retracted."""
    return respond(publications.retract(session, publication_id, data, write, answer))
