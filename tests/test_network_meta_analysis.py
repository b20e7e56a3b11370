"""Network meta-analysis: equal to metafor on Senn 2013 and on the seed's PTSD network.

The fixtures in tests/fixtures/netma come from R (generate.py runs netma.R: metafor's rma.mv
for the fixed-effect and the REML random-effects models, the generalised DerSimonian–Laird τ²
hand-coded and fixed in rma.mv, and hand-coded P-scores, Q decomposition and
back-calculation), so no R is needed here.
"""

from __future__ import annotations

import csv
import io
import json
import math
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from app.services.network_answer import _split
from app.services.network_model import Contrast, Model, StudyBlock, p_scores, within_design_q
from app.services.network_svg import league_csv
from tests.evidence_helpers import API

TOL = 1e-6
HERE = Path(__file__).resolve().parent / "fixtures" / "netma"
SENN = json.loads((HERE / "senn2013.json").read_text())["sets"]["senn2013"]
SEED = json.loads((HERE / "seed_ptsd.json").read_text())["sets"]
MODELS = {"fixed": "model=fixed", "random": "model=random&method_tau=REML",
          "dl": "model=random&method_tau=DL"}
NETWORK = f"{API}/network-meta-analysis"
CAPS_D = "effect_type=COHENS_D&instrument=CAPS-5&instrument=CAPS-IV"
MD_ALL = "effect_type=MEAN_DIFFERENCE&include_retracted=true"


def senn_blocks() -> list[StudyBlock]:
    by_study: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in SENN["contrasts"]:
        by_study[c["study"]].append(c)
    return [StudyBlock(study, [Contrast(c["first"], c["second"], c["yi"]) for c in cs],
                       [[c["vi"] if i == j else c["shared"] for j in range(len(cs))]
                        for i, c in enumerate(cs)])
            for study, cs in by_study.items()]


def r_value(r: dict[str, float], model: str, part: str, a: str, b: str, what: str) -> float:
    """A pairwise value of the R fixture, whichever order R listed the pair in."""
    key = f"{model}|{part}|{a}|{b}|{what}"
    if key in r:
        return r[key]
    flipped = r[f"{model}|{part}|{b}|{a}|{what}"]
    return -flipped if what == "estimate" else flipped


def test_senn_contrasts_are_built_from_the_exported_arms_as_the_fixture_says() -> None:
    with (HERE / "senn2013.csv").open() as f:
        rows = list(csv.DictReader(f))
    built = []
    for study in dict.fromkeys(r["study"] for r in rows):
        arms = [r for r in rows if r["study"] == study]
        base = arms[0]
        shared = float(base["sdi"]) ** 2 / int(base["ni"])
        built += [(study, a["treatment"], base["treatment"],
                   float(a["mi"]) - float(base["mi"]),
                   float(a["sdi"]) ** 2 / int(a["ni"]) + shared, shared) for a in arms[1:]]
    stored = [(c["study"], c["first"], c["second"], c["yi"], c["vi"], c["shared"])
              for c in SENN["contrasts"]]
    assert len(built) == len(stored) == 27  # 26 studies, one of them with three arms
    for b, s in zip(built, stored, strict=True):
        assert b[:3] == s[:3]
        assert b[3:] == pytest.approx(s[3:], abs=1e-12)


@pytest.mark.parametrize("model", ["fixed", "random", "dl"])
def test_senn_2013_equals_metafor_in_every_league_cell_tau2_and_p_score(model: str) -> None:
    r = SENN["r"]
    blocks = senn_blocks()
    names = sorted({n for b in blocks for n in b.nodes})
    net = Model(blocks, ["placebo"] + [n for n in names if n != "placebo"])
    tau2 = {"fixed": 0.0, "random": net.tau2_reml(), "dl": net.tau2_dl()}[model]
    assert tau2 == pytest.approx(r[f"{model}|tau2"], abs=TOL)
    fit = net.fit(tau2)
    cells = 0
    for a in names:
        for b in names:
            if a != b:
                est, var = net.effect(fit, a, b)
                assert est == pytest.approx(r_value(r, model, "league", a, b, "estimate"), abs=TOL)
                assert math.sqrt(var) == pytest.approx(r_value(r, model, "league", a, b, "se"),
                                                       abs=TOL)
                cells += 1
    assert cells == 90
    for name, score in p_scores(net, fit, higher_better=False).items():
        assert score == pytest.approx(r[f"{model}|p_score|{name}"], abs=TOL)


