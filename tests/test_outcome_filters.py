"""The outcome filter's study part: retracted evidence at the study level follows
`include_retracted`, and filter values are split and trimmed as documented.

Expected estimates come from plain SQL over the stored effects."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from app.schemas.filters import OutcomeFilter, StudyFilter
from tests.builders import study_document
from tests.evidence_helpers import API, all_items, store

RETRACTED = {"retraction_status": "RETRACTED", "retraction_date": "2024-01-15"}


def outcome_ids(client, query: str) -> set[int]:
    return {o["id"] for o in all_items(client, f"{API}/outcomes?{query}")}


def sql_ids(connection, *, threshold: float, retracted: bool) -> set[int]:
    """Between-arm estimates of studies with a d, g or SMD contrast ≥ threshold, counting
    retracted contrasts (and returning retracted estimates) only when asked."""
    live = "" if retracted else " AND e.retracted = :no"
    studies = (f"SELECT e.study_id FROM effect_estimate e WHERE e.comparator_arm_id IS NOT NULL "
               f"AND e.effect_type IN ('COHENS_D', 'HEDGES_G', 'SMD') AND e.value >= :t{live}")
    rows = connection.execute(text(
        "SELECT e.id FROM effect_estimate e JOIN study s ON s.id = e.study_id "
        f"WHERE e.comparator_arm_id IS NOT NULL AND s.deleted_at IS NULL{live} "
        f"AND e.study_id IN ({studies})"), {"t": threshold, "no": False}).scalars()
    return set(rows)


def test_include_retracted_brings_in_studies_whose_large_effect_is_retracted(
        client, connection):
    with_retracted = outcome_ids(client, "min_effect_size=0.8&include_retracted=true")
    assert with_retracted == sql_ids(connection, threshold=0.8, retracted=True)
    keys = {o["study_key"] for o in all_items(
        client, f"{API}/outcomes?min_effect_size=0.8&include_retracted=true")}
    assert "mithoefer-2019-pooled" in keys
    default = outcome_ids(client, "min_effect_size=0.8")
    assert default == sql_ids(connection, threshold=0.8, retracted=False)
    assert default < with_retracted


def test_a_retracted_large_effect_does_not_select_a_studys_live_small_ones(
        client, curator, connection):
    doc = study_document("of-mixed", nct="NCT09988801")
    doc["publications"][0].update(RETRACTED)
    doc["publications"].append({"ref": "live", "role": "SECONDARY",
                                "doi": "10.9999/of-mixed.live", "title": "Live report"})
    om = doc["outcome_measures"][0]
    om["results"] = []
    om["effects"] = [{"experimental_arm": "Drug", "comparator_arm": "Placebo",
                      "timepoint": "12 months", "effect_type": "COHENS_D", "value": 1.5,
                      "sources": [{"publication": "main", "locator": "Table 2"}]}]
    doc["outcome_measures"].append({
        "name": "Sleep quality", "instrument": "PSQI", "role": "SECONDARY",
        "lower_is_better": True, "results": [],
        "effects": [{"experimental_arm": "Drug", "comparator_arm": "Placebo",
                     "timepoint": "12 months", "effect_type": "COHENS_D", "value": 0.2,
                     "sources": [{"publication": "live", "locator": "Table 4"}]}]})
    store(client, curator, doc)
    default = all_items(client, f"{API}/outcomes?min_effect_size=1.0")
    assert "of-mixed" not in {o["study_key"] for o in default}
    assert {o["id"] for o in default} == sql_ids(connection, threshold=1.0, retracted=False)
    both = all_items(client, f"{API}/outcomes?min_effect_size=1.0&include_retracted=true")
    mine = sorted((o["outcome"], o["value"], o["retracted"]) for o in both
                  if o["study_key"] == "of-mixed")
    assert mine == [("PTSD severity", 1.5, True), ("Sleep quality", 0.2, False)]


def test_enumerated_filters_split_commas_in_a_single_value():
    f = StudyFilter.model_validate({"phase": "PHASE2, PHASE3", "status": "COMPLETED"})
    assert [p.value for p in f.phase] == ["PHASE2", "PHASE3"]
    assert [s.value for s in f.status] == ["COMPLETED"]
    # Null is no list and no string (a JSON body can send it; a query string cannot).
    with pytest.raises(ValidationError):
        StudyFilter.model_validate({"phase": None})
    o = OutcomeFilter.model_validate({"study": "a,b", "effect_type": "COHENS_D"})
    assert o.study == ["a", "b"]


def test_names_are_trimmed_blank_ones_dropped_and_commas_kept():
    f = StudyFilter.model_validate({"condition": "  PTSD  ", "country": [
        "Korea, Republic of", "  ", "", " France "]})
    assert f.condition == ["PTSD"]
    assert f.country == ["Korea, Republic of", "France"]
    with pytest.raises(ValidationError):
        StudyFilter.model_validate({"sponsor": None})
