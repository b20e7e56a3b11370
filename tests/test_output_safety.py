"""Exports a spreadsheet can open safely, and downloads that are whole or visibly broken."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import orjson
import pytest
from sqlalchemy.exc import DataError

from app.services import export
from app.spreadsheet import spreadsheet_safe
from tests.builders import study_document
from tests.evidence_helpers import API, store

FORMULA = '=HYPERLINK("http://x","y")'


@pytest.fixture
def formula_study(client, curator):
    doc = study_document("formula-study", nct="NCT09999911", title=FORMULA, notes="+cmd",
                         sponsor="@sponsor")
    effect = doc["outcome_measures"][0]["effects"][0]
    effect.update(value=-9.8, ci_low=-12.5, ci_high=-7.1)
    return store(client, curator, doc)


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_studies_csv_quotes_cells_a_spreadsheet_would_run_as_formulas(client, formula_study):
    response = client.get(f"{API}/export/studies.csv?registry_id=NCT09999911")
    assert response.status_code == 200, response.text
    [row] = csv_rows(response.text)
    assert row["title"] == "'" + FORMULA
    assert row["notes"] == "'+cmd"
    assert row["sponsor"] == "'@sponsor"
    assert row["enrollment"] == "60"


def test_outcomes_csv_quotes_formulas_but_keeps_negative_numbers(client, formula_study):
    response = client.get(f"{API}/export/outcomes.csv?registry_id=NCT09999911")
    assert response.status_code == 200, response.text
    [row] = [r for r in csv_rows(response.text) if r["origin"] == "REPORTED"]
    assert row["study_title"] == "'" + FORMULA
    assert row["value"] == "-9.8"
    assert row["ci_low"] == "-12.5"
    assert float(row["ci_high"]) == -7.1


def test_ndjson_export_keeps_the_raw_text(client, formula_study):
    response = client.get(f"{API}/export/studies.ndjson?registry_id=NCT09999911")
    [item] = [orjson.loads(line) for line in response.content.splitlines()]
    assert item["title"] == FORMULA
    assert item["notes"] == "+cmd"


def test_ctgov_csv_quotes_formulas(client, formula_study):
    response = client.get("/ctgov/api/v2/studies",
                          params={"filter.ids": "NCT09999911", "format": "csv"})
    assert response.status_code == 200, response.text
    [row] = csv_rows(response.text)
    assert row["Study Title"] == "'" + FORMULA
    assert row["Enrollment"] == "60"


@pytest.mark.parametrize("cell,expected", [
    ("=1+1", "'=1+1"), ("-cmd", "'-cmd"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("-9.8", "-9.8"), ("+3", "+3"), ("-1e-5", "-1e-5"), ("plain", "plain"), ("", ""),
    (-9.8, -9.8),
])
def test_spreadsheet_safe_prefixes_only_text_that_is_not_a_number(cell, expected):
    assert spreadsheet_safe(cell) == expected


def test_a_filter_the_database_refuses_is_a_problem_before_any_byte(client, monkeypatch):
    def refuse(session, stmt):
        raise DataError("SELECT", {}, Exception("value out of range"))

    monkeypatch.setattr(export, "_batches", refuse)
    for path in ("studies.csv", "studies.ndjson", "outcomes.csv"):
        response = client.get(f"{API}/export/{path}")
        assert response.status_code == 422, (path, response.status_code)
        assert response.headers["content-type"] == "application/problem+json"
        assert "content-disposition" not in response.headers


def test_an_empty_export_still_has_its_header(client):
    response = client.get(f"{API}/export/studies.csv?registry_id=NCT00000000")
    assert response.status_code == 200
    assert response.text.splitlines() == [",".join(export.STUDY_COLUMNS)]


def run_asgi(app: Any, path: str, query: bytes) -> tuple[list[dict[str, Any]], BaseException]:
    """Drive the app with one GET and record what it sends before the exception it raises."""
    sent: list[dict[str, Any]] = []

    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if requested:  # the client stays connected
            await asyncio.Event().wait()
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": query,
             "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1),
             "server": ("testserver", 80), "state": {}}

    async def main() -> BaseException:
        try:
            await app(scope, receive, send)
        except Exception as exc:  # noqa: BLE001 - the failure is what the test inspects
            return exc
        raise AssertionError("the export finished cleanly")

    return sent, asyncio.run(main())


def test_a_failure_mid_stream_breaks_the_download_instead_of_ending_it(app, client, curator,
                                                                        monkeypatch):
    for n in range(2):
        store(client, curator, study_document(f"batch-{n}", nct=f"NCT0999992{n}"))
    real = export._batches

    def failing_after_first(session, stmt):
        batches = real(session, stmt)
        yield next(batches)
        batches.close()
        raise RuntimeError("the database went away")

    monkeypatch.setattr(export, "BATCH", 1)
    monkeypatch.setattr(export, "_batches", failing_after_first)
    sent, error = run_asgi(app, f"{API}/export/studies.csv", b"")
    assert "went away" in repr(error) or "went away" in repr(error.__cause__)
    start = [m for m in sent if m["type"] == "http.response.start"]
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert start and start[0]["status"] == 200
    assert len(b"".join(m.get("body", b"") for m in bodies).splitlines()) == 2
    # The body is never closed: the server drops the connection and the client sees an error.
    assert all(m.get("more_body", False) for m in bodies)


def test_control_characters_in_a_filter_never_give_a_cut_off_file(client, dialect):
    response = client.get(f"{API}/export/studies.csv", params={"registry_id": "NCT\x00\x01"})
    if dialect == "postgresql":
        # PostgreSQL text cannot hold NUL: the query is refused before the response starts.
        assert response.status_code == 422
    if response.status_code != 200:
        assert response.headers["content-type"] == "application/problem+json"
        assert 400 <= response.status_code < 500
    else:
        assert response.text.splitlines() == [",".join(export.STUDY_COLUMNS)]
