"""A retraction flows down to the numbers it sourced, visibly, and nothing is deleted."""

from __future__ import annotations

import pytest

from tests.authkit import API, bearer
from tests.builders import study_document

pytestmark = pytest.mark.usefixtures("no_key_leaks")

NOTICE = {"date": "2025-06-01", "notice": "Retraction notice, J Tests 2025;1:1",
          "reason": "data integrity concerns"}


def two_source_study(key: str, nct: str) -> dict:
    """Drug result from `main` only; placebo result from `main` and `second`;
    the effect from `main` only."""
    doc = study_document(key, nct)
    doc["publications"].append({"ref": "second", "role": "SECONDARY",
                                "doi": f"10.9999/{key}.second", "title": "Second paper"})
    results = doc["outcome_measures"][0]["results"]
    results[1]["sources"].append({"publication": "second", "locator": "Table 3"})
    return doc


def flags(study: dict) -> dict:
    om = study["outcome_measures"][0]
    return {"results": {r["arm"]: r["retracted"] for r in om["results"]},
            "effects": [e["retracted"] for e in om["effects"] if e["origin"] == "REPORTED"],
            # Hedges' g computed from both arms' results, sourced by the union of theirs.
            "computed": [e["retracted"] for e in om["effects"] if e["origin"] == "COMPUTED"],
            "study": study["retracted"]}


def publication_id(study: dict, ref: str) -> int:
    return next(p["id"] for p in study["publications"] if p["ref"] == ref)


def test_retraction_flags_results_whose_every_source_is_retracted(client, curator):
    created = client.post(f"{API}/studies", json=two_source_study("retr-1", "NCT09999941"),
                          headers=curator)
    assert created.status_code == 201, created.text
    study = created.json()
    assert flags(study) == {"results": {"Drug": False, "Placebo": False}, "effects": [False],
                            "computed": [False], "study": False}
    main_id, second_id = publication_id(study, "main"), publication_id(study, "second")

    response = client.post(f"{API}/publications/{main_id}/retraction", json=NOTICE,
                           headers={**curator, "X-Change-Reason": "retraction watch"})
    assert response.status_code == 200, response.text
    assert response.json()["retraction_status"] == "RETRACTED"
    read = client.get(f"{API}/studies/retr-1")
    after = read.json()
    assert flags(after) == {"results": {"Drug": True, "Placebo": False}, "effects": [True],
                            "computed": [False], "study": False}
    main = next(p for p in after["publications"] if p["ref"] == "main")
    assert (main["retraction_status"], main["retraction_date"]) == ("RETRACTED", "2025-06-01")
    assert read.headers["etag"] != created.headers["etag"]

    client.post(f"{API}/publications/{second_id}/retraction", json=NOTICE, headers=curator)
    final = client.get(f"{API}/studies/retr-1").json()
    assert flags(final) == {"results": {"Drug": True, "Placebo": True}, "effects": [True],
                            "computed": [True], "study": True}
    history = client.get(f"{API}/studies/retr-1/history").json()["items"]
    assert [h["action"] for h in history] == ["create", "retraction", "retraction"]
    assert history[1]["reason"] == "retraction watch"
    assert history[2]["reason"] == NOTICE["reason"]


def test_retracted_study_is_flagged_in_lists_and_hidden_on_request(client, curator):
    created = client.post(f"{API}/studies", json=study_document("retr-2", "NCT09999942"),
                          headers=curator).json()
    client.post(f"{API}/publications/{publication_id(created, 'main')}/retraction",
                json=NOTICE, headers=curator)
    listed = client.get(f"{API}/studies", params={"registry_id": "NCT09999942"}).json()["items"]
    assert [(s["key"], s["retracted"]) for s in listed] == [("retr-2", True)]
    hidden = client.get(f"{API}/studies", params={"registry_id": "NCT09999942",
                                                  "include_retracted": "false"}).json()
    assert hidden["items"] == []


def test_retraction_answers_404_409_and_403(client, curator, make_key, snapshot):
    created = client.post(f"{API}/studies", json=study_document("retr-3", "NCT09999943"),
                          headers=curator).json()
    pub = publication_id(created, "main")
    before = snapshot()
    reader = bearer(make_key("reader", "reader"))
    assert client.post(f"{API}/publications/{pub}/retraction", json=NOTICE,
                       headers=reader).status_code == 403
    assert client.post(f"{API}/publications/999999/retraction", json=NOTICE,
                       headers=curator).status_code == 404
    # An id past any database integer is a 422, not an overflow.
    huge = client.post(f"{API}/publications/58376923526537207087104/retraction", json=NOTICE,
                       headers=curator)
    assert huge.status_code == 422 and ["path", "publication_id"] in [
        e["loc"] for e in huge.json()["errors"]]
    bad_date = client.post(f"{API}/publications/{pub}/retraction",
                           json={**NOTICE, "date": "2025-02-30"}, headers=curator)
    assert bad_date.status_code == 422
    assert ["body", "date"] in [e["loc"] for e in bad_date.json()["errors"]]
    assert snapshot()["publication"] == before["publication"]
    assert client.post(f"{API}/publications/{pub}/retraction", json=NOTICE,
                       headers=curator).status_code == 200
    again = client.post(f"{API}/publications/{pub}/retraction", json=NOTICE, headers=curator)
    assert again.status_code == 409


def test_expression_of_concern_does_not_retract_results(client, curator):
    created = client.post(f"{API}/studies", json=study_document("retr-4", "NCT09999944"),
                          headers=curator).json()
    response = client.post(
        f"{API}/publications/{publication_id(created, 'main')}/retraction",
        json={**NOTICE, "status": "EXPRESSION_OF_CONCERN"}, headers=curator)
    assert response.status_code == 200
    study = client.get(f"{API}/studies/retr-4").json()
    assert flags(study) == {"results": {"Drug": False, "Placebo": False}, "effects": [False],
                            "computed": [False], "study": False}
