"""Fast JSON responses and the problem responses each route documents."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

from app.errors import PROBLEM_MEDIA_TYPE
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


def page_response(items: list[Any], next_token: str | None, total: int | None,
                  next_url: str | None, extra: dict[str, Any] | None = None) -> JSONBytes:
    headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else None
    return JSONBytes({"items": items, "next_page_token": next_token, "total_count": total,
                      **(extra or {})}, headers=headers)
