"""Liveness, readiness, version and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app import metrics
from app.api.auth import OperationsDep
from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, content, problems
from app.schemas.read import Health, Ready, VersionInfo
from app.services import ops

router = APIRouter(tags=["operations"], route_class=SessionRoute)


@router.get("/healthz", response_class=JSONBytes, response_model=Health)
def healthz() -> Response:
    """Answer while the process is alive."""
    return JSONBytes({"status": "ok"})


@router.get("/readyz", response_class=JSONBytes, response_model=Ready, responses=problems(503))
def readyz(request: Request) -> Response:
    """Answer 200 when the database (and the read replica, if any) is reachable and at the
    newest migration."""
    state = request.app.state
    return JSONBytes(ops.readiness(state.engine, state.read_engine))


@router.get("/version", response_class=JSONBytes, response_model=VersionInfo,
            responses=problems(503))
def version(session: SessionDep, _: OperationsDep) -> Response:
    """The code's version, the database's schema revision and the version of its data."""
    return JSONBytes(ops.version(session))


@router.get("/metrics", response_class=Response,
            responses={200: content("text/plain", "the Prometheus text format")})
def prometheus_metrics(request: Request, _: OperationsDep) -> Response:
    """Request counts, latencies and database pool usage in the Prometheus text format."""
    metrics.update_pool_gauges(request.app.state.engines)
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
