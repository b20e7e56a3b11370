"""Benefit against harm: NNT and NNH on the same arms from counted outcomes, per study and
pooled, as JSON and as an SVG (issue 13, item 2).

Expected values are worked out by hand from the counts: p = events / total, the risk
difference RD = p_E − p_C with variance p_E(1 − p_E)/n_E + p_C(1 − p_C)/n_C, its 95% CI
RD ± 1.959964·SE, and the number needed 1/|RD| with its CI from the reciprocals of the RD's
CI bounds (Altman 1998).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.builders import study_document
from tests.evidence_helpers import API, store

SVG_NS = "{http://www.w3.org/2000/svg}"
MAPP2 = "NCT04077437"
SEVERE_AE = "severe treatment-emergent adverse events"


@pytest.fixture
def writer(app: Any) -> Iterator[TestClient]:
    """A client for building test studies; the answers under test go through `client`,
    which checks each against the OpenAPI document."""
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _counted(name: str, lower_is_better: bool, timepoint: str, drug: tuple[int, int],
             placebo: tuple[int, int], role: str = "SECONDARY") -> dict[str, Any]:
    src = [{"publication": "main", "locator": "Table 3"}]
    return {"name": name, "role": role, "lower_is_better": lower_is_better, "effects": [],
            "results": [{"arm": "Drug", "timepoint": timepoint, "count": drug[0],
                         "denominator": drug[1], "sources": src},
                        {"arm": "Placebo", "timepoint": timepoint, "count": placebo[0],
                         "denominator": placebo[1], "sources": src}]}


def _trial(key: str, response: tuple[tuple[int, int], tuple[int, int]],
           harm: tuple[tuple[int, int], tuple[int, int]]) -> dict[str, Any]:
    return study_document(key, nct=None, outcome_measures=[
        _counted("response", False, "12 months", *response),
        _counted("severe adverse events", True, "12 months", *harm, role="SAFETY")])


def _get(client: Any, query: str, path: str = "benefit-risk") -> Any:
    return client.get(f"{API}/{path}?{query}")


def _answer(client: Any, query: str) -> dict[str, Any]:
    response = _get(client, query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _study(body: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in body["studies"] if s["study_key"] == key)


def _close(actual: float, expected: float, tol: float = 1e-6) -> None:
    assert actual == pytest.approx(expected, abs=tol)


def test_mapp2_nnt_and_nnh_equal_the_hand_worked_values_from_the_seeds_counts(client):
    body = _answer(client, f"study={MAPP2}&benefit=clinical%20response&harm={quote(SEVERE_AE)}")
    mapp2 = _study(body, MAPP2)
    harm = mapp2["harm"]
    # Severe TEAEs 5/53 vs 2/51: p 0.0943396 and 0.0392157, RD 0.0551239;
    # var 0.0943396·0.9056604/53 + 0.0392157·0.9607843/51 = 0.00235085, SE 0.0484856;
    # CI 0.0551239 ± 0.0950299 = −0.0399060 to 0.1501539.
    assert (harm["experimental"]["events"], harm["experimental"]["total"]) == (5, 53)
    assert (harm["comparator"]["events"], harm["comparator"]["total"]) == (2, 51)
    _close(harm["risk_difference"], 5 / 53 - 2 / 51)
    _close(harm["se"], 0.0484856)
    _close(harm["ci_low"], -0.0399060)
    _close(harm["ci_high"], 0.1501539)
    # NNH = 1/0.0551239 = 18.1409; the CI crosses 0: NNTH 1/0.1501539 = 6.6598 to ∞ to
    # NNTB 1/0.0399060 = 25.0589.
    nnh = harm["nnh"]
    assert nnh["kind"] == "NNTH" and nnh["crosses_null"] is True
    _close(nnh["value"], 18.1409396, 1e-6)
    _close(nnh["ci_low"], 6.6598340, 1e-6)
    _close(nnh["ci_high"], 25.0588764, 1e-6)
    assert nnh["wording"] == "NNTH 18.1 (95% CI NNTH 6.7 to ∞ to NNTB 25.1)"
    # Response (>= 10-point CAPS-5 reduction) at 18 weeks, 45/52 vs 29/42: p 0.8653846 and
    # 0.6904762, RD 0.1749084; var 0.8653846·0.1346154/52 + 0.6904762·0.3095238/42
    # = 0.00224024 + 0.00508857 = 0.00732881, SE 0.0856085; CI 0.1749084 ± 0.1677896
    # = 0.0071188 to 0.3426980. NNT 1/0.1749084 = 5.7172775, CI 1/0.3426980 = 2.9180212 to
    # 1/0.0071188 = 140.47.
    benefit = mapp2["benefit"]
    assert mapp2["complete"] is True and mapp2["reasons"] == []
    assert (benefit["experimental"]["events"], benefit["experimental"]["total"]) == (45, 52)
    assert (benefit["comparator"]["events"], benefit["comparator"]["total"]) == (29, 42)
    _close(benefit["risk_difference"], 45 / 52 - 29 / 42)
    _close(benefit["se"], 0.0856085)
    _close(benefit["ci_low"], 0.0071189)
    _close(benefit["ci_high"], 0.3426980)
    nnt = benefit["nnt"]
    assert nnt["kind"] == "NNTB" and nnt["crosses_null"] is False
    _close(nnt["value"], 5.7172775, 1e-6)
    _close(nnt["ci_low"], 2.9180212, 1e-6)
    _close(nnt["ci_high"], 140.4719, 1e-3)
    assert nnt["wording"] == "NNTB 5.7 (95% CI NNTB 2.9 to NNTB 140.5)"
    # One study counts both: nothing to pool.
    assert body["pooled"]["k"] == 1 and body["pooled"]["benefit"] is None


def test_nnt_and_nnh_on_the_same_arms_equal_the_hand_worked_values(client, writer, curator):
    store(writer, curator, _trial("br-one", ((30, 50), (15, 50)), ((8, 50), (2, 50))))
    body = _answer(client, "study=br-one&benefit=response&harm=severe%20adverse%20events")
    study = _study(body, "br-one")
    assert study["complete"] is True and study["reasons"] == []
    benefit, harm = study["benefit"], study["harm"]
    assert (benefit["experimental"]["arm"], benefit["comparator"]["arm"]) == ("Drug", "Placebo")
    assert (harm["experimental"]["arm"], harm["comparator"]["arm"]) == ("Drug", "Placebo")
    # Response 30/50 vs 15/50: RD 0.6 − 0.3 = 0.3; var 0.6·0.4/50 + 0.3·0.7/50 = 0.009,
    # SE 0.0948683; CI 0.3 ± 0.1859385 = 0.1140615 to 0.4859385.
    _close(benefit["risk_difference"], 0.3)
    _close(benefit["se"], 0.0948683)
    _close(benefit["ci_low"], 0.1140615)
    _close(benefit["ci_high"], 0.4859385)
    # NNT 1/0.3 = 3.3333, CI 1/0.4859385 = 2.0579 to 1/0.1140615 = 8.7672 (benefit).
    nnt = benefit["nnt"]
    assert nnt["kind"] == "NNTB" and nnt["crosses_null"] is False
    _close(nnt["value"], 10 / 3)
    _close(nnt["ci_low"], 2.0578735, 1e-6)
    _close(nnt["ci_high"], 8.7672009, 1e-6)
    # Severe AEs 8/50 vs 2/50: RD 0.16 − 0.04 = 0.12; var 0.16·0.84/50 + 0.04·0.96/50
    # = 0.003456, SE 0.0587878; CI 0.12 ± 0.1152219 = 0.0047781 to 0.2352219.
    _close(harm["risk_difference"], 0.12)
    _close(harm["se"], 0.0587878)
    _close(harm["ci_low"], 0.0047781)
    _close(harm["ci_high"], 0.2352219)
    # NNH 1/0.12 = 8.3333, CI 1/0.2352219 = 4.2513 to 1/0.0047781 = 209.2873 (harm).
    nnh = harm["nnh"]
    assert nnh["kind"] == "NNTH" and nnh["crosses_null"] is False
    _close(nnh["value"], 25 / 3)
    _close(nnh["ci_low"], 4.2513052, 1e-6)
    _close(nnh["ci_high"], 209.2873450, 1e-5)
    assert nnh["wording"] == "NNTH 8.3 (95% CI NNTH 4.3 to NNTH 209.3)"


def test_pooled_nnt_and_nnh_from_random_effects_risk_differences(client, writer, curator):
    store(writer, curator, _trial("br-one", ((30, 50), (15, 50)), ((8, 50), (2, 50))))
    store(writer, curator, _trial("br-two", ((20, 40), (12, 40)), ((5, 40), (1, 40))))
    pooled = _answer(client, "study=br-one,br-two&benefit=response"
                             "&harm=severe%20adverse%20events")["pooled"]
    assert pooled["k"] == 2 and sorted(pooled["studies"]) == ["br-one", "br-two"]
    # Benefit: RD 0.3 (v 0.009) and 20/40 − 12/40 = 0.2 (v 0.5·0.5/40 + 0.3·0.7/40 = 0.0115).
    # w = 111.111, 86.957; fixed 0.256098; Q = 111.111·0.043902² + 86.957·0.056098² = 0.48780
    # < df 1, so τ² = 0 and the pooled RD is 0.256098 with SE 1/√198.068 = 0.0710548;
    # CI 0.116833 to 0.395362; NNT 3.9048 (2.5293 to 8.5592).
    benefit = pooled["benefit"]
    _close(benefit["risk_difference"], 0.2560976)
    _close(benefit["se"], 0.0710548)
    assert benefit["tau2"] == 0 and benefit["method"] == "DL"
    _close(benefit["q"], 0.4878049)
    _close(benefit["nnt"]["value"], 3.9047619, 1e-6)
    _close(benefit["nnt"]["ci_low"], 2.5293253, 1e-6)
    _close(benefit["nnt"]["ci_high"], 8.5592425, 1e-6)
    # Harm: RD 0.12 (v 0.003456) and 5/40 − 1/40 = 0.1 (v 0.125·0.875/40 + 0.025·0.975/40
    # = 0.00334375); Q 0.0588 < 1, τ² = 0; pooled 0.1098349, SE 0.0412247,
    # CI 0.0290360 to 0.1906338; NNH 9.1046 (5.2457 to 34.4400).
    harm = pooled["harm"]
    _close(harm["risk_difference"], 0.1098349)
    _close(harm["se"], 0.0412247)
    _close(harm["nnh"]["value"], 9.1045725, 1e-6)
    assert harm["nnh"]["kind"] == "NNTH"
    _close(harm["nnh"]["ci_low"], 5.2456592, 1e-6)
    _close(harm["nnh"]["ci_high"], 34.4399673, 1e-5)
    assert pooled["reason"] is None


def test_a_study_without_counted_harm_is_listed_with_the_reason(client, writer, curator):
    doc = _trial("br-no-harm", ((30, 50), (15, 50)), ((8, 50), (2, 50)))
    doc["outcome_measures"][1]["results"] = []
    store(writer, curator, doc)
    study = _study(_answer(client, "study=br-no-harm&benefit=response"
                                   "&harm=severe%20adverse%20events"), "br-no-harm")
    assert study["complete"] is False and study["harm"] is None
    assert study["benefit"]["nnt"]["kind"] == "NNTB"
    assert study["reasons"] == ["harm (severe adverse events): no counted events and "
                                "denominators for an experimental and a comparator arm"]


def test_several_comparisons_for_one_side_are_a_422_problem(client, writer, curator):
    doc = _trial("br-two-times", ((30, 50), (15, 50)), ((8, 50), (2, 50)))
    src = [{"publication": "main"}]
    doc["timepoints"].append({"label": "24 months", "role": "FOLLOW_UP",
                              "anchor": "LAST_TREATMENT_SESSION", "months": 24, "sources": src})
    doc["outcome_measures"][0]["results"] += [
        {"arm": "Drug", "timepoint": "24 months", "count": 25, "denominator": 45,
         "sources": src},
        {"arm": "Placebo", "timepoint": "24 months", "count": 14, "denominator": 44,
         "sources": src}]
    store(writer, curator, doc)
    query = "study=br-two-times&benefit=response&harm=severe%20adverse%20events"
    response = _get(client, query)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "several comparisons for the benefit" in response.json()["detail"]
    # A window on the since-baseline clock chooses one: 12 months after a treatment that
    # ends 3 months after baseline is 15 months since baseline (24 months: 27).
    chosen = _study(_answer(client, query + "&timepoint_months_max=20"), "br-two-times")
    assert chosen["benefit"]["timepoint"] == "12 months"
    assert chosen["benefit"]["timepoint_months"] == 15


def test_retracted_counts_are_left_out_unless_asked_for(client, writer, curator):
    created = store(writer, curator,
                    _trial("br-retracted", ((30, 50), (15, 50)), ((8, 50), (2, 50))))
    publication_id = created["publications"][0]["id"]
    notice = {"date": "2024-01-02", "notice": "Retraction notice, J Tests 2024;1:1",
              "reason": "data integrity concerns"}
    retracted = writer.post(f"{API}/publications/{publication_id}/retraction", json=notice,
                            headers=curator)
    assert retracted.status_code == 200, retracted.text
    query = "study=br-retracted&benefit=response&harm=severe%20adverse%20events"
    body = _answer(client, query)
    study = _study(body, "br-retracted")
    assert study["benefit"] is None and study["harm"] is None
    assert body["excluded"]["retracted"]["count"] == 4
    assert body["excluded"]["retracted"]["include_with"] == "include_retracted=true"
    assert "retracted result(s) left out" in study["reasons"][0]
    shown = _study(_answer(client, query + "&include_retracted=true"), "br-retracted")
    assert shown["complete"] is True


def test_bad_input_is_a_422_problem(client):
    for query in ("harm=x", "benefit=x", "benefit=x&harm=y&ci_level=2", "benefit=x&harm=y&z=1"):
        for path in ("benefit-risk", "benefit-risk.svg"):
            response = _get(client, query, path)
            assert response.status_code == 422, (path, query)
            assert response.headers["content-type"].startswith("application/problem+json")


def test_svg_parses_and_names_benefit_and_harm_side_by_side(client, writer, curator):
    store(writer, curator, _trial("br-one", ((30, 50), (15, 50)), ((8, 50), (2, 50))))
    store(writer, curator, _trial("br-two", ((20, 40), (12, 40)), ((5, 40), (1, 40))))
    query = (f"study=br-one,br-two,{MAPP2}&benefit=response&benefit=clinical%20response"
             f"&harm=severe%20adverse%20events&harm={quote(SEVERE_AE)}")
    response = _get(client, query, "benefit-risk.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.content)
    texts = ["".join(e.itertext()) for e in root.iter(f"{SVG_NS}text")]
    assert any(t.startswith("NNT — benefit: response or clinical response") for t in texts)
    assert any(t.startswith("NNH — harm: severe adverse events") for t in texts)
    assert "NNTB 3.3 (95% CI NNTB 2.1 to NNTB 8.8)" in texts
    assert "NNTH 18.1 (95% CI NNTH 6.7 to ∞ to NNTB 25.1)" in texts
    assert "NNTB 5.7 (95% CI NNTB 2.9 to NNTB 140.5)" in texts
    assert any(t.startswith("Pooled (random effects, k = 3)") for t in texts)
    groups = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "study"]
    assert [g.get("data-study") for g in groups] == [MAPP2, "br-one", "br-two"]