def test_senn_2013_q_splits_into_within_and_between_designs_as_metafor() -> None:
    r = SENN["r"]
    blocks = senn_blocks()
    net = Model(blocks, sorted({n for b in blocks for n in b.nodes}))
    q_within, df_within = within_design_q(blocks)
    assert net.fit(0.0).quad == pytest.approx(r["q_total"], abs=TOL)
    assert (net.df, df_within) == (r["df_total"], r["df_within"]) == (18, 11)
    assert q_within == pytest.approx(r["q_within"], abs=TOL)
    assert net.fit(0.0).quad - q_within == pytest.approx(r["q_between"], abs=TOL)


@pytest.mark.parametrize("model", ["fixed", "random", "dl"])
def test_senn_2013_direct_and_indirect_evidence_equal_the_r_back_calculation(model: str) -> None:
    r = SENN["r"]
    blocks = senn_blocks()
    names = sorted({n for b in blocks for n in b.nodes})
    net = Model(blocks, ["placebo"] + [n for n in names if n != "placebo"])
    fit = net.fit({"fixed": 0.0, "random": net.tau2_reml(), "dl": net.tau2_dl()}[model])
    split = _split(net, fit, blocks, 1.96, ratio=False)
    assert len(split) == len([k for k in r if k.startswith(f"{model}|direct|")
                              and k.endswith("|estimate")])
    for row in split:
        a, b = row["treatment"], row["comparator"]
        assert row["direct"]["estimate"] == pytest.approx(
            r_value(r, model, "direct", a, b, "estimate"), abs=TOL)
        assert row["direct"]["se"] == pytest.approx(r_value(r, model, "direct", a, b, "se"),
                                                    abs=TOL)
        proportion = r.get(f"{model}|direct|{a}|{b}|proportion",
                           r.get(f"{model}|direct|{b}|{a}|proportion"))
        assert row["direct_proportion"] == pytest.approx(min(proportion, 1.0), abs=TOL)
        if row["indirect"] is None:
            assert proportion > 1 - 1e-6
            continue
        assert row["indirect"]["estimate"] == pytest.approx(
            r_value(r, model, "indirect", a, b, "estimate"), abs=TOL)
        assert row["indirect"]["se"] == pytest.approx(
            r_value(r, model, "indirect", a, b, "se"), abs=TOL)


def _check_against_r(body: dict[str, Any], r: dict[str, float], model: str) -> None:
    assert body["tau2"] == pytest.approx(r[f"{model}|tau2"], abs=TOL)
    names = body["treatments"]
    assert len(body["league"]) == len(names) * (len(names) - 1)
    for cell in body["league"]:
        a, b = cell["treatment"], cell["comparator"]
        assert cell["estimate"] == pytest.approx(r_value(r, model, "league", a, b, "estimate"),
                                                 abs=TOL)
        assert cell["se"] == pytest.approx(r_value(r, model, "league", a, b, "se"), abs=TOL)
    for row in body["p_scores"]:
        assert row["p_score"] == pytest.approx(r[f"{model}|p_score|{row['treatment']}"],
                                               abs=TOL)
    het = body["heterogeneity"]
    assert het["q"] == pytest.approx(r["q_total"], abs=TOL)
    assert het["within_designs"]["q"] == pytest.approx(r["q_within"], abs=TOL)
    assert het["between_designs"]["q"] == pytest.approx(r["q_between"], abs=TOL)
    for row in body["direct_indirect"]:
        a, b = row["treatment"], row["comparator"]
        assert row["direct"]["estimate"] == pytest.approx(
            r_value(r, model, "direct", a, b, "estimate"), abs=TOL)


