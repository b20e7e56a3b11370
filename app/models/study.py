"""Studies, their identifiers, relations, conditions, arms and interventions."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from app.enums import (
    Allocation,
    ArmType,
    EnrollmentType,
    InterventionModel,
    InterventionType,
    Masking,
    OverallStatus,
    Phase,
    PrimaryPurpose,
    RelationType,
    StudyType,
)
from app.types import JSONType, UTCDateTime, enum_column, utcnow

if TYPE_CHECKING:
    from app.models.outcome import OutcomeMeasure, Provenance, Timepoint
    from app.models.publication import StudyPublication


STUDY_ATTRIBUTE_COLUMNS = (
    "id", "deleted_at", "phase", "overall_status", "study_type", "allocation", "masking",
    "has_results", "retracted", "follow_up_months_max", "enrollment", "start_date_sort",
)


class Study(Base):
    __tablename__ = "study"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(2000))
    acronym: Mapped[str | None] = mapped_column(String(100))
    study_type: Mapped[StudyType] = mapped_column(enum_column(StudyType, "study_type"), index=True)
    phase: Mapped[Phase | None] = mapped_column(enum_column(Phase, "phase"))
    overall_status: Mapped[OverallStatus | None] = mapped_column(
        enum_column(OverallStatus, "overall_status"), index=True
    )
    allocation: Mapped[Allocation | None] = mapped_column(enum_column(Allocation, "allocation"))
    intervention_model: Mapped[InterventionModel | None] = mapped_column(
        enum_column(InterventionModel, "intervention_model")
    )
    masking: Mapped[Masking | None] = mapped_column(enum_column(Masking, "masking"))
    primary_purpose: Mapped[PrimaryPurpose | None] = mapped_column(
        enum_column(PrimaryPurpose, "primary_purpose")
    )
    start_date: Mapped[str | None] = mapped_column(String(10))
    # YYYYMMDD with unknown parts as 00, 0 when unknown: sortable, never null.
    start_date_sort: Mapped[int] = mapped_column(Integer, default=0)
    completion_date: Mapped[str | None] = mapped_column(String(10))
    enrollment: Mapped[int | None] = mapped_column(Integer)
    enrollment_type: Mapped[EnrollmentType | None] = mapped_column(
        enum_column(EnrollmentType, "enrollment_type")
    )
    population: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    sponsor: Mapped[str | None] = mapped_column(String(500))
    countries: Mapped[list[str]] = mapped_column(JSONType, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    # Months from baseline (randomization) to the last treatment session, as sourced: places
    # timepoints anchored on either end on both clocks.
    treatment_end_months: Mapped[float | None] = mapped_column(Float)
    # Facts on which sources disagree, each value with its sources (a list of documents).
    conflicts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    # Derived on every write, for filters and facets that must not scan child tables.
    # `follow_up_months_max`: the longest FOLLOW_UP timepoint on the after-treatment clock.
    follow_up_months_max: Mapped[float | None] = mapped_column(Float, index=True)
    has_results: Mapped[bool] = mapped_column(Boolean, default=False)
    retracted: Mapped[bool] = mapped_column(Boolean, default=False)
    search_text: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    source_record: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    registry_ids: Mapped[list[RegistryId]] = relationship(
        back_populates="study", lazy="raise", cascade="all, delete-orphan",
        order_by="RegistryId.id",
    )
    relations: Mapped[list[StudyRelation]] = relationship(
        back_populates="study", lazy="raise", cascade="all, delete-orphan",
        foreign_keys="StudyRelation.study_id", order_by="StudyRelation.id",
    )
    conditions: Mapped[list[StudyCondition]] = relationship(
        back_populates="study", lazy="raise", cascade="all, delete-orphan",
        order_by="StudyCondition.position",
    )
    keywords: Mapped[list[StudyKeyword]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="StudyKeyword.position"
    )
    country_rows: Mapped[list[StudyCountry]] = relationship(
        lazy="raise", cascade="all, delete-orphan"
    )
    arms: Mapped[list[Arm]] = relationship(
        back_populates="study", lazy="raise", cascade="all, delete-orphan",
        order_by="Arm.position",
    )
    timepoints: Mapped[list[Timepoint]] = relationship(
        back_populates="study", lazy="raise", cascade="all, delete-orphan",
        order_by="Timepoint.position",
    )
    outcome_measures: Mapped[list[OutcomeMeasure]] = relationship(
        back_populates="study", lazy="raise", cascade="all, delete-orphan",
        order_by="OutcomeMeasure.position",
    )
    publications: Mapped[list[StudyPublication]] = relationship(
        back_populates="study", lazy="raise", cascade="all, delete-orphan",
        order_by="StudyPublication.position",
    )
    # Every source row of the study and of its parts; read in one query and handed out.
    provenance: Mapped[list[Provenance]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="Provenance.id",
    )

    __table_args__ = (
        # A page sorted by start date walks one of these and checks the enrollment (and
        # deletion) filters in the index: only the studies of the page are read from the table.
        Index("ix_study_live_start", "deleted_at", "start_date_sort", "id", "enrollment"),
        Index("ix_study_phase_start", "phase", "start_date_sort", "id", "enrollment",
              "deleted_at"),
        # The same for a page of a phase in key order, the lists' default.
        Index("ix_study_phase_key", "phase", "key", "id", "enrollment", "deleted_at"),
        Index("ix_study_enrollment", "enrollment", "id"),
        Index("ix_study_updated", "updated_at", "id"),
        Index("ix_study_title", "title", "id"),
        # The short attributes by id: counts and facets over a set of studies (a condition's,
        # say) read this narrow index, not the wide rows with their texts.
        Index("ix_study_id_attributes", *STUDY_ATTRIBUTE_COLUMNS),
    )


class RegistryId(Base):
    __tablename__ = "registry_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    # "registry" is reserved on declarative classes; the column keeps the plain name.
    registry_name: Mapped[str] = mapped_column("registry", String(100))
    identifier: Mapped[str] = mapped_column(String(100), index=True)

    study: Mapped[Study] = relationship(back_populates="registry_ids", lazy="raise")

    __table_args__ = (UniqueConstraint("registry", "identifier"),)


class StudyRelation(Base):
    __tablename__ = "study_relation"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    relation_type: Mapped[RelationType] = mapped_column(enum_column(RelationType, "relation_type"))
    target_study_id: Mapped[int] = mapped_column(
        ForeignKey("study.id", ondelete="CASCADE"), index=True
    )

    study: Mapped[Study] = relationship(
        back_populates="relations", lazy="raise", foreign_keys=[study_id]
    )
    target: Mapped[Study] = relationship(lazy="raise", foreign_keys=[target_study_id])

    __table_args__ = (UniqueConstraint("study_id", "relation_type", "target_study_id"),)


class Condition(Base):
    __tablename__ = "condition"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    mesh_term: Mapped[str | None] = mapped_column(String(500))
    synonyms: Mapped[list[str]] = mapped_column(JSONType, default=list)

    aliases: Mapped[list[ConditionAlias]] = relationship(
        lazy="raise", cascade="all, delete-orphan"
    )


class ConditionAlias(Base):
    """Case-folded name and synonyms of a condition: the index filters match against."""

    __tablename__ = "condition_alias"

    id: Mapped[int] = mapped_column(primary_key=True)
    condition_id: Mapped[int] = mapped_column(
        ForeignKey("condition.id", ondelete="CASCADE"), index=True
    )
    alias: Mapped[str] = mapped_column(String(500), unique=True)


class StudyCondition(Base):
    __tablename__ = "study_condition"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    condition_id: Mapped[int] = mapped_column(
        ForeignKey("condition.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    # The name as the document gave it (a synonym, perhaps), so reads return what was sent.
    label: Mapped[str] = mapped_column(String(500))
    # Copies of the study's facet values, kept by the database's triggers (migration 0013)
    # and never written by the application: a condition's facet counts read them from one
    # index range (`queries.facets.on_links` says when).
    study_phase: Mapped[str | None] = mapped_column(String(16))
    study_status: Mapped[str | None] = mapped_column(String(32))
    study_enrollment: Mapped[int | None] = mapped_column(Integer)
    study_live: Mapped[bool | None] = mapped_column(Boolean)

    study: Mapped[Study] = relationship(back_populates="conditions", lazy="raise")
    condition: Mapped[Condition] = relationship(lazy="raise")

    __table_args__ = (
        UniqueConstraint("study_id", "condition_id"),
        Index("ix_study_condition_condition_study", "condition_id", "study_id"),
        # In the facets' GROUP BY order: counted in index order, without a sort.
        Index("ix_study_condition_facets", "condition_id", "study_live", "study_phase",
              "study_status", "study_enrollment"),
    )


class StudyKeyword(Base):
    __tablename__ = "study_keyword"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    keyword: Mapped[str] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(Integer, default=0)


class StudyCountry(Base):
    """One row per country of a study: the index behind the `country` filter and facet."""

    __tablename__ = "study_country"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    country: Mapped[str] = mapped_column(String(500))

    __table_args__ = (Index("ix_study_country_country_study", "country", "study_id"),)


class Arm(Base):
    __tablename__ = "arm"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(500))
    arm_type: Mapped[ArmType] = mapped_column(enum_column(ArmType, "arm_type"))
    description: Mapped[str | None] = mapped_column(Text)
    n_randomized: Mapped[int | None] = mapped_column(Integer)
    n_completed: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)

    study: Mapped[Study] = relationship(back_populates="arms", lazy="raise")
    interventions: Mapped[list[ArmIntervention]] = relationship(
        back_populates="arm", lazy="raise", cascade="all, delete-orphan",
        order_by="ArmIntervention.position",
    )
    __table_args__ = (UniqueConstraint("study_id", "label"),)


class Intervention(Base):
    __tablename__ = "intervention"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    type: Mapped[InterventionType] = mapped_column(
        enum_column(InterventionType, "intervention_type")
    )
    description: Mapped[str | None] = mapped_column(Text)
    synonyms: Mapped[list[str]] = mapped_column(JSONType, default=list)

    aliases: Mapped[list[InterventionAlias]] = relationship(
        lazy="raise", cascade="all, delete-orphan"
    )


class InterventionAlias(Base):
    """Case-folded name and synonyms of an intervention: the index filters match against."""

    __tablename__ = "intervention_alias"

    id: Mapped[int] = mapped_column(primary_key=True)
    intervention_id: Mapped[int] = mapped_column(
        ForeignKey("intervention.id", ondelete="CASCADE"), index=True
    )
    alias: Mapped[str] = mapped_column(String(500), unique=True)


class ArmIntervention(Base):
    __tablename__ = "arm_intervention"

    id: Mapped[int] = mapped_column(primary_key=True)
    arm_id: Mapped[int] = mapped_column(ForeignKey("arm.id", ondelete="CASCADE"), index=True)
    intervention_id: Mapped[int] = mapped_column(
        ForeignKey("intervention.id", ondelete="RESTRICT")
    )
    # Denormalised from arm so the intervention filter is one indexed lookup.
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(500))
    dose_mg: Mapped[float | None] = mapped_column(Float)
    dose_text: Mapped[str | None] = mapped_column(String(500))
    sessions: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)

    arm: Mapped[Arm] = relationship(back_populates="interventions", lazy="raise")
    intervention: Mapped[Intervention] = relationship(lazy="raise")

    __table_args__ = (
        Index("ix_arm_intervention_intervention_study", "intervention_id", "study_id"),
    )
