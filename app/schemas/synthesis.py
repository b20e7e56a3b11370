"""Durability over time and benefit against harm: their parameters and their answers.

Both take the study filter whole (`StudyFilter`), so one filter declaration serves them and
every other endpoint; `instrument` also narrows the outcomes they read.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from app.enums import Anchor, ArmType, RiskOfBiasLevel, TimepointRole
from app.schemas.common import FilterText, SearchTerm
from app.schemas.filters import MAX_RISK_OF_BIAS_DOC, StudyFilter, _split_commas
from app.schemas.outcome import Nnt
from app.schemas.parts import Clock
from app.schemas.read import ReadDoc


def _as_list(value: Any) -> Any:
    """One name or several, each kept as given (a blank one is refused, not dropped)."""
    return [value] if isinstance(value, str) else value


class SynthesisFilter(StudyFilter):
    """The study filter plus study keys; retracted results are left out unless
    `include_retracted` is true."""

    study: list[FilterText] = Field([], description="study key (repeat for several)")

    _split_study = field_validator("study", mode="before")(_split_commas)

    def study_filter(self) -> StudyFilter:
        """The study part, keeping studies whose results are retracted (each result's own
        flag decides, so the answer can say what it left out)."""
        data = self.model_dump(include=set(StudyFilter.model_fields), exclude_unset=True)
        data["include_retracted"] = True if self.include_retracted else None
        return StudyFilter.model_validate(data)


class DurabilityParams(SynthesisFilter):
    max_risk_of_bias: RiskOfBiasLevel | None = Field(None, description=(
        "a score is kept when the most severe overall judgement among the assessed effects "
        "comparing its arm at its outcome and timepoint is at most this level (none "
        "assessed: not assessed); a baseline score is kept with the other scores of its "
        "series. ") + MAX_RISK_OF_BIAS_DOC)


class DurabilityPlotParams(DurabilityParams):
    clock: Literal["baseline", "treatment"] = Field(
        "treatment", description="months since baseline (randomization) or months after "
        "treatment (the last treatment session)")


class BenefitRiskParams(SynthesisFilter):
    benefit: list[SearchTerm] = Field(
        ..., min_length=1, description="the benefit outcome, by name or instrument, e.g. "
        "clinical response (repeat for names other studies use)")
    harm: list[SearchTerm] = Field(
        ..., min_length=1, description="the harm outcome, by name or instrument, e.g. severe "
        "treatment-emergent adverse events (repeat for names other studies use)")
    timepoint_months_min: float | None = Field(
        None, ge=0, le=1200, description="both sides at least this many months since baseline")
    timepoint_months_max: float | None = Field(
        None, ge=0, le=1200, description="both sides at most this many months since baseline")
    ci_level: float = Field(0.95, gt=0.5, lt=1)

    _names_br = field_validator("benefit", "harm", mode="before")(_as_list)


# ------------------------------------------------------------------ durability answer


class DurabilityTimepoint(ReadDoc):
    id: int
    label: str
    role: TimepointRole | None
    anchor: Anchor | None
    months_mean: float | None
    months_sd: float | None
    since_baseline: Clock | None
    after_treatment: Clock | None
    n_assessed: int | None
    n_eligible: int | None
    retention: float | None = Field(description="n_assessed / n_eligible")
    controlled: bool | None = Field(description="false once the comparator has crossed over")


class DurabilityPoint(ReadDoc):
    timepoint_id: int
    timepoint: str
    n: int | None
    mean: float | None
    sd: float | None
    se: float | None
    change_mean: float | None
    change_sd: float | None
    change_se: float | None
    ci_low: float | None
    ci_high: float | None
    retracted: bool


class DurabilitySeries(ReadDoc):
    outcome: str
    instrument: str | None
    unit: str | None
    lower_is_better: bool | None
    arm: str
    arm_type: ArmType
    points: list[DurabilityPoint]


class DurabilityStudy(ReadDoc):
    study_key: str
    study_title: str
    study_acronym: str | None
    treatment_end_months: float | None
    timepoints: list[DurabilityTimepoint]
    series: list[DurabilitySeries]


class LeftOutResult(ReadDoc):
    study_key: str
    outcome: str
    arm: str
    timepoint: str
    reason: str | None = Field(None, description="why, when the reason differs by result "
                               "(risk of bias)")


class LeftOut(ReadDoc):
    count: int
    include_with: str = Field(description="the parameter that brings them in")
    results: list[LeftOutResult]


class Durability(ReadDoc):
    include_retracted: bool
    studies: list[DurabilityStudy]
    excluded: dict[str, LeftOut] = Field(
        description="what the defaults left out (retracted results) and what max_risk_of_bias "
        "left out (`risk_of_bias`, each result with its reason), and how to bring it in")


# ------------------------------------------------------------------ benefit-risk answer


class ArmCounts(ReadDoc):
    arm: str
    events: int
    total: int
    risk: float


class CountedSide(ReadDoc):
    outcome: str
    instrument: str | None
    lower_is_better: bool
    timepoint: str
    timepoint_role: TimepointRole | None
    timepoint_months: float | None = Field(description="months since baseline")
    timepoint_months_after_treatment: float | None
    experimental: ArmCounts
    comparator: ArmCounts
    risk_difference: float = Field(description="experimental minus comparator risk")
    se: float
    ci_low: float
    ci_high: float
    zero_cell_correction: bool


class BenefitSide(CountedSide):
    nnt: Nnt


class HarmSide(CountedSide):
    nnh: Nnt


class BenefitRiskStudy(ReadDoc):
    study_key: str
    study_title: str
    study_acronym: str | None
    complete: bool = Field(description="both sides counted on the same arms")
    benefit: BenefitSide | None
    harm: HarmSide | None
    reasons: list[str] = Field(description="why a side is missing")


class PooledSide(ReadDoc):
    k: int
    method: str
    risk_difference: float
    se: float
    ci_low: float
    ci_high: float
    tau2: float | None
    i2: float | None
    q: float | None


class PooledBenefit(PooledSide):
    nnt: Nnt


class PooledHarm(PooledSide):
    nnh: Nnt


class BenefitRiskPooled(ReadDoc):
    k: int
    studies: list[str]
    benefit: PooledBenefit | None
    harm: PooledHarm | None
    reason: str | None = Field(description="why nothing was pooled")


class BenefitRisk(ReadDoc):
    benefit: list[str]
    harm: list[str]
    ci_level: float
    include_retracted: bool
    studies: list[BenefitRiskStudy]
    pooled: BenefitRiskPooled
    excluded: dict[str, LeftOut]
