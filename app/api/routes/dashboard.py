"""Browser pages: the dashboard (GET /, /static/dashboard/*), the API docs (/docs) and the
OpenAPI document they read (/openapi.json).

Every page is plain HTML, CSS and JavaScript shipped inside the package, loaded from our own
origin only (no third-party script); the dashboard reads only the public JSON API, so nothing
here touches the database. The docs page and the document need a key when reads do (and
EVIDENCEDB_PROTECT_OPERATIONS is on); EVIDENCEDB_DOCS_ENABLED=false removes both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

from app.api.auth import operations_access
from app.api.responses import JSONBytes
from app.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"
_NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(tags=["dashboard"])
_static = StaticFiles(directory=STATIC_DIR)


def docs_enabled(request: Request) -> None:
    if not request.app.state.settings.docs_enabled:
        raise NotFound("the API docs are switched off on this server")


_DOCS = [Depends(docs_enabled), Depends(operations_access)]


@router.get("/", include_in_schema=False)
def dashboard() -> FileResponse:
    """The dashboard page."""
    return FileResponse(STATIC_DIR / "dashboard" / "index.html", media_type="text/html",
                        headers=_NO_CACHE)


@router.get("/static/{path:path}", include_in_schema=False)
async def static_file(path: str, request: Request) -> Response:
    """A file of the dashboard (StaticFiles resolves it and refuses paths outside the folder)."""
    response = await _static.get_response(path, request.scope)
    response.headers.update(_NO_CACHE)
    return response


@router.get("/openapi.json", include_in_schema=False, dependencies=_DOCS)
def openapi_document(request: Request) -> Response:
    """The OpenAPI 3.1 document of this API."""
    schema: dict[str, Any] = request.app.openapi()
    return JSONBytes(schema)


@router.get("/docs", include_in_schema=False, dependencies=_DOCS)
def api_docs() -> FileResponse:
    """A page listing every operation, read from /openapi.json by a script of our own."""
    return FileResponse(STATIC_DIR / "docs" / "index.html", media_type="text/html",
                        headers=_NO_CACHE)
