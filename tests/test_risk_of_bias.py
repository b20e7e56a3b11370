"""Risk of bias per effect estimate (RoB 2 and ROBINS-I) at /outcomes/{id}/risk-of-bias:
written with the guarantees of every write (If-Match to replace, audit with the actor,
Idempotency-Key replay, dry run, nothing changed by a refused write), checked against its
domains and its study's publications, and carried by /outcomes rows and study reads. A study
written again keeps each assessment on the same effect; one whose effect is gone is dropped
with an audit entry."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.authkit import API
from tests.builders import study_document

pytestmark = pytest.mark.usefixtures("no_key_leaks")

ROB2_DOMAINS = ("randomization_process", "deviations_from_intended_interventions",
                "missing_outcome_data", "measurement_of_the_outcome",
                "selection_of_the_reported_result")
ROBINS_DOMAINS = ("bias_due_to_confounding", "bias_in_selection_of_participants",
                  "bias_in_classification_of_interventions",
                  "bias_due_to_deviations_from_intended_interventions",
                  "bias_due_to_missing_data", "bias_in_measurement_of_outcomes",
                  "bias_in_selection_of_the_reported_result")


def rob2(overall: str = "SOME_CONCERNS", **judgements: str) -> dict[str, Any]:
    """A RoB 2 body: every domain LOW unless named."""
    return {"tool": "ROB2", "overall": overall,
            "domains": {d: {"judgement": judgements.get(d, "LOW"),
                            "support": f"what the paper says about {d}"}
                        for d in ROB2_DOMAINS},
            "sources": [{"publication": "main", "locator": "Table 1"}]}


def robins(overall: str = "MODERATE", **judgements: str) -> dict[str, Any]:
    """A ROBINS-I body: every domain LOW unless named."""
    return {"tool": "ROBINS_I", "overall": overall,
            "domains": {d: {"judgement": judgements.get(d, "LOW"),
                            "support": f"what the paper says about {d}"}
                        for d in ROBINS_DOMAINS},
            "sources": [{"source_url": "https://example.org/review", "locator": "Table 3"}]}


def make_effect(client, curator, key: str = "rob-study", nct: str = "NCT09998801") -> int:
    """Store a study with one reported effect and answer its id as /outcomes lists it."""
    created = client.post(f"{API}/studies", json=study_document(key, nct), headers=curator)
    assert created.status_code == 201, created.text
    (row,) = reported(client, key)
    return int(row["id"])


def reported(client, key: str = "rob-study") -> list[dict[str, Any]]:
    """The /outcomes rows of a study's reported effects (its computed ones left out)."""
    return client.get(f"{API}/outcomes", params={"study": key, "origin": "REPORTED"}
                      ).json()["items"]


def path(effect_id: int) -> str:
    return f"{API}/outcomes/{effect_id}/risk-of-bias"


def put(client, curator, effect_id: int, body: dict[str, Any], **headers: str):
    return client.put(path(effect_id), json=body, headers={**curator, **headers})


@pytest.fixture
def effect(client, curator) -> int:
    return make_effect(client, curator)


def test_a_rob2_assessment_round_trips_through_put_and_get(client, curator, effect):
    body = rob2("SOME_CONCERNS", deviations_from_intended_interventions="SOME_CONCERNS",
                measurement_of_the_outcome="SOME_CONCERNS")
    created = put(client, curator, effect, body)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/api/v1/outcomes/{effect}/risk-of-bias"
    read = client.get(path(effect))
    assert read.status_code == 200
    assert read.headers["etag"] == created.headers["etag"]
    doc = read.json()
    assert doc == created.json()
    assert {k: doc[k] for k in body if k != "sources"} == {
        k: v for k, v in body.items() if k != "sources"}
    assert doc["sources"] == [{"publication": "main", "registry": None, "source_url": None,
                               "locator": "Table 1"}]
    assert doc["effect_id"] == effect and doc["study_key"] == "rob-study"
    assert doc["version"] == 1 and doc["published_assessment"] is False
    assert doc["judged_by"]["name"] == "curator one"


