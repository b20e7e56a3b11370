"""The write frame: how what a write stored becomes its HTTP answer.

Services return what they stored (`Written`); here it gets its status (201 when created, 204
when there is nothing to show, else 200), its `ETag` and `Location`, and the answer of a dry
run or of a repeated Idempotency-Key (`Idempotent-Replayed: true`).
"""

from __future__ import annotations

from starlette.responses import Response

from app.api.responses import JSONBytes
from app.services.appraisal import Assessed
from app.services.importer import ImportResult
from app.services.studies import etag_of, location_of
from app.services.writes import Answer, Performed, StudyVersion, Written


def answer(written: Written) -> Answer:
    """The answer a write gives, and gives again to a retry with its Idempotency-Key."""
    if written.body is None:
        return Answer(204, None, {})
    headers = _located(written.study) if written.study is not None else {}
    return Answer(201 if written.created else 200, written.body, headers)


def _located(study: StudyVersion) -> dict[str, str]:
    return {"Location": location_of(study.key), "ETag": etag_of(study)}


def assessed(written: Assessed) -> Answer:
    """The answer of a risk-of-bias write: 201 when it created the assessment, 204 after a
    delete, else 200; the assessment's ETag and Location."""
    headers = {"Location": written.location, "ETag": written.etag}
    if written.body is None:
        return Answer(204, None, headers)
    return Answer(201 if written.created else 200, written.body, headers)


def imported(results: list[ImportResult]) -> Answer:
    """The answer of a registry import: 201 when it created a study, else 200; Location and
    ETag when it wrote exactly one."""
    headers = _located(results[0].study) if len(results) == 1 else {}
    return Answer(201 if any(r.created for r in results) else 200,
                  {"imported": [r.as_dict() for r in results]}, headers)


def respond(done: Performed) -> Response:
    """The HTTP response for a write as it ended: done, replayed, or a dry run."""
    given = done.answer
    if done.dry_run:
        return JSONBytes({"dry_run": True, "would_status": given.status, "result": given.body})
    headers = {**given.headers, "Idempotent-Replayed": "true"} if done.replayed else given.headers
    if given.status == 204:
        return Response(status_code=204, headers=headers)
    return JSONBytes(given.body, status_code=given.status, headers=headers)
