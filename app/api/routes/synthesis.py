"""Synthesis across time and outcomes: durability of the effect, benefit against harm."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import SessionDep
from app.api.responses import JSONBytes, content, problems
from app.schemas.synthesis import Durability, DurabilityParams, DurabilityPlotParams
from app.services import durability, durability_svg

router = APIRouter(tags=["synthesis"])

SVG = "image/svg+xml"


@router.get("/durability", response_class=JSONBytes, response_model=Durability,
            responses=problems(422))
def get_durability(params: Annotated[DurabilityParams, Query()],
                   session: SessionDep) -> Response:
    """Follow each arm's score over time: every timepoint on both clocks (months since
    baseline, months after treatment) with its retention and whether it was still
    controlled, and the mean and change from baseline reported at it."""
    return JSONBytes(durability.durability(session, params))


@router.get("/durability.svg", response_class=Response, responses={
    200: content(SVG, "score against months, one line per arm"), **problems(422)})
def durability_plot(params: Annotated[DurabilityPlotParams, Query()],
                    session: SessionDep) -> Response:
    """Draw the durability of the same selection as SVG on one clock (`clock`)."""
    answer = durability.durability(session, params)
    return Response(durability_svg.render(answer, params.clock), media_type=SVG)
