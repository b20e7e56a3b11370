"""Lists paged in id order (outcomes, vocabularies, publications, regulatory events, a study's
history): every page size walks the same rows as plain SQL in id order, once each; the last
page says so; a token is URL-safe and belongs to its own list's order."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from tests.authkit import API
from tests.builders import study_document

TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")

LISTS = {
    "interventions": "SELECT id FROM intervention ORDER BY id",
    "publications": "SELECT id FROM publication ORDER BY id",
    "regulatory-events": "SELECT id FROM regulatory_event ORDER BY id",
    "outcomes?include_retracted=true":
        "SELECT e.id FROM effect_estimate e JOIN study s ON s.id = e.study_id "
        "WHERE e.comparator_arm_id IS NOT NULL AND s.deleted_at IS NULL ORDER BY e.id",
}


def walk(client, path: str, size: int) -> tuple[list[int], list[str]]:
    sep = "&" if "?" in path else "?"
    ids: list[int] = []
    tokens: list[str] = []
    url = f"{API}/{path}{sep}page_size={size}"
    for _ in range(1000):
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= size
        ids += [item["id"] for item in body["items"]]
        token = body["next_page_token"]
        if token is None:
            return ids, tokens
        assert body["items"], "a page with a token after it is never empty"
        tokens.append(token)
        url = f"{API}/{path}{sep}page_size={size}&page_token={token}"
    raise AssertionError("paging never ended")


@pytest.mark.parametrize("path", list(LISTS))
def test_every_page_size_walks_the_rows_in_id_order(client, connection, path):
    expected = list(connection.execute(text(LISTS[path])).scalars())
    assert len(expected) >= 5
    for size in (1, 7, len(expected) - 1, len(expected), len(expected) + 1):
        ids, tokens = walk(client, path, size)
        assert ids == expected, (path, size)
        assert len(tokens) == (len(expected) - 1) // size, (path, size)
        assert all(TOKEN.match(t) for t in tokens), tokens


def test_a_history_pages_in_entry_order(client, curator, connection):
    created = client.post(f"{API}/studies", json=study_document("pages-1", "NCT09990001"),
                          headers=curator)
    etag = created.headers["etag"]
    for n in range(4):
        etag = client.patch(f"{API}/studies/pages-1", json={"enrollment": 70 + n},
                            headers={**curator, "If-Match": etag}).headers["etag"]
    expected = list(connection.execute(text(
        "SELECT id FROM audit_entry WHERE entity = 'study' AND entity_key = 'pages-1' "
        "ORDER BY id")).scalars())
    assert len(expected) == 5
    for size in (1, 2, 4, 5, 6):
        ids, tokens = walk(client, "studies/pages-1/history", size)
        assert ids == expected, size
        assert len(tokens) == 4 // size


def test_a_token_of_one_list_order_is_refused_by_another(client):
    history_token = client.get(f"{API}/studies/NCT03537014/history?page_size=1").json()
    outcomes = client.get(f"{API}/outcomes?page_size=1").json()
    studies = client.get(f"{API}/studies?page_size=1&sort=title").json()
    assert outcomes["next_page_token"] and studies["next_page_token"]
    refused = client.get(f"{API}/outcomes?page_size=1&page_token={studies['next_page_token']}")
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert "sort order" in refused.json()["detail"]
    again = client.get(f"{API}/studies?page_size=1&sort=key"
                       f"&page_token={studies['next_page_token']}")
    assert again.status_code == 400
    if history_token["next_page_token"]:
        mixed = client.get(f"{API}/outcomes?page_size=1"
                           f"&page_token={history_token['next_page_token']}")
        assert mixed.status_code == 400
