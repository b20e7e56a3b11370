"""Synthesis across time and outcomes: durability of the effect, benefit against harm."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, content, problems
from app.schemas.synthesis import (
    BenefitRisk,
    BenefitRiskParams,
    Durability,
    DurabilityParams,
    DurabilityPlotParams,
)
from app.services import benefit_risk, benefit_risk_svg, durability, durability_svg

router = APIRouter(tags=["synthesis"], route_class=SessionRoute)

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


@router.get("/benefit-risk", response_class=JSONBytes, response_model=BenefitRisk,
            responses=problems(422))
def get_benefit_risk(params: Annotated[BenefitRiskParams, Query()],
                     session: SessionDep) -> Response:
    """Weigh benefit against harm from counted outcomes: NNT for the `benefit` outcome and
    NNH for the `harm` outcome on the same arms, per study and pooled, each study missing a
    side listed with the reason."""
    return JSONBytes(benefit_risk.benefit_risk(session, params))


@router.get("/benefit-risk.svg", response_class=Response, responses={
    200: content(SVG, "NNT and NNH side by side"), **problems(422)})
def benefit_risk_plot(params: Annotated[BenefitRiskParams, Query()],
                      session: SessionDep) -> Response:
    """Draw the same benefit against harm as SVG: risk differences with NNT and NNH."""
    answer = benefit_risk.benefit_risk(session, params)
    return Response(benefit_risk_svg.render(answer), media_type=SVG)
