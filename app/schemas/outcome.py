"""Outcome measures of a study document: arm-level results and effect estimates.

A computed effect (origin COMPUTED) is derived from the counted or continuous results on
every write: a read shows it, and a write that sends it back has it left out and derived
again.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import Field, model_validator

from app.enums import (
    RATIO_EFFECTS,
    AnalysisPopulation,
    Comparison,
    Direction,
    EffectType,
    Favours,
    Orientation,
    Origin,
    OutcomeRole,
    PValueRelation,
)
from app.schemas.appraisal import STATUS_DOC, RiskOfBiasStatus, RiskOfBiasSummary
from app.schemas.common import ApiModel, Count, ItemList, Name, Short, Text
from app.schemas.parts import RequiredSources, SourceIn, read_only

Percent = Annotated[str, Field(pattern=r"^(100(\.0{1,6})?|[0-9]{1,2}(\.[0-9]{1,6})?)$",
                               description="a percentage as printed, 0 to 100")]


def prints_as(percent: str, count: int, denominator: int) -> bool:
    """Whether count/denominator prints as `percent` at its precision (rounding half up)."""
    step = Decimal(1).scaleb(-len(percent.partition(".")[2]))
    return denominator > 0 and (Decimal(100 * count) / Decimal(denominator)).quantize(
        step, ROUND_HALF_UP) == Decimal(percent)


def count_from_percent(percent: str, denominator: int) -> int | None:
    """The count of `denominator` that prints as `percent`, when exactly one integer does."""
    if denominator <= 0:
        return None
    half = Decimal(1).scaleb(-len(percent.partition(".")[2])) / 2
    low = (Decimal(percent) - half) * denominator / 100
    high = (Decimal(percent) + half) * denominator / 100
    first, last = max(0, math.floor(low)), min(denominator, math.ceil(high))
    if last - first > 3:  # several integers fit for sure
        return None
    found = [k for k in range(first, last + 1) if prints_as(percent, k, denominator)]
    return found[0] if len(found) == 1 else None


class OutcomeResultIn(ApiModel):
    arm: Name = Field(description="label of an arm of this study")
    timepoint: Name = Field(description="label of a timepoint of this study")
    n: Count | None = None
    mean: float | None = None
    sd: Annotated[float, Field(ge=0)] | None = None
    se: Annotated[float, Field(ge=0)] | None = None
    change_mean: float | None = None
    change_sd: Annotated[float, Field(ge=0)] | None = None
    change_se: Annotated[float, Field(ge=0)] | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    count: Count | None = Field(None, description="participants with the event")
    denominator: Count | None = Field(None, description="participants it is counted among")
    percent: Percent | None = Field(
        None, description='the percentage as printed, e.g. "71.2": with a denominator and no '
        "count, the count is derived when exactly one integer reproduces it")
    count_derived: bool = Field(
        False, description="read-only: the count was derived from `percent` (sending it back "
        "derives it again)", json_schema_extra={"readOnly": True})
    raw: Text | None = None
    notes: Text | None = None
    retracted: bool | None = read_only("every source of this number is retracted")
    sources: RequiredSources

    @model_validator(mode="after")
    def _consistent(self) -> OutcomeResultIn:
        if self.count_derived:
            self.count = None
        if self.percent is not None and self.denominator is not None:
            if self.count is None:
                self.count = count_from_percent(self.percent, self.denominator)
                self.count_derived = self.count is not None
            elif not prints_as(self.percent, self.count, self.denominator):
                raise ValueError(f"count {self.count} of {self.denominator} is not "
                                 f"{self.percent}% at the printed precision")
        if self.count_derived and self.count is None:
            self.count_derived = False
        if (self.count is not None and self.denominator is not None
                and self.count > self.denominator):
            raise ValueError("count is greater than denominator")
        if self.ci_low is not None and self.ci_high is not None and self.ci_low > self.ci_high:
            raise ValueError("ci_low is greater than ci_high")
        return self


class AsReported(ApiModel):
    """A contrast as its source printed it, when that is not our direction."""

    orientation: Orientation = Field(
        description="COMPARATOR_VS_EXPERIMENTAL: printed as comparator minus (or over) "
        "experimental, or for d/g/SMD with the sign favouring the comparator")
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    reason: Text = Field(description="why the value is stored re-expressed")

    @model_validator(mode="after")
    def _complete(self) -> AsReported:
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("as_reported: give both ci_low and ci_high, or neither")
        return self


class Nnt(ApiModel):
    """The number needed to treat from a risk difference (Altman's NNTB/NNTH wording)."""

    value: float | None
    kind: str | None
    ci_low: float | None
    ci_high: float | None
    ci_low_kind: str | None = None
    ci_high_kind: str | None = None
    crosses_null: bool | None = None
    wording: str | None = None


class EffectEstimateIn(ApiModel):
    experimental_arm: Name
    comparator_arm: Name | None = Field(
        None, description="the other arm of a between-arm contrast; null for a within-arm "
        "change (pre vs post in one arm)")
    timepoint: Name
    effect_type: EffectType
    value: float | None = Field(
        None, description="experimental minus comparator (ratios: over); d, g and SMD "
        "positive when they favour the experimental arm. Null only for a comparison reported "
        "by its p-value alone; derived from `as_reported` when that is given")
    ci_low: float | None = None
    ci_high: float | None = None
    ci_level: Annotated[float, Field(gt=0, lt=1)] | None = None
    se: Annotated[float, Field(ge=0)] | None = None
    p_value: Annotated[float, Field(ge=0, le=1)] | None = None
    p_value_relation: PValueRelation | None = None
    analysis_population: AnalysisPopulation | None = None
    as_reported: AsReported | None = None
    notes: Text | None = None
    origin: Origin | None = read_only("REPORTED, or COMPUTED from the results (a computed "
                                      "effect sent back is left out and derived again)")
    inputs: dict[str, Any] | None = read_only("what a computed effect was computed from")
    retracted: bool | None = read_only("every source of this number is retracted")
    comparison: Comparison | None = read_only("between arms or within one arm")
    direction: Direction | None = read_only("which sign favours the experimental arm")
    favours: Favours | None = read_only("whom the contrast favours, from its CI or p-value")
    nnt: Nnt | None = read_only("number needed to treat, for a risk difference")
    risk_of_bias: RiskOfBiasSummary | None = read_only(
        "its risk-of-bias assessment at a glance (null when not assessed); written at "
        "/outcomes/{id}/risk-of-bias")
    risk_of_bias_status: RiskOfBiasStatus | None = read_only(STATUS_DOC)
    sources: RequiredSources

    @model_validator(mode="after")
    def _consistent(self) -> EffectEstimateIn:
        if self.as_reported is not None:
            self._reexpress(self.as_reported)
        if self.value is None and self.p_value is None:
            raise ValueError("an effect needs a value, or a p_value when none was reported")
        if self.effect_type in RATIO_EFFECTS and any(
                x is not None and x <= 0 for x in (self.value, self.ci_low, self.ci_high)):
            raise ValueError(f"a {self.effect_type} and its CI must be greater than 0")
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("give both ci_low and ci_high, or neither")
        if self.ci_low is not None and self.ci_high is not None:
            if self.ci_low > self.ci_high:
                raise ValueError("ci_low is greater than ci_high")
            if self.ci_level is None:
                self.ci_level = 0.95
        if self.p_value_relation is not None and self.p_value is None:
            raise ValueError("p_value_relation without p_value")
        if self.p_value is not None and self.p_value_relation is None:
            self.p_value_relation = PValueRelation.EQ
        return self

    def _reexpress(self, printed: AsReported) -> None:
        """Our value and CI from the printed ones; given ones must agree with them."""
        value, low, high = printed.value, printed.ci_low, printed.ci_high
        if printed.orientation == Orientation.COMPARATOR_VS_EXPERIMENTAL:
            if self.effect_type in RATIO_EFFECTS:
                if any(x is not None and x <= 0 for x in (value, low, high)):
                    raise ValueError("as_reported: a ratio and its CI must be greater than 0")
                value = 1 / value
                low, high = (1 / high, 1 / low) if low is not None and high is not None else (
                    None, None)
            else:
                value = -value
                low, high = (-high, -low) if low is not None and high is not None else (
                    None, None)
        for name, ours in (("value", value), ("ci_low", low), ("ci_high", high)):
            given = getattr(self, name)
            if given is None:
                setattr(self, name, ours)
            elif ours is None or not math.isclose(given, ours, rel_tol=1e-9, abs_tol=1e-12):
                raise ValueError(f"{name} {given} does not agree with as_reported "
                                 f"re-expressed ({ours})")


def _reported_only(effects: Any) -> Any:
    """Computed effects sent back are left out: every write derives them again."""
    if isinstance(effects, list):
        return [e for e in effects
                if not (isinstance(e, dict) and e.get("origin") == Origin.COMPUTED)]
    return effects


class OutcomeMeasureIn(ApiModel):
    name: Name
    instrument: Short | None = None
    role: OutcomeRole
    unit: Short | None = None
    lower_is_better: bool | None = None
    description: Text | None = None
    notes: Text | None = None
    results: ItemList[OutcomeResultIn]
    effects: ItemList[EffectEstimateIn]

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "effects" in data:
            data = {**data, "effects": _reported_only(data["effects"])}
        return data


class EffectSummary(ApiModel):
    """One effect of a study, with its outcome and its timepoint on both clocks (read-only:
    the study's `effects` list, a flat view of its outcome measures' effects)."""

    outcome: str
    instrument: str | None = None
    timepoint_months: float | None = None
    timepoint_months_after_treatment: float | None = None
    experimental_arm: str
    comparator_arm: str | None = None
    timepoint: str
    effect_type: EffectType
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    ci_level: float | None = None
    se: float | None = None
    p_value: float | None = None
    p_value_relation: PValueRelation | None = None
    analysis_population: AnalysisPopulation | None = None
    as_reported: AsReported | None = None
    notes: str | None = None
    origin: Origin
    inputs: dict[str, Any] | None = None
    retracted: bool
    comparison: Comparison
    direction: Direction | None = None
    favours: Favours | None = None
    nnt: Nnt | None = None
    sources: list[SourceIn]
    risk_of_bias: RiskOfBiasSummary | None = Field(
        None, description="its risk-of-bias assessment at a glance; null when not assessed")
    risk_of_bias_status: RiskOfBiasStatus = Field(description=STATUS_DOC)
