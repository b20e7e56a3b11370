"""Registry-versus-publication flags as a study filter (`flag`), a facet and the flag list's
index: which flags a study raises is stored with every write (single writes, imports, bulk
loads) and once for the studies stored before the table existed (`evidencedb migrate`)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from sqlalchemy import text

from app import migrations
from app.db import make_engine
from app.enums import Role
from tests.builders import study_document
from tests.interop_support import import_record, key_headers, raw
from tests.test_cli import ok
from tests.toolkit import run_cli, sql

API = "/api/v1"
NCT = "NCT03475563"  # registered enrollment 100 (ESTIMATED)
NOT_REPORTED, NEW_PRIMARY = "PRIMARY_OUTCOME_NOT_REPORTED", "NEW_PRIMARY_OUTCOME"
ENROLLMENT = "ENROLLMENT_DIFFERS"


@pytest.fixture
def curator(db_session):
    return key_headers(db_session, Role.CURATOR)


def _read(client, key: str) -> Any:
    response = client.get(f"{API}/studies/{key}")
    assert response.status_code == 200, response.text
    return response


def _put(client, curator, doc: dict[str, Any]) -> None:
    etag = _read(client, doc["key"]).headers["etag"]
    response = client.put(f"{API}/studies/{doc['key']}", json=doc,
                          headers={**curator, "If-Match": etag})
    assert response.status_code == 200, response.text


def _randomized_imported(client, curator, n: int) -> dict[str, Any]:
    """The registry record imported, then its first arm's randomized count (sourced to the
    publication) set to `n`: 150 is more than a tenth off the registered 100, 105 is not."""
    assert import_record(client, curator, raw(NCT)).status_code == 201
    doc = _read(client, NCT).json()
    doc["arms"][0]["n_randomized"] = n
    doc["arms"][0]["sources"] = [{"publication": str(doc["publications"][0]["ref"]),
                                  "locator": "Figure 1"}]
    _put(client, curator, doc)
    return _read(client, NCT).json()


def _caps_iv(key: str, nct: str) -> dict[str, Any]:
    """A curated study whose registered PRIMARY measure (CAPS-5, numbers sourced to the
    registry) is not the published PRIMARY measure (CAPS-IV): it raises a new primary outcome
    and a primary outcome not reported."""
    doc = study_document(key=key, nct=nct)
    doc["outcome_measures"][0]["instrument"] = "CAPS-IV"
    doc["outcome_measures"].append({
        "name": "Change in Clinician-Administered PTSD Scale (CAPS-5) total severity",
        "role": "PRIMARY",
        "results": [{"arm": "Drug", "timepoint": "12 months", "n": 30, "mean": 21.0,
                     "sources": [{"registry": nct, "locator": "results"}]}]})
    return doc


def _keys(client, query: str) -> list[str]:
    response = client.get(f"{API}/studies?{query}&page_size=100")
    assert response.status_code == 200, response.text
    return sorted(s["key"] for s in response.json()["items"])


def _flag_facet(client, query: str = "") -> dict[str, int]:
    response = client.get(f"{API}/stats/facets?facet=flag&{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["params"]["flag"] == "flag"
    return {v["value"]: v["count"] for v in body["facets"]["flag"]}


def test_studies_are_found_by_the_flags_they_raise_and_counted_by_type(client, curator):
    _randomized_imported(client, curator, 150)
    created = client.post(f"{API}/studies", json=_caps_iv("caps-iv", "NCT09999961"),
                          headers=curator)
    assert created.status_code == 201, created.text
    assert _keys(client, f"flag={ENROLLMENT}") == [NCT]
    assert _keys(client, f"flag={NEW_PRIMARY}") == ["caps-iv"]
    assert _keys(client, f"flag={NOT_REPORTED},{ENROLLMENT}") == sorted([NCT, "caps-iv"])
    assert _keys(client, "flag=TIMEPOINT_CHANGED") == []
    assert _flag_facet(client) == {ENROLLMENT: 1, NEW_PRIMARY: 1, NOT_REPORTED: 1}
    # The facet ignores its own parameter and keeps the others.
    assert _flag_facet(client, f"flag={ENROLLMENT}") == {ENROLLMENT: 1, NEW_PRIMARY: 1,
                                                         NOT_REPORTED: 1}
    assert _flag_facet(client, "registry_id=NCT09999961") == {NEW_PRIMARY: 1, NOT_REPORTED: 1}
    assert client.get(f"{API}/studies?flag=NOPE").status_code == 422
    # The filter narrows the other endpoints that take the study filter.
    effects = client.get(f"{API}/outcomes?flag={NEW_PRIMARY}&page_size=100").json()["items"]
    assert effects and {e["study_key"] for e in effects} == {"caps-iv"}
    export = client.get(f"{API}/export/studies.csv?flag={ENROLLMENT}")
    assert export.status_code == 200
    assert [row["key"] for row in csv.DictReader(io.StringIO(export.text))] == [NCT]


def test_a_rewrite_that_ends_a_flag_takes_the_study_out_of_its_filter_facet_and_list(
        client, curator):
    doc = _randomized_imported(client, curator, 150)
    assert _keys(client, f"flag={ENROLLMENT}") == [NCT]
    doc["arms"][0]["n_randomized"] = 105
    _put(client, curator, doc)
    assert _read(client, NCT).json()["flags"] == []
    assert _keys(client, f"flag={ENROLLMENT}") == []
    assert _flag_facet(client) == {}
    assert client.get(f"{API}/flags").json()["items"] == []


def test_a_deleted_study_leaves_the_flag_filter_facet_and_list(client, curator):
    _randomized_imported(client, curator, 150)
    etag = _read(client, NCT).headers["etag"]
    deleted = client.delete(f"{API}/studies/{NCT}", headers={**curator, "If-Match": etag})
    assert deleted.status_code == 204, deleted.text
    assert _keys(client, f"flag={ENROLLMENT}") == []
    assert _flag_facet(client) == {}
    assert client.get(f"{API}/flags").json()["items"] == []


def _stored(url: str) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in sql(url, "SELECT s.key, f.flag_id, f.flag_type FROM study_flag f "
                                       "JOIN study s ON s.id = f.study_id "
                                       "ORDER BY s.key, f.flag_id")]


def test_bulk_load_stores_flags_and_migrate_fills_them_for_studies_stored_before(
        scratch_url, tmp_path):
    path = tmp_path / "studies.ndjson"
    lines = [_caps_iv("bulk-caps-iv", "NCT09999962"), study_document("plain", "NCT09999963")]
    path.write_text("".join(json.dumps(d) + "\n" for d in lines), encoding="utf-8")
    ok(run_cli(scratch_url, "migrate"))
    assert "loaded 2 studies" in ok(run_cli(scratch_url, "load", str(path)))
    expected = [("bulk-caps-iv", f"{NEW_PRIMARY}.ptsdseverity", NEW_PRIMARY),
                ("bulk-caps-iv", f"{NOT_REPORTED}.changeinclinicianadministeredptsdscalecaps5"
                                 "totalseverity", NOT_REPORTED)]
    assert _stored(scratch_url) == expected
    # A database from before the table: migrate creates it and computes the stored studies'.
    migrations.downgrade(scratch_url, "0008")
    assert sql(scratch_url, "SELECT version_num FROM alembic_version") == [("0008",)]
    ok(run_cli(scratch_url, "migrate"))
    assert _stored(scratch_url) == expected
    # Once at head, migrate computes nothing again: a row taken away stays away.
    engine = make_engine(scratch_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM study_flag WHERE flag_type = :t"), {"t": NEW_PRIMARY})
    finally:
        engine.dispose()
    ok(run_cli(scratch_url, "migrate"))
    assert _stored(scratch_url) == expected[1:]

