"""Durability: each arm's score over time on both clocks, with retention and control, as JSON
and as an SVG plot (issue 13, item 1). Expected values are the seed's own numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.builders import study_document
from tests.evidence_helpers import API, store

SVG_NS = "{http://www.w3.org/2000/svg}"
MP1, MAPP1, MAPP2 = "NCT00090064", "NCT03537014", "NCT04077437"
JEROME = "jerome-2020-pooled-ltfu"


@pytest.fixture
def writer(app: Any) -> Iterator[TestClient]:
    """A client for building test studies; the answers under test go through `client`,
    which checks each against the OpenAPI document."""
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _durability(client: Any, query: str) -> dict[str, Any]:
    response = client.get(f"{API}/durability?{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _study(body: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in body["studies"] if s["study_key"] == key)


def _timepoint(study: dict[str, Any], label: str) -> dict[str, Any]:
    return next(t for t in study["timepoints"] if t["label"] == label)


def _svg(client: Any, query: str) -> ET.Element:
    response = client.get(f"{API}/durability.svg?{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    return ET.fromstring(response.content)


def _texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(f"{SVG_NS}text")]


def test_mp1_shows_the_two_month_assessment_and_the_long_term_follow_up_after_treatment(
        client):
    mp1 = _study(_durability(client, "registry_id=MP-1"), MP1)
    two_months = _timepoint(mp1, "2-month follow-up (primary assessment)")
    assert two_months["after_treatment"]["months"] == 2
    assert two_months["role"] == "PRIMARY_ENDPOINT"
    ltfu = _timepoint(mp1, "long-term follow-up")
    # Mithoefer 2013: 17–74 months after the last session, mean 45.4, SD 17.3; 16 of 19.
    assert ltfu["after_treatment"] == {"months": 45.4, "min": 17, "max": 74, "from": "ANCHOR"}
    assert ltfu["since_baseline"] is None  # MP-1 states no treatment schedule
    assert (ltfu["months_mean"], ltfu["months_sd"]) == (45.4, 17.3)
    assert (ltfu["n_assessed"], ltfu["n_eligible"]) == (16, 19)
    assert abs(ltfu["retention"] - 16 / 19) < 1e-12
    assert ltfu["controlled"] is False  # placebo participants crossed over
    assert ltfu["role"] == "FOLLOW_UP"
    series = next(s for s in mp1["series"] if s["arm"] == "MDMA-treated (all)")
    by_timepoint = {p["timepoint"]: p for p in series["points"]}
    # CAPS of the 16 LTFU completers: 24.6 (SD 18.6) at study exit, 23.7 (SD 22.8) at LTFU.
    assert (by_timepoint["study exit"]["mean"], by_timepoint["study exit"]["sd"]) == (24.6, 18.6)
    assert by_timepoint["long-term follow-up"]["mean"] == 23.7
    assert by_timepoint["long-term follow-up"]["n"] == 16
    assert series["lower_is_better"] is True


def test_mapp1_and_mapp2_share_the_18_week_point_since_baseline(client):
    body = _durability(client, "registry_id=MAPP1,MAPP2&instrument=CAPS-5")
    points = {}
    for key in (MAPP1, MAPP2):
        study = _study(body, key)
        scored = {p["timepoint_id"] for s in study["series"] for p in s["points"]}
        (timepoint,) = [t for t in study["timepoints"] if t["id"] in scored]
        points[key] = timepoint["since_baseline"]["months"]
    # 18 weeks × 12/52 = 4.15 months: stated on that clock for MAPP1 (its anchor is the last
    # session, 2 months after it), the anchor's own months for MAPP2.
    assert points == {MAPP1: 4.15, MAPP2: 4.15}
    assert _timepoint(_study(body, MAPP1), "primary endpoint (18 weeks post-baseline)")[
        "after_treatment"]["months"] == 2
    changes = {s["arm"]: s["points"][0]["change_mean"]
               for s in _study(body, MAPP2)["series"]}
    assert changes == {"MDMA-assisted therapy": -23.7, "Placebo with therapy": -14.8}


def test_instrument_narrows_the_series_to_that_instrument(client):
    body = _durability(client, f"study={MAPP2}&instrument=SDS")
    (study,) = body["studies"]
    assert {s["instrument"] for s in study["series"]} == {"SDS"}


def test_retracted_results_are_left_out_and_named_unless_asked_for(client):
    body = _durability(client, f"study={JEROME}")
    assert body["studies"] == []
    assert body["include_retracted"] is False
    hidden = body["excluded"]["retracted"]
    # Jerome 2020 (retracted): CAPS-IV change to treatment exit and to long-term follow-up.
    assert hidden["count"] == 2
    assert hidden["include_with"] == "include_retracted=true"
    assert {r["study_key"] for r in hidden["results"]} == {JEROME}
    shown = _durability(client, f"study={JEROME}&include_retracted=true")
    (study,) = shown["studies"]
    changes = sorted(p["change_mean"] for s in study["series"] for p in s["points"])
    assert changes == [-44.8, -5.2]
    assert all(p["retracted"] for s in study["series"] for p in s["points"])
    assert shown["excluded"] == {}


def test_bad_parameters_are_422_problems(client):
    for query in ("clock=weeks", "phase=PHASE9", "unknown=1"):
        response = client.get(f"{API}/durability.svg?{query}")
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"{API}/durability?page_size=3").status_code == 422


def test_mp1_plot_draws_the_follow_up_as_a_span_with_its_mean_and_retention(client):
    root = _svg(client, "registry_id=MP-1&clock=treatment")
    ranges = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "range"]
    assert len(ranges) == 1
    span = ranges[0].find(f"{SVG_NS}line")
    assert span is not None
    assert span.get("stroke-dasharray")  # uncontrolled
    means = [c for c in root.iter(f"{SVG_NS}circle") if "mean" in (c.get("class") or "")]
    assert len(means) == 1
    # The mean sits inside the span, at 45.4 of 17–74 months along it.
    x1, x2 = float(span.get("x1", "0")), float(span.get("x2", "0"))
    cx = float(means[0].get("cx", "0"))
    assert abs((cx - x1) / (x2 - x1) - (45.4 - 17) / (74 - 17)) < 0.01
    assert "16/19" in _texts(root)
    # Study exit is on no clock: said, not drawn.
    assert any("1 score(s) not placed on this clock" in t for t in _texts(root))


def _three_visits(key: str) -> dict[str, Any]:
    src = [{"publication": "main", "locator": "Table 3"}]
    timepoints = [
        {"label": "end of treatment", "role": "END_OF_TREATMENT",
         "anchor": "LAST_TREATMENT_SESSION", "months": 0, "n_assessed": 58, "n_eligible": 60,
         "sources": src},
        {"label": "6 months", "role": "FOLLOW_UP", "anchor": "LAST_TREATMENT_SESSION",
         "months": 6, "sources": src},
        {"label": "24 months <after crossover>", "role": "FOLLOW_UP",
         "anchor": "LAST_TREATMENT_SESSION", "months": 24, "controlled": False,
         "n_assessed": 40, "n_eligible": 60, "sources": src}]
    results = [{"arm": arm, "timepoint": t, "n": n, "mean": m, "sd": 10.0, "sources": src}
               for arm, values in (("Drug & <b>", ((30, 28), (30, 25), (20, 27))),
                                   ("Placebo", ((28, 38), (28, 33), (20, 30))))
               for t, (n, m) in zip(("end of treatment", "6 months",
                                     "24 months <after crossover>"), values, strict=True)]
    doc = study_document(key, nct=None, timepoints=timepoints, outcome_measures=[{
        "name": "PTSD severity", "instrument": "CAPS-5", "role": "PRIMARY",
        "lower_is_better": True, "results": results, "effects": []}])
    doc["arms"][0]["label"] = "Drug & <b>"
    return doc


def test_plot_dashes_uncontrolled_segments_and_escapes_every_text(client, writer, curator):
    store(writer, curator, _three_visits("durability-three-visits"))
    body = _durability(client, "study=durability-three-visits")
    (study,) = body["studies"]
    assert [s["arm"] for s in study["series"]] == ["Drug & <b>", "Placebo"]
    assert [p["mean"] for p in study["series"][0]["points"]] == [28, 25, 27]
    root = _svg(client, "study=durability-three-visits&clock=treatment")
    segments = [e for e in root.iter(f"{SVG_NS}line")
                if (e.get("class") or "").startswith("segment")]
    # Two arms × two segments; the one reaching 24 months (after cross-over) is dashed.
    assert len(segments) == 4
    dashed = [e for e in segments if e.get("class") == "segment uncontrolled"]
    assert len(dashed) == 2 and all(e.get("stroke-dasharray") for e in dashed)
    texts = _texts(root)
    assert "58/60" in texts and "40/60" in texts and "n=30" in texts
    assert any("Drug & <b>" in t for t in texts)  # parsed back from escaped text
    # Since baseline: the builder's treatment ends 3 months after baseline.
    shifted = _durability(client, "study=durability-three-visits")["studies"][0]
    assert [t["since_baseline"]["months"] for t in shifted["timepoints"]] == [3, 9, 27]
