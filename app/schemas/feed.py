"""The change feed: what `GET /changes` answers and the parameters it takes besides the
study filter."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.schemas.common import ReadModel
from app.schemas.filters import StudyFilter

FeedCursor = Annotated[str, StringConstraints(max_length=100),
                       Field(json_schema_extra={"pattern": "^[A-Za-z0-9_-]*$"},
                             description="a next_cursor this feed gave; absent, the feed "
                             "starts at the oldest change it keeps")]


class ChangeParams(StudyFilter):
    """The study filter (changes to the studies it matches now) and the feed's own."""

    since: FeedCursor | None = None
    tail: int | None = Field(None, ge=1, le=1000, description="instead of `since`: the "
                             "newest this many changes (in commit order), to start following "
                             "from the present")
    limit: int = Field(100, ge=1, le=1000, description="at most this many changes")
    wait: int = Field(0, ge=0, le=60, description="when nothing follows `since`, wait up to "
                      "this many seconds for a change before answering an empty page")


class AtomParams(StudyFilter):
    """The study filter and how much of the feed the Atom view shows."""

    since: FeedCursor | None = None
    tail: int = Field(50, ge=1, le=1000, description="the newest this many changes (after "
                      "`since` when it is given)")


class ChangeItem(ReadModel):
    """One committed change."""

    id: int = Field(description="the change's number: stable, increasing in commit order")
    at: dt.datetime
    entity: str = Field(description="study, publication, risk_of_bias, evidence_profile or "
                        "flag_explanation")
    key: str = Field(description="the changed record's key or id")
    study: str | None = Field(description="the study's key when the change is to one study")
    action: str = Field(description="create, update, replace, delete, retraction, …")
    version: int | None = Field(description="the record's version after the change")
    audit_entry: int = Field(description="the audit entry that holds the whole diff")
    actor: int | None = Field(description="the id of the key that wrote it")
    changed: list[str] = Field(description="the top-level members the change touched")


class ChangePage(BaseModel):
    """Changes in commit order, and the cursor to ask for the ones after them."""

    items: list[ChangeItem]
    next_cursor: str = Field(description="pass as `since` for the changes after these; "
                             "it survives restarts")
