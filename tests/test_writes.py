"""Curators write whole studies: atomically, never over someone else's change."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from app.models import ApiKey
from tests.authkit import API
from tests.builders import study_document

pytestmark = pytest.mark.usefixtures("no_key_leaks")


def assert_contains(stored: Any, sent: Any, where: str = "") -> None:
    """Everything sent comes back unchanged (the stored document may add fields)."""
    if isinstance(sent, dict):
        assert isinstance(stored, dict), where
        for k, v in sent.items():
            assert k in stored, f"{where}.{k} missing"
            assert_contains(stored[k], v, f"{where}.{k}")
    elif isinstance(sent, list):
        assert isinstance(stored, list), where
        # Computed effects (Hedges' g from the results) are added by every write.
        stored = [x for x in stored if not (isinstance(x, dict) and x.get("origin") == "COMPUTED")]
        assert len(stored) == len(sent), where
        for i, (a, b) in enumerate(zip(stored, sent, strict=True)):
            assert_contains(a, b, f"{where}[{i}]")
    else:
        assert stored == sent, f"{where}: {stored!r} != {sent!r}"


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def post(client, headers, doc, **params):
    return client.post(f"{API}/studies", json=doc, headers=headers, params=params)


def test_posted_study_reads_back_equal_with_location_and_etag(client, curator):
    doc = study_document("roundtrip-1", "NCT09999911")
    created = post(client, curator, doc)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{API}/studies/roundtrip-1"
    read = client.get(created.headers["location"])
    assert read.status_code == 200
    assert read.headers["etag"] == created.headers["etag"]
    assert_contains(read.json(), doc)
    assert_contains(created.json(), doc)
    assert read.json()["version"] == 1


def test_duplicate_key_or_registry_id_is_409_naming_the_existing_study(client, curator, snapshot):
    assert post(client, curator, study_document("dup-a", "NCT09999912")).status_code == 201
    before = snapshot()
    same_key = post(client, curator, study_document("dup-a", "NCT09999913"))
    assert same_key.status_code == 409
    assert same_key.headers["content-type"] == "application/problem+json"
    assert same_key.json()["existing_study"] == "dup-a"
    same_registry = post(client, curator, study_document("dup-b", "NCT09999912"))
    assert same_registry.status_code == 409
    assert same_registry.json()["existing_study"] == "dup-a"
    assert "NCT09999912" in same_registry.json()["detail"]
    assert snapshot() == before


def test_invalid_third_arm_is_422_naming_it_and_writes_nothing(client, curator, snapshot):
    doc = study_document("bad-arm", "NCT09999914")
    doc["arms"].append({"label": "Third", "arm_type": "NOT_A_TYPE", "interventions": []})
    before = snapshot()
    response = post(client, curator, doc)
    assert response.status_code == 422
    assert ["body", "arms", 2, "arm_type"] in [e["loc"] for e in response.json()["errors"]]
    assert snapshot() == before
    assert client.get(f"{API}/studies/bad-arm").status_code == 404


def test_write_failing_half_way_through_the_database_leaves_no_row(client, curator, snapshot):
    # The relation is checked only after the study, its publication and sources were inserted.
    doc = study_document("half-way", "NCT09999915",
                         relations=[{"relation_type": "FOLLOW_UP_OF", "target": "no-such-study"}])
    before = snapshot()
    response = post(client, curator, doc)
    assert response.status_code == 422, response.text
    assert snapshot() == before
    assert client.get(f"{API}/studies/half-way").status_code == 404


def test_conflicting_publication_half_way_leaves_no_row(client, curator, snapshot):
    assert post(client, curator, study_document("pub-a", "NCT09999916")).status_code == 201
    doc = study_document("pub-b", "NCT09999917")
    doc["publications"][0]["doi"] = "10.9999/pub-a"
    doc["publications"][0]["title"] = "Another title for the same DOI"
    before = snapshot()
    response = post(client, curator, doc)
    assert response.status_code == 409
    assert snapshot() == before


def test_dry_run_validates_and_changes_nothing(client, curator, snapshot):
    before = snapshot()
    response = post(client, curator, study_document("dry-1", "NCT09999918"), dry_run="true")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True and body["would_status"] == 201
    assert body["result"]["key"] == "dry-1"
    assert snapshot() == before
    bad = post(client, curator, study_document("dry-1", "NCT09999918",
                                               relations=[{"relation_type": "FOLLOW_UP_OF",
                                                           "target": "missing"}]), dry_run="true")
    assert bad.status_code == 422
    assert snapshot() == before


def test_same_idempotency_key_and_body_replays_the_first_answer(client, curator, snapshot):
    doc = study_document("idem-1", "NCT09999919")
    headers = {**curator, "Idempotency-Key": "create-idem-1"}
    first = post(client, headers, doc)
    assert first.status_code == 201
    after_first = snapshot()
    again = post(client, headers, doc)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["location"] == first.headers["location"]
    assert snapshot() == after_first
    other = post(client, headers, study_document("idem-2", "NCT09999920"))
    assert other.status_code == 422
    assert ["header", "idempotency-key"] in [e["loc"] for e in other.json()["errors"]]
    assert snapshot() == after_first
    assert client.get(f"{API}/studies/idem-2").status_code == 404


class TestReplace:
    def test_put_needs_if_match_and_refuses_a_stale_one(self, client, curator, snapshot):
        created = post(client, curator, study_document("put-1", "NCT09999921"))
        etag = created.headers["etag"]
        doc = study_document("put-1", "NCT09999921", title="A replaced title")
        before = snapshot()
        missing = client.put(f"{API}/studies/put-1", json=doc, headers=curator)
        assert missing.status_code == 428
        stale = client.put(f"{API}/studies/put-1", json=doc,
                           headers={**curator, "If-Match": '"1-999"'})
        assert stale.status_code == 412
        star = client.put(f"{API}/studies/put-1", json=doc, headers={**curator, "If-Match": "*"})
        assert star.status_code == 428
        assert snapshot() == before
        done = client.put(f"{API}/studies/put-1", json=doc, headers={**curator, "If-Match": etag})
        assert done.status_code == 200, done.text
        assert done.headers["etag"] != etag
        read = client.get(f"{API}/studies/put-1").json()
        assert read["title"] == "A replaced title"
        assert read["version"] == 2
        assert read["created_at"] == created.json()["created_at"]
        again = client.put(f"{API}/studies/put-1", json=doc,
                           headers={**curator, "If-Match": etag})
        assert again.status_code == 412

    def test_put_rebuilds_nested_parts(self, client, curator):
        created = post(client, curator, study_document("put-2", "NCT09999922"))
        doc = study_document("put-2", "NCT09999922")
        doc["arms"] = doc["arms"][:1]
        doc["outcome_measures"][0]["results"] = doc["outcome_measures"][0]["results"][:1]
        doc["outcome_measures"][0]["effects"] = []
        doc["registry_ids"] = [{"registry": "EudraCT", "identifier": "2020-000001-01"}]
        response = client.put(f"{API}/studies/put-2", json=doc,
                              headers={**curator, "If-Match": created.headers["etag"]})
        assert response.status_code == 200, response.text
        read = client.get(f"{API}/studies/put-2").json()
        assert_contains(read, doc)
        assert client.get(f"{API}/studies?registry_id=NCT09999922").json()["items"] == []

    def test_put_cannot_change_the_key(self, client, curator, snapshot):
        created = post(client, curator, study_document("put-3", "NCT09999923"))
        before = snapshot()
        response = client.put(f"{API}/studies/put-3",
                              json=study_document("put-3-renamed", "NCT09999923"),
                              headers={**curator, "If-Match": created.headers["etag"]})
        assert response.status_code == 422
        assert ["body", "key"] in [e["loc"] for e in response.json()["errors"]]
        assert snapshot() == before

    def test_put_of_unknown_study_is_404(self, client, curator):
        response = client.put(f"{API}/studies/nope", json=study_document("nope", None),
                              headers={**curator, "If-Match": '"1-1"'})
        assert response.status_code == 404


class TestPatch:
    def test_merge_patch_changes_only_what_it_names(self, client, curator):
        created = post(client, curator, study_document("patch-1", "NCT09999924"))
        response = client.patch(
            f"{API}/studies/patch-1",
            json={"title": "Patched title", "acronym": None, "enrollment": 61},
            headers={**curator, "If-Match": created.headers["etag"],
                     "Content-Type": "application/merge-patch+json"})
        assert response.status_code == 200, response.text
        read = client.get(f"{API}/studies/patch-1").json()
        expected = study_document("patch-1", "NCT09999924", title="Patched title",
                                  enrollment=61)
        del expected["acronym"]
        assert read["acronym"] is None
        assert_contains(read, expected)
        assert read["version"] == 2

    def test_patch_that_breaks_the_document_is_422_and_changes_nothing(self, client, curator,
                                                                        snapshot):
        created = post(client, curator, study_document("patch-2", "NCT09999925"))
        before = snapshot()
        headers = {**curator, "If-Match": created.headers["etag"],
                   "Content-Type": "application/merge-patch+json"}
        for body, loc in (({"enrollment": -5}, ["body", "enrollment"]),
                          ({"title": None}, ["body", "title"]),
                          ({"colour": "blue"}, ["body", "colour"]),
                          ({"key": "patch-2-new"}, ["body", "key"])):
            response = client.patch(f"{API}/studies/patch-2", json=body, headers=headers)
            assert response.status_code == 422, body
            assert loc in [e["loc"] for e in response.json()["errors"]], body
        assert snapshot() == before

    def test_patch_with_stale_etag_is_412(self, client, curator):
        created = post(client, curator, study_document("patch-3", "NCT09999926"))
        headers = {**curator, "If-Match": created.headers["etag"]}
        first = client.patch(f"{API}/studies/patch-3", json={"title": "first"}, headers=headers)
        assert first.status_code == 200
        second = client.patch(f"{API}/studies/patch-3", json={"title": "second"},
                              headers=headers)
        assert second.status_code == 412
        assert client.get(f"{API}/studies/patch-3").json()["title"] == "first"


class TestDelete:
    def test_delete_hides_the_study_but_keeps_its_history(self, client, curator):
        created = post(client, curator, study_document("del-1", "NCT09999927"))
        assert client.delete(f"{API}/studies/del-1", headers=curator).status_code == 428
        gone = client.delete(f"{API}/studies/del-1",
                             headers={**curator, "If-Match": created.headers["etag"]})
        assert gone.status_code == 204
        assert client.get(f"{API}/studies/del-1").status_code == 410
        listed = client.get(f"{API}/studies?registry_id=NCT09999927").json()["items"]
        assert listed == []
        history = client.get(f"{API}/studies/del-1/history").json()["items"]
        assert [h["action"] for h in history] == ["create", "delete"]
        again = client.patch(f"{API}/studies/del-1", json={"title": "x"},
                             headers={**curator, "If-Match": created.headers["etag"]})
        assert again.status_code == 410

    def test_deleted_key_cannot_be_reused_silently(self, client, curator):
        created = post(client, curator, study_document("del-2", "NCT09999928"))
        client.delete(f"{API}/studies/del-2",
                      headers={**curator, "If-Match": created.headers["etag"]})
        response = post(client, curator, study_document("del-2", "NCT09999929"))
        assert response.status_code == 409
        assert response.json()["existing_study"] == "del-2"


def test_idempotent_patch_retry_replays_instead_of_412(client, curator):
    created = post(client, curator, study_document("idem-patch", "NCT09999930"))
    headers = {**curator, "If-Match": created.headers["etag"], "Idempotency-Key": "p-1"}
    first = client.patch(f"{API}/studies/idem-patch", json={"title": "once"}, headers=headers)
    retry = client.patch(f"{API}/studies/idem-patch", json={"title": "once"}, headers=headers)
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    history = client.get(f"{API}/studies/idem-patch/history").json()["items"]
    assert [h["action"] for h in history] == ["create", "update"]


def test_a_retry_whose_patch_lists_its_members_in_another_order_is_the_same_request(
        client, curator):
    created = post(client, curator, study_document("idem-order", "NCT09999931"))
    headers = {**curator, "If-Match": created.headers["etag"], "Idempotency-Key": "p-order"}
    first = client.patch(f"{API}/studies/idem-order", json={"title": "t", "acronym": "A"},
                         headers=headers)
    retry = client.patch(f"{API}/studies/idem-order", json={"acronym": "A", "title": "t"},
                         headers=headers)
    assert first.status_code == retry.status_code == 200, retry.text
    assert retry.json() == first.json()
    history = client.get(f"{API}/studies/idem-order/history").json()["items"]
    assert [h["action"] for h in history] == ["create", "update"]


def test_a_write_records_when_its_key_last_wrote(client, curator, db_session):
    # A use less than a minute old is not refreshed by the request's authentication, so
    # only the write itself can move it.
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    db_session.execute(update(ApiKey).values(last_used_at=recent))
    db_session.commit()
    before = dt.datetime.now(dt.UTC)
    assert post(client, curator, study_document("used-1", "NCT09999932")).status_code == 201
    db_session.expire_all()
    used = [as_utc(t) for t in db_session.scalars(select(ApiKey.last_used_at))]
    assert len(used) == 1 and used[0] is not None and used[0] >= before - dt.timedelta(seconds=1)


def test_document_copy_is_not_mutated_by_builders():
    """Each document is a fresh deep copy: changing one, however deep, changes no other."""
    a = study_document("x")
    pristine = copy.deepcopy(a)
    a["arms"][0]["interventions"][0]["name"] = "Changed"
    a["outcome_measures"][0]["results"][0]["sources"].append({"publication": "other"})
    a["countries"].append("Nowhere")
    a["publications"][0]["title"] = "Changed"
    b = study_document("x")
    assert b == pristine
    assert b["arms"][0]["interventions"][0]["name"] == "Testamine"
    assert len(b["outcome_measures"][0]["results"][0]["sources"]) == 1
    assert b["countries"] == ["United States", "Canada"]
    c = study_document("y", title="Other title", countries=["France"])
    c["countries"].append("Spain")
    assert study_document("y")["title"] == pristine["title"]
    assert study_document("y")["countries"] == ["United States", "Canada"]
    assert study_document("y")["publications"][0]["doi"] == "10.9999/y"


def seeded_keys() -> list[str]:
    import json
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "seed_data" / "studies"
    return sorted(json.loads(p.read_text())["key"] for p in folder.glob("*.json"))


@pytest.mark.parametrize("key", seeded_keys())
def test_patching_one_field_of_a_seeded_study_keeps_everything_else(client, curator, key):
    before = client.get(f"{API}/studies/{key}")
    response = client.patch(f"{API}/studies/{key}", json={"notes": "checked by a curator"},
                            headers={**curator, "If-Match": before.headers["etag"]})
    assert response.status_code == 200, response.text
    after = client.get(f"{API}/studies/{key}").json()
    volatile = {"notes", "version", "updated_at"}
    old = {k: v for k, v in before.json().items() if k not in volatile}
    new = {k: v for k, v in after.items() if k not in volatile}
    assert new == old
    assert after["notes"] == "checked by a curator"
    assert after["version"] == before.json()["version"] + 1
