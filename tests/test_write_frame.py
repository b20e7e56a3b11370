"""The frame every write runs in, through each kind of write: an Idempotency-Key replays the
first answer (marked as a replay) for the same request and is refused for another; a dry run
answers what would have happened and changes nothing. Study writes, retractions and registry
imports each go through it."""

from __future__ import annotations

import json

import pytest

from tests.authkit import API
from tests.builders import study_document
from tests.interop_support import changed, raw

pytestmark = pytest.mark.usefixtures("no_key_leaks")

REUSED = {"loc": ["header", "idempotency-key"], "msg": "already used with another request",
          "type": "idempotency_key_reused"}
REUSED_DETAIL = "this Idempotency-Key was already used with another request"


def refused_as_reused(response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["detail"] == REUSED_DETAIL
    assert body["errors"] == [REUSED]


def test_a_replayed_study_write_says_so_and_a_fresh_one_does_not(client, curator, snapshot):
    doc = study_document("frame-1", "NCT09991101")
    headers = {**curator, "Idempotency-Key": "frame-1"}
    first = client.post(f"{API}/studies", json=doc, headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    after = snapshot()
    again = client.post(f"{API}/studies", json=doc, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert (again.headers["etag"], again.headers["location"]) == (
        first.headers["etag"], first.headers["location"])
    assert again.json() == first.json()
    assert snapshot() == after


def test_the_same_body_with_its_keys_in_another_order_is_the_same_request(client, curator):
    doc = study_document("frame-2", "NCT09991102")
    headers = {**curator, "Idempotency-Key": "frame-2", "Content-Type": "application/json"}
    first = client.post(f"{API}/studies", content=json.dumps(doc), headers=headers)
    assert first.status_code == 201, first.text
    reordered = json.dumps(dict(reversed(list(doc.items()))))
    assert reordered != json.dumps(doc)
    again = client.post(f"{API}/studies", content=reordered, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"


def test_a_key_reused_for_another_study_is_refused_with_the_reason(client, curator, snapshot):
    headers = {**curator, "Idempotency-Key": "frame-3"}
    assert client.post(f"{API}/studies", json=study_document("frame-3", "NCT09991103"),
                       headers=headers).status_code == 201
    after = snapshot()
    refused_as_reused(client.post(f"{API}/studies",
                                  json=study_document("frame-3b", "NCT09991104"),
                                  headers=headers))
    assert snapshot() == after


def test_a_retraction_with_a_key_replays_instead_of_conflicting(client, curator, snapshot):
    created = client.post(f"{API}/studies", json=study_document("frame-4", "NCT09991105"),
                          headers=curator).json()
    pub = created["publications"][0]["id"]
    notice = {"date": "2025-06-01", "notice": "Retraction notice"}
    headers = {**curator, "Idempotency-Key": "retract-frame-4"}
    first = client.post(f"{API}/publications/{pub}/retraction", json=notice, headers=headers)
    assert first.status_code == 200, first.text
    after = snapshot()
    again = client.post(f"{API}/publications/{pub}/retraction", json=notice, headers=headers)
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert snapshot() == after
    refused_as_reused(client.post(f"{API}/publications/{pub}/retraction",
                                  json={**notice, "date": "2025-06-02"}, headers=headers))
    unkeyed = client.post(f"{API}/publications/{pub}/retraction", json=notice, headers=curator)
    assert unkeyed.status_code == 409


def test_a_retraction_dry_run_reports_and_changes_nothing(client, curator, snapshot):
    created = client.post(f"{API}/studies", json=study_document("frame-5", "NCT09991106"),
                          headers=curator).json()
    pub = created["publications"][0]["id"]
    before = snapshot()
    response = client.post(f"{API}/publications/{pub}/retraction?dry_run=true",
                           json={"date": "2025-06-01", "notice": "Retraction notice"},
                           headers=curator)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"dry_run", "would_status", "result"}
    assert (body["dry_run"], body["would_status"]) == (True, 200)
    assert body["result"]["retraction_status"] == "RETRACTED"
    assert snapshot() == before


def test_an_import_dry_run_reports_what_it_would_create_and_changes_nothing(
        client, curator, snapshot):
    before = snapshot()
    response = client.post(f"{API}/import/ctgov?dry_run=true", content=raw("NCT03475563"),
                           headers={**curator, "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"dry_run", "would_status", "result"}
    assert (body["dry_run"], body["would_status"]) == (True, 201)
    assert [r["nct_id"] for r in body["result"]["imported"]] == ["NCT03475563"]
    assert [r["action"] for r in body["result"]["imported"]] == ["created"]
    assert snapshot() == before


def test_an_import_with_a_key_replays_and_refuses_another_record(client, curator, snapshot):
    headers = {**curator, "Idempotency-Key": "import-frame", "Content-Type": "application/json"}
    first = client.post(f"{API}/import/ctgov", content=raw("NCT03475563"), headers=headers)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    after = snapshot()
    again = client.post(f"{API}/import/ctgov", content=raw("NCT03475563"), headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert snapshot() == after
    other = changed("NCT03475563")
    other["protocolSection"]["identificationModule"]["briefTitle"] = "Another brief title"
    refused_as_reused(client.post(f"{API}/import/ctgov", content=json.dumps(other),
                                  headers=headers))
    assert snapshot() == after
