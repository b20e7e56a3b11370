"""Network meta-analysis (the league table of every treatment, its graph and its table) and
the effect estimates in the layouts of R's metafor and netmeta."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, content, problems
from app.schemas.network import (
    EffectsExportParams,
    LeagueCsvParams,
    NetworkMetaAnalysis,
    NetworkParams,
)
from app.services import network, network_export, network_svg

router = APIRouter(tags=["evidence"], route_class=SessionRoute)


@router.get("/network-meta-analysis", response_class=JSONBytes,
            response_model=NetworkMetaAnalysis, responses=problems(422))
def network_meta_analysis(params: Annotated[NetworkParams, Query()],
                          session: SessionDep) -> Response:
    """Compare every treatment the chosen contrasts connect: league table, P-scores, τ²,
    heterogeneity within and between designs, and direct against indirect evidence."""
    return JSONBytes(network.network_meta_analysis(session, params))


@router.get("/network-meta-analysis/network.svg", response_class=Response, responses={
    200: content("image/svg+xml", "the network graph"), **problems(422)})
def network_graph(params: Annotated[NetworkParams, Query()], session: SessionDep) -> Response:
    """Draw the network as SVG: a node per treatment, an edge per compared pair, its width
    the number of studies."""
    svg = network_svg.render(network.network_meta_analysis(session, params))
    return Response(svg, media_type="image/svg+xml")


@router.get("/network-meta-analysis/league.csv", response_class=Response, responses={
    200: content("text/csv", "the league table"), **problems(422)})
def league_table(params: Annotated[LeagueCsvParams, Query()],
                 session: SessionDep) -> Response:
    """Download the league table as CSV: one row per treatment and one column per comparator,
    or one row per pair (`layout=long`)."""
    body = network_svg.league_csv(network.network_meta_analysis(session, params),
                                  params.layout)
    return Response(body, media_type="text/csv", headers={
        "Content-Disposition": 'attachment; filename="league.csv"'})


@router.get("/export/effects.csv", response_class=Response, tags=["exchange"], responses={
    200: content("text/csv", "one effect estimate a row"), **problems(422)})
def export_effects(params: Annotated[EffectsExportParams, Query()],
                   session: SessionDep) -> Response:
    """Download the chosen effect estimates as CSV in metafor's layout (yi, vi) or netmeta's
    pairwise layout (TE, seTE, treat1, treat2, studlab)."""
    body = network_export.effects_csv(session, params)
    return Response(body, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="effects-{params.layout}.csv"'})
