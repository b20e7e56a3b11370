"""Shared helpers for the evidence tests: posting documents, following pages."""

from __future__ import annotations

from typing import Any

API = "/api/v1"
MAPP_KEYS = {"NCT03537014", "NCT04077437"}
POOLED_KEYS = ("mithoefer-2019-pooled", "jerome-2020-pooled-ltfu")


def store(client: Any, curator: dict[str, str], doc: dict[str, Any]) -> dict[str, Any]:
    """POST a study document with a curator key; the created study."""
    response = client.post(f"{API}/studies", json=doc, headers=curator)
    assert response.status_code == 201, response.text
    return response.json()


def all_items(client: Any, url: str) -> list[dict[str, Any]]:
    """Every item of a paged list, following next_page_token."""
    items: list[dict[str, Any]] = []
    sep = "&" if "?" in url else "?"
    page = client.get(f"{url}{sep}page_size=7")
    while True:
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body["items"])
        if body["next_page_token"] is None:
            return items
        page = client.get(f"{url}{sep}page_size=7&page_token={body['next_page_token']}")
