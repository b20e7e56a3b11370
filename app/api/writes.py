"""The write frame: how what a write stored becomes its HTTP answer.

Services return what they stored (`Written`); here it gets its status (201 when created, 204
when there is nothing to show, else 200), its `ETag` and `Location`, and the answer of a dry
run or of a repeated Idempotency-Key (`Idempotent-Replayed: true`).
"""

from __future__ import annotations

from starlette.responses import Response

from app.api.responses import JSONBytes
from app.services.studies import etag_of, location_of
from app.services.writes import Answer, Performed, Written


def answer(written: Written) -> Answer:
    """The answer a write gives, and gives again to a retry with its Idempotency-Key."""
    if written.body is None:
        return Answer(204, None, {})
    headers = {}
    if written.study is not None:
        headers = {"Location": location_of(written.study.key), "ETag": etag_of(written.study)}
    return Answer(201 if written.created else 200, written.body, headers)


def respond(done: Performed) -> Response:
    """The HTTP response for a write as it ended: done, replayed, or a dry run."""
    given = done.answer
    if done.dry_run:
        return JSONBytes({"dry_run": True, "would_status": given.status, "result": given.body})
    headers = {**given.headers, "Idempotent-Replayed": "true"} if done.replayed else given.headers
    if given.status == 204:
        return Response(status_code=204, headers=headers)
    return JSONBytes(given.body, status_code=given.status, headers=headers)
