"""Saved searches: save one, list and read one's own, read its changes since the last
acknowledgement (and its question's estimate then and now), acknowledge, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request, Response

from app.api.auth import KeyDep
from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, paged, problems
from app.schemas.common import PageToken
from app.schemas.subscriptions import (
    Acknowledge,
    SubscriptionChanges,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPage,
    SubscriptionRead,
)
from app.services import subscriptions

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"], route_class=SessionRoute)
SubscriptionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the subscription's id")]
READ = (400, 401, 404, 422, 429)
WRITE = (400, 401, 404, 413, 422, 429)


@router.post("", status_code=201, response_class=JSONBytes, response_model=SubscriptionCreated,
             responses=problems(*WRITE))
def create_subscription(request: Request, body: SubscriptionCreate, key: KeyDep,
                        session: SessionDep) -> Response:
    """Save a search (a study filter, optionally a meta-analysis question and a webhook URL);
    the answer holds the webhook's signing secret, which is never shown again."""
    shown = subscriptions.create(session, body, key.id, request.app.state.settings)
    return JSONBytes(shown, status_code=201, headers={
        "Location": f"/api/v1/subscriptions/{shown['id']}", "Cache-Control": "no-store"})


@router.get("", response_class=JSONBytes, response_model=SubscriptionPage,
            responses=problems(*READ))
def list_subscriptions(request: Request, key: KeyDep, session: SessionDep,
                       page_size: Annotated[int, Query(ge=1, le=1000)] = 50,
                       page_token: Annotated[PageToken | None, Query()] = None) -> Response:
    """List the searches this key saved, oldest first."""
    return paged(request, subscriptions.list_page(session, key.id, page_size, page_token))


@router.get("/{subscription_id}", response_class=JSONBytes, response_model=SubscriptionRead,
            responses=problems(*READ))
def get_subscription(subscription_id: SubscriptionId, key: KeyDep,
                     session: SessionDep) -> Response:
    """Read one of this key's saved searches."""
    return JSONBytes(subscriptions.read(session, subscription_id, key.id))


@router.delete("/{subscription_id}", status_code=204, response_class=Response,
               responses=problems(*WRITE))
def delete_subscription(subscription_id: SubscriptionId, key: KeyDep,
                        session: SessionDep) -> Response:
    """Delete one of this key's saved searches; its pending webhook deliveries go with it."""
    subscriptions.delete(session, subscription_id, key.id)
    return Response(status_code=204)


@router.get("/{subscription_id}/changes", response_class=JSONBytes,
            response_model=SubscriptionChanges, responses=problems(*READ, 410))
def list_subscription_changes(
        subscription_id: SubscriptionId, key: KeyDep, session: SessionDep,
        limit: Annotated[int, Query(ge=1, le=subscriptions.MAX_CHANGES, description=(
            "at most this many changes; when more follow, `more` is true and the cursor "
            "stops after the last one listed"))] = subscriptions.MAX_CHANGES) -> Response:
    """List what changed in the saved search since it was last acknowledged: the changed
    studies with their changes and, with a question, its pooled estimate then and now."""
    return JSONBytes(subscriptions.changes(session, subscription_id, key.id, limit))


@router.post("/{subscription_id}/acknowledge", response_class=JSONBytes,
             response_model=SubscriptionRead, responses=problems(*WRITE))
def acknowledge_subscription(subscription_id: SubscriptionId, key: KeyDep,
                             session: SessionDep,
                             body: Annotated[Acknowledge | None, Body()] = None) -> Response:
    """Mark the saved search's changes read up to a cursor of its changes answer (default:
    everything so far), keeping its question's estimate as it is now."""
    return JSONBytes(subscriptions.acknowledge(session, subscription_id, key.id, body))
