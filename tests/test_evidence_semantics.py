"""Comparable evidence: contrasts apart from within-arm changes, one direction with the printed
value kept, two clocks per timepoint, counted outcomes with computed RR/OR/RD equal to
metafor, and pooling that counts each study once (DESIGN, "Evidence semantics").

Expected statistics come from R's metafor through the stored fixtures in
tests/fixtures/metafor (see its README), never from the code under test.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.builders import study_document
from tests.evidence_helpers import API, all_items, store

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "metafor"


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def _source(locator: str = "Table 2") -> list[dict[str, str]]:
    return [{"publication": "main", "locator": locator}]


def _effect(**fields: Any) -> dict[str, Any]:
    return {"experimental_arm": "Drug", "comparator_arm": "Placebo", "timepoint": "12 months",
            "sources": _source("abstract"), **fields}


def with_outcomes(key: str, outcomes: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    """The builder's study with these outcome measures instead of its own."""
    return study_document(key, nct=None, outcome_measures=outcomes, **overrides)


def counted(name: str, table: list[int], *, lower_is_better: bool | None = None,
            instrument: str | None = None) -> dict[str, Any]:
    """An outcome measure with events/total per arm: [a, n1, c, n2] (Drug vs Placebo)."""
    a, n1, c, n2 = table
    return {"name": name, "instrument": instrument, "role": "SECONDARY",
            "lower_is_better": lower_is_better,
            "results": [
                {"arm": "Drug", "timepoint": "12 months", "count": a, "denominator": n1,
                 "sources": _source()},
                {"arm": "Placebo", "timepoint": "12 months", "count": c, "denominator": n2,
                 "sources": _source()}],
            "effects": []}


def effects_of(client: Any, key: str, query: str = "") -> list[dict[str, Any]]:
    return all_items(client, f"{API}/outcomes?study={key}{query}")


# ------------------------------------------------------------------ effect-size filter


def test_min_effect_size_reads_between_arm_contrasts_not_within_arm_changes(client):
    def keys(threshold: str) -> set[str]:
        return {s["key"] for s in all_items(
            client, f"{API}/studies?min_effect_size={threshold}&fields=key")}

    # MAPP1: MDMA vs placebo d = 0.91; its within-arm pre-post d of 2.1 is not a contrast.
    assert "NCT03537014" not in keys("1.0")
    assert "NCT03537014" in keys("0.9")
    assert "NCT03537014" in keys("0.91")


def test_min_effect_size_on_ratios_reads_the_log_scale_on_both_sides(client, curator):
    doc = with_outcomes("odds-ratio-04", [{
        "name": "remission", "role": "SECONDARY", "lower_is_better": False, "results": [],
        "effects": [_effect(effect_type="ODDS_RATIO", value=0.4, ci_low=0.2, ci_high=0.8)]}])
    store(client, curator, doc)

    def matches(threshold: str, types: str = "ODDS_RATIO") -> bool:
        found = all_items(client, f"{API}/studies?min_effect_size={threshold}"
                                  f"&effect_size_type={types}&fields=key")
        return "odds-ratio-04" in {s["key"] for s in found}

    # |log 0.4| = 0.92: at least |log 2| = 0.69 and |log 2.5| = 0.92, not |log 2.6| = 0.96.
    assert matches("2") and matches("0.5") and matches("2.5") and matches("0.4")
    assert not matches("2.6") and not matches("0.38")
    # A ratio is not a standardized difference: the default types leave it alone.
    assert not matches("0.3", "COHENS_D,HEDGES_G,SMD")


# ------------------------------------------------------------------ one direction


def test_a_contrast_printed_the_other_way_is_stored_re_expressed_with_the_print_kept(
        client, curator):
    printed = {"orientation": "COMPARATOR_VS_EXPERIMENTAL", "value": 9.8, "ci_low": 3.1,
               "ci_high": 16.5, "reason": "printed as placebo minus drug"}
    doc = with_outcomes("printed-reversed", [{
        "name": "CAPS change", "instrument": "CAPS-5", "role": "PRIMARY",
        "lower_is_better": True, "results": [],
        "effects": [_effect(effect_type="MEAN_DIFFERENCE", as_reported=printed)]}])
    store(client, curator, doc)
    [row] = effects_of(client, "printed-reversed")
    assert (row["value"], row["ci_low"], row["ci_high"]) == (-9.8, -16.5, -3.1)
    assert row["as_reported"] == printed
    assert row["comparison"] == "BETWEEN_ARMS"
    assert row["direction"] == "LOWER_FAVOURS_EXPERIMENTAL"
    assert row["favours"] == "EXPERIMENTAL"
    # The study read shows the same, and sending it back is accepted unchanged.
    study = client.get(f"{API}/studies/printed-reversed").json()
    [effect] = study["outcome_measures"][0]["effects"]
    assert effect["value"] == -9.8 and effect["as_reported"] == printed


