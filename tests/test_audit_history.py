"""The audit trail as read back: each entry's exact shape, the record as it was at a time
(with or without a time zone), and what a reader is told when there is nothing to show."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from app.services import keys
from tests.authkit import API, bearer
from tests.builders import study_document

pytestmark = pytest.mark.usefixtures("no_key_leaks")


def key_id(connection, token: str) -> int:
    return connection.execute(text("SELECT id FROM api_key WHERE prefix = :p"),
                              {"p": token[:keys.PREFIX_LENGTH]}).scalar_one()


def test_each_entry_has_its_id_time_action_version_actor_reason_and_changes(
        client, connection, make_key):
    token = make_key("curator", "erin@example.org")
    created = client.post(f"{API}/studies", json=study_document("audit-h1", "NCT09992201"),
                          headers={**bearer(token), "X-Change-Reason": "first entry"})
    assert created.status_code == 201, created.text
    client.patch(f"{API}/studies/audit-h1", json={"enrollment": 61},
                 headers={**bearer(token), "If-Match": created.headers["etag"]})
    entries = client.get(f"{API}/studies/audit-h1/history").json()["items"]
    ids = connection.execute(text(
        "SELECT id FROM audit_entry WHERE entity = 'study' AND entity_key = 'audit-h1' "
        "ORDER BY id")).scalars().all()
    assert [e["id"] for e in entries] == ids and len(ids) == 2
    for entry in entries:
        assert set(entry) == {"id", "at", "action", "version", "actor", "reason", "changes"}
        assert entry["actor"] == {"id": key_id(connection, token), "name": "erin@example.org"}
        assert dt.datetime.fromisoformat(entry["at"]).tzinfo is not None
    assert entries[0]["reason"] == "first entry" and entries[1]["reason"] is None
    assert entries[1]["changes"] == {"enrollment": {"before": 60, "after": 61},
                                     "version": {"before": 1, "after": 2},
                                     "updated_at": entries[1]["changes"]["updated_at"]}


def test_history_of_an_unknown_study_says_which(client):
    response = client.get(f"{API}/studies/never-was/history")
    assert response.status_code == 404
    assert response.json()["detail"] == "no study 'never-was' has any history"


def test_as_of_without_a_time_zone_is_read_as_utc(client, curator):
    created = client.post(f"{API}/studies", json=study_document("audit-h2", "NCT09992202"),
                          headers=curator)
    client.patch(f"{API}/studies/audit-h2", json={"title": "Second title"},
                 headers={**curator, "If-Match": created.headers["etag"]})
    entries = client.get(f"{API}/studies/audit-h2/history").json()["items"]
    first = dt.datetime.fromisoformat(entries[0]["at"]).astimezone(dt.UTC)
    second = dt.datetime.fromisoformat(entries[1]["at"]).astimezone(dt.UTC)
    between = first + (second - first) / 2
    naive = between.replace(tzinfo=None).isoformat()
    response = client.get(f"{API}/studies/audit-h2", params={"as_of": naive})
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
    assert response.json()["title"] == study_document("audit-h2")["title"]
    later = (second + dt.timedelta(seconds=1)).replace(tzinfo=None).isoformat()
    assert client.get(f"{API}/studies/audit-h2",
                      params={"as_of": later}).json()["title"] == "Second title"
    # The same instant written in another zone reads the same version.
    in_tokyo = between.astimezone(dt.timezone(dt.timedelta(hours=9))).isoformat()
    assert client.get(f"{API}/studies/audit-h2",
                      params={"as_of": in_tokyo}).json()["version"] == 1


def test_as_of_before_the_first_entry_and_after_a_deletion_say_why(client, curator):
    created = client.post(f"{API}/studies", json=study_document("audit-h3", "NCT09992203"),
                          headers=curator)
    client.delete(f"{API}/studies/audit-h3",
                  headers={**curator, "If-Match": created.headers["etag"]})
    entries = client.get(f"{API}/studies/audit-h3/history").json()["items"]
    first = dt.datetime.fromisoformat(entries[0]["at"])
    before = (first - dt.timedelta(seconds=5)).astimezone(dt.UTC)
    missing = client.get(f"{API}/studies/audit-h3", params={"as_of": before.isoformat()})
    assert missing.status_code == 404
    assert missing.json()["detail"] == (
        f"study 'audit-h3' did not exist at {before.isoformat()}")
    deleted_at = dt.datetime.fromisoformat(entries[1]["at"])
    after = (deleted_at + dt.timedelta(seconds=5)).astimezone(dt.UTC)
    gone = client.get(f"{API}/studies/audit-h3", params={"as_of": after.isoformat()})
    assert gone.status_code == 410
    body = gone.json()
    assert body["detail"] == f"study 'audit-h3' had been deleted by {after.isoformat()}"
    assert dt.datetime.fromisoformat(body["deleted_at"]) == deleted_at
