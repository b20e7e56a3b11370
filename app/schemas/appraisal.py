"""Risk of bias of an effect estimate: what `PUT /outcomes/{effect_id}/risk-of-bias` accepts
and its GET returns (the same document; the server's fields are `readOnly`), and the summary
that `/outcomes` rows and study reads carry.

RoB 2 (randomized trials) judges five domains LOW, SOME_CONCERNS or HIGH; ROBINS-I
(non-randomized studies) judges seven LOW, MODERATE, SERIOUS, CRITICAL or NO_INFORMATION.
The overall judgement may never be less severe than the most severe domain.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from app.enums import (
    EffectType,
    RiskOfBiasJudgement,
    RiskOfBiasTool,
    Rob2Judgement,
    RobinsJudgement,
)
from app.schemas.common import NO_NUL, ApiModel
from app.schemas.parts import SourceIn, read_only


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("support must say why: it cannot be blank")
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


Support = Annotated[str, StringConstraints(min_length=1, max_length=20_000),
                    AfterValidator(_non_blank), NO_NUL,
                    Field(description="why the domain was judged so (quote or paraphrase "
                          "the source); not blank")]
AssessmentSources = Annotated[list[SourceIn], Field(
    min_length=1, max_length=100,
    description="where the judgements come from: a publication of the effect's study (by "
    "its `ref` in the study document) with a locator, a registry record or a URL")]

ROB2_ORDER = (Rob2Judgement.LOW, Rob2Judgement.SOME_CONCERNS, Rob2Judgement.HIGH)
ROBINS_ORDER = (RobinsJudgement.LOW, RobinsJudgement.MODERATE, RobinsJudgement.SERIOUS,
                RobinsJudgement.CRITICAL)


class Rob2Domain(ApiModel):
    judgement: Rob2Judgement
    support: Support


class RobinsDomain(ApiModel):
    judgement: RobinsJudgement
    support: Support


class Rob2Domains(ApiModel):
    """The five RoB 2 domains, all required."""

    randomization_process: Rob2Domain
    deviations_from_intended_interventions: Rob2Domain
    missing_outcome_data: Rob2Domain
    measurement_of_the_outcome: Rob2Domain
    selection_of_the_reported_result: Rob2Domain


class RobinsDomains(ApiModel):
    """The seven ROBINS-I domains, all required."""

    bias_due_to_confounding: RobinsDomain
    bias_in_selection_of_participants: RobinsDomain
    bias_in_classification_of_interventions: RobinsDomain
    bias_due_to_deviations_from_intended_interventions: RobinsDomain
    bias_due_to_missing_data: RobinsDomain
    bias_in_measurement_of_outcomes: RobinsDomain
    bias_in_selection_of_the_reported_result: RobinsDomain


class Judge(ApiModel):
    """The key of the curator who judged."""

    id: int
    name: str


class _Assessment(ApiModel):
    sources: AssessmentSources
    published_assessment: bool = Field(
        False, description="true when the judgements are those of a published assessment "
        "(named in `sources`); false when the curator writing them judged")
    effect_id: int | None = read_only("the effect estimate assessed (its id in /outcomes)")
    study_key: str | None = read_only("the study the effect belongs to")
    judged_by: Judge | None = read_only("the curator's key when a curator judged; null for a "
                                        "published assessment")
    version: int | None = read_only("the stored version (the ETag's number)")
    created_at: dt.datetime | None = read_only("when it was first stored")
    updated_at: dt.datetime | None = read_only("when it was last changed")


def _too_lenient(domains: BaseModel, overall: str, order: tuple[str, ...]) -> list[str]:
    """The domains judged more severe than `overall` (judgements outside `order`, such as
    NO_INFORMATION, are not on the scale and never raise it)."""
    ranked = {j: i for i, j in enumerate(order)}
    floor = ranked.get(overall, -1)
    return [name for name, domain in domains if ranked.get(domain.judgement, -1) > floor]


class Rob2Assessment(_Assessment):
    """A Cochrane RoB 2 assessment of one result of a randomized trial."""

    tool: Literal[RiskOfBiasTool.ROB2]
    overall: Rob2Judgement = Field(
        description="LOW only when every domain is LOW; HIGH whenever a domain is HIGH; never "
        "less severe than the most severe domain")
    domains: Rob2Domains

    @model_validator(mode="after")
    def _overall_agrees(self) -> Rob2Assessment:
        worse = _too_lenient(self.domains, self.overall, ROB2_ORDER)
        if worse:
            raise ValueError(
                f"overall {self.overall.value} contradicts the domains judged more severe: "
                + ", ".join(f"{n} ({getattr(self.domains, n).judgement.value})" for n in worse))
        return self


class RobinsIAssessment(_Assessment):
    """A ROBINS-I assessment of one result of a non-randomized study of an intervention."""

    tool: Literal[RiskOfBiasTool.ROBINS_I]
    overall: RobinsJudgement = Field(
        description="at least as severe as the most severe domain (NO_INFORMATION domains do "
        "not lower it); NO_INFORMATION only when some domain lacks information and none is "
        "SERIOUS or CRITICAL")
    domains: RobinsDomains

    @model_validator(mode="after")
    def _overall_agrees(self) -> RobinsIAssessment:
        judged = {n: d.judgement for n, d in self.domains}
        if self.overall == RobinsJudgement.NO_INFORMATION:
            worse = [n for n, j in judged.items()
                     if j in (RobinsJudgement.SERIOUS, RobinsJudgement.CRITICAL)]
            if not worse and RobinsJudgement.NO_INFORMATION not in judged.values():
                raise ValueError("overall NO_INFORMATION needs a domain judged NO_INFORMATION")
        else:
            worse = _too_lenient(self.domains, self.overall, ROBINS_ORDER)
        if worse:
            raise ValueError(
                f"overall {self.overall.value} contradicts the domains judged more severe: "
                + ", ".join(f"{n} ({judged[n].value})" for n in worse))
        return self


RiskOfBiasDocument = Annotated[Rob2Assessment | RobinsIAssessment, Field(discriminator="tool")]


class RiskOfBiasSummary(BaseModel):
    """An effect's risk of bias at a glance (read-only): the tool, the overall judgement and
    each domain's judgement; the whole assessment is at /outcomes/{id}/risk-of-bias."""

    model_config = ConfigDict(extra="forbid")

    tool: RiskOfBiasTool
    overall: RiskOfBiasJudgement
    domains: dict[str, RiskOfBiasJudgement]


