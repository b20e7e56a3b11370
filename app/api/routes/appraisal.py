"""Risk of bias of one effect estimate: read, write (create or replace), delete, history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response

from app.api.auth import WriteDep
from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, paged, problems
from app.api.writes import assessed, respond
from app.schemas.appraisal import RiskOfBiasDocument
from app.schemas.common import PageToken
from app.schemas.read import DryRun, HistoryPage
from app.services import appraisal

router = APIRouter(prefix="/outcomes/{effect_id}/risk-of-bias", tags=["risk of bias"],
                   route_class=SessionRoute)

EffectId = Annotated[int, Path(ge=1, le=2**31 - 1,
                               description="the effect estimate's id, as /outcomes lists it")]
IfMatch = Annotated[str | None, Header(
    description="the assessment's current ETag: required to replace or delete one, not to "
    "create one")]
WRITE = (400, 401, 403, 404, 409, 412, 413, 422, 428, 429)


@router.get("", response_class=JSONBytes, response_model=RiskOfBiasDocument,
            responses=problems(401, 404, 422))
def get_risk_of_bias(effect_id: EffectId, session: SessionDep) -> Response:
    """Read an effect estimate's risk-of-bias assessment (RoB 2 or ROBINS-I)."""
    document, etag = appraisal.read(session, effect_id)
    return JSONBytes(document, headers={"ETag": etag})


@router.put("", response_class=JSONBytes, response_model=RiskOfBiasDocument | DryRun,
            status_code=200,
            responses={201: {"model": RiskOfBiasDocument,
                             "description": "the assessment was created"},
                       **problems(*WRITE)})
def put_risk_of_bias(effect_id: EffectId,
                     doc: Annotated[RiskOfBiasDocument, Body()],
                     session: SessionDep, write: WriteDep, if_match: IfMatch = None
                     ) -> Response:
    """Create or replace an effect estimate's risk-of-bias assessment; replacing one needs
    If-Match with its current ETag."""
    return respond(appraisal.put(session, effect_id, doc, if_match, write, assessed))


@router.delete("", status_code=204, response_class=Response, responses=problems(*WRITE))
def delete_risk_of_bias(effect_id: EffectId, session: SessionDep, write: WriteDep,
                        if_match: IfMatch = None) -> Response:
    """Delete an effect estimate's risk-of-bias assessment (If-Match required); its history
    is kept."""
    return respond(appraisal.remove(session, effect_id, if_match, write, assessed))


@router.get("/history", response_class=JSONBytes, response_model=HistoryPage,
            responses=problems(400, 401, 404, 422))
def get_risk_of_bias_history(request: Request, effect_id: EffectId, session: SessionDep,
                             page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
                             page_token: Annotated[PageToken | None, Query()] = None
                             ) -> Response:
    """List every change to an effect estimate's assessment, oldest first: when, who, what
    changed and why."""
    return paged(request, appraisal.history(session, effect_id, page_size, page_token))
