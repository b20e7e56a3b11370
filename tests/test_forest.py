"""/meta-analysis/forest.svg: a standalone SVG of the same meta-analysis."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.evidence_helpers import API, MAPP_KEYS, POOLED_KEYS

SVG = "{http://www.w3.org/2000/svg}"
MDMA_PHASE3 = "intervention=MDMA&phase=PHASE3&instrument=CAPS-5&effect_type=COHENS_D"
WITH_POOLED = ("effect_type=COHENS_D&instrument=CAPS-5&instrument=CAPS-IV"
               + "".join(f"&study={k}" for k in (*sorted(MAPP_KEYS), *POOLED_KEYS)))


def forest(client, query):
    response = client.get(f"{API}/meta-analysis/forest.svg?{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    return ET.fromstring(response.content)


def groups(root, cls):
    return [g for g in root.iter() if cls in (g.get("class") or "").split()]


def texts(element):
    return ["".join(t.itertext()) for t in element.iter(f"{SVG}text")]


def test_forest_plot_is_an_800px_svg_with_a_row_per_study_and_the_pooled_diamond(client):
    root = forest(client, MDMA_PHASE3)
    # 800 px, widened by the traffic-light columns: the seed assesses both trials (RoB 2)
    assert root.tag == f"{SVG}svg" and root.get("width") == "942"
    meta = client.get(f"{API}/meta-analysis?{MDMA_PHASE3}").json()
    rows = groups(root, "study")
    assert len(rows) == meta["k"] == 2
    labels = " ".join(t for row in rows for t in texts(row))
    assert "MAPP1" in labels and "MAPP2" in labels
    for row, study in zip(rows, meta["studies"], strict=True):
        row_text = " ".join(texts(row))
        assert f"{study['weight_random']:.1f}%" in row_text
        assert f"{study['value']:.2f}" in row_text
        assert row.find(f"{SVG}rect") is not None and row.find(f"{SVG}line") is not None
    diamonds = groups(root, "pooled")
    assert len(diamonds) == 1 and diamonds[0].tag == f"{SVG}polygon"
    assert len(diamonds[0].get("points").split()) == 4
    assert groups(root, "null-line")
    words = " ".join(texts(root))
    assert "favours experimental" in words and "favours comparator" in words
    assert "Prediction interval" in words


def test_boxes_are_sized_by_weight(client):
    root = forest(client, WITH_POOLED + "&include_retracted=true")
    meta = client.get(f"{API}/meta-analysis?{WITH_POOLED}&include_retracted=true").json()
    areas = [float(r.find(f"{SVG}rect").get("width")) ** 2 for r in groups(root, "study")]
    weights = [s["weight_random"] for s in meta["studies"]]
    biggest = weights.index(max(weights))
    for area, weight in zip(areas, weights, strict=True):
        assert area / areas[biggest] == pytest.approx(
            weight / weights[biggest], abs=0.05)


def test_retracted_rows_are_marked_only_when_included(client):
    default = forest(client, WITH_POOLED)
    assert len(groups(default, "study")) == 2
    assert groups(default, "retracted") == []
    included = forest(client, WITH_POOLED + "&include_retracted=true")
    assert len(groups(included, "study")) == 3
    retracted = groups(included, "retracted")
    assert len(retracted) == 1
    assert "(retracted)" in " ".join(texts(retracted[0]))
    pi = groups(included, "prediction-interval")
    assert pi and pi[0].find(f"{SVG}line") is not None


def test_forest_plot_of_too_few_estimates_is_a_422_problem(client):
    response = client.get(f"{API}/meta-analysis/forest.svg?registry_id=NCT03537014"
                          "&effect_type=COHENS_D&instrument=CAPS-5")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
