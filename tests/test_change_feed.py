"""The change feed: every committed change once, in commit order, with a cursor to go on
from, filtered by the study filters; nothing from a write that did not commit."""

from __future__ import annotations

import base64

import pytest

from tests.authkit import API
from tests.builders import study_document

pytestmark = pytest.mark.usefixtures("no_key_leaks")


def follow(client, since=None, **params):
    """Every change after `since`, page by page (three at a time), and the last cursor."""
    items, cursor = [], since
    while True:
        query = {"limit": 3, **params, **({"since": cursor} if cursor else {})}
        response = client.get(f"{API}/changes", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if not page["items"]:
            assert page["next_cursor"] == cursor or cursor is None
            return items, page["next_cursor"]
        cursor = page["next_cursor"]


def test_writes_appear_once_in_commit_order_with_their_versions(client, curator):
    _, start = follow(client)
    created = client.post(f"{API}/studies", json=study_document("feed-1", "NCT09998801"),
                          headers=curator)
    assert created.status_code == 201, created.text
    patched = client.patch(f"{API}/studies/feed-1", json={"enrollment": 61},
                           headers={**curator, "If-Match": created.headers["etag"]})
    assert patched.status_code == 200, patched.text
    deleted = client.delete(f"{API}/studies/feed-1",
                            headers={**curator, "If-Match": patched.headers["etag"]})
    assert deleted.status_code == 204, deleted.text

    items, end = follow(client, start)
    assert [(i["entity"], i["key"], i["action"], i["version"]) for i in items] == [
        ("study", "feed-1", "create", 1), ("study", "feed-1", "update", 2),
        ("study", "feed-1", "delete", 3)]
    assert [i["id"] for i in items] == sorted(i["id"] for i in items)
    assert len({i["id"] for i in items}) == 3
    assert items[1]["changed"] == ["enrollment", "updated_at", "version"]
    history = client.get(f"{API}/studies/feed-1/history")
    assert history.status_code == 410 or [e["id"] for e in history.json()["items"]] == [
        i["audit_entry"] for i in items]
    # Nothing new: the cursor stays where it was.
    assert follow(client, end) == ([], end)


def test_failed_and_dry_run_writes_leave_no_change(client, curator):
    _, start = follow(client)
    doc = study_document("feed-2", "NCT09998802")
    assert client.post(f"{API}/studies?dry_run=true", json=doc,
                       headers=curator).status_code == 200
    assert client.post(f"{API}/studies", json={**doc, "enrollment": -1},
                       headers=curator).status_code == 422
    created = client.post(f"{API}/studies", json=doc, headers=curator)
    assert created.status_code == 201
    stale = client.patch(f"{API}/studies/feed-2", json={"enrollment": 1},
                         headers={**curator, "If-Match": '"0-stale"'})
    assert stale.status_code == 412
    items, _ = follow(client, start)
    assert [(i["key"], i["action"]) for i in items] == [("feed-2", "create")]


def test_study_filters_narrow_the_feed_to_the_studies_they_match(client, curator):
    _, start = follow(client)
    one = study_document("feed-3", "NCT09998803")
    two = {**study_document("feed-4", "NCT09998804"), "phase": "PHASE3"}
    for doc in (one, two):
        assert client.post(f"{API}/studies", json=doc, headers=curator).status_code == 201
    items, _ = follow(client, start, phase="PHASE3")
    assert [i["key"] for i in items] == ["feed-4"]
    items, _ = follow(client, start, registry_id="NCT09998803")
    assert [i["key"] for i in items] == ["feed-3"]


def test_a_retraction_is_a_change_to_the_publication_and_to_each_study(client, curator):
    created = client.post(f"{API}/studies", json=study_document("feed-5", "NCT09998805"),
                          headers=curator).json()
    _, start = follow(client)
    pub = created["publications"][0]["id"]
    response = client.post(f"{API}/publications/{pub}/retraction",
                           json={"date": "2025-06-01", "notice": "Retraction notice"},
                           headers=curator)
    assert response.status_code == 200, response.text
    items, _ = follow(client, start)
    assert [(i["entity"], i["key"], i["action"]) for i in items] == [
        ("publication", str(pub), "retraction"), ("study", "feed-5", "retraction")]
    assert items[1]["study"] == "feed-5" and items[0]["study"] is None


@pytest.mark.parametrize("cursor", ["abc", "Yy4tMQ", base64.urlsafe_b64encode(b"c1.x").decode(),
                                    base64.urlsafe_b64encode(b"c2.5").decode().rstrip("=")])
def test_a_cursor_the_feed_did_not_issue_is_a_400(client, cursor):
    response = client.get(f"{API}/changes", params={"since": cursor})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "cursor" in response.json()["detail"]


def test_tail_gives_the_newest_changes_and_a_cursor_to_follow_on_from(client, curator):
    for n in (6, 7, 8):
        doc = study_document(f"feed-{n}", f"NCT0999880{n}")
        assert client.post(f"{API}/studies", json=doc, headers=curator).status_code == 201
    tail = client.get(f"{API}/changes", params={"tail": 2})
    assert tail.status_code == 200, tail.text
    assert [i["key"] for i in tail.json()["items"]] == ["feed-7", "feed-8"]
    cursor = tail.json()["next_cursor"]
    assert follow(client, cursor) == ([], cursor)
    filtered = client.get(f"{API}/changes", params={"tail": 5, "registry_id": "NCT09998806"})
    assert [i["key"] for i in filtered.json()["items"]] == ["feed-6"]
    assert filtered.json()["next_cursor"] == cursor
    both = client.get(f"{API}/changes", params={"tail": 2, "since": cursor})
    assert both.status_code == 400


def test_a_long_poll_with_nothing_new_answers_empty_at_the_same_cursor(client, curator):
    head = client.get(f"{API}/changes", params={"tail": 1}).json()["next_cursor"]
    response = client.get(f"{API}/changes", params={"since": head, "wait": 1})
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": head}
    # A change that is already there is answered at once, whatever the wait.
    doc = study_document("feed-9", "NCT09998809")
    assert client.post(f"{API}/studies", json=doc, headers=curator).status_code == 201
    waited = client.get(f"{API}/changes", params={"since": head, "wait": 60})
    assert [i["key"] for i in waited.json()["items"]] == ["feed-9"]


@pytest.mark.parametrize("params", [{"wait": -1}, {"wait": 61}, {"limit": 0},
                                    {"limit": 1001}, {"tail": 0}, {"tail": 1001}])
def test_wait_limit_and_tail_outside_their_bounds_are_422(client, params):
    response = client.get(f"{API}/changes", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")



def test_a_long_poll_is_never_answered_from_the_response_cache(scratch_url):
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app
    from tests.authkit import bearer
    from tests.toolkit import committed_key, migrated

    token = committed_key(migrated(scratch_url), "curator")
    app = create_app(Settings(database_url=scratch_url, response_cache_bytes=1 << 20))
    try:
        with TestClient(app) as c:
            doc = study_document("feed-10", "NCT09998810")
            assert c.post(f"{API}/studies", json=doc, headers=bearer(token)).status_code == 201
            head = c.get(f"{API}/changes", params={"tail": 1}).json()["next_cursor"]
            answers = [c.get(f"{API}/changes", params={"since": head, "wait": 1})
                       for _ in range(2)]
            assert [a.json()["items"] for a in answers] == [[], []]
            # Each empty answer waited for a change: none came from the cache.
            assert ["x-cache" in a.headers for a in answers] == [False, False]
    finally:
        app.state.engine.dispose()


def test_a_write_whose_savepoint_rolled_back_leaves_no_change(db_session):
    """The registry import writes each file in a savepoint and rolls a refused one back
    alone: the changes of what rolled back are never stored, those of the rest are."""
    from sqlalchemy import func, select

    from app.models import Change
    from app.schemas.study import StudyCreate
    from app.services import studies

    start = db_session.execute(select(func.coalesce(func.max(Change.seq), 0))).scalar_one()
    with db_session.begin_nested() as refused:
        studies.create(db_session, StudyCreate.model_validate(
            study_document("feed-sp-1", "NCT09998821")), actor_id=None, commit=False)
        refused.rollback()
    studies.create(db_session, StudyCreate.model_validate(
        study_document("feed-sp-2", "NCT09998822")), actor_id=None, commit=True)
    stored = db_session.execute(select(Change.seq, Change.study_key)
                                .where(Change.seq > start).order_by(Change.seq)).all()
    assert [tuple(r) for r in stored] == [(start + 1, "feed-sp-2")]


def cursor_of(seq: int | str) -> str:
    """A cursor as the feed writes it (its format is the feed's own; clients treat it as
    opaque)."""
    return base64.urlsafe_b64encode(f"c1.{seq}".encode()).decode().rstrip("=")


def test_an_empty_feed_starts_at_zero_and_its_first_change_is_number_1(scratch_url):
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app
    from tests.authkit import bearer
    from tests.toolkit import committed_key, migrated

    token = committed_key(migrated(scratch_url), "curator")
    app = create_app(Settings(database_url=scratch_url, response_cache_bytes=0))
    try:
        with TestClient(app) as c:
            for params in ({}, {"tail": 5}, {"since": cursor_of(0)}):
                empty = c.get(f"{API}/changes", params=params)
                assert empty.json() == {"items": [], "next_cursor": cursor_of(0)}, params
            doc = study_document("feed-first", "NCT09998830")
            assert c.post(f"{API}/studies", json=doc, headers=bearer(token)).status_code == 201
            for params in ({}, {"tail": 5}, {"since": cursor_of(0)}):
                page = c.get(f"{API}/changes", params=params).json()
                assert [(i["id"], i["key"]) for i in page["items"]] == [(1, "feed-first")]
                assert page["next_cursor"] == cursor_of(1)
            assert c.get(f"{API}/changes", params={"since": cursor_of(1)}).json() == {
                "items": [], "next_cursor": cursor_of(1)}
            # The longest number a cursor holds (18 digits) is one; a longer one is not.
            far = c.get(f"{API}/changes", params={"since": cursor_of("9" * 18)})
            assert far.status_code == 200 and far.json()["items"] == []
            assert c.get(f"{API}/changes",
                         params={"since": cursor_of("1" * 19)}).status_code == 400
    finally:
        app.state.engine.dispose()
