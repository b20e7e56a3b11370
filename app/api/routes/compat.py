"""The familiar dialects, read-only: ClinicalTrials.gov API v2 and FHIR R5."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError

from app.api.auth import read_access
from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, inline_definitions, problems
from app.errors import ProblemError, log_rejected, validation_errors
from app.interop import fhir
from app.schemas.common import FilterText
from app.schemas.interop import (
    CtgovPage,
    CtgovQuery,
    CtgovRecord,
    CtgovStudyQuery,
    CtgovVersion,
    FhirBundle,
    FhirEvidenceQuery,
    FhirResource,
    FhirStudyQuery,
    OperationOutcome,
)
from app.services import compat


class FhirJSON(JSONBytes):
    media_type = fhir.MEDIA_TYPE


class FhirRoute(SessionRoute):
    """FHIR clients expect errors as OperationOutcome resources, not problem documents."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except ProblemError as exc:
                return FhirJSON(fhir.operation_outcome(exc.status, exc.detail),
                                status_code=exc.status, headers=exc.headers or None)
            except RequestValidationError as exc:
                errors = validation_errors(exc.errors())
                log_rejected(request, errors)
                where = ".".join(str(p) for p in errors[0]["loc"]) if errors else "request"
                detail = f"{where}: {errors[0]['msg']}" if errors else "invalid request"
                return FhirJSON(fhir.operation_outcome(400, detail), status_code=400)

        return route


def _query(model: Any) -> Any:
    def parse(request: Request) -> Any:
        return model.parse(request.query_params.multi_items())
    return Depends(parse)


Ident = Annotated[FilterText, Path()]
NctId = Annotated[FilterText, Path(description="NCT followed by 8 digits",
                                   json_schema_extra={"pattern": "^NCT[0-9]{8}$"})]

# Reads: public unless the settings require a reader key (the capability statement stays open).
READ = [Depends(read_access)]
ctgov_router = APIRouter(prefix="/ctgov/api/v2", tags=["ClinicalTrials.gov API v2"],
                         dependencies=READ, route_class=SessionRoute)
fhir_router = APIRouter(prefix="/fhir", tags=["FHIR R5"], route_class=FhirRoute)


# Every status a registry read can answer (429 from the rate limits, 503 when the database
# cannot be reached); FHIR reads answer theirs as OperationOutcome resources.
CTGOV_PROBLEMS = (400, 401, 429, 503)


def _ctgov_response(records: list[dict[str, Any]], body: dict[str, Any], fmt: str,
                    fields: list[str], headers: dict[str, str]) -> Response:
    if fmt == "csv":
        return Response(compat.ctgov_csv(records, fields), media_type="text/csv",
                        headers=headers)
    return JSONBytes(body)


# `format=csv`: the registry's CSV download, under its column titles.
_CSV = {"content": {"text/csv": {"schema": {"type": "string"}}}}


@ctgov_router.get("/version", response_class=JSONBytes, response_model=CtgovVersion,
                  responses=problems(401, 429, 503))
def ctgov_version(session: SessionDep) -> Response:
    """Say which ClinicalTrials.gov API version these answers follow and when the data last
    changed."""
    return JSONBytes(compat.ctgov_version(session))


@ctgov_router.get("/studies", response_class=JSONBytes, response_model=CtgovPage,
                  responses={200: {"content": _CSV["content"]}, **problems(*CTGOV_PROBLEMS)})
def ctgov_studies(session: SessionDep,
                  query: Annotated[CtgovQuery, _query(CtgovQuery)]) -> Response:
    """List our studies that have an NCT id, as ClinicalTrials.gov API v2 answers."""
    page = compat.ctgov_page(session, query)
    body: dict[str, Any] = {"studies": page.items}
    headers: dict[str, Any] = {}
    if page.total is not None:
        body["totalCount"] = headers["x-total-count"] = page.total
    if page.next_token:
        body["nextPageToken"] = headers["x-next-page-token"] = page.next_token
    return _ctgov_response(page.items, body, query.format, query.fields,
                           {k: str(v) for k, v in headers.items()})


@ctgov_router.get("/studies/{nct_id}", response_class=JSONBytes, response_model=CtgovRecord,
                  responses={200: {"content": _CSV["content"]},
                             **problems(*CTGOV_PROBLEMS, 404, 410, 422)})
def ctgov_study(nct_id: NctId, session: SessionDep,
                query: Annotated[CtgovStudyQuery, _query(CtgovStudyQuery)]) -> Response:
    """Read one study by NCT id in the ClinicalTrials.gov API v2 record shape."""
    record = compat.ctgov_study(session, nct_id, query.fields, query.format)
    return _ctgov_response([record], record, query.format, query.fields, {})


def fhir_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries of a FHIR route's errors: an OperationOutcome for what the route
    decides, a problem document for what happens before it (rate limits) or below it (an
    unreachable database)."""
    outcome = {"schema": inline_definitions(OperationOutcome.model_json_schema())}
    out = problems(*statuses, 429, 503)
    for status in statuses:
        out[status] = {"description": "an OperationOutcome saying what went wrong",
                       "content": {fhir.MEDIA_TYPE: outcome}}
    return out


@fhir_router.get("/metadata", response_class=FhirJSON, response_model=FhirResource,
                 responses=fhir_problems())
def fhir_metadata(request: Request) -> Response:
    """Describe this FHIR R5 server: read and search of ResearchStudy and Evidence."""
    return FhirJSON(fhir.capability_statement(f"{request.base_url}fhir"))


def _bundle(request: Request, page: compat.Page) -> FhirJSON:
    next_url = (str(request.url.include_query_params(_cursor=page.next_token))
                if page.next_token else None)
    return FhirJSON(fhir.bundle(page.items, f"{request.base_url}fhir", str(request.url),
                                next_url, page.total))


@fhir_router.get("/ResearchStudy", response_class=FhirJSON, response_model=FhirBundle,
                 dependencies=READ, responses=fhir_problems(400, 401))
def fhir_search_studies(request: Request, session: SessionDep,
                        query: Annotated[FhirStudyQuery, _query(FhirStudyQuery)]) -> Response:
    """Search studies as ResearchStudy resources, in a searchset Bundle."""
    return _bundle(request, compat.fhir_studies(session, query))


@fhir_router.get("/ResearchStudy/{ident}", response_class=FhirJSON,
                 response_model=FhirResource, dependencies=READ,
                 responses=fhir_problems(400, 401, 404, 410))
def fhir_read_study(ident: Ident, session: SessionDep) -> Response:
    """Read one study as a ResearchStudy resource."""
    return FhirJSON(compat.fhir_study(session, ident))


@fhir_router.get("/Evidence", response_class=FhirJSON, response_model=FhirBundle,
                 dependencies=READ, responses=fhir_problems(400, 401))
def fhir_search_evidence(request: Request, session: SessionDep,
                         query: Annotated[FhirEvidenceQuery, _query(FhirEvidenceQuery)]
                         ) -> Response:
    """Search effect estimates as Evidence resources, in a searchset Bundle."""
    return _bundle(request, compat.fhir_evidence_page(session, query))


@fhir_router.get("/Evidence/{ident}", response_class=FhirJSON, response_model=FhirResource,
                 dependencies=READ, responses=fhir_problems(400, 401, 404))
def fhir_read_evidence(ident: Ident, session: SessionDep) -> Response:
    """Read one effect estimate as an Evidence resource."""
    return FhirJSON(compat.fhir_evidence(session, ident))
