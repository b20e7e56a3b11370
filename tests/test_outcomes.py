"""/outcomes: effect estimates as flat rows; computed Hedges' g stored beside reported ones."""

from __future__ import annotations

import math

import pytest

from tests.builders import study_document
from tests.evidence_helpers import API, all_items, store


def hedges_g(n1, m1, s1, n2, m2, s2, lower_is_better):
    # Borenstein et al. (2009), Introduction to Meta-Analysis, eqs. 4.18–4.24.
    df = n1 + n2 - 2
    sw = math.sqrt(((n1 - 1) * s1 ** 2 + (n2 - 1) * s2 ** 2) / df)
    d = (m1 - m2) / sw * (-1 if lower_is_better else 1)
    j = 1 - 3 / (4 * df - 1)
    vd = (n1 + n2) / (n1 * n2) + d ** 2 / (2 * (n1 + n2))
    return j * d, j * j * vd


def test_outcomes_list_one_row_per_effect_with_study_arms_timepoint_and_sources(client):
    rows = all_items(client, f"{API}/outcomes?registry_id=NCT03537014&origin=REPORTED")
    assert rows
    d = next(r for r in rows if r["value"] == 0.91)
    assert d["study_key"] == "NCT03537014" and d["study_title"]
    assert (d["experimental_arm"], d["comparator_arm"]) == (
        "MDMA-assisted therapy", "Placebo with therapy")
    assert d["instrument"] == "CAPS-5" and d["effect_type"] == "COHENS_D"
    assert d["timepoint"] and d["timepoint_months"] is not None
    assert d["origin"] == "REPORTED" and d["retracted"] is False
    assert d["sources"] and d["sources"][0]["publication"]["doi"]
    detail = client.get(f"{API}/studies/NCT03537014").json()
    reported = [e for om in detail["outcome_measures"] for e in om["effects"]
                if e["origin"] == "REPORTED"]
    contrasts = [e for e in reported if e["comparator_arm"] is not None]
    assert len(rows) == len(contrasts) < len(reported)
    within = all_items(client, f"{API}/outcomes?registry_id=NCT03537014&origin=REPORTED"
                               "&comparison=WITHIN_ARM")
    assert len(within) == len(reported) - len(contrasts)
    assert all(r["comparison"] == "WITHIN_ARM" and r["comparator_arm"] is None for r in within)


def test_mapp1_has_a_computed_hedges_g_from_its_change_scores(client):
    rows = all_items(client, f"{API}/outcomes?registry_id=NCT03537014&origin=COMPUTED")
    assert len(rows) == 1
    g = rows[0]
    assert (g["effect_type"], g["instrument"]) == ("HEDGES_G", "CAPS-5")
    # The seed's change scores: MDMA n 42, −24.4 (SD 11.6); placebo n 37, −13.9 (SD 11.5).
    value, variance = hedges_g(42, -24.4, 11.6, 37, -13.9, 11.5, lower_is_better=True)
    assert g["value"] == pytest.approx(value, rel=1e-12)
    assert g["se"] == pytest.approx(math.sqrt(variance), rel=1e-12)
    assert g["value"] > 0, "positive favours the experimental arm"
    assert abs(g["value"] - 0.91) < 0.05, "close to the d the trial reported"
    detail = client.get(f"{API}/studies/NCT03537014").json()
    inputs = [r for om in detail["outcome_measures"] if om["instrument"] == "CAPS-5"
              for r in om["results"] if r["change_sd"] is not None]
    union = {(s["publication"], s["source_url"], s["locator"]) for r in inputs
             for s in r["sources"]}
    served = [e for om in detail["outcome_measures"] for e in om["effects"]
              if e["origin"] == "COMPUTED"]
    assert len(served) == 1
    assert {(s["publication"], s["source_url"], s["locator"])
            for s in served[0]["sources"]} == union


def test_a_computed_effect_uses_endpoint_scores_and_follows_lower_is_better(client, curator):
    store(client, curator, study_document("computed-endpoint", nct="NCT09999911"))
    rows = all_items(client, f"{API}/outcomes?study=computed-endpoint&origin=COMPUTED")
    assert len(rows) == 1
    value, variance = hedges_g(28, 20.5, 10.1, 27, 30.2, 11.0, lower_is_better=True)
    assert rows[0]["value"] == pytest.approx(value, rel=1e-12)
    assert rows[0]["ci_low"] == pytest.approx(value - 1.959963984540054 * math.sqrt(variance))
    assert "endpoint" in rows[0]["notes"]

    doc = study_document("computed-higher-better", nct="NCT09999912")
    doc["outcome_measures"][0]["lower_is_better"] = False
    store(client, curator, doc)
    higher = all_items(client, f"{API}/outcomes?study=computed-higher-better&origin=COMPUTED")
    assert higher[0]["value"] == pytest.approx(-value, rel=1e-12)


def test_no_effect_is_computed_without_both_arms_sd_or_a_known_direction(client, curator):
    doc = study_document("no-sd", nct="NCT09999913")
    del doc["outcome_measures"][0]["results"][1]["sd"]
    store(client, curator, doc)
    doc = study_document("no-direction", nct="NCT09999914")
    doc["outcome_measures"][0]["lower_is_better"] = None
    store(client, curator, doc)
    for key in ("no-sd", "no-direction"):
        assert all_items(client, f"{API}/outcomes?study={key}&origin=COMPUTED") == []
        assert len(all_items(client, f"{API}/outcomes?study={key}")) == 1