def test_a_ratio_printed_the_other_way_is_inverted(client, curator):
    printed = {"orientation": "COMPARATOR_VS_EXPERIMENTAL", "value": 2.0, "ci_low": 1.25,
               "ci_high": 3.2, "reason": "printed as placebo over drug"}
    doc = with_outcomes("ratio-reversed", [{
        "name": "relapse", "role": "SECONDARY", "lower_is_better": True, "results": [],
        "effects": [_effect(effect_type="RISK_RATIO", as_reported=printed)]}])
    store(client, curator, doc)
    [row] = effects_of(client, "ratio-reversed")
    assert row["value"] == pytest.approx(0.5)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((1 / 3.2, 0.8))
    assert row["favours"] == "EXPERIMENTAL"


@pytest.mark.parametrize("effect, message", [
    (_effect(effect_type="MEAN_DIFFERENCE", value=-2.0, comparator_arm="Drug"),
     "two distinct arms"),
    (_effect(effect_type="RISK_RATIO", value=0.0), "greater than 0"),
    (_effect(effect_type="ODDS_RATIO", value=1.5, ci_low=-0.2, ci_high=2.0),
     "greater than 0"),
    (_effect(effect_type="MEAN_DIFFERENCE", value=9.8, as_reported={
        "orientation": "COMPARATOR_VS_EXPERIMENTAL", "value": 9.8, "reason": "printed"}),
     "does not agree"),
    (_effect(effect_type="MEAN_DIFFERENCE"), "needs a value"),
])
def test_contrasts_that_cannot_be_read_one_way_are_refused(client, curator, effect, message):
    doc = with_outcomes("refused-contrast", [{
        "name": "CAPS change", "role": "PRIMARY", "lower_is_better": True, "results": [],
        "effects": [effect]}])
    response = client.post(f"{API}/studies", json=doc, headers=curator)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.text
    assert client.get(f"{API}/studies/refused-contrast").status_code == 404


@pytest.mark.parametrize("fields, lower_is_better, favours", [
    ({"effect_type": "SMD", "value": 0.5, "ci_low": 0.1, "ci_high": 0.9}, True, "EXPERIMENTAL"),
    ({"effect_type": "SMD", "value": -0.5, "ci_low": -0.9, "ci_high": -0.1}, True,
     "COMPARATOR"),
    ({"effect_type": "MEAN_DIFFERENCE", "value": -3.0, "ci_low": -6.0, "ci_high": 0.0}, True,
     "NEITHER"),
    ({"effect_type": "MEAN_DIFFERENCE", "value": 3.0, "ci_low": 1.0, "ci_high": 5.0}, False,
     "EXPERIMENTAL"),
    ({"effect_type": "MEAN_DIFFERENCE", "value": 3.0, "ci_low": 1.0, "ci_high": 5.0}, True,
     "COMPARATOR"),
    ({"effect_type": "MEAN_DIFFERENCE", "value": -3.0, "p_value": 0.04}, True, "EXPERIMENTAL"),
    ({"effect_type": "MEAN_DIFFERENCE", "value": -3.0, "p_value": 0.05}, True, "NEITHER"),
    ({"effect_type": "MEAN_DIFFERENCE", "value": -3.0, "p_value": 0.05,
      "p_value_relation": "<"}, True, "EXPERIMENTAL"),
    ({"effect_type": "MEAN_DIFFERENCE", "value": -3.0}, True, None),
    ({"effect_type": "MEAN_DIFFERENCE", "value": -3.0, "ci_low": -5.0, "ci_high": -1.0}, None,
     None),
    ({"effect_type": "RISK_RATIO", "value": 0.5, "ci_low": 0.3, "ci_high": 0.9}, True,
     "EXPERIMENTAL"),
    ({"effect_type": "MEAN_DIFFERENCE", "p_value": 0.066}, True, "NEITHER"),
    ({"effect_type": "MEAN_DIFFERENCE", "p_value": 0.014}, True, None),
])
def test_favours_reads_the_ci_else_the_p_value_in_the_outcomes_direction(
        client, curator, fields, lower_is_better, favours):
    doc = with_outcomes("favours-case", [{
        "name": "outcome", "role": "PRIMARY", "lower_is_better": lower_is_better,
        "results": [], "effects": [_effect(**fields)]}])
    store(client, curator, doc)
    [row] = effects_of(client, "favours-case")
    assert row["favours"] == favours


