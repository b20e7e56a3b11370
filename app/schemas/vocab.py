"""Vocabularies (interventions, conditions) and regulatory events."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.enums import InterventionType, RegulatoryEventType
from app.schemas.common import ApiModel, Count, ItemList, Name, PartialDate, Short, Text, Url
from app.schemas.study import Sources


class InterventionIn(ApiModel):
    name: Name
    type: InterventionType
    description: Text | None = None
    synonyms: ItemList[Name]


class ConditionIn(ApiModel):
    name: Name
    mesh_term: Name | None = None
    synonyms: ItemList[Name]


class RegulatoryEventIn(ApiModel):
    key: Short = Field(description="stable slug, e.g. fda-crl-2024")
    date: PartialDate
    agency: Short | None = Field(None, description="FDA, EMA, TGA, …; null for a sponsor event")
    jurisdiction: Short | None = None
    event_type: RegulatoryEventType
    intervention: Name | None = Field(None, description="intervention name or synonym")
    condition: Name | None = Field(None, description="condition name or synonym")
    product: Text | None = None
    sponsor: Name | None = None
    summary: Text
    vote_for: Count | None = None
    vote_against: Count | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    notes: Text | None = None
    source_url: Url
    sources: Sources


class VocabularyIn(ApiModel):
    interventions: ItemList[InterventionIn]
    conditions: ItemList[ConditionIn]


class RegulatoryEventsIn(ApiModel):
    events: ItemList[RegulatoryEventIn]


