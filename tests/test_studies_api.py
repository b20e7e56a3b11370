"""Reading studies: filters, the detail document, conditional requests."""

from __future__ import annotations

from typing import Any

import pytest

API = "/api/v1"


def keys(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["key"] for item in response.json()["items"]]


def all_keys(client: Any, query: str) -> list[str]:
    out: list[str] = []
    url = f"{API}/studies?{query}&page_size=1000"
    body = client.get(url).json()
    out.extend(i["key"] for i in body["items"])
    assert body["next_page_token"] is None
    return out


def test_minimum_follow_up_finds_the_long_term_follow_up_not_the_18_week_trial(client):
    found = keys(client.get(f"{API}/studies?intervention=MDMA&min_follow_up_months=40"))
    assert "NCT00090064" in found
    assert "NCT03537014" not in found


def test_intervention_filter_matches_synonyms_case_insensitively(client):
    by_name = all_keys(client, "intervention=MDMA")
    by_synonym = all_keys(client, "intervention=midomafetamine")
    assert by_name and by_name == by_synonym == all_keys(client, "intervention=mdma")
    assert "NCT03537014" in by_name


def test_mapp1_detail_has_phase_enrollment_arms_and_sourced_effect(client):
    response = client.get(f"{API}/studies/NCT03537014")
    assert response.status_code == 200
    study = response.json()
    assert study["phase"] == "PHASE3"
    assert study["enrollment"] == 90
    assert sorted(a["n_randomized"] for a in study["arms"]) == [44, 46]
    effects = [(om, e) for om in study["outcome_measures"] for e in om["effects"]
               if om["instrument"] == "CAPS-5" and e["effect_type"] == "COHENS_D"]
    assert [e["value"] for _, e in effects].count(0.91) >= 1
    effect = next(e for _, e in effects if e["value"] == 0.91)
    assert effect["sources"], "the effect names its source"
    refs = {p["ref"] for p in study["publications"]}
    assert all(s["publication"] in refs or s["source_url"] for s in effect["sources"])


def test_mp1_long_term_follow_up_is_a_timepoint_with_its_distribution(client):
    study = client.get(f"{API}/studies/NCT00090064").json()
    ltfu = [t for t in study["timepoints"] if t["months_min"] == 17 and t["months_max"] == 74]
    assert len(ltfu) == 1
    tp = ltfu[0]
    assert (tp["months_mean"], tp["months_sd"]) == (45.4, 17.3)
    assert tp["role"] == "FOLLOW_UP"
    # After treatment: the mean, its range kept; since baseline it is not placed without
    # the study's treatment end.
    assert tp["clocks"]["after_treatment"] == {"months": 45.4, "min": 17, "max": 74,
                                               "from": "ANCHOR"}
    assert tp["sources"]
    follow_up_pubs = [p for p in study["publications"] if p["role"] == "FOLLOW_UP"]
    assert follow_up_pubs
    assert {s["publication"] for s in tp["sources"]} & {p["ref"] for p in follow_up_pubs}


def test_pooled_analysis_links_the_trials_it_pools(client):
    body = client.get(f"{API}/studies?study_type=POOLED_ANALYSIS&page_size=100").json()
    assert body["items"]
    for item in body["items"]:
        study = client.get(f"{API}/studies/{item['key']}").json()
        assert {r["relation_type"] for r in study["relations"]} == {"POOLED_FROM"}
    mp1 = client.get(f"{API}/studies/NCT00090064").json()
    assert any(r["relation_type"] == "POOLED_FROM" for r in mp1["referenced_by"])