def test_a_comparison_reported_by_its_p_value_alone_is_served_but_never_pooled(
        client, curator):
    outcome = {"name": "CAPS change", "instrument": "CAPS-5", "role": "PRIMARY",
               "lower_is_better": True, "results": [],
               "effects": [_effect(effect_type="MEAN_DIFFERENCE", p_value=0.066)]}
    store(client, curator, with_outcomes("p-only-a", [outcome]))
    store(client, curator, with_outcomes("p-only-b", [outcome]))
    [row] = effects_of(client, "p-only-a")
    assert row["value"] is None and row["p_value"] == 0.066
    response = client.get(f"{API}/meta-analysis?study=p-only-a,p-only-b")
    assert response.status_code == 422
    reasons = {e["reason"] for e in response.json()["excluded"]}
    assert any("p-value alone" in r for r in reasons)


# ------------------------------------------------------------------ /outcomes says what it left out


def test_outcomes_leave_within_arm_changes_out_and_count_them(client, curator):
    doc = study_document("with-a-change", nct=None)
    doc["outcome_measures"][0]["effects"].append(_effect(
        comparator_arm=None, effect_type="COHENS_D", value=1.9))
    store(client, curator, doc)
    page = client.get(f"{API}/outcomes?study=with-a-change&origin=REPORTED").json()
    assert [r["comparison"] for r in page["items"]] == ["BETWEEN_ARMS"]
    assert page["excluded"] == {"within_arm": {
        "count": 1, "include_with": "comparison=BETWEEN_ARMS,WITHIN_ARM"}}
    both = client.get(f"{API}/outcomes?study=with-a-change&origin=REPORTED"
                      "&comparison=BETWEEN_ARMS,WITHIN_ARM").json()
    assert sorted(r["comparison"] for r in both["items"]) == ["BETWEEN_ARMS", "WITHIN_ARM"]
    assert both["excluded"] == {}


def test_outcomes_count_the_retracted_estimates_they_leave_out(client):
    page = client.get(f"{API}/outcomes?study_type=POOLED_ANALYSIS").json()
    hidden = page["excluded"]["retracted"]
    assert hidden["include_with"] == "include_retracted=true"
    everything = all_items(client, f"{API}/outcomes?study_type=POOLED_ANALYSIS"
                                   "&include_retracted=true")
    assert hidden["count"] == sum(r["retracted"] for r in everything) > 0


def test_every_served_effect_says_comparison_direction_and_favours(client):
    rows = all_items(client, f"{API}/outcomes?comparison=BETWEEN_ARMS,WITHIN_ARM"
                             "&include_retracted=true")
    assert rows
    for row in rows:
        assert {"comparison", "direction", "favours"} <= set(row)
        assert (row["comparison"] == "WITHIN_ARM") == (row["comparator_arm"] is None)


# ------------------------------------------------------------------ two clocks


def _timed(role: str, **fields: Any) -> dict[str, Any]:
    return {"label": "12 months", "role": role, "sources": _source(), **fields}


def test_a_timepoint_is_placed_on_both_clocks_from_the_treatment_schedule(client, curator):
    doc = study_document("two-clocks", nct=None, treatment_end_months=3,
                         timepoints=[_timed("FOLLOW_UP", anchor="RANDOMIZATION", months=12)])
    store(client, curator, doc)
    [tp] = client.get(f"{API}/studies/two-clocks").json()["timepoints"]
    assert tp["clocks"] == {
        "since_baseline": {"months": 12, "min": 12, "max": 12, "from": "ANCHOR"},
        "after_treatment": {"months": 9, "min": 9, "max": 9, "from": "SCHEDULE"}}
    assert tp["is_follow_up"] is True

    def found(query: str) -> bool:
        items = all_items(client, f"{API}/studies?{query}&fields=key")
        return "two-clocks" in {s["key"] for s in items}

    # Follow-up length is after treatment: 9 months, not 12; the thresholds include it.
    assert found("min_follow_up_months=9") and not found("min_follow_up_months=9.01")
    assert found("max_follow_up_months=9") and not found("max_follow_up_months=8.99")


