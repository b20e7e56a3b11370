"""One retraction rule for every way a study is written.

A number is retracted when it has a source and every source is a retracted publication; a
study when all its publications are. Single writes, replaces, merge patches and bulk loads plan
their rows with one planner: each path must store the same flags for the same document.
"""

from __future__ import annotations

import json

import pytest

from app.services import bulk
from tests.authkit import API
from tests.builders import study_document

pytestmark = pytest.mark.usefixtures("no_key_leaks")

GONE = {"retraction_status": "RETRACTED", "retraction_date": "2024-01-05",
        "retraction_notice": "Retracted by the journal"}


def sourced_by(key: str, nct: str, refs: list[str], publications: tuple[str, ...] = (
        "gone1", "gone2", "live")) -> dict:
    """A study whose every result, effect and timepoint is sourced by the publications
    `refs`; gone1 and gone2 are retracted, live is not."""
    doc = study_document(key, nct)
    doc["publications"] = [
        {"ref": ref, "role": "PRIMARY_RESULTS" if i == 0 else "SECONDARY",
         "doi": f"10.9999/{key}.{ref}", "title": f"Paper {ref}",
         **(GONE if ref.startswith("gone") else {})}
        for i, ref in enumerate(publications)]
    sources = [{"publication": ref, "locator": "Table 2"} for ref in refs]
    doc["sources"] = [{"publication": publications[0]}]
    for part in doc["arms"] + doc["timepoints"]:
        part["sources"] = [{"publication": publications[0]}]
    for om in doc["outcome_measures"]:
        for number in om["results"] + om["effects"]:
            number["sources"] = list(sources)
    return doc


def flags(study: dict) -> dict:
    om = study["outcome_measures"][0]
    return {"results": [r["retracted"] for r in om["results"]],
            "effects": [e["retracted"] for e in om["effects"] if e["origin"] == "REPORTED"],
            "computed": sorted({e["retracted"] for e in om["effects"]
                                if e["origin"] == "COMPUTED"}),
            "study": study["retracted"]}


def everything(retracted: bool, study: bool = False) -> dict:
    return {"results": [retracted, retracted], "effects": [retracted],
            "computed": [retracted], "study": study}


CASES = [
    (["gone1", "live"], everything(False)),
    (["live", "gone1"], everything(False)),
    (["gone1", "gone2"], everything(True)),
    (["gone1"], everything(True)),
    (["live"], everything(False)),
]


@pytest.mark.parametrize(("refs", "expected"), CASES)
def test_a_single_write_flags_numbers_by_all_their_sources(client, curator, refs, expected):
    created = client.post(f"{API}/studies", json=sourced_by("plan-post", "NCT09999801", refs),
                          headers=curator)
    assert created.status_code == 201, created.text
    assert flags(created.json()) == expected
    assert flags(client.get(f"{API}/studies/plan-post").json()) == expected


def test_a_study_is_retracted_only_when_all_its_publications_are(client, curator):
    both_gone = sourced_by("plan-gone", "NCT09999802", ["gone1", "gone2"],
                           publications=("gone1", "gone2"))
    created = client.post(f"{API}/studies", json=both_gone, headers=curator)
    assert created.status_code == 201, created.text
    assert flags(created.json()) == everything(True, study=True)
    hidden = client.get(f"{API}/studies", params={"registry_id": "NCT09999802",
                                                  "include_retracted": "false"}).json()
    assert hidden["items"] == []


@pytest.mark.parametrize(("refs", "expected"), CASES)
def test_a_replace_flags_numbers_by_all_their_sources(client, curator, refs, expected):
    opposite = ["live"] if expected["results"][0] else ["gone1", "gone2"]
    created = client.post(f"{API}/studies",
                          json=sourced_by("plan-put", "NCT09999803", opposite), headers=curator)
    assert created.status_code == 201, created.text
    assert flags(created.json())["results"] != expected["results"]
    replaced = client.put(f"{API}/studies/plan-put",
                          json=sourced_by("plan-put", "NCT09999803", refs),
                          headers={**curator, "If-Match": created.headers["etag"]})
    assert replaced.status_code == 200, replaced.text
    assert flags(replaced.json()) == expected
    assert flags(client.get(f"{API}/studies/plan-put").json()) == expected


@pytest.mark.parametrize(("refs", "expected"), CASES)
def test_a_merge_patch_flags_numbers_by_all_their_sources(client, curator, refs, expected):
    opposite = ["live"] if expected["results"][0] else ["gone1", "gone2"]
    created = client.post(f"{API}/studies",
                          json=sourced_by("plan-patch", "NCT09999804", opposite),
                          headers=curator)
    assert created.status_code == 201, created.text
    wanted = sourced_by("plan-patch", "NCT09999804", refs)
    patched = client.patch(
        f"{API}/studies/plan-patch", content=json.dumps(
            {"outcome_measures": wanted["outcome_measures"]}),
        headers={**curator, "If-Match": created.headers["etag"],
                 "Content-Type": "application/merge-patch+json"})
    assert patched.status_code == 200, patched.text
    assert flags(patched.json()) == expected
    assert flags(client.get(f"{API}/studies/plan-patch").json()) == expected


