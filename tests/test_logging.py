"""One JSON line per request, with a request id, and never a key, a body or a query value."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.observability import JsonFormatter

SECRETS = ["sk-live-8f3a1c9d", "query-secret-77e1", "cookie-secret-5b2", "key-param-secret-9c"]
QUERY_SECRET = "qv51dx"


@pytest.fixture
def log_lines():
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("evidencedb")
    logger.addHandler(handler)
    try:
        yield lambda: [line for line in buffer.getvalue().splitlines() if line]
    finally:
        logger.removeHandler(handler)


def access_entries(lines):
    return [e for e in map(json.loads, lines) if e["logger"] == "evidencedb.access"]


def test_each_request_logs_one_json_line_without_keys_or_query_values(client, log_lines):
    headers = {"Authorization": f"Bearer {SECRETS[0]}", "X-API-Key": SECRETS[0],
               "Cookie": f"session={SECRETS[2]}"}
    client.get(f"/api/v1/studies?q={QUERY_SECRET}", headers=headers)
    client.get("/api/v1/studies/NCT00090064?fields=title", headers=headers)
    client.get(f"/api/v1/studies?page_size={SECRETS[1]}", headers=headers)  # 422
    client.get(f"/api/v1/studies/{SECRETS[3]}?api_key={SECRETS[3]}", headers=headers)  # 404
    client.get(f"/no/such/{SECRETS[1]}", headers=headers)
    client.post("/api/v1/studies", headers=headers, content=json.dumps({"key": SECRETS[0]}))

    lines = log_lines()
    entries = [json.loads(line) for line in lines]  # every line is JSON
    assert all(isinstance(e, dict) for e in entries)
    access = access_entries(lines)
    assert len(access) == 6
    assert [(e["method"], e["route"], e["status"]) for e in access[:4]] == [
        ("GET", "/api/v1/studies", 200),
        ("GET", "/api/v1/studies/{key}", 200),
        ("GET", "/api/v1/studies", 422),
        ("GET", "/api/v1/studies/{key}", 404),
    ]
    assert access[4]["route"] == "<unmatched>" and access[4]["status"] == 404
    assert access[5]["method"] == "POST"
    for e in access:
        assert set(e) == {"time", "level", "logger", "method", "route", "status",
                          "duration_ms", "request_id"}
        assert isinstance(e["duration_ms"], int | float) and e["duration_ms"] >= 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"])
    text = "\n".join(lines)
    for secret in [*SECRETS, QUERY_SECRET]:
        assert secret not in text
    assert "Bearer" not in text and "?" not in text


def test_a_safe_request_id_is_echoed_and_logged(client, log_lines):
    response = client.get("/healthz", headers={"X-Request-ID": "trace-42.a_b"})
    assert response.headers["X-Request-ID"] == "trace-42.a_b"
    assert access_entries(log_lines())[-1]["request_id"] == "trace-42.a_b"


@pytest.mark.parametrize("unsafe", ["x" * 65, "a b", "id;drop", "<script>", ""])
def test_an_unsafe_request_id_is_replaced_by_a_new_one(client, log_lines, unsafe):
    response = client.get("/healthz", headers={"X-Request-ID": unsafe})
    given = response.headers["X-Request-ID"]
    assert given != unsafe and re.fullmatch(r"[0-9a-f]{32}", given)
    assert access_entries(log_lines())[-1]["request_id"] == given


def test_requests_without_an_id_get_distinct_ones(client):
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


def test_problem_responses_carry_the_request_id_too(client):
    response = client.get("/api/v1/studies/no-such-study", headers={"X-Request-ID": "r-404"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["X-Request-ID"] == "r-404"


def test_answers_from_the_response_cache_are_logged_with_their_route(database_url, engine,
                                                                     log_lines):
    app = create_app(Settings(database_url=database_url, response_cache_bytes=1 << 20))
    with TestClient(app) as client:
        first = client.get("/api/v1/studies/NCT00090064")
        client.get("/api/v1/studies/NCT00090064")  # stored at its second miss
        second = client.get("/api/v1/studies/NCT00090064")
    assert first.status_code == second.status_code == 200
    assert second.headers.get("x-cache") == "hit"
    assert second.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    entries = access_entries(log_lines())[-2:]
    assert [(e["route"], e["status"]) for e in entries] == [
        ("/api/v1/studies/{key}", 200), ("/api/v1/studies/{key}", 200)]
    assert entries[1]["request_id"] == second.headers["X-Request-ID"]
