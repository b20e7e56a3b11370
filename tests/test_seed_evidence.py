"""The curated seed, read as its users ask: follow-up lengths, the MDMA phase 3 pooling, the
direction of every contrast, counted outcomes and the regulatory record.

Expected sets are the curated facts (the studies each question must find); expected
statistics come from R's metafor through tests/fixtures/metafor, never from the code.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.evidence_helpers import API, MAPP_KEYS, all_items

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "metafor"
PHASE3 = f"{API}/meta-analysis?intervention=MDMA&phase=PHASE3&effect_type=COHENS_D"


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def _keys(client: Any, query: str) -> set[str]:
    return {s["key"] for s in all_items(client, f"{API}/studies?{query}&fields=key")}


def test_twelve_months_of_follow_up_after_treatment_find_exactly_these_studies(client):
    assert _keys(client, "min_follow_up_months=12") == {
        "NCT00090064",  # MP-1: 17-74 months after the last session, mean 45.4
        "NCT00353938",  # MP-2: 1-year follow-up
        "NCT01211405",  # MP-8: 12-month follow-up
        "NCT01793610",  # MP-12: 12-month follow-up
        "jerome-2020-pooled-ltfu",  # at least 12 months: the lower bound counts
        "resick-2002-cpt-pe",  # its long-term follow-up (Resick 2012)
    }


def test_six_months_add_the_six_month_follow_ups_but_no_primary_endpoint(client):
    assert _keys(client, "min_follow_up_months=6") - _keys(client, "min_follow_up_months=12") \
        == {"NCT05066282", "schnurr-2007-pe", "van-der-kolk-2007-emdr"}
    # MAPP1 and MP-9 are assessed at their primary endpoint only.
    assert not {"NCT03537014", "NCT00402298"} & _keys(client, "min_follow_up_months=0")


def test_every_seed_timepoint_has_a_role(client):
    for study in all_items(client, f"{API}/studies?include=timepoints"):
        assert all(t["role"] for t in study["timepoints"]), study["key"]


def test_mapp1_and_mapp2_meet_on_the_since_baseline_clock_and_pool_as_metafor_does(client):
    expected = _fixture("seed_pooling.json")["sets"]["caps5"]["rma"]
    caps5 = f"{API}/meta-analysis?intervention=MDMA&phase=PHASE3&instrument=CAPS-5" \
            "&timepoint_months_max=6"
    # Without an effect type the selection is ambiguous: MAPP2's CAPS-5 response and
    # remission counts give computed risk ratios, odds ratios and risk differences beside the
    # trials' Cohen's d, and the answer names the types to choose from.
    mixed = client.get(caps5)
    assert mixed.status_code == 422
    assert mixed.json()["effect_types"] == {"COHENS_D": 2, "RISK_RATIO": 2, "ODDS_RATIO": 2,
                                            "RISK_DIFFERENCE": 2}
    # With d and g admitted: MAPP1's Hedges' g computed from its change scores is the same
    # comparison as its reported d, which is pooled.
    plain = client.get(f"{caps5}&effect_type=COHENS_D,HEDGES_G").json()
    assert {s["study_key"] for s in plain["studies"]} == MAPP_KEYS
    assert plain["effect_type"] == "COHENS_D"
    assert any(e["effect_type"] == "HEDGES_G" and "reported estimate is pooled" in e["reason"]
               for e in plain["excluded"])
    body = client.get(f"{PHASE3}&instrument=CAPS-5&timepoint_months_max=6").json()
    assert plain["estimate"] == body["estimate"]
    assert {s["study_key"] for s in body["studies"]} == MAPP_KEYS
    assert body["k"] == expected["k"] == 2
    for ours, theirs in (("estimate", "estimate"), ("se", "se"), ("ci_low", "ci_lb"),
                         ("ci_high", "ci_ub"), ("tau2", "tau2"), ("q", "QE")):
        assert body[ours] == pytest.approx(expected[theirs], abs=1e-6), ours


def test_pooling_two_instruments_of_the_same_trials_is_refused_naming_both(client):
    response = client.get(PHASE3)
    assert response.status_code == 422
    body = response.json()
    assert {s["study_key"] for s in body["studies"]} == MAPP_KEYS
    for study in body["studies"]:
        assert {e["instrument"] for e in study["estimates"]} == {"CAPS-5", "SDS"}
    assert "CAPS-5" in body["detail"] and "SDS" in body["detail"]


def test_aggregating_the_two_instruments_per_trial_equals_metafor(client):
    expected = _fixture("seed_pooling.json")["sets"]["caps5_sds"]["rma"]
    body = client.get(f"{PHASE3}&per_study=aggregate").json()
    assert body["k"] == expected["k"] == 2
    assert any("aggregated" in w for w in body["warnings"])
    for ours, theirs in (("estimate", "estimate"), ("se", "se"), ("ci_low", "ci_lb"),
                         ("ci_high", "ci_ub"), ("tau2", "tau2"), ("q", "QE")):
        assert body[ours] == pytest.approx(expected[theirs], abs=1e-6), ours


def test_brady_2000_reads_as_favouring_sertraline_with_its_printed_value_kept(client):
    [row] = all_items(client, f"{API}/outcomes?study=brady-2000-sertraline"
                              "&effect_type=MEAN_DIFFERENCE&origin=REPORTED")
    assert row["value"] == -9.8 and row["experimental_arm"] == "Sertraline"
    assert row["as_reported"]["value"] == 9.8
    assert row["as_reported"]["orientation"] == "COMPARATOR_VS_EXPERIMENTAL"
    assert row["direction"] == "LOWER_FAVOURS_EXPERIMENTAL"
    assert row["favours"] == "EXPERIMENTAL"


def test_every_counted_seed_outcome_gives_metafors_rr_or_and_rd(client):
    tables = {tuple(t["table"]): t for t in _fixture("escalc.json")["tables"]}
    rows = all_items(client, f"{API}/outcomes?origin=COMPUTED&include_retracted=true"
                             "&effect_type=RISK_RATIO,ODDS_RATIO,RISK_DIFFERENCE")
    assert rows
    measure = {"RISK_RATIO": "RR", "ODDS_RATIO": "OR", "RISK_DIFFERENCE": "RD"}
    for row in rows:
        e, c = row["inputs"]["experimental"], row["inputs"]["comparator"]
        table = (e["events"], e["total"], c["events"], c["total"])
        assert table in tables, f"{row['study_key']} {table}: regenerate the fixtures"
        expected = tables[table][measure[row["effect_type"]]]
        y = row["value"] if row["effect_type"] == "RISK_DIFFERENCE" else math.log(row["value"])
        assert y == pytest.approx(expected["yi"], abs=1e-9)
        assert row["se"] ** 2 == pytest.approx(expected["vi"], abs=1e-9)
    # MAPP2's severe adverse events are among them, with a number needed to harm.
    [rd] = [r for r in rows if r["study_key"] == "NCT04077437"
            and r["effect_type"] == "RISK_DIFFERENCE" and "adverse" in r["outcome"]]
    assert rd["nnt"]["value"] == pytest.approx(1 / abs(rd["value"]))


def test_mp1_response_has_a_number_needed_to_treat(client):
    # 10 of 12 responders on MDMA, 2 of 8 on placebo: RD = 7/12, NNT = 12/7.
    rows = all_items(client, f"{API}/outcomes?study=NCT00090064&origin=COMPUTED"
                             "&effect_type=RISK_DIFFERENCE")
    [response] = [r for r in rows if "response" in r["outcome"].lower()]
    assert response["value"] == pytest.approx(10 / 12 - 2 / 8)
    assert response["nnt"]["kind"] == "NNTB"
    assert response["nnt"]["value"] == pytest.approx(12 / 7)
    assert response["favours"] == "EXPERIMENTAL"


def test_p_values_live_in_fields_not_notes(client):
    rows = all_items(client, f"{API}/outcomes?study=NCT00353938,NCT01211405,NCT01793610,"
                             "NCT00090064&comparison=BETWEEN_ARMS,WITHIN_ARM&origin=REPORTED")
    p_values = {(r["study_key"], r["p_value"]) for r in rows}
    assert {("NCT00353938", 0.066), ("NCT01211405", 0.001), ("NCT01793610", 0.03),
            ("NCT00090064", 0.91)} <= p_values


def test_the_two_approved_ptsd_medications_and_mdma_scheduling_are_events(client):
    approvals = all_items(client, f"{API}/regulatory-events?event_type=APPROVAL"
                                  "&condition=PTSD")
    assert {e["intervention"].lower() for e in approvals} >= {"sertraline", "paroxetine"}
    assert all(e["date"] and e["source_url"] for e in approvals)
    scheduling = all_items(client, f"{API}/regulatory-events?intervention=MDMA"
                                   "&event_type=RESCHEDULING,RESCHEDULING_DECISION")
    assert any(e["date"] < "2000" for e in scheduling), "MDMA's placement in Schedule I"


def test_mp9_records_its_enrollment_conflict_with_both_sources(client):
    study = client.get(f"{API}/studies/NCT00402298").json()
    [conflict] = [c for c in study["conflicts"] if c["field"] == "enrollment"]
    assert {claim["value"] for claim in conflict["claims"]} >= {"5", "10"}
    assert all(claim["sources"] for claim in conflict["claims"])


def test_notes_are_searched_by_free_text(client):
    # MAPP1's notes name the Matters Arising exchange; no other field does.
    assert "NCT03537014" in _keys(client, "q=Halvorsen")
