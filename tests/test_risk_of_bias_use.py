"""Risk of bias used: `max_risk_of_bias` on /outcomes, /meta-analysis (and its forest plot),
the network and /durability; `sensitivity=risk_of_bias`; the forest plot's traffic lights;
and the risk_of_bias facet. Judgements are stored through the public API on the seed's MDMA
contrasts of CAPS: MAPP1 (NCT03537014) and MAPP2 (NCT04077437) on CAPS-5, and the retracted
Mithoefer 2019 pooled analysis on CAPS-IV. Each test starts from no stored judgement: the
seed's published assessments (tests/test_risk_of_bias_seed.py) are removed first, inside the
test's transaction, so that what a test stores is all there is."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import text

from tests.authkit import API
from tests.test_risk_of_bias import ROB2_DOMAINS, ROBINS_DOMAINS, rob2, robins

pytestmark = pytest.mark.usefixtures("no_key_leaks", "without_seeded_judgements")

MAPP1, MAPP2, POOLED = "NCT03537014", "NCT04077437", "mithoefer-2019-pooled"
# MAPP1 and MAPP2 on CAPS-5 at their 18-week endpoints: two estimates.
PHASE3 = {"instrument": "CAPS-5", "effect_type": "COHENS_D", "timepoint_months_max": 6}
# The same two and the retracted pooled phase 2 analysis on CAPS-IV: three estimates.
THREE = {"instrument": ["CAPS-5", "CAPS-IV"], "effect_type": "COHENS_D",
         "include_retracted": "true"}
SVG = "{http://www.w3.org/2000/svg}"
# The colours the plot's legend promises, by judgement.
COLOURS = {"LOW": "#2e8540", "SOME_CONCERNS": "#f2c12e", "MODERATE": "#f2c12e",
           "HIGH": "#d0312d", "SERIOUS": "#d0312d", "CRITICAL": "#7a0a0a",
           "NO_INFORMATION": "#9e9e9e"}
SOURCE = [{"source_url": "https://example.org/systematic-review", "locator": "Figure 2"}]


def effect_ids(client) -> dict[str, int]:
    """The reported CAPS d of each of the three studies, by study key."""
    rows = client.get(f"{API}/outcomes", params={**THREE, "origin": "REPORTED"}).json()["items"]
    ids = {r["study_key"]: r["id"] for r in rows}
    assert set(ids) == {MAPP1, MAPP2, POOLED} and len(rows) == 3
    return ids


@pytest.fixture
def without_seeded_judgements(connection) -> None:
    """No stored assessment, as before any was seeded (rolled back with the test)."""
    connection.execute(text("DELETE FROM risk_of_bias WHERE published_assessment"))


@pytest.fixture
def ids(client) -> dict[str, int]:
    return effect_ids(client)


def judge(client, curator, effect_id: int, body: dict[str, Any]) -> dict[str, Any]:
    body = {**body, "sources": SOURCE}
    response = client.put(f"{API}/outcomes/{effect_id}/risk-of-bias", json=body,
                          headers=curator)
    assert response.status_code == 201, response.text
    return body


def meta(client, params: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = client.get(f"{API}/meta-analysis", params=params)
    assert response.status_code == status, response.text
    return response.json()


def keys(items: list[dict[str, Any]]) -> list[str]:
    return sorted(i["study_key"] for i in items)


def reason_of(answer: dict[str, Any], key: str) -> str:
    (reason,) = [e["reason"] for e in answer["excluded"] if e["study_key"] == key]
    return str(reason)


# ------------------------------------------------------------------ /meta-analysis


def test_max_some_concerns_leaves_the_high_risk_estimate_out_of_the_pooling(
        client, curator, ids):
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    judge(client, curator, ids[MAPP2], rob2("HIGH", measurement_of_the_outcome="HIGH"))
    unfiltered = meta(client, PHASE3)
    assert unfiltered["k"] == 2 and keys(unfiltered["studies"]) == [MAPP1, MAPP2]
    refused = meta(client, {**PHASE3, "max_risk_of_bias": "SOME_CONCERNS"}, 422)
    assert refused["k"] == 1
    assert reason_of(refused, MAPP2) == "risk of bias HIGH above the maximum SOME_CONCERNS"
    assert ids[MAPP1] not in {e["id"] for e in refused["excluded"]}
    assert not [e for e in refused["excluded"]
                if e["study_key"] == MAPP1 and "risk of bias" in e["reason"]]


def test_the_filter_changes_the_inputs_exactly_as_judged(client, curator, ids):
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    judge(client, curator, ids[MAPP2], rob2("SOME_CONCERNS",
                                            missing_outcome_data="SOME_CONCERNS"))
    judge(client, curator, ids[POOLED], rob2("HIGH", randomization_process="HIGH"))
    assert meta(client, THREE)["k"] == 3
    kept = meta(client, {**THREE, "max_risk_of_bias": "SOME_CONCERNS"})
    assert kept["k"] == 2 and keys(kept["studies"]) == [MAPP1, MAPP2]
    assert reason_of(kept, POOLED) == "risk of bias HIGH above the maximum SOME_CONCERNS"
    (pooled_out,) = [e for e in kept["excluded"] if e["study_key"] == POOLED]
    assert pooled_out["risk_of_bias"] == {"tool": "ROB2", "overall": "HIGH"}
    plain = meta(client, {**THREE, "study": f"{MAPP1},{MAPP2}"})
    assert kept["estimate"] == pytest.approx(plain["estimate"], abs=1e-12)
    assert kept["ci_low"] == pytest.approx(plain["ci_low"], abs=1e-12)
    assert {s["study_key"]: s["risk_of_bias"]["overall"] for s in kept["studies"]} == {
        MAPP1: "LOW", MAPP2: "SOME_CONCERNS"}
    assert meta(client, {**THREE, "max_risk_of_bias": "HIGH"})["k"] == 3
    strict = meta(client, {**THREE, "max_risk_of_bias": "LOW"}, 422)
    assert reason_of(strict, MAPP2) == "risk of bias SOME_CONCERNS above the maximum LOW"
    assert reason_of(strict, POOLED) == "risk of bias HIGH above the maximum LOW"


def test_not_assessed_and_no_information_are_left_out_with_their_reasons(
        client, curator, ids):
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    judge(client, curator, ids[POOLED], robins(
        "NO_INFORMATION", bias_due_to_missing_data="NO_INFORMATION"))
    answer = meta(client, {**THREE, "max_risk_of_bias": "HIGH"}, 422)
    assert reason_of(answer, MAPP2) == "not assessed for risk of bias"
    assert reason_of(answer, POOLED) == ("risk of bias NO_INFORMATION (ROBINS_I) is on no "
                                         "level of the scale, so not at most HIGH")
    # without the filter nothing is left out for its risk of bias
    assert meta(client, THREE)["k"] == 3


def test_robins_i_judgements_are_placed_on_the_rob2_scale(client, curator, ids):
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    judge(client, curator, ids[MAPP2], rob2("LOW"))
    judge(client, curator, ids[POOLED], robins("SERIOUS", bias_due_to_confounding="SERIOUS"))
    answer = meta(client, {**THREE, "max_risk_of_bias": "SOME_CONCERNS"})
    assert reason_of(answer, POOLED) == ("risk of bias SERIOUS (ROBINS_I: HIGH on RoB 2) "
                                         "above the maximum SOME_CONCERNS")
    judge_again(client, curator, ids[POOLED], robins("MODERATE",
                                                     bias_due_to_confounding="MODERATE"))
    assert meta(client, {**THREE, "max_risk_of_bias": "SOME_CONCERNS"})["k"] == 3
    assert reason_of(meta(client, {**THREE, "max_risk_of_bias": "LOW"}), POOLED) == (
        "risk of bias MODERATE (ROBINS_I: SOME_CONCERNS on RoB 2) above the maximum LOW")


def judge_again(client, curator, effect_id: int, body: dict[str, Any]) -> None:
    path = f"{API}/outcomes/{effect_id}/risk-of-bias"
    etag = client.get(path).headers["ETag"]
    response = client.put(path, json={**body, "sources": SOURCE},
                          headers={**curator, "If-Match": etag})
    assert response.status_code == 200, response.text


# ------------------------------------------------------------------ sensitivity


def test_sensitivity_answers_both_estimates_side_by_side(client, curator, ids):
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    judge(client, curator, ids[MAPP2], rob2("SOME_CONCERNS",
                                            measurement_of_the_outcome="SOME_CONCERNS"))
    judge(client, curator, ids[POOLED], rob2("HIGH", selection_of_the_reported_result="HIGH"))
    answer = meta(client, {**THREE, "sensitivity": "risk_of_bias"})
    plain = meta(client, THREE)
    assert answer["k"] == 3 and answer["estimate"] == pytest.approx(plain["estimate"])
    restricted = meta(client, {**THREE, "study": f"{MAPP1},{MAPP2}"})
    s = answer["sensitivity"]
    assert s["by"] == "risk_of_bias" and s["max_risk_of_bias"] == "SOME_CONCERNS"
    assert s["left_out"] == [POOLED] and s["k"] == 2 and s["reason"] is None
    for name in ("estimate", "se", "ci_low", "ci_high", "p_value", "tau2", "i2"):
        assert s[name] == pytest.approx(restricted[name], abs=1e-12), name
    assert s["estimate"] != pytest.approx(answer["estimate"], abs=1e-6)
    assert set(s["excluded_levels"]) == {"HIGH", "SERIOUS", "CRITICAL", "NO_INFORMATION",
                                         "NOT_ASSESSED"}
    assert any(w.startswith("sensitivity:") for w in answer["warnings"])
    assert "sensitivity" not in plain or plain["sensitivity"] is None


def test_sensitivity_leaves_unassessed_estimates_out_too(client, curator, ids):
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    judge(client, curator, ids[MAPP2], rob2("LOW"))
    s = meta(client, {**THREE, "sensitivity": "risk_of_bias"})["sensitivity"]
    assert s["left_out"] == [POOLED] and s["k"] == 2


def test_sensitivity_with_too_few_left_says_so_instead_of_failing(client, curator, ids):
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    judge(client, curator, ids[MAPP2], rob2("HIGH", missing_outcome_data="HIGH"))
    answer = meta(client, {**PHASE3, "sensitivity": "risk_of_bias"})
    assert answer["k"] == 2
    s = answer["sensitivity"]
    assert s["k"] == 1 and s["estimate"] is None and s["ci_low"] is None
    assert s["left_out"] == [MAPP2]
    assert "needs at least two" in s["reason"]


def test_sensitivity_follows_a_stricter_maximum(client, curator, ids):
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    judge(client, curator, ids[MAPP2], rob2("LOW"))
    judge(client, curator, ids[POOLED], rob2("SOME_CONCERNS",
                                             missing_outcome_data="SOME_CONCERNS"))
    s = meta(client, {**THREE, "sensitivity": "risk_of_bias"})["sensitivity"]
    assert s["left_out"] == [] and s["k"] == 3
    s = meta(client, {**THREE, "sensitivity": "risk_of_bias",
                      "max_risk_of_bias": "SOME_CONCERNS"})["sensitivity"]
    assert s["max_risk_of_bias"] == "SOME_CONCERNS" and s["k"] == 3


# ------------------------------------------------------------------ forest plot


def forest(client, params: dict[str, Any]) -> ET.Element:
    response = client.get(f"{API}/meta-analysis/forest.svg", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    return ET.fromstring(response.text)


def rob_rows(root: ET.Element) -> dict[int, dict[str, tuple[str, str]]]:
    """Per row (estimate id), each cell's domain → (judgement, fill)."""
    out: dict[int, dict[str, tuple[str, str]]] = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "rob-row":
            out[int(g.get("data-id", "0"))] = {
                c.get("data-domain", ""): (c.get("data-judgement", ""), c.get("fill", ""))
                for c in g.iter(f"{SVG}circle")}
    return out


