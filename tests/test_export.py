"""Exports: every matching row, streamed, as a download.

Expected rows are written out from the seed or computed from the seed files and plain SQL,
never taken from /studies or /outcomes, which share the export's query code.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from tests.evidence_helpers import API

SEED = Path(__file__).resolve().parent.parent / "seed_data" / "studies"
DOCS = {d["key"]: d for d in (json.loads(p.read_text(encoding="utf-8"))
                              for p in sorted(SEED.glob("*.json")))}
ALL_KEYS = sorted(DOCS)
MDMA_KEYS = ["NCT00090064", "NCT00353938", "NCT00402298", "NCT01211405", "NCT01793610",
             "NCT01958593", "NCT03537014", "NCT04077437", "NCT05066282",
             "jerome-2020-pooled-ltfu", "mithoefer-2019-pooled"]
RETRACTED_KEYS = {"jerome-2020-pooled-ltfu", "mithoefer-2019-pooled"}
CSV_COLUMNS = [
    "key", "title", "acronym", "study_type", "phase", "overall_status", "allocation",
    "intervention_model", "masking", "primary_purpose", "start_date", "completion_date",
    "enrollment", "enrollment_type", "treatment_end_months", "population", "summary",
    "sponsor", "countries", "notes", "conflicts", "registry_ids", "conditions", "interventions",
    "retracted", "has_results", "follow_up_months_max", "version", "created_at", "updated_at"]


def download(client, path):
    response = client.get(f"{API}/export/{path}")
    assert response.status_code == 200, response.text
    return response


def csv_rows(client, path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(download(client, path).text)))


def interventions(doc: dict[str, Any]) -> set[str]:
    return {i["name"] for a in doc.get("arms", []) for i in a.get("interventions", [])}


def test_the_expected_key_sets_follow_from_the_seed_files():
    assert len(ALL_KEYS) == 19
    assert sorted(k for k, d in DOCS.items() if "MDMA" in interventions(d)) == MDMA_KEYS
    assert {k for k, d in DOCS.items() if d.get("publications") and all(
        p.get("retraction_status") == "RETRACTED" for p in d["publications"])} == RETRACTED_KEYS


@pytest.mark.parametrize("query,expected", [
    ("", ALL_KEYS),
    ("intervention=MDMA", MDMA_KEYS),
    ("include_retracted=false", [k for k in ALL_KEYS if k not in RETRACTED_KEYS]),
    ("phase=PHASE3", ["NCT03537014", "NCT04077437"]),
    ("min_enrollment=400", ["NCT05066282", "marshall-2001-paroxetine"]),
])
def test_studies_csv_has_every_matching_study_as_an_attachment(client, query, expected):
    response = download(client, f"studies.csv?{query}")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="studies.csv"'
    reader = csv.DictReader(io.StringIO(response.text))
    rows = list(reader)
    assert reader.fieldnames == CSV_COLUMNS
    assert [r["key"] for r in rows] == expected


def test_csv_cells_carry_the_seed_values(client):
    [row] = csv_rows(client, "studies.csv?registry_id=NCT03537014")
    seed = DOCS["NCT03537014"]
    assert row["key"] == "NCT03537014"
    assert row["title"] == seed["title"]
    assert row["countries"] == "United States | Canada | Israel" == " | ".join(seed["countries"])
    assert row["registry_ids"] == "NCT:NCT03537014 | PROTOCOL:MAPP1"
    assert set(row["interventions"].split(" | ")) == {"MDMA", "Psychotherapy", "Placebo"}
    assert row["enrollment"] == "90" == str(seed["enrollment"])
    assert row["phase"] == "PHASE3"
    assert row["retracted"] == "false"
    assert row["conditions"] == "Post-traumatic stress disorder"
    [first] = csv_rows(client, "studies.csv?registry_id=NCT00090064")
    assert first["registry_ids"] == "NCT:NCT00090064 | PROTOCOL:MP-1 | PROTOCOL:MP-1 LTFU"
    assert first["follow_up_months_max"] == "45.4"
    assert first["primary_purpose"] == ""
    [pooled] = csv_rows(client, "studies.csv?registry_id=MP-1/2/4/8/9/12 pooled")
    assert pooled["key"] == "mithoefer-2019-pooled" and pooled["retracted"] == "true"


def test_studies_ndjson_lines_carry_the_seed_documents(client):
    response = download(client, "studies.ndjson?intervention=MDMA")
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in response.headers["content-disposition"]
    lines = [orjson.loads(line) for line in response.content.splitlines()]
    assert [s["key"] for s in lines] == MDMA_KEYS
    for item in lines:
        seed = DOCS[item["key"]]
        for field in ("title", "phase", "overall_status", "enrollment", "start_date",
                      "completion_date", "study_type", "masking"):
            assert item[field] == seed.get(field), (item["key"], field)
        assert item["countries"] == seed.get("countries", []), item["key"]
        assert item["retracted"] is (item["key"] in RETRACTED_KEYS)


def estimates(connection, *, retracted: bool, effect_type: str | None = None
              ) -> dict[int, float | None]:
    """The between-arm estimates of live studies, by plain SQL."""
    sql = ("SELECT e.id, e.value FROM effect_estimate e JOIN study s ON s.id = e.study_id "
           "WHERE e.comparator_arm_id IS NOT NULL AND s.deleted_at IS NULL")
    params: dict[str, Any] = {}
    if not retracted:
        sql += " AND e.retracted = :no"
        params["no"] = False
    if effect_type:
        sql += " AND e.effect_type = :t"
        params["t"] = effect_type
    return {i: v for i, v in connection.execute(text(sql), params).all()}


# The seed's between-arm estimates: 29 live and 5 retracted, 4 of them Cohen's d. MAPP2's
# counted response (45/52 vs 29/42) and remission (24/52 vs 9/42) give 6 computed RR, OR, RD.
@pytest.mark.parametrize("query,count", [
    ("", 29), ("include_retracted=true", 34), ("effect_type=COHENS_D", 4)])
def test_outcomes_csv_has_every_matching_estimate(client, connection, query, count):
    response = download(client, f"outcomes.csv?{query}")
    assert response.headers["content-disposition"] == 'attachment; filename="outcomes.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = estimates(connection, retracted="include_retracted" in query,
                         effect_type="COHENS_D" if "COHENS_D" in query else None)
    assert len(rows) == len(expected) == count
    assert [int(r["id"]) for r in rows] == sorted(expected)
    for row in rows:
        value = expected[int(row["id"])]
        assert (float(row["value"]) if row["value"] else None) == pytest.approx(value)
        assert row["comparison"] == "BETWEEN_ARMS"
        assert row["sources"], "every estimate names its source"
    if "include_retracted" not in query:
        assert {r["retracted"] for r in rows} == {"false"}
    else:
        assert sum(r["retracted"] == "true" for r in rows) == 5


def test_outcomes_csv_cells_of_the_mapp_trials(client):
    rows = csv_rows(client, "outcomes.csv?effect_type=COHENS_D")
    reported = {(r["study_key"], r["outcome"]): r for r in rows if r["origin"] == "REPORTED"}
    caps = reported[("NCT03537014", "CAPS-5 total severity change")]
    assert float(caps["value"]) == 0.91 and caps["instrument"] == "CAPS-5"
    assert float(reported[("NCT04077437", "CAPS-5 total severity change")]["value"]) == 0.7


def test_an_export_with_a_bad_filter_is_a_422_problem(client):
    response = client.get(f"{API}/export/studies.csv?phase=PHASE9")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
