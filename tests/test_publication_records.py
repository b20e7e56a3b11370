"""What a retraction records, and how a study's publication entry meets one already stored.

A retraction stores its notice and reason on the publication, answers 404 for an unknown
publication and 409 for one already so marked, and writes an audit entry for the publication
and for each study it changes: before and after, the study's new version and the reason given
(the X-Change-Reason header, else the notice's reason). A retried retraction with its
Idempotency-Key replays; the same key with another notice is refused. A study entry naming a
publication already stored (by DOI) must describe it the same way; one without DOI or PMID is
the study's own publication again when it still describes it exactly.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from tests.authkit import API
from tests.builders import study_document

pytestmark = pytest.mark.usefixtures("no_key_leaks")

NOTICE = {"date": "2025-06-01", "notice": "Retraction notice, J Tests 2025;1:1",
          "reason": "data integrity concerns"}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def audit(connection, entity: str, entity_key: str) -> list[dict[str, Any]]:
    rows = connection.execute(text(
        "SELECT action, version, changes, snapshot, reason FROM audit_entry "
        "WHERE entity = :e AND entity_key = :k ORDER BY id"),
        {"e": entity, "k": entity_key}).mappings().all()
    return [{**r, "changes": _json(r["changes"]), "snapshot": _json(r["snapshot"])}
            for r in rows]


def created(client, curator, doc: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{API}/studies", json=doc, headers=curator)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def retract(client, curator, publication_id: int, body: dict[str, Any] = NOTICE,
            **headers: str) -> Any:
    return client.post(f"{API}/publications/{publication_id}/retraction", json=body,
                       headers={**curator, **headers})


def test_a_retraction_stores_its_notice_and_reason_and_audits_the_publication(
        client, curator, connection):
    study = created(client, curator, study_document("pubrec-1", "NCT09997001"))
    pub_id = study["publications"][0]["id"]
    response = retract(client, curator, pub_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["retraction_status"], body["retraction_date"], body["retraction_notice"],
            body["retraction_reason"]) == ("RETRACTED", "2025-06-01", NOTICE["notice"],
                                           NOTICE["reason"])
    (entry,) = [e for e in audit(connection, "publication", str(pub_id))
                if e["action"] == "retraction"]
    assert entry["reason"] == NOTICE["reason"]  # no header: the notice's reason
    assert entry["changes"]["retraction_status"] == {"before": "NONE", "after": "RETRACTED"}
    assert entry["changes"]["retraction_notice"] == {"before": None, "after": NOTICE["notice"]}
    assert entry["snapshot"]["id"] == pub_id
    assert entry["snapshot"]["retraction_reason"] == NOTICE["reason"]


def test_the_change_reason_header_is_the_audited_reason_of_every_entry(
        client, curator, connection):
    study = created(client, curator, study_document("pubrec-2", "NCT09997002"))
    pub_id = study["publications"][0]["id"]
    response = retract(client, curator, pub_id, **{"X-Change-Reason": "retraction watch"})
    assert response.status_code == 200, response.text
    (pub_entry,) = audit(connection, "publication", str(pub_id))
    assert pub_entry["reason"] == "retraction watch"
    study_entries = audit(connection, "study", "pubrec-2")
    assert [e["action"] for e in study_entries] == ["create", "retraction"]
    retraction = study_entries[1]
    now = client.get(f"{API}/studies/pubrec-2").json()
    assert retraction["version"] == now["version"] == study["version"] + 1
    assert retraction["reason"] == "retraction watch"
    # The study's entry holds the whole document before and after: its retracted numbers
    # and its new version changed.
    assert retraction["snapshot"]["outcome_measures"][0]["effects"][0]["retracted"] is True
    assert retraction["changes"]["version"] == {"before": study["version"],
                                                "after": study["version"] + 1}
    assert "outcome_measures" in retraction["changes"]
    # Nothing else: the whole document is compared, its keywords and relations included.
    assert set(retraction["changes"]) == {"effects", "outcome_measures", "publications",
                                          "retracted", "updated_at", "version"}


def test_an_unknown_or_already_retracted_publication_is_refused_with_its_reason(
        client, curator):
    missing = retract(client, curator, 999_999)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no publication with id 999999"
    study = created(client, curator, study_document("pubrec-3", "NCT09997003"))
    pub_id = study["publications"][0]["id"]
    assert retract(client, curator, pub_id).status_code == 200
    again = retract(client, curator, pub_id)
    assert again.status_code == 409
    problem = again.json()
    assert problem["detail"] == f"publication {pub_id} is already marked RETRACTED"
    assert problem["retraction_status"] == "RETRACTED"


def test_a_retried_retraction_replays_and_a_reused_key_with_another_notice_is_refused(
        client, curator, connection):
    study = created(client, curator, study_document("pubrec-4", "NCT09997004"))
    pub_id = study["publications"][0]["id"]
    first = retract(client, curator, pub_id, **{"Idempotency-Key": "retract-pubrec-4"})
    retry = retract(client, curator, pub_id, **{"Idempotency-Key": "retract-pubrec-4"})
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    other = retract(client, curator, pub_id, {**NOTICE, "notice": "another notice"},
                    **{"Idempotency-Key": "retract-pubrec-4"})
    assert other.status_code == 422, other.text
    assert len(audit(connection, "publication", str(pub_id))) == 1


def test_a_publication_stored_by_doi_must_be_described_the_same_way(client, curator):
    first = created(client, curator, study_document("pubrec-5", "NCT09997005"))
    stored = first["publications"][0]
    doc = study_document("pubrec-6", "NCT09997006")
    doc["publications"][0] = {**doc["publications"][0], "doi": stored["doi"],
                              "title": "Another title", "year": 2021}
    response = client.post(f"{API}/studies", json=doc, headers=curator)
    assert response.status_code == 409
    problem = response.json()
    assert problem["detail"] == ("publication 'main' is already stored with other values for "
                                 "title, year")
    assert problem["publication_id"] == stored["id"] and problem["fields"] == ["title", "year"]
    # Described the same way, it is the same publication.
    same = study_document("pubrec-7", "NCT09997007")
    same["publications"][0]["doi"] = stored["doi"]
    again = created(client, curator, same)
    assert again["publications"][0]["id"] == stored["id"]


def test_a_publication_without_doi_or_pmid_stays_the_studys_own_when_unchanged(
        client, curator):
    doc = study_document("pubrec-8", "NCT09997008")
    del doc["publications"][0]["doi"]
    study = created(client, curator, doc)
    before = study["publications"][0]["id"]
    etag = client.get(f"{API}/studies/pubrec-8").headers["etag"]
    replaced = client.put(f"{API}/studies/pubrec-8", json=doc,
                          headers={**curator, "If-Match": etag})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["publications"][0]["id"] == before
    # Described differently, it is a new publication of the study.
    doc["publications"][0]["title"] = "A corrected title"
    changed = client.put(f"{API}/studies/pubrec-8", json=doc, headers={
        **curator, "If-Match": replaced.headers["etag"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["publications"][0]["id"] != before


def test_a_retraction_date_is_written_as_a_date_not_a_number(client, curator, connection):
    study = created(client, curator, study_document("pubrec-9", "NCT09997009"))
    pub_id = study["publications"][0]["id"]
    for date in (0, 20250601, 1.5):
        response = retract(client, curator, pub_id, {**NOTICE, "date": date})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"] == ["body", "date"]
    assert audit(connection, "publication", str(pub_id)) == []