def test_forest_plot_draws_the_traffic_lights_as_judged(client, curator, ids):
    stored = {
        MAPP1: judge(client, curator, ids[MAPP1], rob2("LOW")),
        MAPP2: judge(client, curator, ids[MAPP2], rob2(
            "HIGH", deviations_from_intended_interventions="HIGH",
            measurement_of_the_outcome="SOME_CONCERNS")),
    }
    root = forest(client, THREE)
    rows = rob_rows(root)
    assert set(rows) == {ids[MAPP1], ids[MAPP2], ids[POOLED]}
    for key, body in stored.items():
        cells = rows[ids[key]]
        assert list(cells) == [*ROB2_DOMAINS, "overall"]
        for domain in ROB2_DOMAINS:
            judgement = body["domains"][domain]["judgement"]
            assert cells[domain] == (judgement, COLOURS[judgement]), (key, domain)
        assert cells["overall"] == (body["overall"], COLOURS[body["overall"]])
    assert rows[ids[MAPP2]]["deviations_from_intended_interventions"] == ("HIGH", "#d0312d")
    assert rows[ids[MAPP2]]["measurement_of_the_outcome"] == ("SOME_CONCERNS", "#f2c12e")
    assert rows[ids[POOLED]] == {"overall": ("NOT_ASSESSED", "none")}
    headers = [t.text for g in root.iter(f"{SVG}g") if g.get("class") == "rob-header"
               for t in g.iter(f"{SVG}text")]
    assert headers == ["D1", "D2", "D3", "D4", "D5", "Overall"]
    legend = " ".join(t.text or "" for g in root.iter(f"{SVG}g")
                      if g.get("class") == "rob-legend" for t in g.iter(f"{SVG}text"))
    assert "D2 deviations from intended interventions" in legend
    assert "Not assessed" in legend and "ROBINS-I" not in legend
    assert int(root.get("width", "0")) > 800


