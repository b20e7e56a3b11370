"""Saved searches: what `POST /subscriptions` takes, what the subscription reads answer, and
what a subscription's changes since its last acknowledgement look like."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.schemas.common import ApiModel, PlainText
from app.schemas.feed import ChangeItem, FeedCursor
from app.schemas.filters import SavedQuestion, StudyFilter

WebhookUrl = Annotated[PlainText, StringConstraints(min_length=1, max_length=2000),
                       Field(description="where each matching change is sent: https to a "
                             "public host (see docs/subscriptions.md)")]


class SubscriptionCreate(ApiModel):
    """A search to save: a study filter, optionally a meta-analysis question whose pooled
    estimate is followed, and optionally a webhook URL."""

    filter: StudyFilter = Field(
        default_factory=StudyFilter, description="the study filters of GET /studies (values "
        "as strings or lists); its changes are the changes to the studies it matches")
    question: SavedQuestion | None = Field(
        None, description="the parameters of GET /meta-analysis: its pooled estimate is "
        "compared at each acknowledgement")
    url: WebhookUrl | None = None


class Acknowledge(ApiModel):
    """How far the owner has read (default: the feed's head)."""

    cursor: FeedCursor | None = Field(
        None, description="the cursor of a changes answer; absent, the feed's head")


class Acknowledged(BaseModel):
    cursor: str = Field(description="the feed cursor read up to (changes after it are new)")
    at: dt.datetime | None = Field(description="when it was acknowledged")


class SubscriptionRead(BaseModel):
    """A saved search (its webhook's secret is never shown again after it is created)."""

    model_config = ConfigDict(extra="forbid")

    id: int
    filter: dict[str, Any] = Field(description="the study filter, normalised (defaults left "
                                   "out)")
    question: dict[str, Any] | None = Field(description="the meta-analysis question, "
                                            "normalised; null without one")
    url: str | None = Field(description="the webhook URL; null without one")
    created_at: dt.datetime
    acknowledged: Acknowledged


class SubscriptionCreated(SubscriptionRead):
    """A saved search as created: with a webhook URL, also its signing secret, shown here
    only."""

    secret: str | None = Field(None, description="the webhook's signing secret (Standard "
                               "Webhooks, whsec_…); present only in this answer")


class SubscriptionPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[SubscriptionRead]
    next_page_token: str | None = Field(None, description="pass as page_token for the next "
                                        "page")
    total_count: Literal[None] = None


class EstimateInput(BaseModel):
    """One effect estimate a pooled estimate used (or that it no longer uses)."""

    id: int = Field(description="the effect estimate's id")
    study_key: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    se: float | None = Field(description="its standard error on the pooling scale")
    reason: str | None = Field(None, description="for a removed input: why the pooling now "
                               "leaves it out (e.g. retracted)")


class EstimateSnapshot(BaseModel):
    """A question's pooled estimate at one moment, with the inputs it pooled."""

    estimate: float | None = Field(description="the random-effects (or Mantel–Haenszel) "
                                   "estimate on the pooling scale; null when nothing could be "
                                   "pooled")
    ci_low: float | None
    ci_high: float | None
    k: int = Field(description="how many estimates were pooled")
    tau2: float | None
    effect_type: str | None
    problem: str | None = Field(None, description="why no estimate could be pooled")
    inputs: list[EstimateInput]


class InputChange(BaseModel):
    id: int
    study_key: str
    before: EstimateInput
    after: EstimateInput


class InputDifferences(BaseModel):
    added: list[EstimateInput]
    removed: list[EstimateInput]
    changed: list[InputChange]


class EstimateComparison(BaseModel):
    """The question's pooled estimate at the last acknowledgement and now."""

    before: EstimateSnapshot | None = Field(description="at the last acknowledgement")
    after: EstimateSnapshot = Field(description="now")
    moved: bool = Field(description="whether the estimate, its CI, k, τ² or its inputs "
                        "differ")
    inputs: InputDifferences


class ChangedStudy(BaseModel):
    study: str = Field(description="the study's key")
    changes: list[ChangeItem] = Field(description="its changes, in commit order")


class SubscriptionChanges(BaseModel):
    """What changed for a saved search since its owner last acknowledged."""

    studies: list[ChangedStudy] = Field(description="the changed studies the filter matches, "
                                        "in the order of their first change")
    cursor: str = Field(description="acknowledge with this cursor to mark these changes read")
    more: bool = Field(description="whether further changes follow the cursor")
    estimate: EstimateComparison | None = Field(
        None, description="with a question: its pooled estimate then and now")
