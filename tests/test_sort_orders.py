"""Every sort key of /studies in both directions, ties broken by id, across pages.

The expected order is computed with sorted() over the stored rows read by plain SQL (and,
for start dates, over the seed files), never by another endpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from app.schemas.filters import STUDY_SORTS
from tests.builders import study_document
from tests.evidence_helpers import API, all_items, store

SEED = Path(__file__).resolve().parent.parent / "seed_data" / "studies"


def stored(connection) -> list[dict]:
    rows = connection.execute(text(
        "SELECT id, key, start_date_sort, completion_date, enrollment, title, updated_at "
        "FROM study WHERE deleted_at IS NULL")).mappings().all()
    return [dict(r) for r in rows]


def sort_value(row: dict, name: str):
    return {
        "key": row["key"],
        "start_date": row["start_date_sort"],
        "completion_date": row["completion_date"] or "",
        "enrollment": -1 if row["enrollment"] is None else row["enrollment"],
        "title": row["title"],
        "updated_at": str(row["updated_at"]),
    }[name]


def listed(client, sort: str, page_size: int = 1000) -> list[str]:
    if page_size == 1000:
        response = client.get(f"{API}/studies?sort={sort}&page_size=1000")
        assert response.status_code == 200, response.text
        return [s["key"] for s in response.json()["items"]]
    return [s["key"] for s in all_items(client, f"{API}/studies?sort={sort}")]


def test_every_sort_key_is_tested():
    assert set(STUDY_SORTS) == {"key", "start_date", "completion_date", "enrollment", "title",
                                "updated_at"}


@pytest.mark.parametrize("name", STUDY_SORTS)
def test_each_sort_ascending_and_descending_with_ties_broken_by_id(client, connection, name):
    rows = stored(connection)
    ascending = [r["key"] for r in sorted(rows, key=lambda r: (sort_value(r, name), r["id"]))]
    descending = [r["key"] for r in sorted(rows, key=lambda r: (sort_value(r, name), r["id"]),
                                           reverse=True)]
    assert listed(client, name) == ascending
    assert listed(client, f"-{name}") == descending
    # Across pages of 7 (the cursor carries the sort value and the id).
    assert listed(client, name, page_size=7) == ascending
    assert listed(client, f"-{name}", page_size=7) == descending


def test_start_date_order_follows_the_seed_dates(client):
    """Studies with a start date come in the order of their dates (partial dates as given);
    studies without one come first ascending and last descending."""
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in SEED.glob("*.json")]
    dated = sorted((d["start_date"], d["key"]) for d in docs if d.get("start_date"))
    undated = {d["key"] for d in docs if not d.get("start_date")}
    order = listed(client, "start_date")
    assert [k for k in order if k not in undated] == [k for _, k in dated]
    assert set(order[:len(undated)]) == undated
    assert order[len(undated):][:3] == ["friedman-2007-sertraline", "brady-2000-sertraline",
                                        "van-der-kolk-2007-emdr"]
    backwards = listed(client, "-start_date")
    assert backwards[:3] == ["NCT05066282", "NCT04077437", "NCT01793610"]
    assert set(backwards[-len(undated):]) == undated


def test_enrollment_order_literals(client):
    order = listed(client, "-enrollment")
    assert order[:4] == ["marshall-2001-paroxetine", "NCT05066282", "schnurr-2007-pe",
                         "davidson-2001-sertraline"]
    ascending = listed(client, "enrollment")
    unknown = ascending[:4]
    assert set(unknown) == {"NCT01958593", "jerome-2020-pooled-ltfu", "mithoefer-2019-pooled",
                            "tucker-2001-paroxetine"}
    assert ascending[4:7] == ["NCT00402298", "NCT00353938", "NCT00090064"]


def test_a_study_without_enrollment_sorts_before_one_of_none_enrolled(client, curator):
    store(client, curator, study_document("enrolled-none", "NCT09998811", enrollment=0))
    unknown = study_document("enrollment-unknown", "NCT09998812")
    unknown.pop("enrollment", None)
    store(client, curator, unknown)
    pair = {"enrolled-none", "enrollment-unknown"}
    assert [k for k in listed(client, "enrollment") if k in pair] == [
        "enrollment-unknown", "enrolled-none"]
    assert [k for k in listed(client, "-enrollment") if k in pair] == [
        "enrolled-none", "enrollment-unknown"]


def test_key_order_is_the_plain_sorted_order_of_the_seed_keys(client):
    keys = sorted(json.loads(p.read_text(encoding="utf-8"))["key"] for p in SEED.glob("*.json"))
    assert listed(client, "key") == keys
    assert listed(client, "-key") == keys[::-1]
    assert listed(client, "key", page_size=7) == keys
