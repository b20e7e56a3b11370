"""Publications (with retraction status) and their links to studies."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from app.enums import PublicationRole, RetractionStatus
from app.types import UTCDateTime, enum_column, utcnow

if TYPE_CHECKING:
    from app.models.study import Study


class Publication(Base):
    __tablename__ = "publication"

    id: Mapped[int] = mapped_column(primary_key=True)
    doi: Mapped[str | None] = mapped_column(String(200), unique=True)
    pmid: Mapped[str | None] = mapped_column(String(20), unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    journal: Mapped[str | None] = mapped_column(String(500))
    year: Mapped[int | None] = mapped_column(Integer, index=True)
    volume: Mapped[str | None] = mapped_column(String(100))
    pages: Mapped[str | None] = mapped_column(String(100))
    first_author: Mapped[str | None] = mapped_column(String(500))
    citation: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    retraction_status: Mapped[RetractionStatus] = mapped_column(
        enum_column(RetractionStatus, "retraction_status"), default=RetractionStatus.NONE,
        index=True,
    )
    retraction_date: Mapped[dt.date | None] = mapped_column(Date)
    retraction_notice: Mapped[str | None] = mapped_column(Text)
    retraction_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    studies: Mapped[list[StudyPublication]] = relationship(
        back_populates="publication", lazy="raise"
    )


class StudyPublication(Base):
    __tablename__ = "study_publication"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    publication_id: Mapped[int] = mapped_column(
        ForeignKey("publication.id", ondelete="RESTRICT"), index=True
    )
    # The document's handle for this publication; sources name it.
    ref: Mapped[str] = mapped_column(String(200))
    role: Mapped[PublicationRole] = mapped_column(enum_column(PublicationRole, "publication_role"))
    position: Mapped[int] = mapped_column(Integer, default=0)

    study: Mapped[Study] = relationship(back_populates="publications", lazy="raise")
    publication: Mapped[Publication] = relationship(back_populates="studies", lazy="raise")

    __table_args__ = (
        UniqueConstraint("study_id", "ref"),
        UniqueConstraint("study_id", "publication_id"),
    )
