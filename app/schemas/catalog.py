"""Query parameters of the vocabulary and timeline lists."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.enums import RegulatoryEventType, RetractionStatus
from app.schemas.common import FilterText, PageToken
from app.schemas.filters import StudyFilter, _split_commas, _strip


class Paging(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_size: int = Field(50, ge=1, le=1000)
    page_token: PageToken | None = None


class VocabularyParams(Paging):
    name: FilterText | None = Field(
        None, max_length=200, description="name or synonym (exact, any case)")


class PublicationParams(Paging):
    retraction_status: list[RetractionStatus] = []
    study: list[FilterText] = Field([], description="key of a study the publication belongs to")
    doi: FilterText | None = Field(None, max_length=200)
    pmid: FilterText | None = Field(None, max_length=20)

    _split = field_validator("retraction_status", "study", mode="before")(_split_commas)


class RegulatoryEventParams(Paging):
    agency: list[FilterText] = []
    event_type: list[RegulatoryEventType] = []
    intervention: list[FilterText] = Field([], description="intervention name or synonym")
    condition: list[FilterText] = Field([], description="condition name or synonym")

    _split = field_validator("agency", "event_type", mode="before")(_split_commas)
    _names = field_validator("intervention", "condition", mode="before")(_strip)


class TimepointParams(StudyFilter):
    is_follow_up: bool | None = None
    page_size: int = Field(50, ge=1, le=1000)
    page_token: PageToken | None = None
