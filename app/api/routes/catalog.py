"""Vocabularies, publications, regulatory events and the follow-up timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, paged, problems
from app.schemas.catalog import (
    PublicationParams,
    RegulatoryEventParams,
    TimepointParams,
    VocabularyParams,
)
from app.schemas.read import (
    ConditionPage,
    InterventionPage,
    PublicationPage,
    RegulatoryEventPage,
    TimepointPage,
)
from app.services import catalog

router = APIRouter(tags=["vocabularies"], route_class=SessionRoute)


@router.get("/interventions", response_class=JSONBytes, response_model=InterventionPage,
            responses=problems(400, 422))
def list_interventions(request: Request, params: Annotated[VocabularyParams, Query()],
                       session: SessionDep) -> Response:
    """List interventions with their synonyms and how many studies use each."""
    return paged(request, catalog.interventions(session, params))


@router.get("/conditions", response_class=JSONBytes, response_model=ConditionPage,
            responses=problems(400, 422))
def list_conditions(request: Request, params: Annotated[VocabularyParams, Query()],
                    session: SessionDep) -> Response:
    """List conditions with their synonyms and how many studies concern each."""
    return paged(request, catalog.conditions(session, params))


@router.get("/publications", response_class=JSONBytes, response_model=PublicationPage,
            responses=problems(400, 422))
def list_publications(request: Request, params: Annotated[PublicationParams, Query()],
                      session: SessionDep) -> Response:
    """List publications with their retraction status and the studies they report."""
    return paged(request, catalog.publications(session, params))


@router.get("/regulatory-events", response_class=JSONBytes, response_model=RegulatoryEventPage,
            responses=problems(400, 422))
def list_regulatory_events(request: Request, params: Annotated[RegulatoryEventParams, Query()],
                           session: SessionDep) -> Response:
    """List regulatory decisions and milestones, filtered by agency, type or intervention."""
    return paged(request, catalog.regulatory_events(session, params))


@router.get("/timepoints", response_class=JSONBytes, response_model=TimepointPage,
            responses=problems(400, 422))
def list_timepoints(request: Request, params: Annotated[TimepointParams, Query()],
                    session: SessionDep) -> Response:
    """List measurement timepoints (the follow-up timeline) of the studies a filter matches."""
    return paged(request, catalog.timepoints(session, params))