def test_a_follow_up_with_only_a_lower_bound_counts_from_that_bound(client, curator):
    doc = study_document("at-least-12", nct=None, timepoints=[
        _timed("FOLLOW_UP", anchor="LAST_TREATMENT_SESSION", months_min=12)])
    store(client, curator, doc)
    keys = {s["key"] for s in all_items(client, f"{API}/studies?min_follow_up_months=12")}
    assert "at-least-12" in keys


def test_a_primary_endpoint_or_a_baseline_is_no_follow_up(client, curator):
    doc = study_document("endpoint-only", nct=None, timepoints=[
        {"label": "baseline", "anchor": "BASELINE", "months": 0, "sources": _source()},
        _timed("PRIMARY_ENDPOINT", anchor="LAST_TREATMENT_SESSION", months=24)])
    doc["outcome_measures"] = []
    store(client, curator, doc)
    study = client.get(f"{API}/studies/endpoint-only").json()
    assert [t["role"] for t in study["timepoints"]] == ["BASELINE", "PRIMARY_ENDPOINT"]
    assert study["follow_up_months_max"] is None
    keys = {s["key"] for s in all_items(client, f"{API}/studies?min_follow_up_months=0")}
    assert "endpoint-only" not in keys


def test_a_role_that_contradicts_is_follow_up_is_refused(client, curator):
    doc = study_document("contradiction", nct=None, timepoints=[
        _timed("PRIMARY_ENDPOINT", anchor="LAST_TREATMENT_SESSION", months=2,
               is_follow_up=True)])
    response = client.post(f"{API}/studies", json=doc, headers=curator)
    assert response.status_code == 422
    assert "contradicts role" in response.text


def test_timepoint_months_read_the_since_baseline_clock(client, curator):
    doc = study_document("after-four-months", nct=None, treatment_end_months=2,
                         timepoints=[_timed("PRIMARY_ENDPOINT", anchor="LAST_TREATMENT_SESSION",
                                            months=2)])
    store(client, curator, doc)
    [row] = effects_of(client, "after-four-months", "&origin=REPORTED")
    assert (row["timepoint_months"], row["timepoint_months_after_treatment"]) == (4, 2)
    assert effects_of(client, "after-four-months", "&origin=REPORTED&timepoint_months_max=4")
    assert not effects_of(client, "after-four-months",
                          "&origin=REPORTED&timepoint_months_max=3.99")


# ------------------------------------------------------------------ counted outcomes


def _escalc(table: list[int]) -> dict[str, Any]:
    for row in _fixture("escalc.json")["tables"]:
        if row["table"] == table:
            return row
    raise AssertionError(f"no metafor fixture for table {table}")


@pytest.mark.parametrize("table", [[0, 20, 5, 20], [3, 3, 1, 10], [43, 97, 10, 97],
                                   [12, 12, 12, 12]])
def test_counted_outcomes_give_rr_or_rd_equal_to_metafors_escalc(client, curator, table):
    store(client, curator, with_outcomes("counted", [counted("severe adverse events", table,
                                                             lower_is_better=True)]))
    rows = effects_of(client, "counted", "&origin=COMPUTED")
    by_type = {r["effect_type"]: r for r in rows}
    assert set(by_type) == {"RISK_RATIO", "ODDS_RATIO", "RISK_DIFFERENCE"}
    expected = _escalc(table)
    for effect_type, measure in (("RISK_RATIO", "RR"), ("ODDS_RATIO", "OR"),
                                 ("RISK_DIFFERENCE", "RD")):
        row = by_type[effect_type]
        y = math.log(row["value"]) if measure != "RD" else row["value"]
        assert y == pytest.approx(expected[measure]["yi"], abs=1e-9)
        assert row["se"] ** 2 == pytest.approx(expected[measure]["vi"], abs=1e-9)
        a, n1, c, n2 = table
        assert row["inputs"]["experimental"] == {"events": a, "total": n1}
        assert row["inputs"]["comparator"] == {"events": c, "total": n2}
        assert row["inputs"]["zero_cell_correction"] == (
            0.5 if 0 in (a, n1 - a, c, n2 - c) else None)