def test_a_robins_i_published_assessment_names_no_judge(client, curator, effect):
    body = {**robins("SERIOUS", bias_due_to_confounding="SERIOUS",
                     bias_due_to_missing_data="NO_INFORMATION"),
            "published_assessment": True}
    created = put(client, curator, effect, body)
    assert created.status_code == 201, created.text
    doc = client.get(path(effect)).json()
    assert doc["tool"] == "ROBINS_I" and doc["overall"] == "SERIOUS"
    assert doc["domains"] == body["domains"]
    assert doc["judged_by"] is None and doc["published_assessment"] is True


def test_replacing_an_assessment_needs_its_current_etag(client, curator, effect, snapshot):
    first = put(client, curator, effect, rob2("LOW"))
    assert first.status_code == 201
    state = snapshot()
    missing = put(client, curator, effect, rob2("HIGH", missing_outcome_data="HIGH"))
    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"
    star = put(client, curator, effect, rob2("HIGH"), **{"If-Match": "*"})
    assert star.status_code == 428
    stale = put(client, curator, effect, rob2("HIGH"), **{"If-Match": '"rob-999999-1"'})
    assert stale.status_code == 412
    assert snapshot() == state
    replaced = put(client, curator, effect, rob2("HIGH", missing_outcome_data="HIGH"),
                   **{"If-Match": first.headers["etag"]})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2
    assert replaced.headers["etag"] != first.headers["etag"]
    assert client.get(path(effect)).json()["overall"] == "HIGH"
    again = put(client, curator, effect, rob2("LOW"), **{"If-Match": first.headers["etag"]})
    assert again.status_code == 412


def test_creating_an_assessment_with_an_if_match_that_names_nothing_is_412(
        client, curator, effect):
    assert put(client, curator, effect, rob2("LOW"), **{"If-Match": '"rob-1-1"'}
               ).status_code == 412
    assert client.get(path(effect)).status_code == 404


@pytest.mark.parametrize(("body", "accepted", "named"), [
    # overall LOW needs every domain LOW
    (rob2("LOW"), True, None),
    (rob2("LOW", missing_outcome_data="SOME_CONCERNS"), False, "missing_outcome_data"),
    # any HIGH domain needs overall HIGH
    (rob2("HIGH", randomization_process="HIGH"), True, None),
    (rob2("SOME_CONCERNS", randomization_process="HIGH"), False, "randomization_process"),
    (rob2("LOW", measurement_of_the_outcome="HIGH"), False, "measurement_of_the_outcome"),
    # never less severe than the most severe domain; more severe is a judgement call
    (rob2("SOME_CONCERNS", measurement_of_the_outcome="SOME_CONCERNS"), True, None),
    (rob2("HIGH", measurement_of_the_outcome="SOME_CONCERNS"), True, None),
    (rob2("SOME_CONCERNS"), True, None),
], ids=["low-all-low", "low-with-concerns", "high-with-high", "concerns-with-high",
        "low-with-high", "concerns-with-concerns", "high-with-concerns", "concerns-all-low"])
def test_a_rob2_overall_must_agree_with_its_domains(client, curator, effect, snapshot, body,
                                                   accepted, named):
    state = snapshot()
    answer = put(client, curator, effect, body)
    if accepted:
        assert answer.status_code == 201, answer.text
        return
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert named in problem["detail"] and body["overall"] in problem["detail"]
    assert snapshot() == state


