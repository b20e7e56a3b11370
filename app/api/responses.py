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


def inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` written in place, for an OpenAPI entry that
    is not a component (references to `#/$defs/...` resolve only inside the model's own
    document). The models given here are not recursive."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def plain_query_parameters(document: dict[str, Any]) -> None:
    """A query parameter is absent or has a value; it is never JSON null. Its schema says so
    (`anyOf: [X, null]` becomes X), so clients and fuzzers do not send a null that the wire
    cannot carry."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                options = schema.get("anyOf")
                if parameter.get("in") != "query" or not isinstance(options, list):
                    continue
                kept = [o for o in options if o != {"type": "null"}]
                if len(kept) == 1 and len(kept) < len(options):
                    del schema["anyOf"]
                    schema.update({**kept[0], **schema})


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
