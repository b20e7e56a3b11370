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


def pages(client, query: str) -> list[str]:
    keys: list[str] = []
    url = f"{API}/studies?{query}&page_size=2"
    while url:
        body = client.get(url).json()
        keys.extend(i["key"] for i in body["items"])
        token = body["next_page_token"]
        url = f"{API}/studies?{query}&page_size=2&page_token={token}" if token else None
    return keys


@pytest.mark.parametrize("query", [
    "condition=PTSD&sort=-start_date", "intervention=MDMA&phase=PHASE3&sort=key",
    "q=PTSD&sort=title", "condition=PTSD&intervention=sertraline&sort=-updated_at",
    "min_effect_size=0.5&retraction_status=NONE&sort=start_date",
])
def test_large_sets_are_checked_not_read_through_with_the_same_pages(client, monkeypatch,
                                                                     query):
    """A list page reads a small set of studies (a condition, a text match) through that set,
    and only checks a large one while it walks the sort's index (SQLite). With every set
    counted as large the pages are the same, on each database."""
    from app.services import studies

    usual = pages(client, query)
    assert usual, query
    monkeypatch.setattr(studies, "LARGE_MEMBERSHIP", 1)
    assert pages(client, query) == usual
