"""Evidence profiles (GRADE): list, read, create, replace, patch, delete, history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Query, Request, Response

from app.api.auth import WriteDep
from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, paged, problems
from app.api.writes import respond
from app.schemas.common import JsonObject, PageToken
from app.schemas.profiles import EvidenceProfileDocument, EvidenceProfilePage, ProfileListParams
from app.schemas.read import DryRun, HistoryPage
from app.services import profiles
from app.services.profiles import Profiled
from app.services.writes import Answer

router = APIRouter(prefix="/evidence-profiles", tags=["evidence profiles"],
                   route_class=SessionRoute)

ProfileId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the profile's id")]
IfMatch = Annotated[str | None, Header(
    description="the profile's current ETag, from its last read; required")]
MergePatch = Annotated[JsonObject, Body(
    media_type="application/merge-patch+json",
    description="JSON merge patch (RFC 7396) over the profile document")]
WRITE = (400, 401, 403, 404, 409, 412, 413, 422, 428, 429)


def profiled(written: Profiled) -> Answer:
    """The answer of a profile write: 201 when it created the profile, 204 after a delete,
    else 200; the profile's ETag and Location."""
    headers = {"Location": written.location, "ETag": written.etag}
    if written.body is None:
        return Answer(204, None, headers)
    return Answer(201 if written.created else 200, written.body, headers)


@router.get("", response_class=JSONBytes, response_model=EvidenceProfilePage,
            responses=problems(400, 401, 422))
def list_evidence_profiles(request: Request, params: Annotated[ProfileListParams, Query()],
                           session: SessionDep) -> Response:
    """List evidence profiles in id order, one keyset page at a time (read one for its
    summary of findings)."""
    return paged(request, profiles.list_page(session, params))


@router.post("", status_code=201, response_class=JSONBytes,
             response_model=EvidenceProfileDocument,
             responses={200: {"model": DryRun,
                              "description": "dry run: every check passed, nothing written"},
                        **problems(400, 401, 403, 409, 413, 422, 429)})
def create_evidence_profile(doc: EvidenceProfileDocument, session: SessionDep,
                            write: WriteDep) -> Response:
    """Save a GRADE evidence profile: a question, its study design and the five domains; the
    certainty is computed."""
    return respond(profiles.create(session, doc, write, profiled))


@router.get("/{profile_id}", response_class=JSONBytes, response_model=EvidenceProfileDocument,
            responses=problems(401, 404, 422))
def get_evidence_profile(profile_id: ProfileId, session: SessionDep) -> Response:
    """Read an evidence profile with its summary of findings, computed from the question's
    meta-analysis now."""
    document, etag = profiles.read(session, profile_id)
    return JSONBytes(document, headers={"ETag": etag})


@router.put("/{profile_id}", response_class=JSONBytes,
            response_model=EvidenceProfileDocument | DryRun, responses=problems(*WRITE))
def replace_evidence_profile(profile_id: ProfileId,
                             doc: Annotated[EvidenceProfileDocument, Body()],
                             session: SessionDep, write: WriteDep,
                             if_match: IfMatch = None) -> Response:
    """Replace an evidence profile whole; needs If-Match with its current ETag."""
    return respond(profiles.replace(session, profile_id, doc, if_match, write, profiled))


@router.patch("/{profile_id}", response_class=JSONBytes,
              response_model=EvidenceProfileDocument | DryRun, responses=problems(*WRITE))
def patch_evidence_profile(profile_id: ProfileId, changes: MergePatch, session: SessionDep,
                           write: WriteDep, if_match: IfMatch = None) -> Response:
    """Change parts of an evidence profile with a JSON merge patch; needs If-Match with its
    current ETag."""
    return respond(profiles.patch(session, profile_id, changes, if_match, write, profiled))


@router.delete("/{profile_id}", status_code=204, response_class=Response,
               responses=problems(*WRITE))
def delete_evidence_profile(profile_id: ProfileId, session: SessionDep, write: WriteDep,
                            if_match: IfMatch = None) -> Response:
    """Delete an evidence profile (If-Match required); its history is kept."""
    return respond(profiles.remove(session, profile_id, if_match, write, profiled))


@router.get("/{profile_id}/history", response_class=JSONBytes, response_model=HistoryPage,
            responses=problems(400, 401, 404, 422))
def get_evidence_profile_history(request: Request, profile_id: ProfileId,
                                 session: SessionDep,
                                 page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
                                 page_token: Annotated[PageToken | None, Query()] = None
                                 ) -> Response:
    """List every change to an evidence profile, oldest first: when, who, what changed and
    why (kept after a delete)."""
    return paged(request, profiles.history(session, profile_id, page_size, page_token))