def test_a_bulk_load_flags_numbers_by_all_their_sources(client, db_session):
    lines = [json.dumps(sourced_by(f"plan-bulk-{i}", f"NCT0999981{i}", refs)).encode()
             for i, (refs, _) in enumerate(CASES)]
    lines.append(json.dumps(sourced_by("plan-bulk-gone", "NCT09999820", ["gone1", "gone2"],
                                       publications=("gone1", "gone2"))).encode())
    errors: list[bulk.BatchError] = []
    cache = bulk.new_vocab_cache()
    for batch in bulk.batches(lines, 100, errors):
        bulk.load_batch(db_session, batch, source="planner.ndjson", actor_id=None,
                        vocab_cache=cache)
    assert errors == []
    for i, (_, expected) in enumerate(CASES):
        assert flags(client.get(f"{API}/studies/plan-bulk-{i}").json()) == expected
    gone = client.get(f"{API}/studies/plan-bulk-gone").json()
    assert flags(gone) == everything(True, study=True)


def test_a_bulk_loaded_relation_may_name_a_study_further_down_the_batch(client, db_session):
    first = study_document("plan-follow-up", "NCT09999830",
                           relations=[{"relation_type": "FOLLOW_UP_OF",
                                       "target": "plan-parent"}])
    second = study_document("plan-parent", "NCT09999831")
    errors: list[bulk.BatchError] = []
    for batch in bulk.batches([json.dumps(first).encode(), json.dumps(second).encode()],
                              10, errors):
        bulk.load_batch(db_session, batch, source="planner.ndjson", actor_id=None,
                        vocab_cache=bulk.new_vocab_cache())
    assert errors == []
    parent = client.get(f"{API}/studies/plan-parent").json()
    assert parent["referenced_by"] == [{"relation_type": "FOLLOW_UP_OF",
                                        "study": "plan-follow-up"}]


def test_a_bulk_document_naming_a_condition_twice_fails_its_batch(client, db_session):
    doc = study_document("plan-twice", "NCT09999840", conditions=["PTSD", "ptsd"])
    errors: list[bulk.BatchError] = []
    for batch in bulk.batches([json.dumps(doc).encode()], 10, errors):
        with pytest.raises(bulk.BatchError, match="listed twice"):
            bulk.load_batch(db_session, batch, source="planner.ndjson", actor_id=None,
                            vocab_cache=bulk.new_vocab_cache())
    assert client.get(f"{API}/studies/plan-twice").status_code == 404


def _numbers(key: str, nct: str, keep: str) -> dict:
    """A study with results only (one arm's, from which no contrast is computed), reported
    effects only, or no number at all."""
    doc = study_document(key, nct)
    for om in doc["outcome_measures"]:
        om["results"] = om["results"][:1] if keep == "results" else []
        if keep != "effects":
            om["effects"] = []
    return doc


KEEPS = [("results", True), ("effects", True), ("neither", False)]
NCT = {"results": "1", "effects": "2", "neither": "3"}


@pytest.mark.parametrize(("keep", "expected"), KEEPS)
def test_has_results_says_whether_a_single_write_stored_any_number(client, curator, keep,
                                                                   expected):
    doc = _numbers(f"has-{keep}", f"NCT0999983{NCT[keep]}", keep)
    response = client.post(f"{API}/studies", json=doc, headers=curator)
    assert response.status_code == 201, response.text
    stored = client.get(f"{API}/studies/has-{keep}").json()
    assert [len(om["effects"]) for om in stored["outcome_measures"]] == [
        1 if keep == "effects" else 0]
    assert stored["has_results"] is expected


def test_has_results_says_whether_a_bulk_load_stored_any_number(client, db_session):
    lines = [json.dumps(_numbers(f"bulk-has-{keep}", f"NCT0999984{NCT[keep]}", keep)).encode()
             for keep, _ in KEEPS]
    errors: list[bulk.BatchError] = []
    for batch in bulk.batches(lines, 100, errors):
        bulk.load_batch(db_session, batch, source="planner.ndjson", actor_id=None,
                        vocab_cache=bulk.new_vocab_cache())
    assert errors == []
    for keep, expected in KEEPS:
        assert client.get(f"{API}/studies/bulk-has-{keep}").json()["has_results"] is expected


def test_a_computed_effect_cites_every_source_of_its_inputs(client, curator):
    doc = study_document("computed-sources", "NCT09999851")
    om = doc["outcome_measures"][0]
    om["effects"] = []
    om["results"][0]["sources"] = [{"registry": "NCT09999851", "locator": "Results, Drug"}]
    om["results"][1]["sources"] = [{"publication": "main", "locator": "Table 2, Placebo"},
                                   {"source_url": "https://example.org/csr",
                                    "locator": "CSR p. 40"}]
    response = client.post(f"{API}/studies", json=doc, headers=curator)
    assert response.status_code == 201, response.text
    stored = client.get(f"{API}/studies/computed-sources").json()
    [computed] = [e for e in stored["outcome_measures"][0]["effects"]
                  if e["origin"] == "COMPUTED"]
    cited = {(s["publication"], s["registry"], s["source_url"], s["locator"])
             for s in computed["sources"]}
    assert cited == {(None, "NCT09999851", None, "Results, Drug"),
                     ("main", None, None, "Table 2, Placebo"),
                     (None, None, "https://example.org/csr", "CSR p. 40")}


def test_a_relation_to_an_unknown_study_is_a_422_naming_it(client, curator):
    doc = study_document("related-nowhere", "NCT09999852")
    doc["relations"] = [{"relation_type": "FOLLOW_UP_OF", "target": "no-such-study"}]
    response = client.post(f"{API}/studies", json=doc, headers=curator)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"] == "relations: no study with key 'no-such-study'"
    assert body["errors"] == [{"loc": ["body", "relations"],
                               "msg": "unknown study 'no-such-study'", "type": "value_error"}]