def test_robins_i_rows_get_seven_domain_columns(client, curator, ids):
    body = judge(client, curator, ids[POOLED], robins(
        "CRITICAL", bias_due_to_confounding="CRITICAL",
        bias_in_measurement_of_outcomes="NO_INFORMATION"))
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    root = forest(client, THREE)
    rows = rob_rows(root)
    cells = rows[ids[POOLED]]
    assert list(cells) == [*ROBINS_DOMAINS, "overall"]
    for domain in ROBINS_DOMAINS:
        judgement = body["domains"][domain]["judgement"]
        assert cells[domain] == (judgement, COLOURS[judgement]), domain
    assert cells["overall"] == ("CRITICAL", "#7a0a0a")
    assert cells["bias_in_measurement_of_outcomes"] == ("NO_INFORMATION", "#9e9e9e")
    assert len(rows[ids[MAPP1]]) == 6
    headers = [t.text for g in root.iter(f"{SVG}g") if g.get("class") == "rob-header"
               for t in g.iter(f"{SVG}text")]
    assert headers == ["D1", "D2", "D3", "D4", "D5", "D6", "D7", "Overall"]


def test_a_plot_without_assessments_keeps_its_layout(client):
    response = client.get(f"{API}/meta-analysis/forest.svg", params=PHASE3)
    root = ET.fromstring(response.text)
    assert root.get("width") == "800"
    assert "rob-" not in response.text


