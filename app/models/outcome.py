"""Timepoints, outcome measures, arm-level results, effect estimates and their sources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from app.enums import (
    AnalysisPopulation,
    Anchor,
    ClockSource,
    EffectType,
    Origin,
    OutcomeRole,
    PValueRelation,
    TimepointRole,
)
from app.types import JSONType, enum_column

if TYPE_CHECKING:
    from app.models.publication import Publication
    from app.models.study import Arm, Study


class Timepoint(Base):
    __tablename__ = "timepoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(500))
    anchor: Mapped[Anchor | None] = mapped_column(enum_column(Anchor, "anchor"))
    months: Mapped[float | None] = mapped_column(Float)
    months_min: Mapped[float | None] = mapped_column(Float)
    months_max: Mapped[float | None] = mapped_column(Float)
    months_mean: Mapped[float | None] = mapped_column(Float)
    months_sd: Mapped[float | None] = mapped_column(Float)
    role: Mapped[TimepointRole | None] = mapped_column(enum_column(TimepointRole, "timepoint_role"))
    # The two clocks as the source states them (point values), when it does.
    months_since_baseline: Mapped[float | None] = mapped_column(Float)
    months_after_treatment: Mapped[float | None] = mapped_column(Float)
    # Derived on every write (app.services.derive): each clock's value (point, else mean, else
    # lower bound), its range, and where it comes from.
    baseline_clock: Mapped[float | None] = mapped_column(Float, index=True)
    baseline_clock_min: Mapped[float | None] = mapped_column(Float)
    baseline_clock_max: Mapped[float | None] = mapped_column(Float)
    baseline_clock_source: Mapped[ClockSource | None] = mapped_column(
        enum_column(ClockSource, "baseline_clock_source"))
    treatment_clock: Mapped[float | None] = mapped_column(Float, index=True)
    treatment_clock_min: Mapped[float | None] = mapped_column(Float)
    treatment_clock_max: Mapped[float | None] = mapped_column(Float)
    treatment_clock_source: Mapped[ClockSource | None] = mapped_column(
        enum_column(ClockSource, "treatment_clock_source"))
    n_assessed: Mapped[int | None] = mapped_column(Integer)
    n_eligible: Mapped[int | None] = mapped_column(Integer)
    controlled: Mapped[bool | None] = mapped_column(Boolean)
    # role == FOLLOW_UP, kept for the timeline filter.
    is_follow_up: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)

    study: Mapped[Study] = relationship(back_populates="timepoints", lazy="raise")


class OutcomeMeasure(Base):
    __tablename__ = "outcome_measure"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(500))
    instrument: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[OutcomeRole] = mapped_column(enum_column(OutcomeRole, "outcome_role"))
    unit: Mapped[str | None] = mapped_column(String(100))
    lower_is_better: Mapped[bool | None] = mapped_column(Boolean)
    description: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)

    study: Mapped[Study] = relationship(back_populates="outcome_measures", lazy="raise")
    results: Mapped[list[OutcomeResult]] = relationship(
        back_populates="outcome_measure", lazy="raise", cascade="all, delete-orphan",
        order_by="OutcomeResult.position",
    )
    effects: Mapped[list[EffectEstimate]] = relationship(
        back_populates="outcome_measure", lazy="raise", cascade="all, delete-orphan",
        order_by="EffectEstimate.position",
    )

    __table_args__ = (Index("ix_outcome_measure_instrument_study", "instrument", "study_id"),)


class OutcomeResult(Base):
    """One number set for one arm at one timepoint."""

    __tablename__ = "outcome_result"

    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_measure_id: Mapped[int] = mapped_column(
        ForeignKey("outcome_measure.id", ondelete="CASCADE"), index=True
    )
    arm_id: Mapped[int] = mapped_column(ForeignKey("arm.id", ondelete="CASCADE"), index=True)
    timepoint_id: Mapped[int] = mapped_column(
        ForeignKey("timepoint.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    n: Mapped[int | None] = mapped_column(Integer)
    mean: Mapped[float | None] = mapped_column(Float)
    sd: Mapped[float | None] = mapped_column(Float)
    se: Mapped[float | None] = mapped_column(Float)
    change_mean: Mapped[float | None] = mapped_column(Float)
    change_sd: Mapped[float | None] = mapped_column(Float)
    change_se: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    count: Mapped[int | None] = mapped_column(Integer)
    denominator: Mapped[int | None] = mapped_column(Integer)
    # The percentage as printed ("71.2"); `count_derived` when the count was derived from it.
    percent: Mapped[str | None] = mapped_column(String(20))
    count_derived: Mapped[bool] = mapped_column(Boolean, default=False)
    raw: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    # True when every publication this result is sourced from is retracted.
    retracted: Mapped[bool] = mapped_column(Boolean, default=False)

    outcome_measure: Mapped[OutcomeMeasure] = relationship(back_populates="results", lazy="raise")
    arm: Mapped[Arm] = relationship(lazy="raise")
    timepoint: Mapped[Timepoint] = relationship(lazy="raise")


class EffectEstimate(Base):
    """A comparison between two arms (or within one) on one outcome at one timepoint."""

    __tablename__ = "effect_estimate"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    outcome_measure_id: Mapped[int] = mapped_column(
        ForeignKey("outcome_measure.id", ondelete="CASCADE"), index=True
    )
    timepoint_id: Mapped[int] = mapped_column(
        ForeignKey("timepoint.id", ondelete="CASCADE"), index=True
    )
    experimental_arm_id: Mapped[int] = mapped_column(
        ForeignKey("arm.id", ondelete="CASCADE"), index=True
    )
    comparator_arm_id: Mapped[int | None] = mapped_column(
        ForeignKey("arm.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    effect_type: Mapped[EffectType] = mapped_column(enum_column(EffectType, "effect_type"))
    # Experimental minus (ratio: over) comparator; standardized differences positive when they
    # favour the experimental arm. Null for a comparison reported by its p-value alone.
    value: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    ci_level: Mapped[float | None] = mapped_column(Float)
    se: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    p_value_relation: Mapped[PValueRelation | None] = mapped_column(
        enum_column(PValueRelation, "p_value_relation")
    )
    analysis_population: Mapped[AnalysisPopulation | None] = mapped_column(
        enum_column(AnalysisPopulation, "analysis_population")
    )
    origin: Mapped[Origin] = mapped_column(enum_column(Origin, "origin"), default=Origin.REPORTED)
    notes: Mapped[str | None] = mapped_column(Text)
    # A contrast the source printed the other way: its printed numbers and why re-expressed.
    as_reported: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # What a computed effect was computed from (per arm: events and total, or n, mean, SD).
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    retracted: Mapped[bool] = mapped_column(Boolean, default=False)

    outcome_measure: Mapped[OutcomeMeasure] = relationship(back_populates="effects", lazy="raise")
    timepoint: Mapped[Timepoint] = relationship(lazy="raise")
    experimental_arm: Mapped[Arm] = relationship(lazy="raise", foreign_keys=[experimental_arm_id])
    comparator_arm: Mapped[Arm | None] = relationship(
        lazy="raise", foreign_keys=[comparator_arm_id]
    )

    __table_args__ = (
        Index("ix_effect_estimate_type_value", "effect_type", "retracted", "value"),
    )


class Provenance(Base):
    """One source of one sourced thing: the study itself, an arm, a timepoint, a result or an
    effect (at most one of those columns is set; none means the study's own numbers)."""

    __tablename__ = "provenance"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    arm_id: Mapped[int | None] = mapped_column(
        ForeignKey("arm.id", ondelete="CASCADE"), index=True
    )
    timepoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("timepoint.id", ondelete="CASCADE"), index=True
    )
    outcome_result_id: Mapped[int | None] = mapped_column(
        ForeignKey("outcome_result.id", ondelete="CASCADE"), index=True
    )
    effect_estimate_id: Mapped[int | None] = mapped_column(
        ForeignKey("effect_estimate.id", ondelete="CASCADE"), index=True
    )
    publication_id: Mapped[int | None] = mapped_column(
        ForeignKey("publication.id", ondelete="RESTRICT"), index=True
    )
    registry_record: Mapped[str | None] = mapped_column(String(100))
    source_url: Mapped[str | None] = mapped_column(String(2000))
    locator: Mapped[str | None] = mapped_column(String(500))

    arm: Mapped[Arm | None] = relationship(lazy="raise")
    timepoint: Mapped[Timepoint | None] = relationship(lazy="raise")
    outcome_result: Mapped[OutcomeResult | None] = relationship(lazy="raise")
    effect_estimate: Mapped[EffectEstimate | None] = relationship(lazy="raise")
    publication: Mapped[Publication | None] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint(
            "publication_id IS NOT NULL OR registry_record IS NOT NULL OR source_url IS NOT NULL",
            name="names_a_source",
        ),
        CheckConstraint(
            "(CASE WHEN arm_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN timepoint_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN outcome_result_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN effect_estimate_id IS NULL THEN 0 ELSE 1 END) <= 1",
            name="one_subject",
        ),
    )
