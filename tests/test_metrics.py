"""/metrics: Prometheus text with request counts, latencies and pool usage."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.db import is_sqlite
from tests.toolkit import live_server


def samples(text: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    found = [s.value for s in samples(text)
             if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    return sum(found)


def test_metrics_count_requests_by_route_template_and_status(client):
    before = client.get("/metrics").text
    assert client.get("/api/v1/studies/NCT00090064").status_code == 200
    assert client.get("/api/v1/studies/NCT00090064?fields=title").status_code == 200
    assert client.get("/api/v1/studies/no-such-study").status_code == 404
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    route = "/api/v1/studies/{key}"
    counter = "evidencedb_http_requests_total"
    ok = dict(method="GET", route=route, status="200")
    missing = dict(method="GET", route=route, status="404")
    assert value(after, counter, **ok) - value(before, counter, **ok) == 2
    assert value(after, counter, **missing) - value(before, counter, **missing) == 1
    histogram = "evidencedb_http_request_duration_seconds_count"
    assert value(after, histogram, **ok) - value(before, histogram, **ok) == 2
    # Concrete keys never become label values.
    assert "NCT00090064" not in after and "no-such-study" not in after


def test_metrics_report_database_pool_usage(client):
    text = client.get("/metrics").text
    names = {(s.name, s.labels.get("database")) for s in samples(text)}
    for gauge in ("evidencedb_db_pool_connections_in_use", "evidencedb_db_pool_connections_idle",
                  "evidencedb_db_pool_capacity"):
        assert (gauge, "primary") in names
    assert value(text, "evidencedb_db_pool_capacity", database="primary") >= 1


def test_unmatched_paths_share_one_label(client):
    before = client.get("/metrics").text
    for n in range(3):
        client.get(f"/no/such/path/{n}")
    after = client.get("/metrics").text
    counter = "evidencedb_http_requests_total"
    assert value(after, counter, route="<unmatched>", status="404") - value(
        before, counter, route="<unmatched>", status="404") == 3
    assert "/no/such/path" not in after


def test_several_workers_report_one_sum(tmp_path, database_url):
    """With PROMETHEUS_MULTIPROC_DIR every scrape counts the requests of all workers."""
    if not is_sqlite(database_url):
        pytest.skip("runs in the SQLite pass only (it does not depend on the test database)")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {"EVIDENCEDB_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    with live_server(env, workers=2) as server:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            started = value(http.get("/metrics").text, "evidencedb_http_requests_total",
                            route="/healthz")
        for _ in range(20):  # a new connection each time, so both workers take some
            assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
        scrapes = [httpx.get(f"{server.url}/metrics", timeout=10).text for _ in range(6)]
    for text in scrapes:
        assert value(text, "evidencedb_http_requests_total", route="/healthz") == started + 20
