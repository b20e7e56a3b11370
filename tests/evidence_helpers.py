"""Shared helpers for the evidence tests: storing documents through the write service."""

from __future__ import annotations

from typing import Any

from app.schemas.study import StudyCreate
from app.services import studies

API = "/api/v1"
MAPP_KEYS = {"NCT03537014", "NCT04077437"}
POOLED_KEYS = ("mithoefer-2019-pooled", "jerome-2020-pooled-ltfu")


def store(session: Any, doc: dict[str, Any]) -> dict[str, Any]:
    """Store a study document exactly as POST /studies does (the service the route calls)."""
    return studies.create(session, StudyCreate.model_validate(doc), actor_id=None)


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
