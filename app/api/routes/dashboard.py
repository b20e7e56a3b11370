"""The browser dashboard: GET / serves its page, /static/dashboard/* its script and styles.

The dashboard is plain HTML, CSS and JavaScript shipped inside the package; it reads only the
public JSON API, so nothing here touches the database.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"
_NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(tags=["dashboard"])
_static = StaticFiles(directory=STATIC_DIR)


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