RiskOfBiasStatus = Literal["ASSESSED", "NOT_ASSESSED"]
STATUS_DOC = ("ASSESSED when a risk-of-bias assessment is stored (see risk_of_bias), "
              "NOT_ASSESSED when none is: not assessed is said, never guessed")


def status(tool: Any) -> RiskOfBiasStatus:
    """Whether a stored assessment exists, said explicitly."""
    return "NOT_ASSESSED" if tool is None else "ASSESSED"


def summary(tool: Any, overall: Any, domains: Any) -> dict[str, Any] | None:
    """The summary of a stored assessment (None when there is none)."""
    if tool is None:
        return None
    return {"tool": tool, "overall": overall,
            "domains": {name: d["judgement"] for name, d in (domains or {}).items()}}


class EffectRef(ApiModel):
    """An effect estimate named as its study's document names it: outcome, timepoint, arms
    and effect type."""

    outcome: str
    timepoint: str
    experimental_arm: str
    comparator_arm: str | None = None
    effect_type: EffectType


class SeededRiskOfBias(Rob2Assessment):
    """A published RoB 2 assessment in the seed data, with the effects of its study it
    applies to."""

    study: str
    effects: list[EffectRef] = Field(min_length=1)

    @model_validator(mode="after")
    def _published(self) -> SeededRiskOfBias:
        if not self.published_assessment:
            raise ValueError("the seed holds published assessments only "
                             "(published_assessment must be true)")
        return self

    def assessment(self) -> Rob2Assessment:
        return Rob2Assessment.model_validate(
            self.model_dump(exclude={"study", "effects"}))


class RiskOfBiasSeedIn(ApiModel):
    """seed_data/risk_of_bias.json: notes for the reader and the published assessments."""

    notes: list[str] = []
    assessments: list[SeededRiskOfBias] = []
