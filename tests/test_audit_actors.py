"""Every audited action names the key that did it: create, replace, update (patch), delete,
retraction (the publication's entry and each study's), registry import and re-import, bulk
load, and key management. Two different curators act in turn, so an entry that kept the
first actor, or none, fails."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from app.services import bulk, keys
from tests.authkit import API, bearer
from tests.builders import study_document
from tests.interop_support import changed, import_record, raw

pytestmark = pytest.mark.usefixtures("no_key_leaks")


@pytest.fixture
def alice(make_key):
    return make_key("curator", "alice@example.org")


@pytest.fixture
def bob(make_key):
    return make_key("admin", "bob@example.org")


def key_id(connection, token: str) -> int:
    return connection.execute(text("SELECT id FROM api_key WHERE prefix = :p"),
                              {"p": token[:keys.PREFIX_LENGTH]}).scalar_one()


def history(client, key: str) -> list[tuple[str, str | None]]:
    response = client.get(f"{API}/studies/{key}/history", params={"page_size": 1000})
    assert response.status_code == 200, response.text
    return [(e["action"], e["actor"]["name"] if e["actor"] else None)
            for e in response.json()["items"]]


def entries(connection, entity: str, entity_key: str) -> list[tuple[str, int | None]]:
    return [tuple(r) for r in connection.execute(text(
        "SELECT action, actor_id FROM audit_entry WHERE entity = :e AND entity_key = :k "
        "ORDER BY id"), {"e": entity, "k": entity_key}).all()]


def test_create_replace_update_and_delete_name_their_actor(client, connection, alice, bob):
    created = client.post(f"{API}/studies", json=study_document("actors-1", "NCT09996601"),
                          headers=bearer(alice))
    assert created.status_code == 201, created.text
    replaced = client.put(f"{API}/studies/actors-1",
                          json=study_document("actors-1", "NCT09996601", title="Replaced"),
                          headers={**bearer(bob), "If-Match": created.headers["etag"]})
    assert replaced.status_code == 200, replaced.text
    patched = client.patch(f"{API}/studies/actors-1", json={"enrollment": 61},
                           headers={**bearer(alice), "If-Match": replaced.headers["etag"]})
    assert patched.status_code == 200, patched.text
    deleted = client.delete(f"{API}/studies/actors-1",
                            headers={**bearer(bob), "If-Match": patched.headers["etag"]})
    assert deleted.status_code == 204, deleted.text
    assert history(client, "actors-1") == [
        ("create", "alice@example.org"), ("replace", "bob@example.org"),
        ("update", "alice@example.org"), ("delete", "bob@example.org")]
    a, b = key_id(connection, alice), key_id(connection, bob)
    assert entries(connection, "study", "actors-1") == [
        ("create", a), ("replace", b), ("update", a), ("delete", b)]


def test_a_retraction_names_its_actor_on_the_publication_and_on_each_study(
        client, connection, alice, bob):
    first = client.post(f"{API}/studies", json=study_document("actors-2", "NCT09996602"),
                        headers=bearer(alice))
    assert first.status_code == 201, first.text
    pub = first.json()["publications"][0]
    second_doc = study_document("actors-3", "NCT09996603")
    second_doc["publications"][0] = {**first.json()["publications"][0]}
    for field in ("id", "retraction_status", "retraction_date", "retraction_notice",
                  "retraction_reason"):
        second_doc["publications"][0].pop(field, None)
    second = client.post(f"{API}/studies", json=second_doc, headers=bearer(alice))
    assert second.status_code == 201, second.text
    response = client.post(f"{API}/publications/{pub['id']}/retraction",
                           json={"date": "2025-06-01", "notice": "Retraction notice"},
                           headers=bearer(bob))
    assert response.status_code == 200, response.text
    for key in ("actors-2", "actors-3"):
        assert history(client, key) == [("create", "alice@example.org"),
                                         ("retraction", "bob@example.org")]
    b = key_id(connection, bob)
    rows = connection.execute(text(
        "SELECT actor_id FROM audit_entry WHERE entity = 'publication' "
        "AND action = 'retraction'")).scalars().all()
    assert rows == [b]


def test_a_registry_import_and_re_import_name_their_actor(client, connection, alice, bob):
    created = import_record(client, bearer(alice), raw("NCT03475563"))
    assert created.status_code == 201, created.text
    key = created.json()["imported"][0]["key"]
    record = changed("NCT03475563")
    record["protocolSection"]["identificationModule"]["briefTitle"] = "A changed brief title"
    updated = import_record(client, bearer(bob), record)
    assert updated.status_code == 200, updated.text
    assert history(client, key) == [("create", "alice@example.org"),
                                     ("import-update", "bob@example.org")]


def test_a_bulk_load_names_the_actor_it_was_given(client, connection, db_session, bob):
    b = key_id(connection, bob)
    lines = [json.dumps(study_document(f"actors-bulk-{n}", f"NCT0999661{n}")).encode()
             for n in range(2)]
    errors: list[bulk.BatchError] = []
    for batch in bulk.batches(lines, 10, errors):
        bulk.load_batch(db_session, batch, source="actors.ndjson", actor_id=b,
                        vocab_cache=bulk.new_vocab_cache())
    assert errors == []
    assert entries(connection, "study", "actors.ndjson") == [("bulk-load", b)]


def test_key_management_names_the_admin_who_did_it(client, connection, bob):
    b = key_id(connection, bob)
    created = client.post(f"{API}/keys", json={"name": "carol", "role": "CURATOR"},
                          headers=bearer(bob))
    assert created.status_code == 201, created.text
    made = created.json()["id"]
    revoked = client.delete(f"{API}/keys/{made}", headers=bearer(bob))
    assert revoked.status_code == 200, revoked.text
    again = client.delete(f"{API}/keys/{made}", headers=bearer(bob))
    assert again.status_code == 200, again.text
    assert entries(connection, "api_key", str(made)) == [("create", b), ("revoke", b)]
    changes = connection.execute(text(
        "SELECT changes FROM audit_entry WHERE entity = 'api_key'")).scalars().all()
    assert created.json()["key"] not in json.dumps(changes, default=str)
