"""Columns derived from a study document on every write, single or bulk: one definition.

Two clocks place every timepoint (DESIGN, "Evidence semantics"): months since baseline
(randomization) and months after treatment (the last treatment session). A clock's value is the
source's own statement on that clock, else the timepoint's months from an anchor on that clock
(point, else mean, else the lower bound of a range), else the other clock's value moved by the
study's sourced treatment end (`treatment_end_months`, months from baseline to the last
session). Follow-up length is the after-treatment clock of FOLLOW_UP timepoints.
"""

from __future__ import annotations

from typing import Any

from app.enums import Anchor, ClockSource, TimepointRole
from app.schemas.study import StudyCreate, TimepointIn

BASELINE_ANCHORS = (Anchor.BASELINE, Anchor.RANDOMIZATION)
TREATMENT_ANCHORS = (Anchor.LAST_TREATMENT_SESSION, Anchor.END_OF_TREATMENT)

Clock = tuple[float, float, float, ClockSource]  # value, min, max, source


def _from_anchor(t: TimepointIn) -> tuple[float, float, float] | None:
    value = next((m for m in (t.months, t.months_mean, t.months_min) if m is not None), None)
    if value is None:
        return None
    low = next(m for m in (t.months_min, t.months, value) if m is not None)
    high = next(m for m in (t.months_max, t.months, value) if m is not None)
    return value, low, high


def _own_clock(t: TimepointIn, given: float | None, anchors: tuple[Anchor, ...]
               ) -> Clock | None:
    if given is not None:
        return given, given, given, ClockSource.SOURCE
    if t.anchor in anchors:
        placed = _from_anchor(t)
        if placed is not None:
            return (*placed, ClockSource.ANCHOR)
    return None


def clocks(t: TimepointIn, treatment_end: float | None) -> tuple[Clock | None, Clock | None]:
    """The timepoint on the since-baseline and the after-treatment clock (None: not placed)."""
    baseline = _own_clock(t, t.months_since_baseline, BASELINE_ANCHORS)
    if baseline is None and t.role == TimepointRole.BASELINE:
        baseline = 0.0, 0.0, 0.0, ClockSource.ANCHOR
    after = _own_clock(t, t.months_after_treatment, TREATMENT_ANCHORS)
    if treatment_end is not None:
        if baseline is None and after is not None:
            value, low, high, _ = after
            baseline = (value + treatment_end, low + treatment_end, high + treatment_end,
                        ClockSource.SCHEDULE)
        elif after is None and baseline is not None and baseline[0] >= treatment_end:
            value, low, high, _ = baseline
            after = (value - treatment_end, max(0.0, low - treatment_end),
                     high - treatment_end, ClockSource.SCHEDULE)
    return baseline, after


def timepoint_columns(t: TimepointIn, treatment_end: float | None) -> dict[str, Any]:
    """The timepoint's row: the document's fields plus both clocks."""
    row = t.model_dump(exclude={"sources"})
    for name, clock in zip(("baseline", "treatment"), clocks(t, treatment_end), strict=True):
        value, low, high, source = clock if clock is not None else (None, None, None, None)
        row.update({f"{name}_clock": value, f"{name}_clock_min": low,
                    f"{name}_clock_max": high, f"{name}_clock_source": source})
    return row


def longest_follow_up(rows: list[dict[str, Any]]) -> float | None:
    """The study's follow-up length: its longest FOLLOW_UP timepoint after treatment."""
    months = [r["treatment_clock"] for r in rows
              if r["role"] == TimepointRole.FOLLOW_UP and r["treatment_clock"] is not None]
    return max(months) if months else None


def search_text(doc: StudyCreate, intervention_names: list[str]) -> str:
    """What free text (`q`) searches: names, summary, population, and every note."""
    parts = [doc.title, doc.acronym, doc.summary, doc.population, doc.notes, *doc.conditions,
             *doc.keywords, *intervention_names,
             *(c.resolution for c in doc.conflicts),
             *(a.notes for a in doc.arms), *(t.notes for t in doc.timepoints),
             *(o.name for o in doc.outcome_measures),
             *(o.instrument for o in doc.outcome_measures),
             *(o.notes for o in doc.outcome_measures),
             *(r.identifier for r in doc.registry_ids)]
    return " ".join(p for p in parts if p)