@pytest.mark.parametrize(("body", "accepted", "named"), [
    (robins("SERIOUS", bias_due_to_confounding="SERIOUS"), True, None),
    (robins("MODERATE", bias_due_to_confounding="SERIOUS"), False, "bias_due_to_confounding"),
    (robins("CRITICAL", bias_due_to_missing_data="CRITICAL"), True, None),
    (robins("SERIOUS", bias_due_to_missing_data="CRITICAL"), False, "bias_due_to_missing_data"),
    (robins("LOW"), True, None),
    (robins("LOW", bias_in_measurement_of_outcomes="MODERATE"), False,
     "bias_in_measurement_of_outcomes"),
    # NO_INFORMATION domains do not lower (nor raise) the overall judgement
    (robins("LOW", bias_due_to_missing_data="NO_INFORMATION"), True, None),
    (robins("LOW", bias_due_to_missing_data="NO_INFORMATION",
            bias_due_to_confounding="MODERATE"), False, "bias_due_to_confounding"),
    (robins("NO_INFORMATION", bias_due_to_missing_data="NO_INFORMATION"), True, None),
    (robins("NO_INFORMATION", bias_due_to_missing_data="NO_INFORMATION",
            bias_due_to_confounding="SERIOUS"), False, "bias_due_to_confounding"),
    (robins("NO_INFORMATION"), False, "NO_INFORMATION"),
], ids=["serious-serious", "moderate-with-serious", "critical-critical",
        "serious-with-critical", "low-all-low", "low-with-moderate", "low-with-no-info",
        "low-with-no-info-and-moderate", "no-info-with-no-info", "no-info-with-serious",
        "no-info-without-a-no-info-domain"])
def test_a_robins_i_overall_is_at_least_its_most_severe_domain(client, curator, effect,
                                                              snapshot, body, accepted, named):
    state = snapshot()
    answer = put(client, curator, effect, body)
    if accepted:
        assert answer.status_code == 201, answer.text
        return
    assert answer.status_code == 422, answer.text
    assert named in answer.json()["detail"]
    assert snapshot() == state


def _without(body: dict[str, Any], domain: str) -> dict[str, Any]:
    body = copy.deepcopy(body)
    del body["domains"][domain]
    return body


