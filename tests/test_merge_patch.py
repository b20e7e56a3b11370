"""JSON merge patch (RFC 7396) edge cases, and free text carrying quotes and operators.

The merge itself is checked directly (objects merge key by key, null removes, arrays and
scalars replace, a non-object patch replaces the whole target); then through PATCH, where the
merged document must still be a valid study or nothing changes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from app.services.patching import merge_patch
from tests.authkit import API
from tests.builders import study_document

pytestmark = pytest.mark.usefixtures("no_key_leaks")

SEED = Path(__file__).resolve().parent.parent / "seed_data" / "studies"


@pytest.mark.parametrize("target,patch,expected", [
    ({"a": 1}, {"a": 2}, {"a": 2}),
    ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),
    ({"a": 1}, {"x": None}, {"a": 1}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 4}}, {"a": {"c": 2, "d": 4}}),
    ({"a": {"b": {"c": 1}}}, {"a": {"b": {"c": None}}}, {"a": {"b": {}}}),
    ({"a": [{"b": 1, "c": 2}]}, {"a": [{"b": 3}]}, {"a": [{"b": 3}]}),
    ({"a": "x"}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
    ({"a": {"b": 1}}, {"a": "text"}, {"a": "text"}),
    ({"a": 1}, {}, {"a": 1}),
    ({"a": 1}, ["list"], ["list"]),
    ({"a": 1}, "text", "text"),
    ({"a": 1}, None, None),
    ([1, 2], {"a": 1}, {"a": 1}),
    ({"a": [None, 1]}, {"a": [None]}, {"a": [None]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
])
def test_merge_patch_follows_rfc_7396(target, patch, expected):
    before = copy.deepcopy(target)
    assert merge_patch(target, patch) == expected
    assert target == before, "the target is never changed in place"


def create(client, curator, key: str, nct: str, **overrides):
    response = client.post(f"{API}/studies", json=study_document(key, nct, **overrides),
                           headers=curator)
    assert response.status_code == 201, response.text
    return response


def patch(client, curator, key: str, etag: str, body, content_type="application/json"):
    return client.patch(f"{API}/studies/{key}", content=json.dumps(body),
                        headers={**curator, "If-Match": etag, "Content-Type": content_type})


def test_null_removes_an_optional_field_and_arrays_replace_whole(client, curator):
    created = create(client, curator, "mp-1", "NCT09993301")
    response = patch(client, curator, "mp-1", created.headers["etag"],
                     {"acronym": None, "countries": ["France"], "keywords": []},
                     "application/merge-patch+json")
    assert response.status_code == 200, response.text
    study = client.get(f"{API}/studies/mp-1").json()
    assert study["acronym"] is None
    assert study["countries"] == ["France"]
    assert study["keywords"] == []
    assert study["title"] == study_document("mp-1")["title"]
    assert study["version"] == 2


def test_a_patched_array_of_objects_replaces_every_item(client, curator):
    created = create(client, curator, "mp-2", "NCT09993302")
    doc = created.json()
    timepoints = [{k: v for k, v in tp.items() if k in ("label", "anchor", "months", "role",
                                                        "months_since_baseline", "sources")}
                  for tp in study_document("mp-2")["timepoints"]]
    timepoints[1]["months"] = 13
    response = patch(client, curator, "mp-2", created.headers["etag"],
                     {"timepoints": timepoints})
    assert response.status_code == 200, response.text
    after = client.get(f"{API}/studies/mp-2").json()
    assert [tp["months"] for tp in after["timepoints"]] == [0, 13]
    assert after["follow_up_months_max"] == 13
    assert len(after["outcome_measures"][0]["results"]) == len(
        doc["outcome_measures"][0]["results"])


def test_null_on_a_required_field_is_a_422_and_changes_nothing(client, curator, snapshot):
    created = create(client, curator, "mp-3", "NCT09993303")
    before = snapshot()
    for body in ({"title": None}, {"arms": None}, {"key": "another-key"},
                 {"arms": [{"label": "Only"}]}, {"enrollment": "many"}):
        response = patch(client, curator, "mp-3", created.headers["etag"], body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert snapshot() == before
    assert client.get(f"{API}/studies/mp-3").json()["version"] == 1


@pytest.mark.parametrize("body", [["title", "x"], "a title", 42, None])
def test_a_patch_that_is_not_an_object_is_refused_and_changes_nothing(client, curator,
                                                                       snapshot, body):
    created = create(client, curator, "mp-4", "NCT09993304")
    before = snapshot()
    response = patch(client, curator, "mp-4", created.headers["etag"], body)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert snapshot() == before


def test_an_empty_patch_keeps_the_document(client, curator):
    created = create(client, curator, "mp-5", "NCT09993305")
    response = patch(client, curator, "mp-5", created.headers["etag"], {})
    assert response.status_code == 200, response.text
    after = client.get(f"{API}/studies/mp-5").json()
    volatile = {"version", "updated_at"}
    assert {k: v for k, v in after.items() if k not in volatile} == {
        k: v for k, v in created.json().items() if k not in volatile}


def test_text_with_quotes_and_operators_in_a_patch_is_stored_verbatim(client, curator):
    created = create(client, curator, "mp-6", "NCT09993306")
    title = 'A "quoted" trial: MDMA OR placebo AND NOT (x* - y) \' ; -- DROP TABLE study'
    response = patch(client, curator, "mp-6", created.headers["etag"], {"title": title})
    assert response.status_code == 200, response.text
    assert client.get(f"{API}/studies/mp-6").json()["title"] == title


MDMA_KEYS = sorted(json.loads(p.read_text(encoding="utf-8"))["key"] for p in SEED.glob("*.json")
                   if "MDMA" in {i["name"] for a in json.loads(p.read_text(encoding="utf-8"))
                                 .get("arms", []) for i in a.get("interventions", [])})


def text_search(client, q: str) -> list[str]:
    response = client.get(f"{API}/studies", params={"q": q, "page_size": 1000})
    assert response.status_code == 200, (q, response.text)
    return sorted(s["key"] for s in response.json()["items"])


def test_the_seed_has_eleven_mdma_studies_found_by_text():
    assert len(MDMA_KEYS) == 11


@pytest.mark.parametrize("q", ["MDMA", "mdma", '"MDMA"', "MDMA*", "(MDMA)", 'MDMA"', '"MDMA',
                               "MDMA'", "^MDMA", "MDMA:*", "  MDMA  "])
def test_quotes_and_operators_around_a_word_find_what_the_word_finds(client, q):
    assert text_search(client, q) == MDMA_KEYS


@pytest.mark.parametrize("q", ["*", '"', "''", "%", "_", "\\", "%%", "_%_", "()", ":", "^"])
def test_text_without_a_word_matches_nothing_and_never_fails(client, q):
    assert text_search(client, q) == []


@pytest.mark.parametrize("q", ["NEAR(MDMA)", "title:MDMA", "MDMA AND", "NOT MDMA", "OR",
                               "MDMA & sertraline", "MDMA | x", "o'brien", "a AND (b OR",
                               "{MDMA}", "MDMA -placebo", '"unterminated phrase'])
def test_search_syntax_in_free_text_is_never_an_error(client, q):
    found = text_search(client, q)
    assert set(found) <= {json.loads(p.read_text(encoding="utf-8"))["key"]
                          for p in SEED.glob("*.json")}


def test_text_search_finds_a_title_with_quotes(client, curator):
    create(client, curator, "mp-7", "NCT09993307",
           title='The "Zyzzyva" protocol: Quixotic OR-trial')
    assert text_search(client, '"Zyzzyva"') == ["mp-7"]
    assert text_search(client, "zyzzyva quixotic") == ["mp-7"]