def test_forest_plot_obeys_the_filter(client, curator, ids):
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    judge(client, curator, ids[MAPP2], rob2("LOW"))
    judge(client, curator, ids[POOLED], rob2("HIGH", randomization_process="HIGH"))
    root = forest(client, {**THREE, "max_risk_of_bias": "LOW"})
    assert set(rob_rows(root)) == {ids[MAPP1], ids[MAPP2]}


# ------------------------------------------------------------------ /outcomes


def listed(client, params: dict[str, Any]) -> list[str]:
    response = client.get(f"{API}/outcomes", params={**THREE, "origin": "REPORTED", **params})
    assert response.status_code == 200, response.text
    return keys(response.json()["items"])


def test_outcomes_filter_keeps_each_level_and_below(client, curator, ids):
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    judge(client, curator, ids[MAPP2], rob2("SOME_CONCERNS",
                                            randomization_process="SOME_CONCERNS"))
    judge(client, curator, ids[POOLED], robins("SERIOUS", bias_due_to_confounding="SERIOUS"))
    assert listed(client, {}) == [MAPP1, MAPP2, POOLED]
    assert listed(client, {"max_risk_of_bias": "LOW"}) == [MAPP1]
    assert listed(client, {"max_risk_of_bias": "SOME_CONCERNS"}) == [MAPP1, MAPP2]
    assert listed(client, {"max_risk_of_bias": "HIGH"}) == [MAPP1, MAPP2, POOLED]
    judge_again(client, curator, ids[MAPP1], rob2("HIGH", randomization_process="HIGH"))
    assert listed(client, {"max_risk_of_bias": "LOW"}) == []
    assert listed(client, {"max_risk_of_bias": "SOME_CONCERNS"}) == [MAPP2]


