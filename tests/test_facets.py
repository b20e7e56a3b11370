"""/stats/facets: every count equals the /studies total for the filter plus that value."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from app.schemas.stats import FACETS
from tests.builders import study_document
from tests.evidence_helpers import API, store

FILTERS = ["", "intervention=MDMA", "include_retracted=false",
           "phase=PHASE2&condition=PTSD", "follow_up=NONE&has_results=true"]


def list_total(client, query: str) -> int:
    response = client.get(f"{API}/studies?{query}&count_total=true&page_size=1")
    assert response.status_code == 200, response.text
    return response.json()["total_count"]


def value_param(value) -> str:
    return "true" if value is True else "false" if value is False else str(value)


def without(query: str, param: str) -> str:
    return "&".join(p for p in query.split("&") if p and not p.startswith(f"{param}="))


@pytest.mark.parametrize("base", FILTERS)
@pytest.mark.parametrize("facet", FACETS)
def test_each_facet_count_equals_the_list_total_for_that_value(client, base, facet):
    """A facet ignores its own parameter in the filter (multi-select), so its count for a
    value is the list total with that value in place of the parameter's current ones."""
    response = client.get(f"{API}/stats/facets?facet={facet}" + (f"&{base}" if base else ""))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == list_total(client, base)
    values = body["facets"][facet]
    assert set(body["facets"]) == {facet}
    if base == "":
        assert values, f"the seed data has values for {facet}"
    param = body["params"][facet]
    for item in values:
        own = without(base, param)
        query = "&".join(q for q in (own, urlencode({param: value_param(item["value"])})) if q)
        assert item["count"] == list_total(client, query), (facet, item)
    counts = [item["count"] for item in values]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize("base", FILTERS)
def test_facets_asked_together_equal_each_asked_alone(client, base):
    """Several facets are counted in one pass; each must come out as when asked alone,
    ordered by count, then value, and with the list's total."""
    suffix = f"&{base}" if base else ""
    together = client.get(f"{API}/stats/facets?facet_limit=1000{suffix}").json()
    assert together["total"] == list_total(client, base)
    for facet in FACETS:
        alone = client.get(f"{API}/stats/facets?facet={facet}&facet_limit=1000{suffix}").json()
        assert together["facets"][facet] == alone["facets"][facet], facet
        assert alone["total"] == together["total"]
        ranked = [(-v["count"], v["value"]) for v in alone["facets"][facet]]
        assert ranked == sorted(ranked), facet


def test_follow_up_buckets_partition_the_studies(client, curator):
    store(client, curator, study_document("follow-up-12", nct="NCT09999921"))
    body = client.get(f"{API}/stats/facets?facet=follow_up").json()
    values = {v["value"]: v["count"] for v in body["facets"]["follow_up"]}
    assert sum(values.values()) == body["total"]
    assert values["12_TO_24"] >= 1, "a study followed up for 12 months is in 12–24"
    twelve = client.get(f"{API}/studies?follow_up=12_TO_24&page_size=1000").json()["items"]
    assert "follow-up-12" in {s["key"] for s in twelve}
    assert all(12 <= s["follow_up_months_max"] < 24 for s in twelve)


def test_all_facets_are_counted_when_none_is_named(client):
    body = client.get(f"{API}/stats/facets").json()
    assert set(body["facets"]) == set(FACETS)


def test_facet_limit_caps_the_values(client):
    body = client.get(f"{API}/stats/facets?facet=intervention&facet_limit=2").json()
    assert len(body["facets"]["intervention"]) == 2


@pytest.mark.parametrize("query", ["facet=colour", "phase=PHASE9", "facet_limit=0", "x=1"])
def test_unknown_facets_and_filters_are_422_problems(client, query):
    response = client.get(f"{API}/stats/facets?{query}")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
