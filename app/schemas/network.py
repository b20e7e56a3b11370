"""Network meta-analysis: its parameters and the shape of its answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.schemas.common import FilterText
from app.schemas.filters import OutcomeFilter, _strip


class NetworkSelection(OutcomeFilter):
    """The outcome filter plus outcome names and the caller's merges of treatment nodes
    (arm treatments: intervention sets, e.g. "MDMA + Psychotherapy")."""

    outcome: list[FilterText] = Field(
        [], description="outcome measure name (repeat for several), beside `instrument`")
    merge: list[FilterText] = Field(
        [], description="nodes the caller considers the same treatment, comma-separated "
        "node names or arm labels, e.g. `Placebo,Placebo with therapy`; repeat for several "
        "groups")

    _names = field_validator("outcome", "merge", mode="before")(_strip)


class NetworkParams(NetworkSelection):
    """The selection plus the network's model."""

    model: Literal["fixed", "random"] = Field(
        "random", description="fixed effect, or random effects with one between-study "
        "variance τ² shared by every comparison")
    method_tau: Literal["REML", "DL"] = Field(
        "REML", description="τ² estimator of the random-effects model: REML or the "
        "generalised DerSimonian–Laird (both checked against R)")
    reference: FilterText | None = Field(
        None, description="the node (or an arm label of it) the effects are shown against; "
        "default the node in most studies")
    ci_level: float = Field(0.95, gt=0.5, lt=1)


class EffectsExportParams(NetworkSelection):
    layout: Literal["metafor", "netmeta"] = Field(
        "metafor", description="metafor: yi, vi, sei per estimate with its study, arms, "
        "instrument and timepoint; netmeta: the pairwise layout TE, seTE, treat1, treat2, "
        "studlab (treatments are nodes, merged as `merge` says)")


class LeagueCsvParams(NetworkParams):
    layout: Literal["square", "long"] = Field(
        "square", description="square: a row per treatment, a column per comparator, each "
        "cell 'estimate (CI)'; long: a row per ordered pair with numeric columns")


class Interval(BaseModel):
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float | None
    exponentiated: dict[str, float] | None = Field(
        None, description="estimate and CI on the ratio scale (ratio effect types)")


class LeagueCell(Interval):
    treatment: str = Field(description="row of the league table")
    comparator: str = Field(description="column: the cell is treatment minus comparator "
                            "(a log ratio for ratio effect types)")


class QTest(BaseModel):
    q: float
    df: int
    p_value: float | None


class Heterogeneity(QTest):
    i2: float = Field(description="percent")
    within_designs: QTest
    between_designs: QTest = Field(description="design-by-treatment interaction "
                                   "(inconsistency)")


class Component(BaseModel):
    treatments: list[str]
    studies: list[str]


class Connectivity(BaseModel):
    connected: bool
    components: list[Component]


class PScore(BaseModel):
    treatment: str
    p_score: float


class DirectIndirect(BaseModel):
    treatment: str
    comparator: str
    k: int = Field(description="studies with direct evidence")
    direct: Interval
    network: Interval
    indirect: Interval | None
    difference: Interval | None = Field(description="direct minus indirect")
    direct_proportion: float


class NodeArm(BaseModel):
    study_key: str
    arm: str
    arm_type: str
    description: str | None
    interventions: list[str]


class NetworkNode(BaseModel):
    name: str
    treatments: list[str] = Field(description="the intervention sets merged into this node")
    studies: list[str]
    arms: list[NodeArm]
    p_score: float | None


class NetworkEdge(BaseModel):
    treatment1: str
    treatment2: str
    k: int = Field(description="number of studies comparing them")
    studies: list[str]


class NetworkContrast(BaseModel):
    id: int
    treatment: str
    comparator: str
    experimental_arm: str
    comparator_arm: str
    outcome: str
    instrument: str | None
    timepoint: str
    value: float
    yi: float = Field(description="on the analysis scale (log for ratios)")
    se: float
    se_source: str
    origin: str
    retracted: bool


class NetworkStudy(BaseModel):
    study_key: str
    design: list[str]
    contrasts: list[NetworkContrast]
    covariance: list[list[float]] = Field(description="within-study covariance of its "
                                          "contrasts")


class NetworkMetaAnalysis(BaseModel):
    effect_type: str
    model: Literal["fixed", "random"]
    method_tau: Literal["REML", "DL"] | None
    ci_level: float
    reference: str
    scale: Literal["identity", "log"]
    higher_favours: bool | None = Field(
        description="whether a higher value favours a treatment (null: unknown)")
    include_retracted: bool
    k: int = Field(description="number of studies")
    n_contrasts: int
    n_treatments: int
    treatments: list[str]
    tau2: float
    tau: float
    heterogeneity: Heterogeneity
    connectivity: Connectivity
    league: list[LeagueCell]
    p_scores: list[PScore] | None
    direct_indirect: list[DirectIndirect]
    nodes: list[NetworkNode]
    edges: list[NetworkEdge]
    studies: list[NetworkStudy]
    excluded: list[dict[str, Any]]
    warnings: list[str]
