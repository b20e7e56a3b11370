"""A saved search's webhook delivery log: what `GET /subscriptions/{id}/deliveries` answers."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from app.schemas.common import Page, ReadModel

DeliveryStatus = Literal["pending", "delivered", "failed"]


class DeliveryTry(ReadModel):
    """One try at sending a delivery."""

    at: dt.datetime
    status_code: int | None = Field(description="the receiver's HTTP status; null when no "
                                    "answer came (see error)")
    error: str | None = Field(description="why the try did not succeed: the receiver's "
                              "status, a timeout, a refused connection or a refused address")
    duration_ms: float | None = Field(description="how long the request took; null when "
                                      "nothing was sent")


class DeliveryRead(ReadModel):
    """One change owed to the saved search's webhook, and how sending it went."""

    id: int
    change: int = Field(description="the change's id, as the feed (`GET /changes`) numbers it")
    webhook_id: str = Field(description="the `webhook-id` header of every try of this "
                            "delivery")
    status: DeliveryStatus = Field(description="pending (to send, or to retry), delivered (the "
                                   "receiver answered 2xx) or failed (the retry window closed)")
    attempts: int = Field(description="how many tries were made")
    created_at: dt.datetime = Field(description="when the change committed and the delivery "
                                    "was written")
    next_attempt_at: dt.datetime | None = Field(description="when a pending delivery is tried "
                                                "next; null once it is delivered or failed")
    delivered_at: dt.datetime | None
    last_status_code: int | None = Field(description="the receiver's status at the last try")
    last_error: str | None = Field(description="why the last try did not succeed")
    tries: list[DeliveryTry] = Field(description="every try, oldest first")


class DeliveryPage(Page[DeliveryRead]):
    """A page of a saved search's deliveries, newest first."""