def test_the_number_needed_to_treat_comes_with_its_kind_and_ci(client, curator):
    # Response (more is better): 43/97 vs 10/97, RD = 0.34.
    store(client, curator, with_outcomes("responders", [counted("response", [43, 97, 10, 97],
                                                                lower_is_better=False)]))
    [rd] = effects_of(client, "responders", "&origin=COMPUTED&effect_type=RISK_DIFFERENCE")
    low, high = rd["ci_low"], rd["ci_high"]
    assert rd["nnt"]["kind"] == "NNTB" and rd["nnt"]["crosses_null"] is False
    assert rd["nnt"]["value"] == pytest.approx(97 / 33)
    assert (rd["nnt"]["ci_low"], rd["nnt"]["ci_high"]) == pytest.approx((1 / high, 1 / low))
    # The same counts of a harm are a number needed to harm.
    store(client, curator, with_outcomes("harmed", [counted("adverse events", [43, 97, 10, 97],
                                                            lower_is_better=True)]))
    [rd] = effects_of(client, "harmed", "&origin=COMPUTED&effect_type=RISK_DIFFERENCE")
    assert rd["nnt"]["kind"] == "NNTH" and rd["favours"] == "COMPARATOR"


def test_a_percentage_becomes_a_count_only_when_one_integer_reproduces_it(client, curator):
    outcome = counted("loss of diagnosis", [0, 52, 0, 42], lower_is_better=False)
    for result, percent in zip(outcome["results"], ("71.2", "47.6"), strict=True):
        del result["count"]
        result["percent"] = percent
    store(client, curator, with_outcomes("from-percent", [outcome]))
    study = client.get(f"{API}/studies/from-percent").json()
    results = study["outcome_measures"][0]["results"]
    assert [(r["count"], r["denominator"], r["count_derived"]) for r in results] == [
        (37, 52, True), (20, 42, True)]
    # The read is accepted back unchanged; the counts are derived again.
    etag = client.get(f"{API}/studies/from-percent").headers["etag"]
    doc = with_outcomes("from-percent", [copy.deepcopy(outcome)])
    doc["outcome_measures"][0]["results"] = [
        {k: v for k, v in r.items() if k != "retracted"} for r in results]
    response = client.put(f"{API}/studies/from-percent", json=doc,
                          headers={**curator, "If-Match": etag})
    assert response.status_code == 200, response.text
    again = client.get(f"{API}/studies/from-percent").json()["outcome_measures"][0]["results"]
    assert [(r["count"], r["count_derived"]) for r in again] == [(37, True), (20, True)]


def test_an_ambiguous_percentage_leaves_the_count_empty(client, curator):
    outcome = counted("response", [0, 1000, 0, 1000])
    for result in outcome["results"]:
        del result["count"]
        result["percent"] = "50"  # 495 to 504 of 1000 all print as 50%
    store(client, curator, with_outcomes("ambiguous", [outcome]))
    results = client.get(f"{API}/studies/ambiguous").json()["outcome_measures"][0]["results"]
    assert [(r["count"], r["count_derived"]) for r in results] == [(None, False)] * 2
    assert effects_of(client, "ambiguous", "&origin=COMPUTED") == []


def test_a_count_that_does_not_reproduce_its_percentage_is_refused(client, curator):
    outcome = counted("response", [30, 52, 20, 42])
    outcome["results"][0]["percent"] = "71.2"
    response = client.post(f"{API}/studies", json=with_outcomes("mismatch", [outcome]),
                           headers=curator)
    assert response.status_code == 422
    assert "is not 71.2%" in response.text


# ------------------------------------------------------------------ one estimate per study


def _store_tables(client: Any, curator: dict[str, str], rows: list[dict[str, Any]],
                  prefix: str) -> list[str]:
    """One study per `study` of the rows, one counted outcome per row."""
    studies: dict[str, list[list[int]]] = {}
    for row in rows:
        studies.setdefault(row["study"], []).append(row["table"])
    keys = []
    for name, tables in studies.items():
        key = f"{prefix}-{name}".lower()
        store(client, curator, with_outcomes(key, [
            counted(f"events {i + 1}", table) for i, table in enumerate(tables)]))
        keys.append(key)
    return keys


def test_a_study_with_several_estimates_is_refused_unless_a_rule_is_chosen(client, curator):
    [case] = _fixture("aggregate.json")["rma_after_aggregate"]
    keys = _store_tables(client, curator, case["rows"], "multi")
    query = f"{API}/meta-analysis?study={','.join(keys)}&effect_type=ODDS_RATIO"
    refused = client.get(query)
    assert refused.status_code == 422
    body = refused.json()
    named = {s["study_key"] for s in body["studies"]}
    assert named == {"multi-a", "multi-c", "multi-e"}
    assert "multi-a: 2 estimates" in body["detail"]
    first = client.get(f"{query}&per_study=first_listed").json()
    assert first["k"] == 5
    assert {s["outcome"] for s in first["studies"]} == {"events 1"}


