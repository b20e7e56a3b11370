"""Saved searches: a key saves a study filter (with a meta-analysis question and a webhook
URL if it likes), reads what changed since it last acknowledged, and acknowledges."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.models import Change
from app.services.feed import encode_cursor
from tests.authkit import API, bearer
from tests.builders import study_document
from tests.evidence_helpers import store
from tests.response_schemas import check_every_answer
from tests.toolkit import committed_key, migrated, run_cli

pytestmark = pytest.mark.usefixtures("no_key_leaks")

SUBS = f"{API}/subscriptions"
NOTICE = {"date": "2025-06-01", "notice": "Retraction notice, J Tests 2025;1:1",
          "reason": "data integrity concerns"}
SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]{32}$")
TRIALS = (("sub-a", "NCT09999961", 0.8, 0.3, 1.3), ("sub-b", "NCT09999962", 0.5, 0.1, 0.9),
          ("sub-c", "NCT09999963", 1.2, 0.6, 1.8))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Webhooks to 127.0.0.1 allowed, as a test receiver on this machine needs."""
    return settings.model_copy(update={"webhook_allowed_networks": ["127.0.0.1/32"]})


@pytest.fixture
def reader(make_key: Any) -> dict[str, str]:
    return bearer(make_key("reader", "reader one"))


@pytest.fixture
def other_reader(make_key: Any) -> dict[str, str]:
    return bearer(make_key("reader", "reader two"))


