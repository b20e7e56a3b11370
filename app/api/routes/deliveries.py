"""Saved searches' webhook deliveries: the delivery log of one saved search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.api.auth import KeyDep
from app.api.deps import SessionDep, SessionRoute
from app.api.responses import JSONBytes, paged, problems
from app.queries.pagination import INT_MAX
from app.schemas.common import PageToken
from app.schemas.deliveries import DeliveryPage
from app.services import delivery

router = APIRouter(tags=["subscriptions"], route_class=SessionRoute)

SubscriptionId = Annotated[int, Path(ge=1, le=INT_MAX, description="the saved search's id")]


@router.get("/subscriptions/{subscription_id}/deliveries", response_class=JSONBytes,
            response_model=DeliveryPage, responses=problems(400, 401, 404, 422, 429))
def list_deliveries(request: Request, subscription_id: SubscriptionId, key: KeyDep,
                    session: SessionDep,
                    page_size: Annotated[int, Query(ge=1, le=1000)] = 50,
                    page_token: Annotated[PageToken | None, Query()] = None) -> Response:
    """List the webhook deliveries of a saved search you own, newest first, with every try."""
    return paged(request, delivery.history(session, key.id, subscription_id, page_size,
                                           page_token))