def test_outcomes_filter_leaves_out_unassessed_and_no_information(client, curator, ids):
    judge(client, curator, ids[MAPP1], robins("NO_INFORMATION",
                                              bias_due_to_missing_data="NO_INFORMATION"))
    judge(client, curator, ids[MAPP2], robins("LOW"))
    assert listed(client, {"max_risk_of_bias": "HIGH"}) == [MAPP2]
    # computed estimates of the same comparisons are not assessed: never listed
    response = client.get(f"{API}/outcomes", params={"max_risk_of_bias": "HIGH",
                                                    "page_size": 1000})
    assert [r["id"] for r in response.json()["items"]] == [ids[MAPP2]]


def test_outcomes_filter_pages_in_sql(client, curator, ids):
    """Keyset pages of one row each: the filter runs before the page is cut, so no page is
    short of a row the next one holds."""
    for key in (MAPP1, MAPP2, POOLED):
        judge(client, curator, ids[key], rob2("LOW"))
    seen: list[int] = []
    params: dict[str, Any] = {"max_risk_of_bias": "LOW", "page_size": 1,
                              "include_retracted": "true"}
    while True:
        page = client.get(f"{API}/outcomes", params=params).json()
        assert len(page["items"]) == 1
        seen.append(page["items"][0]["id"])
        if not page["next_page_token"]:
            break
        params["page_token"] = page["next_page_token"]
    assert seen == sorted(ids.values())


# ------------------------------------------------------------------ network, durability


def test_network_leaves_out_what_the_filter_does(client, curator, ids):
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    judge(client, curator, ids[MAPP2], rob2("LOW"))
    judge(client, curator, ids[POOLED], rob2("HIGH", randomization_process="HIGH"))
    params = {**THREE, "max_risk_of_bias": "SOME_CONCERNS"}
    response = client.get(f"{API}/network-meta-analysis", params=params)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert sorted(s["study_key"] for s in answer["studies"]) == [MAPP1, MAPP2]
    assert reason_of(answer, POOLED) == "risk of bias HIGH above the maximum SOME_CONCERNS"
    full = client.get(f"{API}/network-meta-analysis", params=THREE).json()
    assert POOLED in {s["study_key"] for s in full["studies"]}
    for path in ("network.svg", "league.csv"):
        assert client.get(f"{API}/network-meta-analysis/{path}",
                          params=params).status_code == 200