@pytest.mark.parametrize("name", sorted(SEED))
@pytest.mark.parametrize("model", sorted(MODELS))
def test_seed_ptsd_network_equals_metafor(client: Any, name: str, model: str) -> None:
    fixture = SEED[name]
    response = client.get(f"{NETWORK}?{fixture['query']}&{MODELS[model]}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["reference"] == fixture["reference"] == "Placebo + Psychotherapy"
    _check_against_r(body, fixture["r"], model)


def test_the_seed_network_lists_what_each_node_merged_and_warns_of_the_merge(client: Any) -> None:
    body = client.get(f"{NETWORK}?{SEED['caps_cohens_d_merged']['query']}").json()
    assert body["treatments"] == ["Placebo + Psychotherapy", "MDMA + Psychotherapy"]
    placebo = next(n for n in body["nodes"] if n["name"] == "Placebo + Psychotherapy")
    assert placebo["treatments"] == ["Placebo + Psychotherapy", "MDMA + Placebo + Psychotherapy"]
    assert {(a["study_key"], a["arm"]) for a in placebo["arms"]} == {
        ("NCT03537014", "Placebo with therapy"), ("NCT04077437", "Placebo with therapy"),
        ("mithoefer-2019-pooled", "Control (0-40 mg)")}
    assert any("merges different treatments" in w and "MDMA + Placebo + Psychotherapy" in w
               for w in body["warnings"])
    unmerged = client.get(f"{NETWORK}?{SEED['caps_cohens_d']['query']}").json()
    assert unmerged["n_treatments"] == 3
    assert unmerged["warnings"] == [
        "placebo or sham comparators are in different nodes (MDMA + Placebo + Psychotherapy; "
        "Placebo + Psychotherapy): they are different treatments unless merged, e.g. "
        "merge=MDMA + Placebo + Psychotherapy,Placebo + Psychotherapy"]
    assert unmerged["edges"] == [
        {"treatment1": "MDMA + Placebo + Psychotherapy", "treatment2": "MDMA + Psychotherapy",
         "k": 1, "studies": ["mithoefer-2019-pooled"]},
        {"treatment1": "MDMA + Psychotherapy", "treatment2": "Placebo + Psychotherapy",
         "k": 2, "studies": ["NCT03537014", "NCT04077437"]}]


def test_outcome_names_choose_the_estimates(client: Any) -> None:
    name = quote("CAPS-5 total severity change")
    body = client.get(f"{NETWORK}?effect_type=COHENS_D&outcome={name}"
                      "&include_retracted=true").json()
    assert sorted(s["study_key"] for s in body["studies"]) == ["NCT03537014", "NCT04077437"]
    assert body["n_treatments"] == 2


def test_retracted_estimates_are_left_out_unless_asked_for_and_named(client: Any) -> None:
    body = client.get(f"{NETWORK}?{CAPS_D}").json()
    assert body["include_retracted"] is False
    assert body["treatments"] == ["MDMA + Psychotherapy", "Placebo + Psychotherapy"]
    left = [e for e in body["excluded"] if e["study_key"] == "mithoefer-2019-pooled"]
    assert left and left[0]["reason"].startswith("retracted")
    assert left[0]["include_with"] == "include_retracted=true"
    assert left[0]["retracted_publications"]


def test_a_disconnected_network_is_a_422_naming_its_sub_networks(client: Any) -> None:
    response = client.get(f"{NETWORK}?{MD_ALL}")
    assert response.status_code == 422
    problem = response.json()
    assert problem["components"] == [
        {"treatments": ["MDMA + Placebo + Psychotherapy", "MDMA + Psychotherapy"],
         "studies": ["mithoefer-2019-pooled"]},
        {"treatments": ["Placebo", "Sertraline"], "studies": ["brady-2000-sertraline"]}]
    assert "disconnected" in problem["detail"] and "{Placebo, Sertraline}" in problem["detail"]


def test_a_selection_with_no_usable_contrast_says_so_rather_than_asking_for_a_type(
        client: Any) -> None:
    # The seed's CAPS-IV mean differences are a p-value-only contrast and within-arm changes.
    response = client.get(f"{NETWORK}?instrument=CAPS-IV&effect_type=MEAN_DIFFERENCE")
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"].startswith("no estimate of this selection can join a network")
    assert problem["excluded"] and all(e["reason"] for e in problem["excluded"])
    assert "reported by its p-value alone" in {e["reason"].split(":")[0]
                                               for e in problem["excluded"]}


def test_a_placebo_merge_connects_the_network(client: Any) -> None:
    merge = quote("Placebo,Control (0-40 mg),Placebo with therapy")
    response = client.get(f"{NETWORK}?{MD_ALL}&merge={merge}&model=fixed")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["reference"] == "Placebo"
    assert body["treatments"] == ["Placebo", "MDMA + Psychotherapy", "Sertraline"]
    cell = next(c for c in body["league"] if c["treatment"] == "Sertraline"
                and c["comparator"] == "MDMA + Psychotherapy")
    assert cell["estimate"] == pytest.approx(-9.8 - (-22.0))
    assert any("Placebo with therapy" in w for w in body["warnings"])


@pytest.mark.parametrize("query", [
    "effect_type=COHENS_D&model=bayesian", "effect_type=COHENS_D&method_tau=PM",
    "effect_type=COHENS_D&colour=red", f"{CAPS_D}&reference=Sertraline",
    "intervention=MDMA", "effect_type=COHENS_D&instrument=CAPS-5&study=NCT03537014&outcome="
    + quote("no such outcome")])
def test_bad_requests_are_422_problems(client: Any, query: str) -> None:
    response = client.get(f"{NETWORK}?{query}")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_graph_is_an_svg_with_edge_width_by_number_of_studies(client: Any) -> None:
    response = client.get(f"{NETWORK}/network.svg?{SEED['caps_cohens_d']['query']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    svg = ET.fromstring(response.content)
    ns = {"s": "http://www.w3.org/2000/svg"}
    widths = sorted(float(e.get("stroke-width", 0)) for e in svg.findall("s:line", ns))
    assert widths == [4.0, 6.5]
    assert len(svg.findall("s:circle", ns)) == 3
    texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "MDMA + Placebo + Psychotherapy" in texts


def test_the_league_table_csv_is_square_and_spreadsheet_safe(client: Any) -> None:
    response = client.get(f"{NETWORK}/league.csv?{SEED['caps_cohens_d']['query']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["treatment", "Placebo + Psychotherapy", "MDMA + Placebo + Psychotherapy",
                       "MDMA + Psychotherapy"]
    assert rows[3][1].startswith("0.795 (")
    long = client.get(f"{NETWORK}/league.csv?{SEED['caps_cohens_d']['query']}&layout=long")
    cells = list(csv.DictReader(io.StringIO(long.text)))
    assert len(cells) == 6 and cells[0].keys() == {
        "treatment", "comparator", "estimate", "se", "ci_low", "ci_high", "p_value"}
    assert all(not c["estimate"].startswith("'") for c in cells)
    fake = {"treatments": ["=cmd", "B"], "scale": "identity", "league": [
        {"treatment": "=cmd", "comparator": "B", "estimate": 1.0, "ci_low": 0.0, "ci_high": 2.0},
        {"treatment": "B", "comparator": "=cmd", "estimate": -1.0, "ci_low": -2.0,
         "ci_high": 0.0}]}
    table = list(csv.reader(io.StringIO(league_csv(fake))))
    assert table[0] == ["treatment", "'=cmd", "B"] and table[1][0] == "'=cmd"


def test_the_graph_escapes_every_text() -> None:
    from app.services.network_svg import render
    name = '<script>alert("x")</script>'
    svg = render({"effect_type": "COHENS_D", "model": "fixed", "method_tau": None, "tau2": 0.0,
                  "k": 1, "n_treatments": 2, "edges": [
                      {"treatment1": name, "treatment2": "B", "k": 1, "studies": [name]}],
                  "nodes": [{"name": name, "p_score": 0.5}, {"name": "B", "p_score": 0.5}]})
    assert "<script>" not in svg
    ET.fromstring(svg)


def _counted_study(key: str, nct: str, arms: list[tuple[str, str, str, int, int]]
                   ) -> dict[str, Any]:
    from tests.builders import study_document

    src = [{"publication": "main", "locator": "Table 2"}]
    return study_document(
        key, nct,
        arms=[{"label": label, "arm_type": kind, "n_randomized": total,
               "interventions": [{"name": drug}], "sources": src}
              for label, kind, drug, _, total in arms],
        outcome_measures=[{
            "name": "network test response", "role": "PRIMARY", "lower_is_better": False,
            "results": [{"arm": label, "timepoint": "12 months", "count": events,
                         "denominator": total, "sources": src}
                        for label, _, _, events, total in arms],
            "effects": []}])


def test_a_multi_arm_study_is_fitted_with_the_shared_arms_covariance(
        app: Any, client: Any, curator: dict[str, str]) -> None:
    from fastapi.testclient import TestClient

    # the writes are the set-up; the answers checked here are the network's
    with TestClient(app) as writer:
        for doc in (_counted_study("nma-three-arm", "NCT09999951", [
                ("Testamine arm", "EXPERIMENTAL", "Testamine", 15, 30),
                ("Otheramine arm", "EXPERIMENTAL", "Otheramine", 10, 30),
                ("Placebo arm", "PLACEBO_COMPARATOR", "Placebo", 6, 30)]),
                    _counted_study("nma-two-arm", "NCT09999952", [
                ("Testamine", "EXPERIMENTAL", "Testamine", 12, 25),
                ("Otheramine", "ACTIVE_COMPARATOR", "Otheramine", 9, 25)])):
            created = writer.post(f"{API}/studies", json=doc, headers=curator)
            assert created.status_code == 201, created.text
    query = ("study=nma-three-arm&study=nma-two-arm&effect_type=RISK_RATIO"
             f"&outcome={quote('network test response')}&reference=Placebo")
    shared = 1 / 6 - 1 / 30
    blocks = [
        StudyBlock("nma-three-arm", [
            Contrast("Testamine", "Placebo", math.log(15 / 6)),
            Contrast("Otheramine", "Placebo", math.log(10 / 6))],
            [[1 / 15 - 1 / 30 + shared, shared], [shared, 1 / 10 - 1 / 30 + shared]]),
        StudyBlock("nma-two-arm", [Contrast("Testamine", "Otheramine", math.log(12 / 9))],
                   [[1 / 12 - 1 / 25 + 1 / 9 - 1 / 25]])]
    net = Model(blocks, ["Placebo", "Otheramine", "Testamine"])
    for model, tau2 in (("fixed", 0.0), ("random", net.tau2_reml()), ("dl", net.tau2_dl())):
        response = client.get(f"{NETWORK}?{query}&{MODELS[model]}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["tau2"] == pytest.approx(tau2, abs=1e-9)
        three = next(s for s in body["studies"] if s["study_key"] == "nma-three-arm")
        assert three["covariance"][0][1] == pytest.approx(shared, abs=1e-12)
        fit = net.fit(tau2)
        for cell in body["league"]:
            est, var = net.effect(fit, cell["treatment"], cell["comparator"])
            assert cell["estimate"] == pytest.approx(est, abs=1e-9)
            assert cell["se"] == pytest.approx(math.sqrt(var), abs=1e-9)
            assert cell["exponentiated"]["estimate"] == pytest.approx(math.exp(est))
    assert body["heterogeneity"]["between_designs"]["df"] == 1


EXPORT = f"{API}/export/effects.csv"
MDMA_PHASE3 = "intervention=MDMA&phase=PHASE3&instrument=CAPS-5&effect_type=COHENS_D"


def _csv_rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_the_metafor_layout_is_what_metafor_pooled_into_the_apis_answer(client: Any) -> None:
    fixture = json.loads((HERE.parent / "metafor" / "seed_pooling.json").read_text())
    caps5 = fixture["sets"]["caps5"]
    rows = _csv_rows(client.get(f"{EXPORT}?{MDMA_PHASE3}&layout=metafor"))
    assert [r["study"] for r in rows] == [i["study"] for i in caps5["inputs"]]
    for row, given in zip(rows, caps5["inputs"], strict=True):
        n1, n2, d = given["n1"], given["n2"], given["yi"]
        assert float(row["yi"]) == pytest.approx(d, abs=1e-12)
        assert float(row["vi"]) == pytest.approx((n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2)),
                                                 abs=1e-12)
    pooled = client.get(f"{API}/meta-analysis?{MDMA_PHASE3}").json()
    assert pooled["estimate"] == pytest.approx(caps5["rma"]["estimate"], abs=TOL)
    assert pooled["se"] == pytest.approx(caps5["rma"]["se"], abs=TOL)


def test_the_netmeta_layout_is_the_data_r_fitted_for_the_seed_network(client: Any) -> None:
    with (HERE / "seed_ptsd.csv").open() as f:
        fitted = [r for r in csv.DictReader(f) if r["set"] == "caps_cohens_d_merged"]
    query = SEED["caps_cohens_d_merged"]["query"].split("&reference=")[0]  # the selection
    rows = _csv_rows(client.get(f"{EXPORT}?{query}&layout=netmeta"))
    assert [(r["studlab"], r["treat1"], r["treat2"]) for r in rows] == [
        (r["study"], r["first"], r["second"]) for r in fitted]
    for row, r in zip(rows, fitted, strict=True):
        assert float(row["TE"]) == pytest.approx(float(r["yi"]), abs=1e-12)
        assert float(row["seTE"]) ** 2 == pytest.approx(float(r["vi"]), abs=1e-12)


def test_the_export_leaves_retracted_estimates_out_unless_asked(client: Any) -> None:
    query = "effect_type=COHENS_D&instrument=CAPS-5&instrument=CAPS-IV"
    keys = {r["study"] for r in _csv_rows(client.get(f"{EXPORT}?{query}"))}
    assert keys == {"NCT03537014", "NCT04077437"}
    keys = {r["study"] for r in _csv_rows(
        client.get(f"{EXPORT}?{query}&include_retracted=true"))}
    assert "mithoefer-2019-pooled" in keys
    assert client.get(f"{EXPORT}?layout=stata").status_code == 422


def test_a_multi_arm_study_without_its_shared_arms_variance_is_a_422_naming_it(
        app: Any, client: Any, curator: dict[str, str]) -> None:
    from fastapi.testclient import TestClient

    doc = _counted_study("nma-reported", "NCT09999953", [
        ("Testamine arm", "EXPERIMENTAL", "Testamine", 15, 30),
        ("Otheramine arm", "EXPERIMENTAL", "Otheramine", 10, 30),
        ("Placebo arm", "PLACEBO_COMPARATOR", "Placebo", 6, 30)])
    src = [{"publication": "main", "locator": "Table 3"}]
    doc["outcome_measures"][0]["results"] = []
    doc["outcome_measures"][0]["effects"] = [
        {"experimental_arm": arm, "comparator_arm": "Placebo arm", "timepoint": "12 months",
         "effect_type": "SMD", "value": value, "ci_low": value - 0.5, "ci_high": value + 0.5,
         "sources": src}
        for arm, value in (("Testamine arm", 0.6), ("Otheramine arm", 0.3))]
    with TestClient(app) as writer:
        assert writer.post(f"{API}/studies", json=doc, headers=curator).status_code == 201
    response = client.get(f"{NETWORK}?study=nma-reported&effect_type=SMD")
    assert response.status_code == 422
    problem = response.json()
    assert "nma-reported" in problem["detail"] and "Placebo arm" in problem["detail"]
    assert {e["experimental_arm"] for e in problem["estimates"]} == {
        "Otheramine arm", "Testamine arm"}
