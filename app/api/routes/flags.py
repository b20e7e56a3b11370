"""Registry-versus-publication flags: the list, and a curator's explanation of one flag."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response

from app.api.auth import WriteDep
from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, paged, problems
from app.api.writes import respond
from app.schemas.common import FilterText, PageToken
from app.schemas.flags import FlagExplanationDocument, FlagFilter, FlagId, FlagPage
from app.schemas.read import DryRun, HistoryPage
from app.services import flags
from app.services.flags import Explained
from app.services.writes import Answer

router = APIRouter(tags=["flags"], route_class=SessionRoute)

StudyKey = Annotated[FilterText, Path(description="the study's key")]
FlagPath = Annotated[FlagId, Path(description="the flag's id, as the study read and /flags "
                                              "show it")]
IfMatch = Annotated[str | None, Header(
    description="the explanation's current ETag: required to replace one, not to write the "
    "first")]
WRITE = (400, 401, 403, 404, 409, 410, 412, 413, 422, 428, 429)
EXPLANATION = "/studies/{key}/flags/{flag_id}/explanation"


def explained(written: Explained) -> Answer:
    """The answer of an explanation write: 201 when it created it, else 200; its ETag and
    Location."""
    headers = {"Location": written.location, "ETag": written.etag}
    return Answer(201 if written.created else 200, written.body, headers)


@router.get("/flags", response_class=JSONBytes, response_model=FlagPage,
            responses=problems(400, 401, 422))
def list_flags(request: Request, params: Annotated[FlagFilter, Query()],
               session: SessionDep) -> Response:
    """List where studies' registry records and publications disagree, one keyset page at a
    time."""
    return paged(request, flags.list_page(session, params))


@router.get(EXPLANATION, response_class=JSONBytes, response_model=FlagExplanationDocument,
            responses=problems(401, 404, 410, 422))
def get_flag_explanation(key: StudyKey, flag_id: FlagPath, session: SessionDep) -> Response:
    """Read a curator's explanation of a study's flag."""
    document, etag = flags.read(session, key, flag_id)
    return JSONBytes(document, headers={"ETag": etag})


@router.put(EXPLANATION, response_class=JSONBytes,
            response_model=FlagExplanationDocument | DryRun, status_code=200,
            responses={201: {"model": FlagExplanationDocument,
                             "description": "the explanation was created"},
                       **problems(*WRITE)})
def put_flag_explanation(key: StudyKey, flag_id: FlagPath,
                         doc: Annotated[FlagExplanationDocument, Body()],
                         session: SessionDep, write: WriteDep, if_match: IfMatch = None
                         ) -> Response:
    """Mark a raised flag explained with a reason, or replace its explanation (If-Match
    required to replace)."""
    return respond(flags.put(session, key, flag_id, doc, if_match, write, explained))


@router.get(EXPLANATION + "/history", response_class=JSONBytes, response_model=HistoryPage,
            responses=problems(400, 401, 404, 410, 422))
def get_flag_explanation_history(request: Request, key: StudyKey, flag_id: FlagPath,
                                 session: SessionDep,
                                 page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
                                 page_token: Annotated[PageToken | None, Query()] = None
                                 ) -> Response:
    """List every change to a flag's explanation, oldest first, also after the flag is no
    longer raised."""
    return paged(request, flags.history(session, key, flag_id, page_size, page_token))
