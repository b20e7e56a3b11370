"""A condition's facet counts come from its links' copies of each study's phase, status,
enrollment and liveness, which the database keeps (migration 0013).

Two rules, each checked against something the copies do not feed:
- after every kind of write (create, merge patch, replace, delete, bulk load, batched registry
  import) each link's copies equal its study's own columns, read by plain SQL;
- the facet counts for a filter equal the `/studies` totals for the same filter with each
  value selected, which are counted on the study rows. Filters the links cannot answer
  (another membership, several condition names, retraction) must agree too.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from app.services import bulk
from tests.builders import study_document
from tests.evidence_helpers import API, store
from tests.test_bulk_load import _lines
from tests.test_ctgov_dump_batched import import_folder, write_files
from tests.toolkit import migrated

FILTERS = [
    "condition=PTSD",
    "condition=post-traumatic%20stress%20disorder&min_enrollment=60",
    "condition=PTSD&max_enrollment=90&status=COMPLETED",
    "condition=PTSD&phase=PHASE2&min_enrollment=10",
    "condition=Insomnia",
    # Not answerable from one condition's links: counted on the studies.
    "condition=PTSD&intervention=MDMA",
    "condition=PTSD&include_retracted=false",
    "condition=PTSD&condition=Insomnia",
]
COPIES = ("SELECT sc.study_phase, sc.study_status, sc.study_enrollment, sc.study_live, "
          "s.phase, s.overall_status, s.enrollment, s.deleted_at "
          "FROM study_condition sc JOIN study s ON s.id = sc.study_id")


def stale_copies(conn: Any) -> list[tuple[Any, ...]]:
    """The links whose copies differ from their study's columns."""
    rows = conn.execute(text(COPIES)).all()
    assert rows, "no study_condition rows to compare"
    return [r for r in rows
            if (r[0], r[1], r[2], bool(r[3])) != (r[4], r[5], r[6], r[7] is None)]


def studies_total(client: Any, query: str) -> int:
    response = client.get(f"{API}/studies?{query}&count_total=true&page_size=1&fields=key")
    assert response.status_code == 200, response.text
    return int(response.json()["total_count"])


def assert_counts_match_the_studies(client: Any, query: str) -> None:
    """Each phase and status count, and the total, equal /studies for the same filter."""
    response = client.get(f"{API}/stats/facets?{query}&facet=phase&facet=status")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == studies_total(client, query), query
    for facet, param in (("phase", "phase"), ("status", "status")):
        # A facet ignores its own parameter: its counts are those of the filter without it.
        own = "&".join(p for p in query.split("&") if not p.startswith(f"{param}="))
        counts = {v["value"]: v["count"] for v in body["facets"][facet]}
        for value, count in counts.items():
            assert count == studies_total(client, f"{own}&{param}={value}"), (query, value)
        assert sum(counts.values()) <= studies_total(client, own)


def patch(client: Any, curator: dict[str, str], key: str, body: dict[str, Any]) -> None:
    etag = client.get(f"{API}/studies/{key}").headers["etag"]
    response = client.patch(f"{API}/studies/{key}", json=body,
                            headers={**curator, "If-Match": etag,
                                     "Content-Type": "application/merge-patch+json"})
    assert response.status_code == 200, response.text


def check_all(client: Any, connection: Any) -> None:
    assert stale_copies(connection) == []
    for query in FILTERS:
        assert_counts_match_the_studies(client, query)


def test_the_copies_and_counts_follow_every_api_write(client, curator, connection):
    check_all(client, connection)
    store(client, curator, study_document("cf-both", nct="NCT09999941", phase="PHASE3",
                                          overall_status="RECRUITING", enrollment=75,
                                          conditions=["PTSD", "Insomnia"]))
    store(client, curator, study_document("cf-insomnia", nct="NCT09999942",
                                          conditions=["Insomnia"], enrollment=20))
    check_all(client, connection)
    insomnia = client.get(f"{API}/stats/facets?condition=Insomnia&facet=phase").json()
    assert insomnia["total"] == 2
    assert {v["value"]: v["count"] for v in insomnia["facets"]["phase"]} == {
        "PHASE2": 1, "PHASE3": 1}

    for body in ({"phase": "PHASE2"}, {"overall_status": "TERMINATED"}, {"enrollment": 5},
                 {"enrollment": None}, {"phase": None}):
        patch(client, curator, "cf-both", body)
        check_all(client, connection)

    # A replacement that moves the study to other conditions and values.
    etag = client.get(f"{API}/studies/cf-insomnia").headers["etag"]
    replaced = client.put(f"{API}/studies/cf-insomnia",
                          json=study_document("cf-insomnia", nct="NCT09999942",
                                              conditions=["PTSD"], phase="PHASE3",
                                              enrollment=300),
                          headers={**curator, "If-Match": etag})
    assert replaced.status_code == 200, replaced.text
    check_all(client, connection)

    before = client.get(f"{API}/stats/facets?condition=Insomnia&facet=status").json()["total"]
    etag = client.get(f"{API}/studies/cf-both").headers["etag"]
    gone = client.delete(f"{API}/studies/cf-both", headers={**curator, "If-Match": etag})
    assert gone.status_code == 204
    check_all(client, connection)
    after = client.get(f"{API}/stats/facets?condition=Insomnia&facet=status").json()["total"]
    assert (before, after) == (1, 0)


def test_a_plain_sql_update_of_a_study_reaches_its_links(connection):
    """The database keeps the copies, so even a write outside the application does."""
    connection.execute(text("UPDATE study SET enrollment = 7, phase = 'PHASE4', "
                            "overall_status = 'WITHDRAWN' WHERE id = (SELECT min(id) FROM study)"))
    assert stale_copies(connection) == []
    connection.execute(text("UPDATE study SET deleted_at = CURRENT_TIMESTAMP "
                            "WHERE id = (SELECT max(id) FROM study)"))
    assert stale_copies(connection) == []


def test_bulk_loaded_links_carry_their_studies_values(db_session):
    docs = [study_document(f"cf-load-{i}", nct=f"NCT0999995{i}", phase=phase,
                           overall_status=status, enrollment=enrollment,
                           conditions=["PTSD", "Nightmares"])
            for i, (phase, status, enrollment) in enumerate(
                [("PHASE1", "COMPLETED", 12), ("PHASE3", "RECRUITING", None),
                 (None, "TERMINATED", 400)])]
    errors: list[bulk.BatchError] = []
    cache = bulk.new_vocab_cache()
    for batch in bulk.batches(_lines(*docs), 10, errors):
        bulk.load_batch(db_session, batch, source="cf.ndjson", actor_id=None,
                        vocab_cache=cache)
    assert errors == []
    db_session.flush()
    connection = db_session.connection()
    assert stale_copies(connection) == []
    loaded = connection.execute(text(
        "SELECT count(*) FROM study_condition sc JOIN study s ON s.id = sc.study_id "
        "WHERE s.key LIKE 'cf-load-%' AND sc.study_status IS NOT NULL")).scalar_one()
    assert loaded == 6


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "one-by-one"])
def test_imported_registry_records_carry_their_studies_values(scratch_url, tmp_path, batched):
    url = migrated(scratch_url)
    import_folder(url, write_files(tmp_path / "records", again=False), batched=batched)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert stale_copies(conn) == []
            linked = conn.execute(text(
                "SELECT count(*) FROM study_condition WHERE study_live")).scalar_one()
            assert linked > 40
    finally:
        engine.dispose()
