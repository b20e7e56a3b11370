"""The change feed: every committed change in commit order, with long polling."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, content, problems
from app.errors import BadRequest
from app.middleware.gate import leave_read_gate
from app.schemas.feed import AtomParams, ChangePage, ChangeParams
from app.services import feed

router = APIRouter(tags=["changes"], route_class=SessionRoute)
# How often a long poll looks for changes other processes committed.
POLL_SECONDS = 0.5


@router.get("/changes", response_class=JSONBytes, response_model=ChangePage,
            responses=problems(400, 401, 410, 422))
async def list_changes(request: Request, params: Annotated[ChangeParams, Query()],
                       session: SessionDep) -> Response:
    """Follow every committed change in commit order: pass each answer's `next_cursor` as
    `since` for the next (or start from the newest with `tail`). With study filters, the
    changes to the studies they match; with `wait`, an empty answer waits for the next
    change (long polling). A cursor older than the changes the feed keeps is a 410 naming
    the oldest cursor."""
    if params.tail is not None and params.since is not None:
        raise BadRequest("give since (to go on from a cursor) or tail (to start from the "
                         "newest changes), not both")
    page = await run_in_threadpool(feed.look, session, params)
    deadline = time.monotonic() + (params.wait if params.tail is None else 0)
    if not page.items and deadline > time.monotonic():
        leave_read_gate(request.scope)  # waiting is not reading: other reads go on
    while not page.items and not feed.stopping.is_set() \
            and (left := deadline - time.monotonic()) > 0:
        if await request.is_disconnected():
            break
        await feed.wait_for_commit(min(POLL_SECONDS, left))
        page = await run_in_threadpool(feed.look, session, params)
    return JSONBytes({"items": page.items, "next_cursor": page.next_cursor})


@router.get("/changes.atom", response_class=Response, responses={
    200: content(feed.ATOM_MEDIA_TYPE, "the newest changes as an Atom feed, newest first"),
    **problems(400, 401, 410, 422)})
def changes_atom(request: Request, params: Annotated[AtomParams, Query()],
                 session: SessionDep) -> Response:
    """Read the newest changes as an Atom feed (RFC 4287) for feed readers, with the same
    study filters; each entry links to the study it changed."""
    body = feed.atom(session, params, self_url=str(request.url),
                     changes_url=str(request.url_for("list_changes")),
                     studies_url=str(request.url_for("list_studies")))
    return Response(body, media_type=feed.ATOM_MEDIA_TYPE)
