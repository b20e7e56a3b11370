"""What regulators (and sponsors) decided, and when."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from app.enums import RegulatoryEventType
from app.types import JSONType, enum_column

if TYPE_CHECKING:
    from app.models.study import Condition, Intervention


class RegulatoryEvent(Base):
    __tablename__ = "regulatory_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    intervention_id: Mapped[int | None] = mapped_column(
        ForeignKey("intervention.id", ondelete="RESTRICT"), index=True
    )
    condition_id: Mapped[int | None] = mapped_column(
        ForeignKey("condition.id", ondelete="RESTRICT"), index=True
    )
    agency: Mapped[str | None] = mapped_column(String(100), index=True)
    jurisdiction: Mapped[str | None] = mapped_column(String(100))
    event_type: Mapped[RegulatoryEventType] = mapped_column(
        enum_column(RegulatoryEventType, "regulatory_event_type"), index=True
    )
    date: Mapped[str] = mapped_column(String(10))
    date_sort: Mapped[int] = mapped_column(Integer, default=0, index=True)
    product: Mapped[str | None] = mapped_column(Text)
    sponsor: Mapped[str | None] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text)
    vote_for: Mapped[int | None] = mapped_column(Integer)
    vote_against: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    notes: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str] = mapped_column(String(2000))
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)

    intervention: Mapped[Intervention | None] = relationship(lazy="raise")
    condition: Mapped[Condition | None] = relationship(lazy="raise")
