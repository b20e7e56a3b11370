"""Every way a number gets its retraction flag, each with a number sourced by one retracted and
one live publication (which stays standing) beside a number sourced by the retracted one alone
(which falls): a single write, a replace, a patch, a bulk load, the computed Hedges' g and risk
ratios, and the recompute after a retraction is recorded.

The rule (DESIGN §2): a result is retracted when *every* publication it is sourced from is
retracted; a study when all its publications are.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from app.services import bulk
from tests.authkit import API
from tests.builders import study_document

pytestmark = pytest.mark.usefixtures("no_key_leaks")

RETRACTED = {"retraction_status": "RETRACTED", "retraction_date": "2024-01-15",
             "retraction_notice": "Retraction notice, J Tests 2024;1:1",
             "retraction_reason": "fabricated data"}
NOTICE = {"date": "2025-06-01", "notice": "Retraction notice", "reason": "data integrity"}


def src(*refs: str) -> list[dict[str, str]]:
    return [{"publication": r, "locator": "Table 2"} for r in refs]


def counted(name: str, drug_refs: tuple[str, ...], placebo_refs: tuple[str, ...]) -> dict:
    return {"name": name, "role": "SAFETY", "lower_is_better": True, "results": [
        {"arm": "Drug", "timepoint": "12 months", "count": 6, "denominator": 30,
         "sources": src(*drug_refs)},
        {"arm": "Placebo", "timepoint": "12 months", "count": 3, "denominator": 30,
         "sources": src(*placebo_refs)}], "effects": []}


def mixed_document(key: str, nct: str | None, *, main_retracted: bool) -> dict[str, Any]:
    """`main` (retracted or not) and `second` (live). Drug's CAPS-5 result comes from `main`
    alone, Placebo's from both; the reported d from both; a reported mean difference from
    `main` alone; two counted safety outcomes whose computed risk ratios are sourced by
    `main` alone and by both."""
    doc = study_document(key, nct=nct)
    main = doc["publications"][0]
    if main_retracted:
        main.update(RETRACTED)
    doc["publications"].append({"ref": "second", "role": "SECONDARY",
                                "doi": f"10.9999/{key}.second", "title": "Second report"})
    om = doc["outcome_measures"][0]
    om["results"][0]["sources"] = src("main")
    om["results"][1]["sources"] = src("main", "second")
    om["effects"][0]["sources"] = src("main", "second")
    om["effects"].append({
        "experimental_arm": "Drug", "comparator_arm": "Placebo", "timepoint": "12 months",
        "effect_type": "MEAN_DIFFERENCE", "value": -9.7, "ci_low": -15.4, "ci_high": -4.0,
        "sources": src("main")})
    doc["outcome_measures"] += [counted("Adverse events, one source", ("main",), ("main",)),
                                counted("Adverse events, two sources", ("main",),
                                        ("main", "second"))]
    return doc


def flags(study: dict[str, Any]) -> dict[str, Any]:
    caps, single, both = study["outcome_measures"]
    reported = {e["effect_type"]: e["retracted"] for e in caps["effects"]
                if e["origin"] == "REPORTED"}
    hedges = [e["retracted"] for e in caps["effects"] if e["origin"] == "COMPUTED"]

    def rr(om: dict[str, Any]) -> list[bool]:
        return [e["retracted"] for e in om["effects"]
                if e["origin"] == "COMPUTED" and e["effect_type"] == "RISK_RATIO"]

    return {"results": {r["arm"]: r["retracted"] for r in caps["results"]},
            "reported": reported, "hedges_g": hedges, "rr_one_source": rr(single),
            "rr_two_sources": rr(both), "study": study["retracted"]}


EXPECTED_MIXED = {"results": {"Drug": True, "Placebo": False},
                  "reported": {"COHENS_D": False, "MEAN_DIFFERENCE": True},
                  "hedges_g": [False], "rr_one_source": [True], "rr_two_sources": [False],
                  "study": False}
NOTHING_RETRACTED = {"results": {"Drug": False, "Placebo": False},
                     "reported": {"COHENS_D": False, "MEAN_DIFFERENCE": False},
                     "hedges_g": [False], "rr_one_source": [False], "rr_two_sources": [False],
                     "study": False}


def read(client, key: str) -> dict[str, Any]:
    response = client.get(f"{API}/studies/{key}")
    assert response.status_code == 200, response.text
    return response.json()


def outcome_flags(client, key: str) -> dict[tuple[str, str], bool]:
    """The same flags as /outcomes serves them (with retracted estimates asked for)."""
    response = client.get(f"{API}/outcomes?study={key}&include_retracted=true&page_size=1000")
    assert response.status_code == 200, response.text
    return {(o["outcome"], o["effect_type"]): o["retracted"] for o in response.json()["items"]}


def test_a_single_write_flags_only_numbers_without_a_live_source(client, curator):
    created = client.post(f"{API}/studies", headers=curator,
                          json=mixed_document("mix-post", "NCT09997701", main_retracted=True))
    assert created.status_code == 201, created.text
    assert flags(created.json()) == EXPECTED_MIXED
    assert flags(read(client, "mix-post")) == EXPECTED_MIXED
    served = outcome_flags(client, "mix-post")
    assert served[("Adverse events, one source", "RISK_RATIO")] is True
    assert served[("Adverse events, two sources", "RISK_RATIO")] is False
    assert served[("PTSD severity", "MEAN_DIFFERENCE")] is True
    assert served[("PTSD severity", "COHENS_D")] is False
    live = client.get(f"{API}/outcomes?study=mix-post&page_size=1000").json()["items"]
    assert ("PTSD severity", "MEAN_DIFFERENCE") not in {
        (o["outcome"], o["effect_type"]) for o in live}


def test_a_study_all_of_whose_publications_are_retracted_is_retracted(client, curator):
    doc = mixed_document("mix-all", "NCT09997702", main_retracted=True)
    doc["publications"][1].update(RETRACTED)
    created = client.post(f"{API}/studies", json=doc, headers=curator)
    assert created.status_code == 201, created.text
    assert flags(created.json()) == {
        "results": {"Drug": True, "Placebo": True},
        "reported": {"COHENS_D": True, "MEAN_DIFFERENCE": True},
        "hedges_g": [True], "rr_one_source": [True], "rr_two_sources": [True], "study": True}


def test_a_replace_derives_the_flags_again(client, curator):
    created = client.post(f"{API}/studies", headers=curator,
                          json=mixed_document("mix-put", "NCT09997703", main_retracted=False))
    assert created.status_code == 201, created.text
    assert flags(created.json()) == NOTHING_RETRACTED
    replaced = client.put(f"{API}/studies/mix-put", headers={
        **curator, "If-Match": created.headers["etag"]},
        json=mixed_document("mix-put", "NCT09997703", main_retracted=False))
    assert replaced.status_code == 200, replaced.text
    assert flags(replaced.json()) == NOTHING_RETRACTED
    main_id = next(p["id"] for p in replaced.json()["publications"] if p["ref"] == "main")
    assert client.post(f"{API}/publications/{main_id}/retraction", json=NOTICE,
                       headers=curator).status_code == 200
    current = client.get(f"{API}/studies/mix-put")
    assert flags(current.json()) == EXPECTED_MIXED
    # The stored publication is retracted now: a replace describes it as it is stored.
    doc = mixed_document("mix-put", "NCT09997703", main_retracted=False)
    stored_main = next(p for p in current.json()["publications"] if p["ref"] == "main")
    doc["publications"][0].update({k: stored_main[k] for k in (
        "retraction_status", "retraction_date", "retraction_notice", "retraction_reason")})
    again = client.put(f"{API}/studies/mix-put", json=doc,
                       headers={**curator, "If-Match": current.headers["etag"]})
    assert again.status_code == 200, again.text
    assert flags(again.json()) == EXPECTED_MIXED


def test_a_patch_derives_the_flags_again(client, curator):
    created = client.post(f"{API}/studies", headers=curator,
                          json=mixed_document("mix-patch", "NCT09997704", main_retracted=True))
    assert created.status_code == 201, created.text
    patched = client.patch(f"{API}/studies/mix-patch", json={"notes": "checked"},
                           headers={**curator, "If-Match": created.headers["etag"]})
    assert patched.status_code == 200, patched.text
    assert flags(patched.json()) == EXPECTED_MIXED
    # Dropping the live source from Placebo's result leaves it with a retracted one only.
    doc = read(client, "mix-patch")
    outcomes = copy.deepcopy(doc["outcome_measures"])
    for om in outcomes:
        for r in om["results"]:
            r["sources"] = [s for s in r["sources"] if s["publication"] == "main"]
    response = client.patch(f"{API}/studies/mix-patch", json={"outcome_measures": outcomes},
                            headers={**curator, "If-Match": patched.headers["etag"]})
    assert response.status_code == 200, response.text
    after = flags(response.json())
    assert after["results"] == {"Drug": True, "Placebo": True}
    assert after["hedges_g"] == [True] and after["rr_two_sources"] == [True]
    assert after["reported"] == {"COHENS_D": False, "MEAN_DIFFERENCE": True}
    assert after["study"] is False


def test_a_bulk_load_flags_like_a_single_write(client, db_session):
    lines = [json.dumps(mixed_document(f"mix-bulk-{n}", f"NCT0999771{n}",
                                       main_retracted=True)).encode() for n in range(2)]
    errors: list[bulk.BatchError] = []
    cache = bulk.new_vocab_cache()
    loaded = 0
    for batch in bulk.batches(lines, 10, errors):
        loaded += bulk.load_batch(db_session, batch, source="mixed.ndjson", actor_id=None,
                                  vocab_cache=cache)
    assert (loaded, errors) == (2, [])
    for n in range(2):
        assert flags(read(client, f"mix-bulk-{n}")) == EXPECTED_MIXED
    served = outcome_flags(client, "mix-bulk-0")
    assert served[("Adverse events, one source", "RISK_RATIO")] is True
    assert served[("Adverse events, two sources", "RISK_RATIO")] is False


def test_a_bulk_load_of_live_publications_flags_nothing(client, db_session):
    lines = [json.dumps(mixed_document("mix-bulk-live", "NCT09997720",
                                       main_retracted=False)).encode()]
    errors: list[bulk.BatchError] = []
    for batch in bulk.batches(lines, 10, errors):
        bulk.load_batch(db_session, batch, source="live.ndjson", actor_id=None,
                        vocab_cache=bulk.new_vocab_cache())
    assert flags(read(client, "mix-bulk-live")) == NOTHING_RETRACTED


def test_recording_a_retraction_recomputes_every_number_it_sourced(client, curator):
    created = client.post(f"{API}/studies", headers=curator,
                          json=mixed_document("mix-retract", "NCT09997705",
                                              main_retracted=False))
    assert created.status_code == 201, created.text
    study = created.json()
    ids = {p["ref"]: p["id"] for p in study["publications"]}
    response = client.post(f"{API}/publications/{ids['main']}/retraction", json=NOTICE,
                           headers=curator)
    assert response.status_code == 200, response.text
    assert flags(read(client, "mix-retract")) == EXPECTED_MIXED
    served = outcome_flags(client, "mix-retract")
    assert served[("Adverse events, one source", "RISK_RATIO")] is True
    assert served[("Adverse events, two sources", "RISK_RATIO")] is False
    client.post(f"{API}/publications/{ids['second']}/retraction", json=NOTICE, headers=curator)
    final = flags(read(client, "mix-retract"))
    assert final == {"results": {"Drug": True, "Placebo": True},
                     "reported": {"COHENS_D": True, "MEAN_DIFFERENCE": True},
                     "hedges_g": [True], "rr_one_source": [True], "rr_two_sources": [True],
                     "study": True}


def test_an_expression_of_concern_on_one_source_retracts_nothing(client, curator):
    doc = mixed_document("mix-concern", "NCT09997706", main_retracted=True)
    doc["publications"][0]["retraction_status"] = "EXPRESSION_OF_CONCERN"
    created = client.post(f"{API}/studies", json=doc, headers=curator)
    assert created.status_code == 201, created.text
    assert flags(created.json()) == NOTHING_RETRACTED
