"""GRADE arithmetic and the summary-of-findings row of an evidence profile.

Certainty starts at HIGH for randomized trials and LOW for observational studies, and goes
down one level for each domain rated SERIOUS and two for each VERY_SERIOUS, never below
VERY_LOW. (Rating up — a large effect, a dose-response gradient — is not modelled.)

The summary of findings is computed when a profile is read, from the pooled estimate the
question's `/meta-analysis` gives now (the same function that route calls), so it follows the
data: a question that cannot be pooled says why instead of failing the read.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.enums import Certainty, GradeRating, StudyDesign
from app.errors import UnprocessableContent
from app.schemas.filters import MetaAnalysisParams
from app.services import pooling

LEVELS = (Certainty.HIGH, Certainty.MODERATE, Certainty.LOW, Certainty.VERY_LOW)
STARTING_LEVEL = {StudyDesign.RANDOMIZED: Certainty.HIGH,
                  StudyDesign.OBSERVATIONAL: Certainty.LOW}
STEPS_DOWN = {GradeRating.NONE: 0, GradeRating.SERIOUS: 1, GradeRating.VERY_SERIOUS: 2}
META_ANALYSIS = "/api/v1/meta-analysis"


def starting_level(design: StudyDesign | str) -> Certainty:
    return STARTING_LEVEL[StudyDesign(design)]


def certainty(design: StudyDesign | str, ratings: list[GradeRating | str]) -> Certainty:
    """The starting level of the design lowered by the domains' ratings, floored at
    VERY_LOW."""
    start = LEVELS.index(starting_level(design))
    steps = sum(STEPS_DOWN[GradeRating(r)] for r in ratings)
    return LEVELS[min(start + steps, len(LEVELS) - 1)]


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def meta_analysis_url(parameters: dict[str, Any]) -> str:
    """The /meta-analysis URL of a question's parameters (lists as repeated parameters)."""
    pairs = [(name, _query_value(v)) for name, value in parameters.items()
             for v in (value if isinstance(value, list) else [value])]
    return f"{META_ANALYSIS}?{urlencode(pairs)}" if pairs else META_ANALYSIS


def _participants(studies: list[dict[str, Any]]) -> tuple[int | None, int]:
    known = [s["n_experimental"] + s["n_comparator"] for s in studies
             if s["n_experimental"] is not None and s["n_comparator"] is not None]
    return (sum(known) if known else None), len(known)


def _pooled(result: dict[str, Any]) -> dict[str, Any]:
    participants, known_for = _participants(result["studies"])
    return {"k": result["k"], "studies": [s["study_key"] for s in result["studies"]],
            "participants": participants, "participants_known_for": known_for,
            "effect_type": result["effect_type"], "scale": result["direction"]["scale"],
            "model": result["model"], "method": result["method"],
            **{k: result[k] for k in ("estimate", "ci_low", "ci_high", "ci_level", "i2")},
            "exponentiated": result.get("exponentiated")}


def summary_of_findings(session: Session, question: dict[str, Any],
                        graded: Certainty | str) -> dict[str, Any]:
    """The summary-of-findings row of a question at its certainty: the pooled estimate of
    its meta-analysis now, or null with the reason it cannot be pooled."""
    parameters = question["parameters"]
    row: dict[str, Any] = {"outcome": question["outcome"], "certainty": graded,
                           "pooled": None, "reason": None,
                           "meta_analysis": meta_analysis_url(parameters)}
    try:
        row["pooled"] = _pooled(pooling.meta_analysis(
            session, MetaAnalysisParams.model_validate(parameters)))
    except UnprocessableContent as exc:
        row["reason"] = exc.detail
    except ValidationError as exc:
        row["reason"] = f"the saved question is no longer a valid meta-analysis: {exc}"
    return row