def test_aggregating_each_studys_estimates_equals_metafor(client, curator):
    [case] = _fixture("aggregate.json")["rma_after_aggregate"]
    keys = _store_tables(client, curator, case["rows"], "agg")
    body = client.get(f"{API}/meta-analysis?study={','.join(keys)}&effect_type=ODDS_RATIO"
                      f"&per_study=aggregate&rho={case['rho']}").json()
    expected = case["rma"]
    assert body["k"] == expected["k"] == 5
    assert body["per_study"] == "aggregate" and body["rho"] == case["rho"]
    for ours, theirs in (("estimate", "estimate"), ("se", "se"), ("ci_low", "ci_lb"),
                         ("ci_high", "ci_ub"), ("tau2", "tau2"), ("q", "QE"), ("i2", "I2")):
        assert body[ours] == pytest.approx(expected[theirs], abs=1e-6), ours
    svg = client.get(f"{API}/meta-analysis/forest.svg?study={','.join(keys)}"
                     f"&effect_type=ODDS_RATIO&per_study=aggregate&rho={case['rho']}")
    assert svg.status_code == 200 and "2 estimates aggregated" in svg.text
    aggregated = {s["study_key"]: s for s in body["studies"]}
    for row in case["aggregated"]:
        study = aggregated[f"agg-{row['study']}".lower()]
        assert study["yi"] == pytest.approx(row["yi"], abs=1e-9)
        assert study["se"] ** 2 == pytest.approx(row["vi"], abs=1e-9)


@pytest.mark.parametrize("measure, effect_type", [("RR", "RISK_RATIO"), ("OR", "ODDS_RATIO")])
def test_mantel_haenszel_pooling_equals_metafors_rma_mh(client, curator, measure, effect_type):
    [case] = [r for r in _fixture("rma_mh.json")["results"]
              if r["set"] == "dat.bcg" and r["measure"] == measure]
    rows = [{"study": f"t{i:02d}", "table": t} for i, t in enumerate(case["tables"])]
    keys = _store_tables(client, curator, rows, "bcg")
    body = client.get(f"{API}/meta-analysis?study={','.join(keys)}&effect_type={effect_type}"
                      "&method=MH").json()
    assert body["model"] == "mantel_haenszel" and body["k"] == case["k"]
    for name in ("estimate", "se", "ci_low", "ci_high", "p_value", "q", "i2"):
        assert body[name] == pytest.approx(case[name], abs=1e-6), name
    assert body["exponentiated"]["estimate"] == pytest.approx(math.exp(case["estimate"]))
    svg = client.get(f"{API}/meta-analysis/forest.svg?study={','.join(keys)}"
                     f"&effect_type={effect_type}&method=MH")
    assert svg.status_code == 200 and "Fixed effect (Mantel–Haenszel)" in svg.text


def test_mantel_haenszel_needs_counts(client, curator):
    response = client.get(f"{API}/meta-analysis?intervention=MDMA&effect_type=COHENS_D"
                          "&method=MH&per_study=first_listed")
    assert response.status_code == 422


@pytest.mark.parametrize("measure, effect_type", [
    ("RR", "RISK_RATIO"), ("OR", "ODDS_RATIO"), ("RD", "RISK_DIFFERENCE")])
def test_counted_outcomes_pool_by_inverse_variance_as_metafors_rma(
        client, curator, measure, effect_type):
    fixture = _fixture("rma_binary.json")
    rows = [{"study": f"b{t['trial']:02d}", "table": t["table"]} for t in fixture["tables"]]
    keys = _store_tables(client, curator, rows, "rma")
    for method in ("DL", "REML"):
        body = client.get(f"{API}/meta-analysis?study={','.join(keys)}"
                          f"&effect_type={effect_type}&method={method}").json()
        expected = fixture["rma"][measure][method]
        assert body["k"] == expected["k"] == 13
        for ours, theirs in (("estimate", "estimate"), ("se", "se"), ("ci_low", "ci_lb"),
                             ("ci_high", "ci_ub"), ("tau2", "tau2"), ("q", "QE")):
            assert body[ours] == pytest.approx(expected[theirs], abs=1e-6), (method, ours)
        if method == "DL":  # metafor's REML I² is computed from τ², ours from Q
            assert body["i2"] == pytest.approx(expected["I2"], abs=1e-6)
