"""Evidence profiles: a saved question with its GRADE judgements."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.enums import Certainty, StudyDesign
from app.types import JSONType, UTCDateTime, enum_column, utcnow


class EvidenceProfile(Base):
    """A question (labels plus the /meta-analysis parameters that answer it), the design of
    its evidence, the five GRADE domains with their reasons, and the certainty they give
    (stored so that lists can filter on it; always recomputed on write)."""

    __tablename__ = "evidence_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    # {"population", "intervention", "comparator", "outcome", "parameters": {...}}
    question: Mapped[dict[str, Any]] = mapped_column(JSONType)
    study_design: Mapped[StudyDesign] = mapped_column(
        enum_column(StudyDesign, "profile_study_design"))
    certainty: Mapped[Certainty] = mapped_column(
        enum_column(Certainty, "profile_certainty"), index=True)
    # {domain: {"rating": ..., "reason": ...}}
    domains: Mapped[dict[str, Any]] = mapped_column(JSONType)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("api_key.id", ondelete="RESTRICT"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