def test_durability_keeps_the_scores_of_judged_comparisons(client, curator, ids):
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    judge(client, curator, ids[MAPP2], rob2("HIGH", randomization_process="HIGH"))
    params = {"study": f"{MAPP1},{MAPP2}", "instrument": "CAPS-5"}
    full = client.get(f"{API}/durability", params=params).json()
    low = client.get(f"{API}/durability", params={**params, "max_risk_of_bias": "LOW"})
    assert low.status_code == 200, low.text
    answer = low.json()
    assert [s["study_key"] for s in answer["studies"]] == [MAPP1]
    (mapp1,) = answer["studies"]
    (mapp1_full,) = [s for s in full["studies"] if s["study_key"] == MAPP1]
    kept = {(se["arm"], p["timepoint"]) for se in mapp1["series"] for p in se["points"]}
    # the judged comparison's two arms at its timepoint, with their baselines
    endpoint = "primary endpoint (18 weeks post-baseline)"
    assert {t for _, t in kept} <= {endpoint} | {
        t["label"] for t in mapp1_full["timepoints"] if t["role"] == "BASELINE"}
    assert {arm for arm, t in kept if t == endpoint} == {"MDMA-assisted therapy",
                                                         "Placebo with therapy"}
    left = answer["excluded"]["risk_of_bias"]
    reasons = {r["reason"] for r in left["results"]}
    assert reasons <= {"not assessed for risk of bias",
                       "risk of bias HIGH above the maximum LOW"}
    assert {r["study_key"] for r in left["results"]
            if r["reason"].startswith("risk of bias HIGH")} == {MAPP2}
    total = sum(len(p["points"]) for s in full["studies"] for p in s["series"])
    assert left["count"] + sum(len(p["points"]) for p in mapp1["series"]) == total
    plot = client.get(f"{API}/durability.svg", params={**params, "max_risk_of_bias": "LOW"})
    assert plot.status_code == 200
    ET.fromstring(plot.text)


# ------------------------------------------------------------------ facets


def rob_facet(client, query: str = "") -> dict[str, int]:
    response = client.get(f"{API}/stats/facets?facet=risk_of_bias&{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert "risk_of_bias" not in body["params"]
    return {v["value"]: v["count"] for v in body["facets"]["risk_of_bias"]}


def test_facet_counts_studies_by_overall_judgement(client, curator, ids, connection):
    # 11 seed studies have effect estimates, none assessed
    assert rob_facet(client) == {"NOT_ASSESSED": 11}
    assert connection.execute(text(
        "SELECT COUNT(DISTINCT study_id) FROM effect_estimate")).scalar() == 11
    judge(client, curator, ids[MAPP1], rob2("LOW"))
    judge(client, curator, ids[MAPP2], rob2("HIGH", randomization_process="HIGH"))
    judge(client, curator, ids[POOLED], robins("SERIOUS", bias_due_to_confounding="SERIOUS"))
    assert rob_facet(client) == {"NOT_ASSESSED": 8, "LOW": 1, "HIGH": 1, "SERIOUS": 1}
    # a second effect of MAPP1 judged otherwise counts MAPP1 under both judgements
    others = client.get(f"{API}/outcomes", params={"study": MAPP1, "origin": "COMPUTED",
                                                  "page_size": 1}).json()["items"]
    judge(client, curator, others[0]["id"], rob2("SOME_CONCERNS",
                                                 missing_outcome_data="SOME_CONCERNS"))
    assert rob_facet(client) == {"NOT_ASSESSED": 8, "LOW": 1, "HIGH": 1, "SERIOUS": 1,
                                 "SOME_CONCERNS": 1}
    assert rob_facet(client, "phase=PHASE3") == {"LOW": 1, "HIGH": 1, "SOME_CONCERNS": 1}


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("path", [
    "/outcomes", "/meta-analysis", "/meta-analysis/forest.svg", "/network-meta-analysis",
    "/network-meta-analysis/league.csv", "/durability", "/durability.svg"])
def test_an_unknown_level_is_a_422_problem(client, path):
    response = client.get(f"{API}{path}?max_risk_of_bias=MEDIUM")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert any("max_risk_of_bias" in e["loc"] for e in response.json()["errors"])


def test_an_unknown_sensitivity_is_a_422_problem(client):
    response = client.get(f"{API}/meta-analysis?sensitivity=retraction&instrument=CAPS-5")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_a_pooled_estimate_is_finite_under_every_level(client, curator, ids):
    for key in (MAPP1, MAPP2, POOLED):
        judge(client, curator, ids[key], rob2("LOW"))
    for level in ("LOW", "SOME_CONCERNS", "HIGH"):
        answer = meta(client, {**THREE, "max_risk_of_bias": level})
        assert answer["k"] == 3 and math.isfinite(answer["estimate"])
