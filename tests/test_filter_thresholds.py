"""Every range filter at its threshold: a value equal to a seeded study's is included by both
min_ and max_, and a value just beyond it leaves the study out.

The expected sets come from the seed files (enrollment, start year) or from the stored
columns read with plain SQL (follow-up length, effect values, timepoint months), never from
another endpoint built on the same filter code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.builders import study_document
from tests.evidence_helpers import API, all_items, store

SEED = Path(__file__).resolve().parent.parent / "seed_data" / "studies"
DOCS = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(SEED.glob("*.json"))]
ENROLLMENT = {d["key"]: d.get("enrollment") for d in DOCS}
START_YEAR = {d["key"]: int(d["start_date"][:4]) for d in DOCS if d.get("start_date")}


def keys(client, query: str) -> set[str]:
    response = client.get(f"{API}/studies?{query}&page_size=1000")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_page_token"] is None
    return {s["key"] for s in body["items"]}


def test_the_seed_has_the_values_these_tests_rely_on():
    assert ENROLLMENT["NCT03537014"] == 90 and ENROLLMENT["NCT04077437"] == 104
    assert ENROLLMENT["marshall-2001-paroxetine"] == 551
    assert START_YEAR["NCT04077437"] == 2020 and START_YEAR["friedman-2007-sertraline"] == 1994
    assert len([v for v in ENROLLMENT.values() if v is not None]) == 15


@pytest.mark.parametrize("value", sorted({v for v in ENROLLMENT.values() if v is not None}))
def test_enrollment_bounds_include_their_value_and_exclude_just_beyond(client, value):
    at = {k for k, e in ENROLLMENT.items() if e is not None and e == value}
    assert keys(client, f"min_enrollment={value}") == {
        k for k, e in ENROLLMENT.items() if e is not None and e >= value}
    assert keys(client, f"max_enrollment={value}") == {
        k for k, e in ENROLLMENT.items() if e is not None and e <= value}
    assert not at & keys(client, f"min_enrollment={value + 1}")
    assert not at & keys(client, f"max_enrollment={value - 1}")
    assert keys(client, f"min_enrollment={value}&max_enrollment={value}") == at


def test_enrollment_literals_from_the_seed(client):
    assert keys(client, "min_enrollment=400") == {"NCT05066282", "marshall-2001-paroxetine"}
    assert keys(client, "max_enrollment=12") == {"NCT00353938", "NCT00402298"}
    assert keys(client, "min_enrollment=90&max_enrollment=104") == {
        "NCT03537014", "NCT04077437", }


@pytest.mark.parametrize("year", sorted(set(START_YEAR.values())))
def test_start_year_bounds_include_their_year_and_exclude_the_next(client, year):
    started = {k for k, y in START_YEAR.items() if y == year}
    assert keys(client, f"start_year_min={year}") == {
        k for k, y in START_YEAR.items() if y >= year}
    assert keys(client, f"start_year_max={year}") == {
        k for k, y in START_YEAR.items() if y <= year}
    assert not started & keys(client, f"start_year_min={year + 1}")
    assert not started & keys(client, f"start_year_max={year - 1}")
    assert keys(client, f"start_year_min={year}&start_year_max={year}") == started


def follow_up(connection) -> dict[str, float]:
    rows = connection.execute(text(
        "SELECT key, follow_up_months_max FROM study "
        "WHERE deleted_at IS NULL AND follow_up_months_max IS NOT NULL")).all()
    return {k: float(m) for k, m in rows}


def test_follow_up_lengths_of_the_seed(connection):
    """The longest FOLLOW_UP timepoint after treatment: point, else mean, else lower bound."""
    months = follow_up(connection)
    assert months["NCT00090064"] == pytest.approx(45.4)  # mean 45.4 (17–74 months)
    assert months["resick-2002-cpt-pe"] == pytest.approx(73.8)
    assert months["NCT00353938"] == 12
    assert months["NCT05066282"] == 6  # lower bound only
    assert months["schnurr-2007-pe"] == 6


def test_follow_up_bounds_include_their_value_and_exclude_just_beyond(client, connection):
    months = follow_up(connection)
    for value in sorted(set(months.values())):
        at = {k for k, m in months.items() if m == value}
        assert keys(client, f"min_follow_up_months={value}") == {
            k for k, m in months.items() if m >= value}, value
        assert keys(client, f"max_follow_up_months={value}") == {
            k for k, m in months.items() if m <= value}, value
        assert not at & keys(client, f"min_follow_up_months={value + 0.01}"), value
        assert not at & keys(client, f"max_follow_up_months={max(value - 0.01, 0)}"), value


def test_follow_up_buckets_are_closed_below_and_open_above(client, connection):
    months = follow_up(connection)
    bucket = {"UNDER_6": (0, 6), "6_TO_12": (6, 12), "12_TO_24": (12, 24),
              "24_PLUS": (24, float("inf"))}
    for name, (low, high) in bucket.items():
        assert keys(client, f"follow_up={name}") == {
            k for k, m in months.items() if low <= m < high}, name
    assert "NCT00353938" in keys(client, "follow_up=12_TO_24")
    assert "NCT00353938" not in keys(client, "follow_up=6_TO_12")
    assert "NCT05066282" in keys(client, "follow_up=6_TO_12")
    assert "NCT05066282" not in keys(client, "follow_up=UNDER_6")
    assert keys(client, "follow_up=NONE") == {d["key"] for d in DOCS} - set(months)


def standardized_effects(connection) -> dict[str, float]:
    """Per study, its largest live between-arm d, g or SMD (plain SQL)."""
    rows = connection.execute(text(
        "SELECT s.key, MAX(e.value) FROM effect_estimate e JOIN study s ON s.id = e.study_id "
        "WHERE e.comparator_arm_id IS NOT NULL AND e.retracted = :no AND e.value IS NOT NULL "
        "AND e.effect_type IN ('COHENS_D', 'HEDGES_G', 'SMD') AND s.deleted_at IS NULL "
        "GROUP BY s.key"), {"no": False}).all()
    return {k: float(v) for k, v in rows}


def test_min_effect_size_includes_an_effect_equal_to_it_and_excludes_just_above(
        client, connection):
    best = standardized_effects(connection)
    assert best == pytest.approx({"NCT03537014": 0.91, "NCT04077437": 0.7,
                                  "schnurr-2007-pe": 0.27})
    for value in sorted(set(best.values())):
        if value < 0:
            continue
        at = {k for k, v in best.items() if v == value}
        assert keys(client, f"min_effect_size={value}") == {
            k for k, v in best.items() if v >= value}, value
        assert not at & keys(client, f"min_effect_size={value + 1e-6}"), value


def ratio_study(key: str, nct: str, effect_type: str, value: float) -> dict:
    doc = study_document(key, nct=nct)
    om = doc["outcome_measures"][0]
    om["results"] = []
    om["effects"] = [{
        "experimental_arm": "Drug", "comparator_arm": "Placebo", "timepoint": "12 months",
        "effect_type": effect_type, "value": value,
        "ci_low": min(value / 2, value * 2), "ci_high": max(value / 2, value * 2),
        "sources": [{"publication": "main", "locator": "Table 3"}]}]
    return doc


def test_ratio_and_difference_thresholds_at_equality(client, curator):
    store(client, curator, ratio_study("rr-two", "NCT09998801", "RISK_RATIO", 2.0))
    store(client, curator, ratio_study("rr-half", "NCT09998802", "RISK_RATIO", 0.5))
    store(client, curator, ratio_study("md-three", "NCT09998803", "MEAN_DIFFERENCE", -3.0))
    ratios = "&effect_size_type=RISK_RATIO"
    assert {"rr-two", "rr-half"} <= keys(client, "min_effect_size=2" + ratios)
    assert {"rr-two", "rr-half"} <= keys(client, "min_effect_size=0.5" + ratios)
    # Zero asks for every ratio contrast (no ratio is 1/0 or beyond).
    assert {"rr-two", "rr-half", "NCT00090064"} <= keys(client, "min_effect_size=0" + ratios)
    assert "md-three" not in keys(client, "min_effect_size=0" + ratios)
    assert not {"rr-two", "rr-half"} & keys(client, "min_effect_size=2.001" + ratios)
    assert not {"rr-two", "rr-half"} & keys(client, "min_effect_size=0.499" + ratios)
    diffs = "&effect_size_type=MEAN_DIFFERENCE"
    assert "md-three" in keys(client, "min_effect_size=3" + diffs)
    assert "md-three" not in keys(client, "min_effect_size=3.001" + diffs)
    assert not {"rr-two", "md-three"} & keys(client, "min_effect_size=0.5")
    # Each type is read on its own terms only: a difference of -3 is no ratio beyond 2, and a
    # ratio of 2 is no difference of 2.
    assert "md-three" not in keys(client, "min_effect_size=2" + ratios)
    assert "rr-two" not in keys(client, "min_effect_size=2" + diffs)


def test_timepoint_month_bounds_of_outcomes_at_equality(client, connection):
    rows = connection.execute(text(
        "SELECT e.id, t.baseline_clock FROM effect_estimate e "
        "JOIN timepoint t ON t.id = e.timepoint_id JOIN study s ON s.id = e.study_id "
        "WHERE e.comparator_arm_id IS NOT NULL AND e.retracted = :no "
        "AND s.deleted_at IS NULL AND t.baseline_clock IS NOT NULL"), {"no": False}).all()
    clock = {i: float(m) for i, m in rows}
    assert set(clock.values()) == {2.77, 4.15}
    for value in sorted(set(clock.values())):
        def ids(query: str) -> set[int]:
            return {o["id"] for o in all_items(client, f"{API}/outcomes?{query}")
                    if o["id"] in clock}
        at = {i for i, m in clock.items() if m == value}
        assert ids(f"timepoint_months_min={value}") == {
            i for i, m in clock.items() if m >= value}, value
        assert ids(f"timepoint_months_max={value}") == {
            i for i, m in clock.items() if m <= value}, value
        assert not at & ids(f"timepoint_months_min={value + 0.001}")
        if value >= 0.001:
            assert not at & ids(f"timepoint_months_max={value - 0.001}")


# The seed's studies per intervention type, as /stats/facets counts them (test_facets.py).
INTERVENTION_TYPES = {"DRUG": 17, "BEHAVIORAL": 14, "OTHER": 12}


@pytest.mark.parametrize("value", sorted(INTERVENTION_TYPES))
def test_intervention_type_selects_the_studies_with_an_intervention_of_that_type(
        client, connection, value):
    rows = connection.execute(text(
        "SELECT DISTINCT s.key FROM study s JOIN arm_intervention ai ON ai.study_id = s.id "
        "JOIN intervention i ON i.id = ai.intervention_id "
        "WHERE i.type = :t AND s.deleted_at IS NULL"), {"t": value}).all()
    expected = {k for (k,) in rows}
    assert len(expected) == INTERVENTION_TYPES[value]
    assert keys(client, f"intervention_type={value}") == expected


@pytest.mark.parametrize("country", ["Israel", "israel", "UNITED STATES", "Switzerland"])
def test_country_selects_the_studies_run_there_whatever_the_case(client, country):
    expected = {d["key"] for d in DOCS
                if country.casefold() in {c.casefold() for c in d.get("countries") or []}}
    assert expected
    assert keys(client, f"country={country}") == expected


@pytest.mark.parametrize("registries", ["NCT", "PROTOCOL", "NCT,PROTOCOL"])
def test_registry_selects_the_studies_with_an_identifier_there(client, registries):
    wanted = set(registries.split(","))
    expected = {d["key"] for d in DOCS
                if wanted & {r["registry"] for r in d.get("registry_ids") or []}}
    assert expected
    assert keys(client, f"registry={registries}") == expected


@pytest.mark.parametrize(("sponsor", "expected"), [
    ("Lykos Therapeutics", {"NCT05066282"}), ("LYKOS THERAPEUTICS", {"NCT05066282"}),
    ("Lykos", set())])
def test_sponsor_matches_the_whole_name_whatever_the_case(client, sponsor, expected):
    assert {d["key"] for d in DOCS if (d.get("sponsor") or "").casefold()
            == sponsor.casefold()} == expected
    assert keys(client, f"sponsor={sponsor}") == expected


@pytest.mark.parametrize("text_", ["***", '""', "-"])
def test_free_text_without_a_word_matches_nothing(client, text_):
    response = client.get(f"{API}/studies", params={"q": text_})
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


def test_a_start_given_as_a_year_alone_is_in_that_year_and_no_other(client, curator):
    """A year-only start date sorts at the year's very first key (YYYY0000): both year bounds
    must still place it in its own year."""
    store(client, curator, study_document("year-only", "NCT09998821", start_date="2019"))
    store(client, curator, study_document("month-only", "NCT09998822", start_date="2019-01"))
    both = {"year-only", "month-only"}
    assert both <= keys(client, "start_year_min=2019&start_year_max=2019")
    assert not both & keys(client, "start_year_max=2018")
    assert not both & keys(client, "start_year_min=2020")


def test_free_text_finds_a_study_by_the_name_of_an_intervention_it_gives(client, curator):
    doc = study_document("only-by-intervention", "NCT09998831")
    doc["arms"][0]["interventions"][0]["name"] = "Zuranolone"
    assert "zuranolone" not in json.dumps({k: v for k, v in doc.items() if k != "arms"}).lower()
    store(client, curator, doc)
    assert keys(client, "q=zuranolone") == {"only-by-intervention"}
