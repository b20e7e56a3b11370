"""Keyset paging: every study exactly once, stable order, totals that agree."""

from __future__ import annotations

import pytest

API = "/api/v1"


@pytest.mark.parametrize("sort", ["key", "-start_date", "enrollment", "-title", "updated_at"])
def test_paging_by_three_returns_each_study_once(client, sort):
    seen: list[str] = []
    url = f"{API}/studies?page_size=3&count_total=true&sort={sort}"
    total = None
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= 3
        seen.extend(i["key"] for i in body["items"])
        total = body["total_count"]
        if body["next_page_token"]:
            assert response.headers["Link"].endswith('rel="next"')
            url = response.headers["Link"].split(">")[0].lstrip("<")
            url = url[url.index("/api/"):]
        else:
            assert "Link" not in response.headers
            url = None
    assert len(seen) == len(set(seen)) == total
    one_page = client.get(f"{API}/studies?page_size=1000&sort={sort}").json()["items"]
    assert [i["key"] for i in one_page] == seen


def test_count_total_agrees_with_a_filter(client):
    body = client.get(f"{API}/studies?phase=PHASE2&count_total=true&page_size=1000").json()
    assert body["total_count"] == len(body["items"]) > 0
    assert client.get(f"{API}/studies").json()["total_count"] is None


def test_a_token_from_another_sort_order_is_a_400(client):
    token = client.get(f"{API}/studies?page_size=1&sort=key").json()["next_page_token"]
    response = client.get(f"{API}/studies?page_size=1&sort=title&page_token={token}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
