"""Study parts rendered when the study is written: the JSON of each nested part of a list
document, kept so that a page splices stored bytes instead of assembling rows in Python."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class StudyRender(Base):
    """One study's parts as the documents' JSON, valid while `version` is the study's and
    `format` is the running code's (app.services.rendered): anything else is read live."""

    __tablename__ = "study_render"

    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"),
                                          primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(32))
    registry_ids: Mapped[bytes] = mapped_column(LargeBinary)
    conditions: Mapped[bytes] = mapped_column(LargeBinary)
    interventions: Mapped[bytes] = mapped_column(LargeBinary)
    publications: Mapped[bytes] = mapped_column(LargeBinary)
    arms: Mapped[bytes] = mapped_column(LargeBinary)
    timepoints: Mapped[bytes] = mapped_column(LargeBinary)
    outcome_measures: Mapped[bytes] = mapped_column(LargeBinary)
    effects: Mapped[bytes] = mapped_column(LargeBinary)