def test_etag_and_if_none_match_give_304(client):
    first = client.get(f"{API}/studies/NCT03537014")
    etag = first.headers["ETag"]
    again = client.get(f"{API}/studies/NCT03537014", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    other = client.get(f"{API}/studies/NCT03537014", headers={"If-None-Match": '"0-0"'})
    assert other.status_code == 200


@pytest.mark.parametrize("query,expect_in,expect_out", [
    ("phase=PHASE3", "NCT03537014", "NCT00090064"),
    ("phase=PHASE2,PHASE3", "NCT00090064", None),
    ("registry_id=NCT04077437", "NCT04077437", "NCT03537014"),
    ("instrument=CAPS-5", "NCT03537014", None),
    ("min_enrollment=80", "NCT03537014", "NCT00090064"),
    ("max_enrollment=30", "NCT00090064", "NCT03537014"),
    ("q=methylenedioxymethamphetamine", "NCT00090064", None),
    ("condition=PTSD", "NCT03537014", None),
    ("min_effect_size=0.9", "NCT03537014", None),
])
def test_list_filters(client, query, expect_in, expect_out):
    found = all_keys(client, query)
    assert expect_in in found
    if expect_out:
        assert expect_out not in found


def test_free_text_matches_words_of_the_title(client):
    mapp1 = client.get(f"{API}/studies/NCT03537014").json()
    word = max(mapp1["title"].split(), key=len).strip(",.:;()")
    assert "NCT03537014" in all_keys(client, f"q={word}")
    assert all_keys(client, "q=zzyzxnotaword") == []


def test_retracted_studies_are_listed_flagged_and_can_be_hidden(client):
    everything = client.get(f"{API}/studies?page_size=1000").json()["items"]
    retracted = [s["key"] for s in everything if s["retracted"]]
    assert retracted, "the seed holds retracted pooled analyses"
    hidden = all_keys(client, "include_retracted=false")
    assert not set(retracted) & set(hidden)
    assert set(all_keys(client, "retraction_status=RETRACTED")) >= set(retracted)


def test_retracted_publications_can_be_listed_and_filtered(client):
    body = client.get(f"{API}/publications?retraction_status=RETRACTED&page_size=100").json()
    assert body["items"]
    for pub in body["items"]:
        assert pub["retraction_status"] == "RETRACTED"
        assert pub["retraction_date"]
        assert pub["retraction_reason"]
        assert pub["studies"]
    everything = client.get(f"{API}/publications?page_size=1000").json()["items"]
    assert len(everything) > len(body["items"])
    assert {p["doi"] for p in body["items"]} == {
        p["doi"] for p in everything if p["retraction_status"] == "RETRACTED"}


def test_regulatory_events_can_be_listed_and_filtered(client):
    everything = client.get(f"{API}/regulatory-events?page_size=1000").json()["items"]
    assert everything
    fda = client.get(f"{API}/regulatory-events?agency=FDA&page_size=1000").json()["items"]
    assert fda and all(e["agency"] == "FDA" for e in fda)
    assert len(fda) < len(everything)
    crl = client.get(f"{API}/regulatory-events?event_type=COMPLETE_RESPONSE_LETTER").json()
    assert [e["event_type"] for e in crl["items"]] == ["COMPLETE_RESPONSE_LETTER"]
    assert crl["items"][0]["source_url"].startswith("http")
    mdma = client.get(f"{API}/regulatory-events?intervention=midomafetamine&page_size=1000")
    assert mdma.json()["items"] and all(
        e["intervention"] == "MDMA" for e in mdma.json()["items"])
    adcomm = client.get(f"{API}/regulatory-events?event_type=ADVISORY_COMMITTEE").json()
    assert (adcomm["items"][0]["vote_for"], adcomm["items"][0]["vote_against"]) == (2, 9)


def test_vocabularies_count_studies(client):
    interventions = client.get(f"{API}/interventions?page_size=1000").json()["items"]
    mdma = next(i for i in interventions if i["name"] == "MDMA")
    assert mdma["study_count"] == len(all_keys(client, "intervention=MDMA"))
    conditions = client.get(f"{API}/conditions?name=PTSD").json()["items"]
    assert len(conditions) == 1
    assert conditions[0]["study_count"] == len(all_keys(client, "condition=PTSD"))


def test_timepoints_list_the_follow_up_timeline(client):
    rows = client.get(f"{API}/timepoints?registry_id=NCT00090064&page_size=100").json()["items"]
    assert rows and {r["study_key"] for r in rows} == {"NCT00090064"}
    assert any(r["months_mean"] == 45.4 for r in rows)
    follow_ups = client.get(f"{API}/timepoints?is_follow_up=true&page_size=1000").json()
    assert all(r["is_follow_up"] for r in follow_ups["items"])


def test_sparse_fieldset_returns_only_the_named_fields(client):
    body = client.get(f"{API}/studies?fields=title,phase&page_size=5").json()
    assert body["items"]
    for item in body["items"]:
        assert set(item) == {"key", "title", "phase"}


def test_sort_orders_by_the_named_column(client):
    items = client.get(f"{API}/studies?sort=-enrollment&page_size=1000"
                       "&fields=enrollment").json()["items"]
    values = [i["enrollment"] if i["enrollment"] is not None else -1 for i in items]
    assert values == sorted(values, reverse=True)
    items = client.get(f"{API}/studies?sort=start_date&page_size=1000&fields=start_date").json()
    assert len(items["items"]) == len(values)


def test_include_adds_nested_parts_in_the_detail_shape(client):
    body = client.get(f"{API}/studies?registry_id=NCT03537014&include=arms,outcomes").json()
    item = body["items"][0]
    detail = client.get(f"{API}/studies/NCT03537014").json()
    assert item["arms"] == detail["arms"]
    assert item["outcome_measures"] == detail["outcome_measures"]
    assert "timepoints" not in item
