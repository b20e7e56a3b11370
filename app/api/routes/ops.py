"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.responses import JSONBytes, problems
from app.services import ops

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_class=JSONBytes)
def healthz() -> Response:
    """Answer while the process is alive."""
    return JSONBytes({"status": "ok"})


@router.get("/readyz", response_class=JSONBytes, responses=problems(503))
def readyz(request: Request) -> Response:
    """Answer 200 when the database is reachable and at the newest migration."""
    return JSONBytes(ops.readiness(request.app.state.engine))
