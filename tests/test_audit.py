"""Every change is traceable: who, when, what and why, and the study as it was."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.authkit import API, bearer
from tests.builders import study_document

pytestmark = pytest.mark.usefixtures("no_key_leaks")


def test_history_shows_each_change_with_actor_diff_and_reason(client, make_key):
    alice = bearer(make_key("curator", "alice@example.org"))
    bob = bearer(make_key("admin", "bob@example.org"))
    created = client.post(f"{API}/studies", json=study_document("hist-1", "NCT09999931"),
                          headers={**alice, "X-Change-Reason": "new trial"})
    assert created.status_code == 201
    patched = client.patch(f"{API}/studies/hist-1", json={"enrollment": 59},
                           headers={**bob, "If-Match": created.headers["etag"],
                                    "X-Change-Reason": "corrected from Table 1"})
    assert patched.status_code == 200, patched.text
    response = client.get(f"{API}/studies/hist-1/history")
    assert response.status_code == 200
    entries = response.json()["items"]
    assert [e["action"] for e in entries] == ["create", "update"]
    assert [e["version"] for e in entries] == [1, 2]
    assert [e["actor"]["name"] for e in entries] == ["alice@example.org", "bob@example.org"]
    assert [e["reason"] for e in entries] == ["new trial", "corrected from Table 1"]
    assert entries[1]["changes"]["enrollment"] == {"before": 60, "after": 59}
    assert "title" not in entries[1]["changes"]
    assert entries[0]["changes"]["title"]["before"] is None


def test_as_of_returns_the_study_as_it_was(client, curator):
    original = study_document("asof-1", "NCT09999932")
    created = client.post(f"{API}/studies", json=original, headers=curator)
    client.patch(f"{API}/studies/asof-1", json={"title": "Second title"},
                 headers={**curator, "If-Match": created.headers["etag"]})
    entries = client.get(f"{API}/studies/asof-1/history").json()["items"]
    first_at, second_at = entries[0]["at"], entries[1]["at"]
    then = client.get(f"{API}/studies/asof-1", params={"as_of": first_at})
    assert then.status_code == 200
    assert then.json()["title"] == original["title"]
    assert then.json()["version"] == 1
    now = client.get(f"{API}/studies/asof-1", params={"as_of": second_at}).json()
    assert now["title"] == "Second title"
    before = dt.datetime.fromisoformat(first_at) - dt.timedelta(seconds=1)
    missing = client.get(f"{API}/studies/asof-1", params={"as_of": before.isoformat()})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_as_of_before_a_deletion_still_reads_the_study(client, curator):
    created = client.post(f"{API}/studies", json=study_document("asof-2", "NCT09999933"),
                          headers=curator)
    client.delete(f"{API}/studies/asof-2", headers={**curator, "If-Match": created.headers["etag"]})
    entries = client.get(f"{API}/studies/asof-2/history").json()["items"]
    assert client.get(f"{API}/studies/asof-2",
                      params={"as_of": entries[0]["at"]}).json()["key"] == "asof-2"
    assert client.get(f"{API}/studies/asof-2",
                      params={"as_of": entries[1]["at"]}).status_code == 410


def test_seeded_studies_have_a_create_entry_without_actor(client):
    entries = client.get(f"{API}/studies/NCT03537014/history").json()["items"]
    assert entries[0]["action"] == "create"
    assert entries[0]["actor"] is None


def test_history_of_unknown_study_is_404(client):
    assert client.get(f"{API}/studies/never-was/history").status_code == 404


def test_refused_write_leaves_no_audit_entry(client, curator):
    created = client.post(f"{API}/studies", json=study_document("hist-2", "NCT09999934"),
                          headers=curator)
    client.patch(f"{API}/studies/hist-2", json={"enrollment": -1},
                 headers={**curator, "If-Match": created.headers["etag"]})
    client.patch(f"{API}/studies/hist-2", json={"title": "x"},
                 headers={**curator, "If-Match": '"0-0"'})
    entries = client.get(f"{API}/studies/hist-2/history").json()["items"]
    assert [e["action"] for e in entries] == ["create"]


def test_history_pages_with_a_token(client, curator):
    created = client.post(f"{API}/studies", json=study_document("hist-3", "NCT09999935"),
                          headers=curator)
    etag = created.headers["etag"]
    for n in range(3):
        etag = client.patch(f"{API}/studies/hist-3", json={"enrollment": 50 + n},
                            headers={**curator, "If-Match": etag}).headers["etag"]
    first = client.get(f"{API}/studies/hist-3/history", params={"page_size": 3}).json()
    assert len(first["items"]) == 3 and first["next_page_token"]
    rest = client.get(f"{API}/studies/hist-3/history",
                      params={"page_size": 3, "page_token": first["next_page_token"]}).json()
    assert [e["version"] for e in first["items"] + rest["items"]] == [1, 2, 3, 4]
    assert rest["next_page_token"] is None
