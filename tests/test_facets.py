"""/stats/facets: counts written out from the seed, and computed again from the seed files.

The literal table below was checked against the seed files (the independent count in
`test_simple_facets_equal_a_count_over_the_seed_files`, a Counter over seed_data/studies) and,
for the derived columns (follow-up length, results), against plain SQL. No count here is
compared with /studies, which builds its WHERE clause with the same code as the facets.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.schemas.stats import FACETS
from tests.builders import study_document
from tests.evidence_helpers import API, store

SEED = Path(__file__).resolve().parent.parent / "seed_data" / "studies"
DOCS = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(SEED.glob("*.json"))]
FILTERS = ["", "intervention=MDMA", "include_retracted=false",
           "phase=PHASE2&condition=PTSD", "follow_up=NONE&has_results=true"]

SEED_FACETS: dict[str, tuple[int, dict[str, dict[Any, int]]]] = {
    "": (19, {
        "phase": {"PHASE2": 8, "PHASE3": 2},
        "status": {"COMPLETED": 6, "TERMINATED": 2, "ENROLLING_BY_INVITATION": 1},
        "study_type": {"RCT": 16, "POOLED_ANALYSIS": 2, "LONG_TERM_FOLLOW_UP": 1},
        "allocation": {"RANDOMIZED": 17},
        "masking": {"DOUBLE": 13, "NONE": 1, "SINGLE": 1},
        "intervention": {
            "MDMA": 11, "Placebo": 11, "Psychotherapy": 11, "Sertraline": 3, "Paroxetine": 2,
            "Prolonged exposure": 2, "Cognitive processing therapy": 1, "EMDR": 1, "Fluoxetine": 1,
            "Minimal attention": 1, "Present-centered therapy": 1},
        "intervention_type": {"DRUG": 17, "BEHAVIORAL": 14, "OTHER": 12},
        "condition": {"Post-traumatic stress disorder": 19},
        "country": {"United States": 10, "Israel": 3, "Canada": 2, "Switzerland": 1},
        "retraction_status": {"NONE": 14, "RETRACTED": 2},
        "follow_up": {"NONE": 10, "12_TO_24": 4, "6_TO_12": 3, "24_PLUS": 2},
        "has_results": {True: 15, False: 4},
        "risk_of_bias": {"LOW": 5, "NOT_ASSESSED": 5, "SOME_CONCERNS": 1},
        "flag": {},
    }),
    "intervention=MDMA": (11, {
        "phase": {"PHASE2": 8, "PHASE3": 2},
        "status": {"COMPLETED": 6, "TERMINATED": 2, "ENROLLING_BY_INVITATION": 1},
        "study_type": {"RCT": 8, "POOLED_ANALYSIS": 2, "LONG_TERM_FOLLOW_UP": 1},
        "allocation": {"RANDOMIZED": 9},
        "masking": {"DOUBLE": 8, "NONE": 1},
        "intervention": {
            "MDMA": 11, "Placebo": 11, "Psychotherapy": 11, "Sertraline": 3, "Paroxetine": 2,
            "Prolonged exposure": 2, "Cognitive processing therapy": 1, "EMDR": 1, "Fluoxetine": 1,
            "Minimal attention": 1, "Present-centered therapy": 1},
        "intervention_type": {"BEHAVIORAL": 11, "DRUG": 11, "OTHER": 5},
        "condition": {"Post-traumatic stress disorder": 11},
        "country": {"United States": 5, "Israel": 3, "Canada": 2, "Switzerland": 1},
        "retraction_status": {"NONE": 6, "RETRACTED": 2},
        "follow_up": {"NONE": 5, "12_TO_24": 4, "24_PLUS": 1, "6_TO_12": 1},
        "has_results": {True: 8, False: 3},
        "risk_of_bias": {"LOW": 5, "NOT_ASSESSED": 2, "SOME_CONCERNS": 1},
        "flag": {},
    }),
    "include_retracted=false": (17, {
        "phase": {"PHASE2": 6, "PHASE3": 2},
        "status": {"COMPLETED": 6, "TERMINATED": 2, "ENROLLING_BY_INVITATION": 1},
        "study_type": {"RCT": 16, "LONG_TERM_FOLLOW_UP": 1},
        "allocation": {"RANDOMIZED": 16},
        "masking": {"DOUBLE": 12, "NONE": 1, "SINGLE": 1},
        "intervention": {
            "Placebo": 10, "MDMA": 9, "Psychotherapy": 9, "Sertraline": 3, "Paroxetine": 2,
            "Prolonged exposure": 2, "Cognitive processing therapy": 1, "EMDR": 1, "Fluoxetine": 1,
            "Minimal attention": 1, "Present-centered therapy": 1},
        "intervention_type": {"DRUG": 15, "BEHAVIORAL": 12, "OTHER": 11},
        "condition": {"Post-traumatic stress disorder": 17},
        "country": {"United States": 10, "Israel": 3, "Canada": 2, "Switzerland": 1},
        "retraction_status": {"NONE": 14},
        "follow_up": {"NONE": 9, "12_TO_24": 3, "6_TO_12": 3, "24_PLUS": 2},
        "has_results": {True: 13, False: 4},
        "risk_of_bias": {"LOW": 5, "NOT_ASSESSED": 3, "SOME_CONCERNS": 1},
        "flag": {},
    }),
    "phase=PHASE2&condition=PTSD": (8, {
        "phase": {"PHASE2": 8, "PHASE3": 2},
        "status": {"COMPLETED": 4, "TERMINATED": 2},
        "study_type": {"RCT": 6, "POOLED_ANALYSIS": 2},
        "allocation": {"RANDOMIZED": 7},
        "masking": {"DOUBLE": 6},
        "intervention": {"MDMA": 8, "Psychotherapy": 8, "Placebo": 3},
        "intervention_type": {"BEHAVIORAL": 8, "DRUG": 8, "OTHER": 3},
        "condition": {"Post-traumatic stress disorder": 8},
        "country": {"United States": 3, "Canada": 1, "Israel": 1, "Switzerland": 1},
        "retraction_status": {"NONE": 4, "RETRACTED": 2},
        "follow_up": {"12_TO_24": 4, "NONE": 3, "24_PLUS": 1},
        "has_results": {True: 6, False: 2},
        "risk_of_bias": {"LOW": 3, "NOT_ASSESSED": 2, "SOME_CONCERNS": 1},
        "flag": {},
    }),
    "follow_up=NONE&has_results=true": (7, {
        "phase": {"PHASE3": 2, "PHASE2": 1},
        "status": {"COMPLETED": 2},
        "study_type": {"RCT": 6, "POOLED_ANALYSIS": 1},
        "allocation": {"RANDOMIZED": 7},
        "masking": {"DOUBLE": 7},
        "intervention": {
            "Placebo": 7, "MDMA": 3, "Psychotherapy": 3, "Sertraline": 3, "Paroxetine": 1},
        "intervention_type": {"DRUG": 7, "OTHER": 7, "BEHAVIORAL": 3},
        "condition": {"Post-traumatic stress disorder": 7},
        "country": {"United States": 4, "Israel": 2, "Canada": 1},
        "retraction_status": {"NONE": 6, "RETRACTED": 1},
        "follow_up": {"NONE": 7, "12_TO_24": 4, "24_PLUS": 2, "6_TO_12": 2},
        "has_results": {True: 7, False: 3},
        "risk_of_bias": {"NOT_ASSESSED": 3, "LOW": 2},
        "flag": {},
    }),
}


def ranked(counts: dict[Any, int]) -> list[tuple[Any, int]]:
    """Most frequent first, then by value (booleans as their names)."""
    return sorted(counts.items(), key=lambda vc: (-vc[1], str(vc[0]).lower()
                                                  if isinstance(vc[0], bool) else vc[0]))


def facets(client, query: str) -> dict[str, Any]:
    response = client.get(f"{API}/stats/facets?{query}")
    assert response.status_code == 200, response.text
    return response.json()


def as_dict(values: list[dict[str, Any]]) -> dict[Any, int]:
    return {v["value"]: v["count"] for v in values}


def test_every_facet_and_filter_has_a_literal_expectation():
    assert list(SEED_FACETS) == FILTERS
    for _, expected in SEED_FACETS.values():
        assert set(expected) == set(FACETS)


@pytest.mark.parametrize("base", FILTERS)
def test_all_facets_together_carry_the_seed_counts_in_order(client, base):
    total, expected = SEED_FACETS[base]
    body = facets(client, f"facet_limit=1000&{base}")
    assert body["total"] == total
    assert {f: as_dict(v) for f, v in body["facets"].items()} == expected
    for facet, values in body["facets"].items():
        assert [(v["value"], v["count"]) for v in values] == ranked(expected[facet]), facet


@pytest.mark.parametrize("base", FILTERS)
@pytest.mark.parametrize("facet", FACETS)
def test_each_facet_asked_alone_carries_the_seed_counts(client, base, facet):
    total, expected = SEED_FACETS[base]
    body = facets(client, f"facet={facet}&facet_limit=1000&{base}")
    assert body["total"] == total
    assert set(body["facets"]) == {facet}
    assert [(v["value"], v["count"]) for v in body["facets"][facet]] == ranked(expected[facet])


def retracted(doc: dict[str, Any]) -> bool:
    statuses = [p.get("retraction_status", "NONE") for p in doc.get("publications", [])]
    return bool(statuses) and all(s == "RETRACTED" for s in statuses)


def interventions(doc: dict[str, Any]) -> set[str]:
    return {i["name"] for a in doc.get("arms", []) for i in a.get("interventions", [])}


SEED_VALUES = {
    "phase": lambda d: {d["phase"]} if d.get("phase") else set(),
    "status": lambda d: {d["overall_status"]} if d.get("overall_status") else set(),
    "study_type": lambda d: {d["study_type"]} if d.get("study_type") else set(),
    "allocation": lambda d: {d["allocation"]} if d.get("allocation") else set(),
    "masking": lambda d: {d["masking"]} if d.get("masking") else set(),
    "intervention": interventions,
    "condition": lambda d: set(d.get("conditions", [])),
    "country": lambda d: set(d.get("countries", [])),
    "retraction_status": lambda d: {p.get("retraction_status", "NONE")
                                    for p in d.get("publications", [])},
}
# Each facet ignores its own parameter (multi-select), so the MDMA filter does not narrow
# the intervention facet.
SEED_FILTERS = {
    "": lambda d, facet: True,
    "intervention=MDMA": lambda d, facet: facet == "intervention" or "MDMA" in interventions(d),
    "include_retracted=false": lambda d, facet: not retracted(d),
}


@pytest.mark.parametrize("base", list(SEED_FILTERS))
def test_simple_facets_equal_a_count_over_the_seed_files(base):
    keep = SEED_FILTERS[base]
    total, expected = SEED_FACETS[base]
    assert total == sum(keep(d, None) for d in DOCS)
    for facet, values in SEED_VALUES.items():
        counted = Counter(v for d in DOCS if keep(d, facet) for v in values(d))
        assert dict(counted) == expected[facet], facet


def test_derived_facets_equal_plain_sql(connection):
    rows = connection.execute(text(
        "SELECT follow_up_months_max, has_results FROM study WHERE deleted_at IS NULL")).all()
    buckets: Counter[str] = Counter()
    for months, _ in rows:
        if months is None:
            buckets["NONE"] += 1
        elif months < 6:
            buckets["UNDER_6"] += 1
        elif months < 12:
            buckets["6_TO_12"] += 1
        elif months < 24:
            buckets["12_TO_24"] += 1
        else:
            buckets["24_PLUS"] += 1
    _, expected = SEED_FACETS[""]
    assert dict(buckets) == expected["follow_up"]
    assert dict(Counter(bool(r) for _, r in rows)) == expected["has_results"]


def test_follow_up_buckets_partition_the_studies(client, curator):
    store(client, curator, study_document("follow-up-12", nct="NCT09999921"))
    body = client.get(f"{API}/stats/facets?facet=follow_up").json()
    values = as_dict(body["facets"]["follow_up"])
    assert values == {"NONE": 10, "12_TO_24": 5, "6_TO_12": 3, "24_PLUS": 2}
    assert sum(values.values()) == body["total"] == 20
    twelve = client.get(f"{API}/studies?follow_up=12_TO_24&page_size=1000").json()["items"]
    assert "follow-up-12" in {s["key"] for s in twelve}
    assert all(12 <= s["follow_up_months_max"] < 24 for s in twelve)


def test_a_new_study_moves_each_of_its_facet_counts_by_one(client, curator):
    store(client, curator, study_document("facet-new", nct="NCT09999922"))
    _, before = SEED_FACETS[""]
    body = facets(client, "facet_limit=1000")
    after = {f: as_dict(v) for f, v in body["facets"].items()}
    assert body["total"] == 20
    assert after["phase"] == {**before["phase"], "PHASE2": 9}
    assert after["country"] == {**before["country"], "United States": 11, "Canada": 3}
    assert after["intervention"] == {**before["intervention"], "Placebo": 12, "Testamine": 1}
    assert after["masking"] == {**before["masking"], "DOUBLE": 14}


def test_all_facets_are_counted_when_none_is_named(client):
    body = client.get(f"{API}/stats/facets").json()
    assert set(body["facets"]) == set(FACETS)


def test_facet_limit_caps_the_values(client):
    body = client.get(f"{API}/stats/facets?facet=intervention&facet_limit=2").json()
    assert [(v["value"], v["count"]) for v in body["facets"]["intervention"]] == [
        ("MDMA", 11), ("Placebo", 11)]


@pytest.mark.parametrize("query", ["facet=colour", "phase=PHASE9", "facet_limit=0", "x=1"])
def test_unknown_facets_and_filters_are_422_problems(client, query):
    response = client.get(f"{API}/stats/facets?{query}")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