def save(client: Any, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(SUBS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{SUBS}/{response.json()['id']}"
    return dict(response.json())


def trial(key: str, nct: str, value: float, low: float, high: float) -> dict[str, Any]:
    """A trial whose one reported Cohen's d comes from its main publication alone."""
    doc = study_document(key, nct, conditions=["Subscription test condition"])
    om = doc["outcome_measures"][0]
    om["instrument"] = "SUBS-TEST"
    om["effects"][0].update(value=value, ci_low=low, ci_high=high)
    return doc


QUESTION = {"study": [t[0] for t in TRIALS], "effect_type": "COHENS_D",
            "instrument": "SUBS-TEST"}


# --- saving a search ------------------------------------------------------------------------

def test_saving_a_search_answers_201_with_the_normalised_filter_acknowledged_at_the_head(
        client, reader):
    head = client.get(f"{API}/changes?tail=1").json()["next_cursor"]
    body = save(client, reader, filter={"phase": "PHASE2,PHASE3", "intervention": "MDMA",
                                        "min_enrollment": "10"})
    assert body["filter"] == {"phase": ["PHASE2", "PHASE3"], "intervention": ["MDMA"],
                              "min_enrollment": 10}
    assert body["question"] is None and body["url"] is None
    assert body["acknowledged"]["cursor"] == head
    assert "secret" not in body
    assert client.get(f"{SUBS}/{body['id']}", headers=reader).json() == body


def test_saving_needs_a_key(client):
    response = client.post(SUBS, json={"filter": {}})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert client.get(SUBS).status_code == 401
    assert client.get(f"{SUBS}/1/changes").status_code == 401


@pytest.mark.parametrize("body, field", [
    ({"filter": {"phase": "PHASE9"}}, ["body", "filter", "phase", 0]),
    ({"filter": {"no_such_filter": "x"}}, ["body", "filter", "no_such_filter"]),
    ({"filter": {"min_enrollment": "many"}}, ["body", "filter", "min_enrollment"]),
    ({"filter": {}, "question": {"method": "BEST"}}, ["body", "question", "method"]),
    ({"filter": {}, "question": {"rho": "2"}}, ["body", "question", "rho"]),
    ({"filter": {}, "colour": "red"}, ["body", "colour"]),
    # A JSON body may give a list filter a value that is no list (a query string cannot).
    ({"filter": {}, "question": {"instrument": False}}, ["body", "question", "instrument"]),
    ({"filter": {"condition": 5}}, ["body", "filter", "condition"]),
    ({"filter": {"phase": {"a": 1}}}, ["body", "filter", "phase"]),
    # JSON values the query string forms do not cover: null for a list, a boolean for a
    # number, a number for a yes/no or for a name.
    ({"filter": {"flag": None}}, ["body", "filter", "flag"]),
    ({"filter": {"min_follow_up_months": False}}, ["body", "filter", "min_follow_up_months"]),
    ({"filter": {"min_enrollment": True}}, ["body", "filter", "min_enrollment"]),
    ({"filter": {"has_results": 1}}, ["body", "filter", "has_results"]),
    ({"filter": {"condition": [5]}}, ["body", "filter", "condition", 0]),
    ({"filter": {"phase": [3]}}, ["body", "filter", "phase", 0]),
    ({"filter": {}, "question": {"rho": True}}, ["body", "question", "rho"]),
    ({"filter": {}, "question": {"hartung_knapp": 0}}, ["body", "question", "hartung_knapp"]),
    ({"filter": {}, "question": {"timepoint_months_min": False}},
     ["body", "question", "timepoint_months_min"]),
    ({"filter": {}, "question": {"phase": None}}, ["body", "question", "phase"]),
    ({"filter": {}, "question": {"phase": [3]}}, ["body", "question", "phase", 0]),
])
def test_a_bad_filter_or_question_is_a_422_naming_the_field(client, reader, body, field):
    response = client.post(SUBS, json=body, headers=reader)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["loc"] for e in response.json()["errors"]]
    assert client.get(SUBS, headers=reader).json()["items"] == []


@pytest.mark.parametrize("url, words", [
    ("http://8.8.8.8/hook", "https"),
    ("ftp://8.8.8.8/hook", "https"),
    ("https://10.1.2.3/hook", "not public"),
    ("https://192.168.0.7/hook", "not public"),
    ("https://169.254.169.254/latest/meta-data", "not public"),
    ("https://[::1]/hook", "not public"),
    ("https://[::ffff:10.0.0.1]/hook", "not public"),
    ("https://0.0.0.0/hook", "not public"),
    ("https://224.0.0.1/hook", "not public"),
    ("https://127.0.0.2/hook", "not public"),
    ("https://user:password@8.8.8.8/hook", "user name or password"),
    ("https://token@8.8.8.8/hook", "user name or password"),
    ("https:///hook", "host"),
    ("https://no-such-host.invalid/hook", "does not resolve"),
    ("https://8.8.8.8:99999/hook", "malformed"),
])
def test_a_webhook_url_that_is_not_https_to_a_public_host_is_a_422(client, reader, url, words):
    response = client.post(SUBS, json={"filter": {}, "url": url}, headers=reader)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert words in problem["detail"]
    assert [e["loc"] for e in problem["errors"]] == [["body", "url"]]
    assert client.get(SUBS, headers=reader).json()["items"] == []


def test_a_loopback_address_in_the_allowed_networks_may_receive_http(client, reader):
    assert save(client, reader, url="http://127.0.0.1:8765/hook")["url"] \
        == "http://127.0.0.1:8765/hook"
    # Allowed networks lift the address rule only: ::1 is loopback but not allowed here.
    refused = client.post(SUBS, json={"url": "http://[::1]:8765/hook"}, headers=reader)
    assert refused.status_code == 422


def test_the_signing_secret_is_answered_only_when_the_subscription_is_created(client, reader):
    created = save(client, reader, filter={"intervention": "MDMA"},
                   url="https://8.8.8.8/hooks/evidence")
    secret = created.pop("secret")
    assert SECRET.match(secret), secret
    assert created["url"] == "https://8.8.8.8/hooks/evidence"
    other = save(client, reader, url="https://8.8.4.4/hook")
    assert other["secret"] != secret
    reads = [client.get(f"{SUBS}/{created['id']}", headers=reader),
             client.get(SUBS, headers=reader),
             client.get(f"{SUBS}/{created['id']}/changes", headers=reader),
             client.post(f"{SUBS}/{created['id']}/acknowledge", headers=reader)]
    for response in reads:
        assert response.status_code == 200, response.text
        assert secret not in response.text and "secret" not in response.json()
    assert reads[0].json() == created


# --- owners ---------------------------------------------------------------------------------

def test_another_keys_subscription_is_not_found(client, reader, other_reader):
    mine = save(client, reader, filter={"intervention": "MDMA"})
    path = f"{SUBS}/{mine['id']}"
    for method, url in (("GET", path), ("GET", f"{path}/changes"),
                        ("POST", f"{path}/acknowledge"), ("DELETE", path)):
        response = client.request(method, url, headers=other_reader)
        assert response.status_code == 404, (method, url)
        assert response.json()["detail"] == f"no subscription {mine['id']} of this key"
    missing = client.get(f"{SUBS}/{mine['id'] + 1000}", headers=other_reader)
    assert missing.json()["detail"] == f"no subscription {mine['id'] + 1000} of this key"
    assert client.get(SUBS, headers=other_reader).json()["items"] == []
    assert client.get(path, headers=reader).json() == mine


def test_the_list_holds_the_keys_own_subscriptions_page_by_page(client, reader, other_reader):
    mine = [save(client, reader, filter={"phase": p})["id"] for p in ("PHASE1", "PHASE2",
                                                                      "PHASE3")]
    save(client, other_reader, filter={})
    first = client.get(f"{SUBS}?page_size=2", headers=reader)
    body = first.json()
    assert [s["id"] for s in body["items"]] == mine[:2]
    assert body["next_page_token"] and 'rel="next"' in first.headers["link"]
    rest = client.get(f"{SUBS}?page_size=2&page_token={body['next_page_token']}",
                      headers=reader).json()
    assert [s["id"] for s in rest["items"]] == mine[2:] and rest["next_page_token"] is None
    assert client.get(f"{SUBS}?page_token=nonsense", headers=reader).status_code == 400


def test_deleting_a_subscription_removes_it_for_its_owner_only(client, reader):
    kept = save(client, reader, filter={"phase": "PHASE3"})
    gone = save(client, reader, filter={"phase": "PHASE2"}, url="https://8.8.8.8/hook")
    response = client.delete(f"{SUBS}/{gone['id']}", headers=reader)
    assert response.status_code == 204 and response.content == b""
    assert client.get(f"{SUBS}/{gone['id']}", headers=reader).status_code == 404
    assert client.delete(f"{SUBS}/{gone['id']}", headers=reader).status_code == 404
    assert [s["id"] for s in client.get(SUBS, headers=reader).json()["items"]] == [kept["id"]]


# --- changes and acknowledgement --------------------------------------------------------------

def test_changes_list_the_matching_studies_changes_since_the_acknowledgement(
        client, reader, curator):
    sub = save(client, reader, filter={"condition": "Subscription test condition"})
    path = f"{SUBS}/{sub['id']}"
    empty = client.get(f"{path}/changes", headers=reader).json()
    assert empty["studies"] == [] and empty["estimate"] is None and not empty["more"]
    store(client, curator, trial(*TRIALS[0]))
    store(client, curator, study_document("sub-unrelated", "NCT09999969"))
    store(client, curator, trial(*TRIALS[1]))
    client.patch(f"{API}/studies/sub-a", json={"enrollment": 61},
                 headers={**curator, "If-Match": client.get(f"{API}/studies/sub-a")
                          .headers["etag"], "Content-Type": "application/merge-patch+json"})
    body = client.get(f"{path}/changes", headers=reader).json()
    assert [(s["study"], [c["action"] for c in s["changes"]]) for s in body["studies"]] \
        == [("sub-a", ["create", "update"]), ("sub-b", ["create"])]
    assert body["cursor"] == client.get(f"{API}/changes?tail=1").json()["next_cursor"]

    # Acknowledging up to the first change's cursor leaves the later ones.
    first = body["studies"][0]["changes"][0]["id"]
    feed = client.get(f"{API}/changes?tail=1000").json()["items"]
    before_first = next(c for c in feed if c["id"] == first)
    cursor_after_first = client.get(
        f"{API}/changes?since={sub['acknowledged']['cursor']}&limit=1").json()["next_cursor"]
    assert before_first["key"] == "sub-a"
    acked = client.post(f"{path}/acknowledge", json={"cursor": cursor_after_first},
                        headers=reader)
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged"]["cursor"] == cursor_after_first
    left = client.get(f"{path}/changes", headers=reader).json()
    assert [(s["study"], [c["action"] for c in s["changes"]]) for s in left["studies"]] \
        == [("sub-b", ["create"]), ("sub-a", ["update"])]

    assert client.post(f"{path}/acknowledge", headers=reader).status_code == 200
    assert client.get(f"{path}/changes", headers=reader).json()["studies"] == []


def test_changes_beyond_the_limit_follow_the_cursor_after_it_is_acknowledged(
        client, reader, curator):
    path = f"{SUBS}/{save(client, reader, filter={'study_type': 'RCT'})['id']}"
    for t in TRIALS:
        store(client, curator, trial(*t))
    first = client.get(f"{path}/changes?limit=2", headers=reader).json()
    assert [s["study"] for s in first["studies"]] == ["sub-a", "sub-b"] and first["more"]
    # The cursor stops after the last change listed: the feed goes on from sub-c.
    after = client.get(f"{API}/changes?since={first['cursor']}").json()["items"]
    assert [c["key"] for c in after] == ["sub-c"]
    client.post(f"{path}/acknowledge", json={"cursor": first["cursor"]}, headers=reader)
    rest = client.get(f"{path}/changes?limit=2", headers=reader).json()
    assert [s["study"] for s in rest["studies"]] == ["sub-c"] and not rest["more"]
    assert client.get(f"{path}/changes?limit=0", headers=reader).status_code == 422


def test_acknowledging_a_cursor_not_issued_or_past_the_head_is_a_400(client, reader):
    path = f"{SUBS}/{save(client, reader)['id']}"
    before = client.get(path, headers=reader).json()
    for cursor in ("not-a-cursor", "YzEuOTk5OTk5OTk5"):  # the second: c1.999999999
        response = client.post(f"{path}/acknowledge", json={"cursor": cursor}, headers=reader)
        assert response.status_code == 400, response.text
    assert client.get(path, headers=reader).json() == before


def test_a_retraction_reaches_a_saved_search_whose_estimate_pooled_the_retracted_paper(
        client, reader, curator):
    """The issue's acceptance test."""
    created = {t[0]: store(client, curator, trial(*t)) for t in TRIALS}
    sub = save(client, reader, filter={"condition": "Subscription test condition"},
               question=QUESTION)
    path = f"{SUBS}/{sub['id']}"
    assert sub["question"] == {"study": QUESTION["study"], "effect_type": ["COHENS_D"],
                               "instrument": ["SUBS-TEST"]}
    quiet = client.get(f"{path}/changes", headers=reader).json()
    assert quiet["studies"] == []
    assert quiet["estimate"]["moved"] is False and quiet["estimate"]["after"]["k"] == 3
    assert quiet["estimate"]["inputs"] == {"added": [], "removed": [], "changed": []}

    paper = next(p["id"] for p in created["sub-c"]["publications"] if p["ref"] == "main")
    effect = next(i["id"] for i in quiet["estimate"]["after"]["inputs"]
                  if i["study_key"] == "sub-c")
    retracted = client.post(f"{API}/publications/{paper}/retraction", json=NOTICE,
                            headers=curator)
    assert retracted.status_code == 200, retracted.text

    body = client.get(f"{path}/changes", headers=reader).json()
    assert [(s["study"], [c["action"] for c in s["changes"]]) for s in body["studies"]] \
        == [("sub-c", ["retraction"])]
    estimate = body["estimate"]
    before, after = estimate["before"], estimate["after"]
    assert estimate["moved"] is True
    assert (before["k"], after["k"]) == (3, 2)
    assert before["estimate"] != pytest.approx(after["estimate"])
    assert {i["study_key"] for i in before["inputs"]} == {"sub-a", "sub-b", "sub-c"}
    assert {i["study_key"] for i in after["inputs"]} == {"sub-a", "sub-b"}
    [removed] = estimate["inputs"]["removed"]
    assert (removed["id"], removed["study_key"], removed["value"]) == (effect, "sub-c", 1.2)
    assert removed["reason"].startswith("retracted")
    assert estimate["inputs"]["added"] == [] and estimate["inputs"]["changed"] == []
    # The estimate now is the one /meta-analysis answers.
    now = client.get(f"{API}/meta-analysis", params=QUESTION).json()
    assert after["estimate"] == pytest.approx(now["estimate"], abs=1e-12)
    assert (after["ci_low"], after["ci_high"], after["tau2"]) \
        == pytest.approx((now["ci_low"], now["ci_high"], now["tau2"]), abs=1e-12)

    acked = client.post(f"{path}/acknowledge", json={"cursor": body["cursor"]}, headers=reader)
    assert acked.status_code == 200, acked.text
    again = client.get(f"{path}/changes", headers=reader).json()
    assert again["studies"] == []
    assert again["estimate"]["moved"] is False
    assert again["estimate"]["before"] == again["estimate"]["after"]
    assert again["estimate"]["after"]["k"] == 2


def test_a_changed_input_value_moves_the_estimate(client, reader, curator):
    for t in TRIALS:
        store(client, curator, trial(*t))
    sub = save(client, reader, question=QUESTION)
    doc = client.get(f"{API}/studies/sub-b").json()
    etag = client.get(f"{API}/studies/sub-b").headers["etag"]
    doc["outcome_measures"][0]["effects"][0]["value"] = 0.6
    replaced = client.put(f"{API}/studies/sub-b", json=doc,
                          headers={**curator, "If-Match": etag})
    assert replaced.status_code == 200, replaced.text
    estimate = client.get(f"{SUBS}/{sub['id']}/changes", headers=reader).json()["estimate"]
    assert estimate["moved"] is True
    changed = {c["study_key"]: c for c in estimate["inputs"]["changed"]}
    assert (changed["sub-b"]["before"]["value"], changed["sub-b"]["after"]["value"]) \
        == (0.5, 0.6)


def test_a_question_that_cannot_be_pooled_yet_is_saved_and_says_why(client, reader, curator):
    store(client, curator, trial(*TRIALS[0]))
    sub = save(client, reader, question=QUESTION)
    estimate = client.get(f"{SUBS}/{sub['id']}/changes", headers=reader).json()["estimate"]
    assert estimate["after"]["estimate"] is None
    assert "at least two" in estimate["after"]["problem"]
    assert estimate["moved"] is False
    store(client, curator, trial(*TRIALS[1]))
    estimate = client.get(f"{SUBS}/{sub['id']}/changes", headers=reader).json()["estimate"]
    assert estimate["moved"] is True and estimate["after"]["k"] == 2
    assert {i["study_key"] for i in estimate["inputs"]["added"]} == {"sub-a", "sub-b"}


def test_changes_pruned_after_the_acknowledged_cursor_are_a_410_until_acknowledged(
        scratch_db):
    url = migrated(scratch_db)
    curator, reader = (bearer(committed_key(url, role, f"{role} key"))
                       for role in ("curator", "reader"))
    app = create_app(Settings(database_url=url, response_cache_bytes=0))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            check_every_answer(client, app)
            sub = save(client, reader)
            path = f"{SUBS}/{sub['id']}"
            assert sub["acknowledged"]["cursor"] == encode_cursor(0)
            for n in range(3):
                store(client, curator, study_document(f"pruned-{n}", f"NCT0999697{n}"))
            engine = make_engine(url)
            try:
                with engine.begin() as conn:
                    conn.execute(update(Change).values(
                        at=dt.datetime.now(dt.UTC) - dt.timedelta(days=40)))
            finally:
                engine.dispose()
            pruned = run_cli(url, "prune", env={"EVIDENCEDB_FEED_RETENTION_DAYS": "30"})
            assert pruned.returncode == 0, pruned.stderr

            gone = client.get(f"{path}/changes", headers=reader)
            assert gone.status_code == 410, gone.text
            assert gone.json()["oldest_cursor"] == encode_cursor(2)
            acked = client.post(f"{path}/acknowledge", headers=reader)
            assert acked.json()["acknowledged"]["cursor"] == encode_cursor(3)
            now = client.get(f"{path}/changes", headers=reader)
            assert now.status_code == 200 and now.json()["studies"] == []
    finally:
        app.state.engine.dispose()


def test_the_published_schema_takes_the_query_string_forms_the_filter_takes(client):
    """A saved search's filter takes a list as one string and a number or a yes/no as a
    string, as a query string gives them: the schema says so (and nothing more)."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for model, props in (("StudyFilter", ("phase", "condition", "min_enrollment",
                                          "min_follow_up_months", "has_results")),
                         ("SavedQuestion", ("phase", "instrument", "min_enrollment", "rho",
                                            "ci_level", "hartung_knapp"))):
        for prop in props:
            forms = schemas[model]["properties"][prop]["anyOf"]
            assert {"type": "string"} in forms, (model, prop)
            assert {"type": "null"} not in forms or prop in ("min_enrollment",
                                                              "min_follow_up_months",
                                                              "has_results"), (model, prop)
    create = schemas["SubscriptionCreate"]["properties"]
    assert {"$ref": "#/components/schemas/SavedQuestion"} in create["question"]["anyOf"]
    phase = schemas["StudyFilter"]["properties"]["phase"]["anyOf"]
    assert phase[0] == {"type": "array", "items": {"$ref": "#/components/schemas/Phase"}}
    # An evidence profile's question takes JSON values only: its schema says so.
    assert schemas["MetaAnalysisParams"]["properties"]["rho"]["type"] == "number"