def test_a_computed_effect_from_retracted_results_is_retracted_and_hidden(client, curator):
    doc = study_document("retracted-inputs", nct="NCT09999915")
    doc["publications"][0].update(
        retraction_status="RETRACTED", retraction_date="2024-01-02",
        retraction_reason="data could not be verified")
    store(client, curator, doc)
    assert all_items(client, f"{API}/outcomes?study=retracted-inputs") == []
    rows = all_items(client, f"{API}/outcomes?study=retracted-inputs&include_retracted=true")
    assert {r["origin"] for r in rows} == {"REPORTED", "COMPUTED"}
    assert all(r["retracted"] for r in rows)


def test_retracted_pooled_analyses_are_hidden_unless_included(client):
    default = all_items(client, f"{API}/outcomes?study_type=POOLED_ANALYSIS")
    assert default == []
    included = all_items(client, f"{API}/outcomes?study_type=POOLED_ANALYSIS"
                                 "&include_retracted=true")
    assert included and all(r["retracted"] for r in included)
    assert all(s["publication"]["retraction_status"] == "RETRACTED"
               for r in included for s in r["sources"] if s["publication"])


@pytest.mark.parametrize("query,check", [
    ("effect_type=ODDS_RATIO", lambda r: r["effect_type"] == "ODDS_RATIO"),
    ("instrument=SDS", lambda r: r["instrument"] == "SDS"),
    ("origin=COMPUTED", lambda r: r["origin"] == "COMPUTED"),
    ("role=SECONDARY", lambda r: r["role"] == "SECONDARY"),
    ("phase=PHASE3", lambda r: r["study_key"] in {"NCT03537014", "NCT04077437"}),
])
def test_outcome_filters_keep_only_matching_rows(client, query, check):
    everything = all_items(client, f"{API}/outcomes?include_retracted=true")
    rows = all_items(client, f"{API}/outcomes?include_retracted=true&{query}")
    assert rows, query
    assert all(check(r) for r in rows)
    assert len(rows) == sum(1 for r in everything if check(r))


def test_timepoint_months_bound_the_estimates(client, curator):
    store(client, curator, study_document("twelve-months", nct="NCT09999916"))
    later = all_items(client, f"{API}/outcomes?timepoint_months_min=6")
    assert {r["study_key"] for r in later} == {"twelve-months"}
    assert all(r["timepoint_months"] == 15 for r in later)
    earlier = all_items(client, f"{API}/outcomes?timepoint_months_max=6")
    assert earlier and all(r["timepoint_months"] <= 6 for r in earlier)
    assert "twelve-months" not in {r["study_key"] for r in earlier}


def test_paging_visits_every_estimate_once(client):
    rows = all_items(client, f"{API}/outcomes?include_retracted=true")
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) > 7
    assert ids == sorted(ids)


@pytest.mark.parametrize("query,status", [
    ("page_token=not-a-token", 400),
    ("colour=blue", 422),
    ("effect_type=CORRELATION", 422),
    ("timepoint_months_min=-1", 422),
])
def test_bad_outcome_queries_are_problems(client, query, status):
    response = client.get(f"{API}/outcomes?{query}")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_an_outcomes_page_costs_the_same_statements_whatever_it_holds(client, count_statements):
    def statements(url):
        count_statements.statements.clear()
        response = client.get(url)
        assert response.status_code == 200
        return len(count_statements.statements), len(response.json()["items"])

    many = statements(f"{API}/outcomes?include_retracted=true&page_size=100")
    one = statements(f"{API}/outcomes?include_retracted=true&page_size=1")
    assert many[1] > 10 and one[1] == 1
    assert many[0] == one[0]


def effect_origins(client, key):
    rows = all_items(client, f"{API}/outcomes?study={key}&include_retracted=true")
    return sorted((r["origin"], r["effect_type"], round(r["value"], 12)) for r in rows)


def test_rewriting_a_study_derives_its_computed_effect_again_without_copying_it(
        client, curator):
    created = client.post(f"{API}/studies", json=study_document("rewritten", "NCT09999917"),
                          headers=curator)
    assert created.status_code == 201, created.text
    before = effect_origins(client, "rewritten")
    assert [o for o, *_ in before] == ["COMPUTED", "REPORTED"]
    patched = client.patch(f"{API}/studies/rewritten", json={"title": "A new title"},
                           headers={**curator, "If-Match": created.headers["etag"],
                                    "Content-Type": "application/merge-patch+json"})
    assert patched.status_code == 200, patched.text
    assert effect_origins(client, "rewritten") == before
    doc = study_document("rewritten", "NCT09999917")
    doc["outcome_measures"][0]["results"][0]["mean"] = 15.5
    put = client.put(f"{API}/studies/rewritten", json=doc,
                     headers={**curator, "If-Match": patched.headers["etag"]})
    assert put.status_code == 200, put.text
    after = effect_origins(client, "rewritten")
    assert len(after) == 2 and after[1] == before[1]
    value, _ = hedges_g(28, 15.5, 10.1, 27, 30.2, 11.0, lower_is_better=True)
    assert after[0][2] == round(value, 12)
