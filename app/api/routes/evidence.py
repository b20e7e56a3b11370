"""Evidence for dashboards: effect estimates, facet counts, meta-analysis and forest plots."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, content, paged, problems
from app.schemas.filters import MetaAnalysisParams, OutcomeListParams
from app.schemas.read import OutcomePage
from app.schemas.stats import FacetParams, Facets, MetaAnalysis
from app.services import forest, outcomes, pooling, stats

router = APIRouter(tags=["evidence"], route_class=SessionRoute)


@router.get("/outcomes", response_class=JSONBytes, response_model=OutcomePage,
            responses=problems(400, 422))
def list_outcomes(request: Request, params: Annotated[OutcomeListParams, Query()],
                  session: SessionDep) -> Response:
    """List effect estimates with their study, arms, timepoint and sources, one page at a time;
    between-arm contrasts unless `comparison` asks for within-arm changes, and `excluded`
    counts what the defaults left out."""
    return paged(request, outcomes.list_page(session, params))


@router.get("/stats/facets", response_class=JSONBytes, response_model=Facets,
            responses=problems(422))
def facet_counts(params: Annotated[FacetParams, Query()], session: SessionDep) -> Response:
    """Count the studies a filter matches by phase, status, intervention and other facets."""
    return JSONBytes(stats.facets(session, params))


@router.get("/meta-analysis", response_class=JSONBytes, response_model=MetaAnalysis,
            responses=problems(422))
def meta_analysis(params: Annotated[MetaAnalysisParams, Query()],
                  session: SessionDep) -> Response:
    """Pool the effect estimates the filters choose (fixed and random effects)."""
    return JSONBytes(pooling.meta_analysis(session, params))


@router.get("/meta-analysis/forest.svg", response_class=Response, responses={
    200: content("image/svg+xml", "the forest plot"), **problems(422)})
def forest_plot(params: Annotated[MetaAnalysisParams, Query()], session: SessionDep) -> Response:
    """Draw the forest plot of the same meta-analysis as SVG."""
    svg = forest.render(pooling.meta_analysis(session, params))
    return Response(svg, media_type="image/svg+xml")
