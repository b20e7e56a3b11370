"""Exports: every matching row, streamed, as a download."""

from __future__ import annotations

import csv
import io

import orjson
import pytest

from tests.evidence_helpers import API, all_items


def download(client, path):
    response = client.get(f"{API}/export/{path}")
    assert response.status_code == 200, response.text
    return response


def list_total(client, query):
    return client.get(f"{API}/studies?{query}&count_total=true&page_size=1").json()["total_count"]


@pytest.mark.parametrize("query", ["", "intervention=MDMA", "include_retracted=false",
                                   "phase=PHASE3"])
def test_studies_csv_has_every_matching_study_as_an_attachment(client, query):
    response = download(client, f"studies.csv?{query}")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="studies.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    listed = client.get(f"{API}/studies?{query}&page_size=1000").json()["items"]
    assert len(rows) == list_total(client, query) == len(listed)
    assert {r["key"] for r in rows} == {s["key"] for s in listed}


def test_csv_flattens_list_fields_with_a_bar(client):
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(
        download(client, "studies.csv?registry_id=NCT03537014").text))}
    study = client.get(f"{API}/studies/NCT03537014").json()
    row = rows["NCT03537014"]
    assert row["countries"] == " | ".join(study["countries"])
    assert row["registry_ids"] == " | ".join(
        f"{r['registry']}:{r['identifier']}" for r in study["registry_ids"])
    assert row["interventions"] == " | ".join(
        client.get(f"{API}/studies?registry_id=NCT03537014").json()["items"][0]["interventions"])
    assert row["enrollment"] == str(study["enrollment"])
    assert row["retracted"] == "false"


def test_studies_ndjson_lines_equal_the_list_items(client):
    response = download(client, "studies.ndjson?intervention=MDMA")
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in response.headers["content-disposition"]
    lines = [orjson.loads(line) for line in response.content.splitlines()]
    listed = client.get(f"{API}/studies?intervention=MDMA&page_size=1000").json()["items"]
    assert sorted(lines, key=lambda s: s["key"]) == sorted(listed, key=lambda s: s["key"])


def test_outcomes_csv_has_every_matching_estimate(client):
    for query in ("", "include_retracted=true", "effect_type=COHENS_D"):
        response = download(client, f"outcomes.csv?{query}")
        assert response.headers["content-disposition"] == 'attachment; filename="outcomes.csv"'
        rows = list(csv.DictReader(io.StringIO(response.text)))
        listed = all_items(client, f"{API}/outcomes?{query}")
        assert [int(r["id"]) for r in rows] == [r["id"] for r in listed]
        for row, item in zip(rows, listed, strict=True):
            assert row["study_key"] == item["study_key"]
            assert (float(row["value"]) if row["value"] else None) == item["value"]
            assert (row["comparison"], row["favours"] or None) == (
                item["comparison"], item["favours"])
            assert row["sources"], "every estimate names its source"


def test_an_export_with_a_bad_filter_is_a_422_problem(client):
    response = client.get(f"{API}/export/studies.csv?phase=PHASE9")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
