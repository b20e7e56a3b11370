"""Registry-versus-publication flags: the flags a study raises, stored each time the study is
written (they are computed from it, never entered), and a curator's explanation of one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.enums import FlagType
from app.types import JSONType, UTCDateTime, enum_column, utcnow


class FlagExplanation(Base):
    """Why a flag of a study is not a problem, keyed by the flag's stable id. It is shown
    while the flag is raised and kept (with its audit history) when it is not."""

    __tablename__ = "flag_explanation"
    __table_args__ = (UniqueConstraint("study_id", "flag_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"),
                                          index=True)
    flag_id: Mapped[str] = mapped_column(String(200))
    flag_type: Mapped[FlagType] = mapped_column(enum_column(FlagType, "flag_type"))
    reason: Mapped[str] = mapped_column(Text)
    # The values the flag compared when it was explained: {"registry_value", "published_value"}.
    compared: Mapped[dict[str, Any]] = mapped_column(JSONType)
    explained_by: Mapped[int] = mapped_column(
        ForeignKey("api_key.id", ondelete="RESTRICT"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StudyFlag(Base):
    """A flag a study raises, as its rules computed it when the study was last written, so
    that the study filter, the facet and the list of flags find flagged studies by index.
    The flag's values are computed again on every read; only its identity is kept here."""

    __tablename__ = "study_flag"
    __table_args__ = (Index("ix_study_flag_flag_type_study_id", "flag_type", "study_id"),)

    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"),
                                          primary_key=True)
    flag_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    flag_type: Mapped[FlagType] = mapped_column(enum_column(FlagType, "flag_type"))
