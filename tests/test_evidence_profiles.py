"""Evidence profiles (GRADE) at /evidence-profiles: a saved question with its five domains,
the certainty computed from them, and a summary-of-findings row that is the question's
/meta-analysis now; written with the guarantees of every write (If-Match, audit with the
actor, Idempotency-Key replay, dry run, nothing changed by a refused write)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.authkit import API
from tests.evidence_helpers import MAPP_KEYS

pytestmark = pytest.mark.usefixtures("no_key_leaks")

PROFILES = f"{API}/evidence-profiles"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "metafor"
DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
# The seed's MDMA phase 3 question: MAPP1 and MAPP2, CAPS-5 at the primary endpoint.
MAPP_PARAMETERS = {"intervention": ["MDMA"], "phase": ["PHASE3"], "effect_type": ["COHENS_D"],
                   "instrument": ["CAPS-5"], "timepoint_months_max": 6}


def profile(design: str = "RANDOMIZED", parameters: dict[str, Any] | None = None,
            **ratings: str) -> dict[str, Any]:
    """A profile body of the MAPP question: every domain NONE unless named."""
    return {
        "question": {"population": "adults with severe PTSD",
                     "intervention": "MDMA-assisted therapy",
                     "comparator": "placebo with the same therapy",
                     "outcome": "PTSD symptom severity (CAPS-5)",
                     "parameters": MAPP_PARAMETERS if parameters is None else parameters},
        "study_design": design,
        "domains": {d: ({"rating": ratings[d], "reason": f"judged so for {d}"}
                        if d in ratings else {"rating": "NONE"}) for d in DOMAINS},
        "sources": [{"citation": "ICER 2024 report on MDMA-AT for PTSD", "locator": "Table 4"}],
    }


def create(client, curator, body: dict[str, Any], **headers: str):
    return client.post(PROFILES, json=body, headers={**curator, **headers})


def created(client, curator, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = create(client, curator, profile() if body is None else body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def patch(client, curator, profile_id: int, changes: dict[str, Any], **headers: str):
    return client.patch(f"{PROFILES}/{profile_id}", content=json.dumps(changes),
                        headers={**curator, "Content-Type": "application/merge-patch+json",
                                 **headers})


# ------------------------------------------------------------------ summary of findings


def test_the_summary_of_findings_is_the_meta_analysis_of_the_question(client, curator):
    answer = create(client, curator, profile(risk_of_bias="SERIOUS"))
    assert answer.status_code == 201, answer.text
    doc = answer.json()
    assert answer.headers["location"] == f"/api/v1/evidence-profiles/{doc['id']}"
    assert answer.headers["etag"] == f'"profile-{doc["id"]}-1"'
    read = client.get(answer.headers["location"])
    assert read.status_code == 200 and read.json() == doc
    sof = doc["summary_of_findings"]
    assert sof["certainty"] == doc["certainty"] == "MODERATE"
    assert sof["outcome"] == "PTSD symptom severity (CAPS-5)" and sof["reason"] is None
    # The row links to its meta-analysis, which is what a client asking it directly gets.
    linked = client.get(sof["meta_analysis"])
    assert linked.status_code == 200, linked.text
    direct = client.get(f"{API}/meta-analysis", params=MAPP_PARAMETERS).json()
    assert linked.json() == direct
    pooled = sof["pooled"]
    for name in ("k", "estimate", "ci_low", "ci_high", "ci_level", "effect_type", "i2",
                 "method", "model"):
        assert pooled[name] == direct[name], name
    assert set(pooled["studies"]) == MAPP_KEYS == {s["study_key"] for s in direct["studies"]}
    assert pooled["scale"] == "identity" and pooled["exponentiated"] is None
    # ...and what R's metafor gives for the same two trials.
    expected = json.loads((FIXTURES / "seed_pooling.json").read_text())["sets"]["caps5"]
    assert pooled["k"] == 2
    assert pooled["estimate"] == pytest.approx(0.7953811594918294, abs=1e-6)
    assert pooled["estimate"] == pytest.approx(expected["rma"]["estimate"], abs=1e-6)
    assert (pooled["ci_low"], pooled["ci_high"]) == pytest.approx(
        (expected["rma"]["ci_lb"], expected["rma"]["ci_ub"]), abs=1e-6)
    assert pooled["participants"] == sum(i["n1"] + i["n2"] for i in expected["inputs"]) == 194
    assert pooled["participants_known_for"] == 2


def test_a_question_that_cannot_be_pooled_says_why_and_still_reads(client, curator):
    one_trial = {**MAPP_PARAMETERS, "study": ["NCT03537014"]}
    doc = created(client, curator, profile(parameters=one_trial))
    sof = client.get(f"{PROFILES}/{doc['id']}").json()["summary_of_findings"]
    assert sof["pooled"] is None
    assert "at least two" in sof["reason"]
    assert client.get(sof["meta_analysis"]).status_code == 422
    assert sof["certainty"] == "HIGH"


# ------------------------------------------------------------------ certainty


@pytest.mark.parametrize(("design", "ratings", "start", "certainty"), [
    ("RANDOMIZED", {}, "HIGH", "HIGH"),
    ("RANDOMIZED", {"imprecision": "SERIOUS"}, "HIGH", "MODERATE"),
    ("RANDOMIZED", {"risk_of_bias": "SERIOUS", "indirectness": "SERIOUS"}, "HIGH", "LOW"),
    ("RANDOMIZED", {"risk_of_bias": "VERY_SERIOUS", "imprecision": "SERIOUS"}, "HIGH",
     "VERY_LOW"),
    ("RANDOMIZED", {"risk_of_bias": "VERY_SERIOUS", "publication_bias": "VERY_SERIOUS"},
     "HIGH", "VERY_LOW"),
    ("OBSERVATIONAL", {}, "LOW", "LOW"),
    ("OBSERVATIONAL", {"inconsistency": "SERIOUS"}, "LOW", "VERY_LOW"),
    ("OBSERVATIONAL", {"inconsistency": "VERY_SERIOUS", "imprecision": "SERIOUS"}, "LOW",
     "VERY_LOW"),
])
def test_certainty_is_the_starting_level_lowered_by_the_domains(client, curator, design,
                                                                ratings, start, certainty):
    doc = created(client, curator, profile(design, **ratings))
    assert doc["starting_level"] == start
    assert doc["certainty"] == certainty
    assert doc["summary_of_findings"]["certainty"] == certainty
    assert client.get(f"{PROFILES}/{doc['id']}").json()["certainty"] == certainty


def test_a_certainty_sent_in_is_read_only_and_ignored(client, curator):
    body = {**profile(imprecision="SERIOUS"), "certainty": "HIGH", "version": 7,
            "starting_level": "LOW"}
    doc = created(client, curator, body)
    assert (doc["certainty"], doc["starting_level"], doc["version"]) == ("MODERATE", "HIGH", 1)


def test_ratings_in_lower_case_are_accepted(client, curator):
    body = profile()
    body["domains"]["imprecision"] = {"rating": "very_serious", "reason": "two small trials"}
    doc = created(client, curator, body)
    assert doc["domains"]["imprecision"]["rating"] == "VERY_SERIOUS"
    assert doc["certainty"] == "LOW"


# ------------------------------------------------------------------ refused bodies


@pytest.mark.parametrize("domain", [{"rating": "SERIOUS"}, {"rating": "VERY_SERIOUS",
                                                           "reason": "   "},
                                    {"rating": "NONE", "reason": "a NUL \u0000 in it"}])
def test_a_lowering_rating_needs_a_reason(client, curator, snapshot, domain):
    state = snapshot()
    body = profile()
    body["domains"]["inconsistency"] = domain
    answer = create(client, curator, body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert any(e["loc"][:3] == ["body", "domains", "inconsistency"]
               for e in answer.json()["errors"])
    assert snapshot() == state


def test_a_missing_domain_is_refused_naming_it(client, curator):
    body = profile()
    del body["domains"]["publication_bias"]
    answer = create(client, curator, body)
    assert answer.status_code == 422
    assert ["body", "domains", "publication_bias"] in [e["loc"] for e in answer.json()["errors"]]


@pytest.mark.parametrize(("parameters", "field"), [
    ({**MAPP_PARAMETERS, "timepoint_months_max": -1}, "timepoint_months_max"),
    ({**MAPP_PARAMETERS, "effect_type": ["COHENS_Q"]}, "effect_type"),
    ({**MAPP_PARAMETERS, "colour": "blue"}, "colour"),
    ({**MAPP_PARAMETERS, "method": "BAYES"}, "method"),
])
def test_an_invalid_question_is_a_422_naming_the_parameter(client, curator, snapshot,
                                                          parameters, field):
    state = snapshot()
    answer = create(client, curator, profile(parameters=parameters))
    assert answer.status_code == 422, answer.text
    locs = [e["loc"] for e in answer.json()["errors"]]
    assert any(loc[:4] == ["body", "question", "parameters", field] for loc in locs), locs
    # The same parameter is refused by /meta-analysis itself.
    assert client.get(f"{API}/meta-analysis", params=parameters).status_code == 422
    assert snapshot() == state


@pytest.mark.parametrize("parameters", [
    {**MAPP_PARAMETERS, "hartung_knapp": "true"}, {**MAPP_PARAMETERS, "ci_level": "0.9"},
    {**MAPP_PARAMETERS, "phase": False}, {**MAPP_PARAMETERS, "instrument": [5]},
])
def test_question_parameters_are_json_values_not_query_strings(client, curator, snapshot,
                                                               parameters):
    # The query string's "true" and "0.9" are text; in a JSON body they are not a boolean or
    # a number, and a single false is not a list.
    state = snapshot()
    answer = create(client, curator, profile(parameters=parameters))
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"][:4] == ["body", "question", "parameters"][:4]
    assert snapshot() == state


# ------------------------------------------------------------------ changes


def test_a_patch_needs_the_current_etag_and_recomputes_the_certainty(client, curator,
                                                                     snapshot):
    answer = create(client, curator, profile())
    doc, etag = answer.json(), answer.headers["etag"]
    change = {"domains": {"imprecision": {"rating": "SERIOUS", "reason": "wide CI"}}}
    state = snapshot()
    missing = patch(client, curator, doc["id"], change)
    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"
    assert patch(client, curator, doc["id"], change, **{"If-Match": "*"}).status_code == 428
    stale = patch(client, curator, doc["id"], change,
                  **{"If-Match": f'"profile-{doc["id"]}-9"'})
    assert stale.status_code == 412
    assert snapshot() == state
    done = patch(client, curator, doc["id"], change, **{"If-Match": etag})
    assert done.status_code == 200, done.text
    after = done.json()
    assert after["version"] == 2 and done.headers["etag"] == f'"profile-{doc["id"]}-2"'
    assert after["certainty"] == "MODERATE"
    assert after["domains"]["imprecision"] == {"rating": "SERIOUS", "reason": "wide CI"}
    assert after["domains"]["risk_of_bias"] == doc["domains"]["risk_of_bias"]
    assert client.get(f"{PROFILES}/{doc['id']}").json() == after
    assert patch(client, curator, doc["id"], change, **{"If-Match": etag}).status_code == 412


def test_a_patch_can_widen_the_question_and_the_summary_follows(client, curator):
    answer = create(client, curator, profile())
    doc = answer.json()
    widened = patch(client, curator, doc["id"],
                    {"question": {"parameters": {"timepoint_months_max": None}}},
                    **{"If-Match": answer.headers["etag"]})
    assert widened.status_code == 200, widened.text
    parameters = widened.json()["question"]["parameters"]
    assert "timepoint_months_max" not in parameters
    assert parameters["instrument"] == ["CAPS-5"]
    link = widened.json()["summary_of_findings"]["meta_analysis"]
    assert "timepoint_months_max" not in link and "instrument=CAPS-5" in link


def test_a_patch_that_breaks_the_document_is_a_422_and_changes_nothing(client, curator,
                                                                       snapshot):
    answer = create(client, curator, profile())
    doc, etag = answer.json(), answer.headers["etag"]
    state = snapshot()
    bad = patch(client, curator, doc["id"],
                {"domains": {"risk_of_bias": {"rating": "SERIOUS"}}}, **{"If-Match": etag})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"][:3] == ["body", "domains", "risk_of_bias"]
    wrong = patch(client, curator, doc["id"],
                  {"question": {"parameters": {"phase": ["PHASE9"]}}}, **{"If-Match": etag})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["loc"][:4] == ["body", "question", "parameters", "phase"]
    assert snapshot() == state


def test_the_read_is_accepted_back_unchanged_by_put_and_patch(client, curator):
    answer = create(client, curator, profile(indirectness="SERIOUS"))
    doc = client.get(answer.headers["location"]).json()
    put = client.put(answer.headers["location"], json=doc,
                     headers={**curator, "If-Match": answer.headers["etag"]})
    assert put.status_code == 200, put.text
    same = {k: v for k, v in put.json().items() if k not in ("version", "updated_at")}
    assert same == {k: v for k, v in doc.items() if k not in ("version", "updated_at")}
    back = patch(client, curator, doc["id"], put.json(), **{"If-Match": put.headers["etag"]})
    assert back.status_code == 200, back.text
    assert back.json()["version"] == 3
    assert back.json()["domains"] == doc["domains"] and back.json()["question"] == doc["question"]


def test_every_change_is_in_the_history_with_its_actor_and_a_delete_keeps_it(client, curator):
    answer = create(client, curator, profile(), **{"X-Change-Reason": "from the ICER report"})
    doc = answer.json()
    assert doc["created_by"]["name"] == "curator one"
    changed = patch(client, curator, doc["id"], {"study_design": "OBSERVATIONAL"},
                    **{"If-Match": answer.headers["etag"]})
    assert changed.json()["certainty"] == "LOW"
    where = f"{PROFILES}/{doc['id']}"
    assert client.delete(where, headers=curator).status_code == 428
    gone = client.delete(where, headers={**curator, "If-Match": changed.headers["etag"]})
    assert gone.status_code == 204
    assert client.get(where).status_code == 404
    entries = client.get(f"{where}/history").json()["items"]
    assert [e["action"] for e in entries] == ["create", "update", "delete"]
    assert {e["actor"]["name"] for e in entries} == {"curator one"}
    assert entries[0]["reason"] == "from the ICER report"
    assert entries[1]["changes"]["certainty"] == {"before": "HIGH", "after": "LOW"}
    assert [e["version"] for e in entries] == [1, 2, None]


# ------------------------------------------------------------------ write guarantees


def test_a_retried_create_with_its_idempotency_key_replays_the_first_answer(client, curator,
                                                                           snapshot):
    key = {"Idempotency-Key": "grade-1"}
    first = create(client, curator, profile(), **key)
    assert first.status_code == 201
    state = snapshot()
    again = create(client, curator, profile(), **key)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and again.headers["etag"] == first.headers["etag"]
    assert snapshot() == state
    other = create(client, curator, profile(imprecision="SERIOUS"), **key)
    assert other.status_code == 422
    assert snapshot() == state


def test_a_dry_run_answers_what_would_happen_and_changes_nothing(client, curator, snapshot):
    state = snapshot()
    answer = client.post(PROFILES, params={"dry_run": "true"}, headers=curator,
                         json=profile(publication_bias="SERIOUS"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["dry_run"] is True and body["would_status"] == 201
    assert body["result"]["certainty"] == "MODERATE"
    assert body["result"]["summary_of_findings"]["pooled"]["k"] == 2
    assert snapshot() == state


def test_readers_and_anonymous_callers_cannot_write(client, curator, make_key, snapshot):
    doc = created(client, curator)
    reader = {"Authorization": f"Bearer {make_key('reader', 'a reader')}"}
    state = snapshot()
    where = f"{PROFILES}/{doc['id']}"
    assert client.post(PROFILES, json=profile(), headers=reader).status_code == 403
    assert patch(client, reader, doc["id"], {"study_design": "OBSERVATIONAL"},
                 **{"If-Match": f'"profile-{doc["id"]}-1"'}).status_code == 403
    assert client.delete(where, headers={**reader, "If-Match": "x"}).status_code == 403
    anonymous = client.post(PROFILES, json=profile())
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert snapshot() == state
    assert client.get(where, headers=reader).status_code == 200


def test_an_unknown_profile_is_a_404_problem(client, curator):
    for response in (client.get(f"{PROFILES}/{2**31 - 1}"),
                     patch(client, curator, 2**31 - 1, {}, **{"If-Match": '"x"'}),
                     client.get(f"{PROFILES}/{2**31 - 1}/history")):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


# ------------------------------------------------------------------ list


def test_the_list_pages_by_keyset_and_filters_by_certainty(client, curator):
    made = [created(client, curator, profile(**ratings))["id"] for ratings in (
        {}, {"imprecision": "SERIOUS"}, {}, {"risk_of_bias": "VERY_SERIOUS"})]
    first = client.get(PROFILES, params={"page_size": 3})
    assert first.status_code == 200
    body = first.json()
    assert [p["id"] for p in body["items"]] == made[:3]
    assert "summary_of_findings" not in body["items"][0]
    assert body["items"][1]["certainty"] == "MODERATE"
    assert 'rel="next"' in first.headers["link"]
    rest = client.get(PROFILES, params={"page_size": 3,
                                        "page_token": body["next_page_token"]}).json()
    assert [p["id"] for p in rest["items"]] == made[3:]
    assert rest["next_page_token"] is None
    high = client.get(PROFILES, params={"certainty": "HIGH"}).json()["items"]
    assert [p["id"] for p in high] == [made[0], made[2]]
    two = client.get(PROFILES, params={"certainty": "MODERATE,LOW"}).json()["items"]
    assert [p["id"] for p in two] == [made[1], made[3]]
    assert client.get(PROFILES, params={"page_token": "bm90LWEtdG9rZW4"}).status_code == 400
    assert client.get(PROFILES, params={"certainty": "SO_SO"}).status_code == 422


def test_a_profile_sent_back_after_a_copy_is_a_new_profile(client, curator):
    doc = created(client, curator)
    copied = create(client, curator, copy.deepcopy(doc))
    assert copied.status_code == 201
    assert copied.json()["id"] != doc["id"] and copied.json()["version"] == 1
