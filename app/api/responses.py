"""Fast JSON responses and the problem responses each route documents."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.api.deps import next_page_url
from app.errors import PROBLEM_MEDIA_TYPE
from app.queries.pagination import Page
from app.schemas.common import ProblemDetail


class JSONBytes(JSONResponse):
    """JSON encoded by orjson (dates, enums and datetimes natively). A JSON response to
    the OpenAPI generator, so a route's `response_model` documents its answer."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route can give."""
    return {
        status: {"model": ProblemDetail,
                 "content": {PROBLEM_MEDIA_TYPE: {"schema": ProblemDetail.model_json_schema()}}}
        for status in statuses
    }


def paged(request: Request, page: Page[Any]) -> JSONBytes:
    """A page of any list as its answer, with `Link: <…>; rel="next"` while more follow."""
    url = next_page_url(request, page.next_page_token)
    headers = {"Link": f'<{url}>; rel="next"'} if url else None
    return JSONBytes({"items": page.items, "next_page_token": page.next_page_token,
                      "total_count": page.total_count, **(page.extra or {})}, headers=headers)


def content(media_type: str, description: str) -> dict[str, Any]:
    """The OpenAPI entry of an answer that is not JSON (CSV, NDJSON, SVG, plain text)."""
    return {"description": description,
            "content": {media_type: {"schema": {"type": "string"}}}}