def _with(body: dict[str, Any], domain: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["domains"][domain] = value
    return body


LOW = {"judgement": "LOW", "support": "randomized by a central computer"}


@pytest.mark.parametrize("body", [
    _without(rob2("LOW"), "missing_outcome_data"),
    _with(rob2("LOW"), "bias_due_to_confounding", LOW),
    _with(rob2("LOW"), "expectancy", LOW),
    _without(robins("LOW"), "bias_due_to_confounding"),
    _with(robins("LOW"), "randomization_process", LOW),
    _with(rob2("HIGH"), "randomization_process", {"judgement": "SERIOUS", "support": "x"}),
    _with(robins("SERIOUS"), "bias_due_to_missing_data",
          {"judgement": "SOME_CONCERNS", "support": "x"}),
    {**rob2("LOW"), "tool": "ROB1"},
], ids=["rob2-missing-domain", "rob2-robins-domain", "rob2-unknown-domain",
        "robins-missing-domain", "robins-rob2-domain", "rob2-robins-judgement",
        "robins-rob2-judgement", "unknown-tool"])
def test_domains_must_be_exactly_the_tools_own(client, curator, effect, snapshot, body):
    state = snapshot()
    answer = put(client, curator, effect, body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert snapshot() == state


@pytest.mark.parametrize("support", ["", "   ", "\n\t"])
def test_each_domain_needs_a_support_text(client, curator, effect, support):
    body = _with(rob2("LOW"), "missing_outcome_data", {"judgement": "LOW", "support": support})
    answer = put(client, curator, effect, body)
    assert answer.status_code == 422, answer.text
    assert any("missing_outcome_data" in e["loc"] for e in answer.json()["errors"])
    body = _without(rob2("LOW"), "missing_outcome_data")
    body["domains"]["missing_outcome_data"] = {"judgement": "LOW"}
    assert put(client, curator, effect, body).status_code == 422


def test_an_assessment_needs_a_source(client, curator, effect):
    assert put(client, curator, effect, {**rob2("LOW"), "sources": []}).status_code == 422
    no_sources = {k: v for k, v in rob2("LOW").items() if k != "sources"}
    assert put(client, curator, effect, no_sources).status_code == 422
    assert put(client, curator, effect, {**rob2("LOW"), "sources": [{"locator": "p. 3"}]}
               ).status_code == 422
    assert client.get(path(effect)).status_code == 404


def test_a_source_must_be_a_publication_of_the_effects_study(client, curator, effect,
                                                             snapshot):
    # Another study whose one publication is cited as "elsewhere".
    other = json.loads(json.dumps(study_document("rob-other", "NCT09998802"))
                       .replace('"main"', '"elsewhere"'))
    assert client.post(f"{API}/studies", json=other, headers=curator).status_code == 201
    state = snapshot()
    body = {**rob2("LOW"), "sources": [{"source_url": "https://example.org/a"},
                                       {"publication": "elsewhere", "locator": "Table 2"}]}
    answer = put(client, curator, effect, body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", "sources", 1, "publication"]
    assert "elsewhere" in answer.json()["detail"]
    assert snapshot() == state
    assert put(client, curator, effect, {**body, "sources": body["sources"][:1]}
               ).status_code == 201


def test_only_a_curator_key_can_write_an_assessment(client, curator, effect, make_key,
                                                    snapshot):
    reader = {"Authorization": f"Bearer {make_key('reader', 'a reader')}"}
    state = snapshot()
    anonymous = client.put(path(effect), json=rob2("LOW"))
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert client.put(path(effect), json=rob2("LOW"), headers=reader).status_code == 403
    assert client.delete(path(effect), headers=reader).status_code == 403
    assert snapshot() == state
    assert client.get(path(effect)).status_code == 404


def test_reads_of_a_missing_assessment_or_effect_are_404_problems(client, curator, effect):
    for url in (path(effect), path(2**31 - 1), f"{path(effect)}/history"):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert answer.headers["content-type"] == "application/problem+json"
    assert put(client, curator, 2**31 - 1, rob2("LOW")).status_code == 404


def test_every_change_is_audited_with_its_actor(client, curator, effect):
    first = put(client, curator, effect, rob2("LOW"), **{"X-Change-Reason": "from Table 1"})
    put(client, curator, effect, rob2("HIGH", randomization_process="HIGH"),
        **{"If-Match": first.headers["etag"]})
    entries = client.get(f"{path(effect)}/history").json()["items"]
    assert [e["action"] for e in entries] == ["create", "replace"]
    assert {e["actor"]["name"] for e in entries} == {"curator one"}
    assert entries[0]["reason"] == "from Table 1"
    assert entries[1]["changes"]["overall"] == {"before": "LOW", "after": "HIGH"}
    study = client.get(f"{API}/studies/rob-study/history").json()["items"]
    assert [e["action"] for e in study][-2:] == ["risk-of-bias create", "risk-of-bias replace"]
    assert study[-1]["actor"]["name"] == "curator one"
    assert "outcome_measures" in study[-1]["changes"]


def test_a_retried_write_with_its_idempotency_key_replays_the_first_answer(
        client, curator, effect, snapshot):
    key = {"Idempotency-Key": "rob-1"}
    first = put(client, curator, effect, rob2("LOW"), **key)
    assert first.status_code == 201
    state = snapshot()
    again = put(client, curator, effect, rob2("LOW"), **key)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"]
    assert again.json() == first.json()
    assert snapshot() == state
    other = put(client, curator, effect, rob2("HIGH"), **key)
    assert other.status_code == 422
    assert snapshot() == state


def test_a_dry_run_answers_what_would_happen_and_changes_nothing(client, curator, effect,
                                                                 snapshot):
    state = snapshot()
    answer = client.put(path(effect), params={"dry_run": "true"}, json=rob2("LOW"),
                        headers=curator)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["dry_run"] is True and body["would_status"] == 201
    assert body["result"]["overall"] == "LOW"
    assert snapshot() == state
    assert client.get(path(effect)).status_code == 404


def test_a_delete_needs_if_match_and_keeps_the_history(client, curator, effect):
    created = put(client, curator, effect, rob2("LOW"))
    assert client.delete(path(effect), headers=curator).status_code == 428
    gone = client.delete(path(effect), headers={**curator, "If-Match": created.headers["etag"]})
    assert gone.status_code == 204
    assert client.get(path(effect)).status_code == 404
    assert client.delete(path(effect), headers={**curator, "If-Match": created.headers["etag"]}
                         ).status_code == 404
    actions = [e["action"] for e in
               client.get(f"{API}/studies/rob-study/history").json()["items"]]
    assert actions[-2:] == ["risk-of-bias create", "risk-of-bias delete"]


def test_outcome_rows_carry_the_assessment_at_a_glance(client, curator, effect):
    other = make_effect(client, curator, "rob-unassessed", "NCT09998803")
    put(client, curator, effect, rob2("SOME_CONCERNS", measurement_of_the_outcome="SOME_CONCERNS"))
    rows = {r["id"]: r for r in client.get(f"{API}/outcomes").json()["items"]}
    assert rows[effect]["risk_of_bias"] == {
        "tool": "ROB2", "overall": "SOME_CONCERNS",
        "domains": {**dict.fromkeys(ROB2_DOMAINS, "LOW"),
                    "measurement_of_the_outcome": "SOME_CONCERNS"}}
    assert rows[other]["risk_of_bias"] is None


def test_a_study_read_carries_the_assessment_and_changes_its_etag(client, curator, effect):
    before = client.get(f"{API}/studies/rob-study")
    assert before.json()["effects"][0]["risk_of_bias"] is None
    put(client, curator, effect, robins("SERIOUS", bias_due_to_confounding="SERIOUS"))
    after = client.get(f"{API}/studies/rob-study")
    assert after.headers["etag"] != before.headers["etag"]
    assert client.get(f"{API}/studies/rob-study",
                      headers={"If-None-Match": before.headers["etag"]}).status_code == 200
    doc = after.json()
    nested = doc["outcome_measures"][0]["effects"][0]["risk_of_bias"]
    assert nested == doc["effects"][0]["risk_of_bias"]
    assert nested["tool"] == "ROBINS_I" and nested["overall"] == "SERIOUS"
    assert nested["domains"]["bias_due_to_confounding"] == "SERIOUS"


def test_a_study_written_back_as_read_keeps_its_assessment(client, curator, effect):
    created = put(client, curator, effect, rob2("HIGH", missing_outcome_data="HIGH"))
    read = client.get(f"{API}/studies/rob-study")
    written = client.put(f"{API}/studies/rob-study", json=read.json(),
                         headers={**curator, "If-Match": read.headers["etag"]})
    assert written.status_code == 200, written.text
    assert written.json()["effects"][0]["risk_of_bias"]["overall"] == "HIGH"
    (row,) = reported(client)
    kept = client.get(path(row["id"]))
    assert kept.status_code == 200
    assert kept.headers["etag"] == created.headers["etag"]
    assert {k: v for k, v in kept.json().items() if k != "effect_id"} == {
        k: v for k, v in created.json().items() if k != "effect_id"}


def test_a_corrected_effect_keeps_its_assessment_and_a_removed_one_drops_it(
        client, curator, effect):
    put(client, curator, effect, rob2("LOW"))
    read = client.get(f"{API}/studies/rob-study")
    doc = read.json()
    doc["outcome_measures"][0]["effects"][0]["value"] = 0.75
    corrected = client.put(f"{API}/studies/rob-study", json=doc,
                           headers={**curator, "If-Match": read.headers["etag"]})
    assert corrected.status_code == 200, corrected.text
    (row,) = reported(client)
    assert row["value"] == 0.75 and row["risk_of_bias"]["overall"] == "LOW"
    doc["outcome_measures"][0]["effects"][0]["effect_type"] = "HEDGES_G"
    changed = client.put(f"{API}/studies/rob-study", json=doc,
                         headers={**curator, "If-Match": corrected.headers["etag"]})
    assert changed.status_code == 200, changed.text
    (row,) = reported(client)
    assert row["risk_of_bias"] is None
    assert client.get(path(row["id"])).status_code == 404
