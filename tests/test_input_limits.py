"""Bad input changes nothing: a clear 4xx naming the field, and no row written."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.authkit import API, bearer
from tests.builders import study_document

pytestmark = pytest.mark.usefixtures("no_key_leaks")


def _set(doc: dict, path: list, value: Any) -> dict:
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return doc


BAD = [
    ("unknown field", ["colour"], "blue"),
    ("unknown nested field", ["arms", 0, "colour"], "blue"),
    ("wrong type", ["enrollment"], "sixty"),
    ("wrong nested type", ["timepoints", 1, "months"], [12]),
    ("negative count", ["arms", 0, "n_randomized"], -1),
    ("negative result n", ["outcome_measures", 0, "results", 0, "n"], -3),
    ("impossible date", ["start_date"], "2021-02-30"),
    ("impossible month", ["completion_date"], "2021-13"),
    ("NUL character", ["title"], "PTSD\u0000trial"),
    ("NUL in a nested name", ["arms", 1, "label"], "Plac\u0000ebo"),
    ("array over 1000 items", ["conditions"], [f"condition {i}" for i in range(1001)]),
    ("nested array over 1000 items", ["arms", 0, "interventions"],
     [{"name": f"drug {i}"} for i in range(1001)]),
]


@pytest.mark.parametrize("what,path,value", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_422_naming_the_field_and_writes_nothing(client, curator, snapshot,
                                                               what, path, value):
    doc = _set(study_document("bad-input", "NCT09999981"), list(path), value)
    before = snapshot()
    response = client.post(f"{API}/studies", json=doc, headers=curator)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    locs = [e["loc"] for e in response.json()["errors"]]
    assert ["body", *path] in locs, locs
    assert snapshot() == before
    assert client.get(f"{API}/studies/bad-input").status_code == 404


@pytest.mark.parametrize("token,path", [
    ("NaN", ["outcome_measures", 0, "results", 0, "mean"]),
    ("Infinity", ["outcome_measures", 0, "effects", 0, "value"]),
    ("-Infinity", ["outcome_measures", 0, "results", 1, "sd"]),
])
def test_nan_and_infinity_are_refused(client, curator, snapshot, token, path):
    doc = _set(study_document("bad-float", "NCT09999982"), list(path), "__X__")
    raw = json.dumps(doc).replace('"__X__"', token)
    before = snapshot()
    response = client.post(f"{API}/studies", content=raw,
                           headers={**curator, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert ["body", *path] in [e["loc"] for e in response.json()["errors"]]
    assert snapshot() == before


def test_body_over_the_limit_is_413(client_with, make_key, snapshot):
    small = client_with(max_body_bytes=2000)
    headers = bearer(make_key())
    before = snapshot()
    response = small.post(f"{API}/studies", json=study_document("big", "NCT09999983"),
                          headers=headers)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"

    def chunks():
        payload = json.dumps(study_document("big", "NCT09999983")).encode()
        for i in range(0, len(payload), 500):
            yield payload[i:i + 500]

    chunked = small.post(f"{API}/studies", content=chunks(),
                         headers={**headers, "Content-Type": "application/json"})
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413
    assert snapshot() == before


def test_chunked_body_is_refused_before_it_is_all_read(app):
    """Driven at the ASGI level to count how much of an endless body the server pulls."""
    pulled = 0
    chunk = b" " * 65536

    async def receive():
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < 1000}

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": f"{API}/studies", "raw_path": b"",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
             "server": ("testserver", 80),
             "headers": [(b"content-type", b"application/json"),
                         (b"transfer-encoding", b"chunked")]}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    limit_chunks = app.state.settings.max_body_bytes // len(chunk)
    assert pulled <= limit_chunks + 1 < 1000


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"key": "deep", "title": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}",
    b"[" * 1_000_000,
])
def test_deeply_nested_json_is_a_400_not_a_500(client, curator, snapshot, body):
    before = snapshot()
    response = client.post(f"{API}/studies", content=body,
                           headers={**curator, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "nest" in response.json()["detail"]
    assert snapshot() == before


def test_brackets_inside_strings_do_not_count_as_nesting(client, curator):
    doc = study_document("brackets", "NCT09999984", notes="[" * 500 + '\\"{' * 200)
    response = client.post(f"{API}/studies", json=doc, headers=curator)
    assert response.status_code == 201, response.text
    assert client.get(f"{API}/studies/brackets").json()["notes"] == doc["notes"]


def test_rate_limit_per_address_answers_429_with_retry_after(client_with):
    limited = client_with(rate_limit_per_address=3, rate_limit_per_key=0,
                          rate_limit_store="memory")
    statuses = [limited.get(f"{API}/studies?page_size=1").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = limited.get(f"{API}/studies?page_size=1")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert limited.get("/healthz").status_code == 200


def test_a_body_sent_too_slowly_is_a_408_and_nothing_is_written(client_with, curator,
                                                                 snapshot):
    app = client_with(body_read_timeout_s=0.2).app
    before = snapshot()
    sent: list[dict[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b'{"key": "slow', "more_body": True}
        await asyncio.sleep(3600)  # the rest never comes
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    token = curator["Authorization"].encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": f"{API}/studies", "raw_path": b"",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
             "server": ("testserver", 80),
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                         (b"authorization", token)]}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    assert sent[0]["status"] == 408
    assert json.loads(sent[1]["body"])["status"] == 408
    assert snapshot() == before


def test_overlong_change_reason_is_422_naming_the_header(client, curator, snapshot):
    before = snapshot()
    response = client.post(f"{API}/studies", json=study_document("reason", "NCT09999985"),
                           headers={**curator, "X-Change-Reason": "x" * 2001})
    assert response.status_code == 422
    assert ["header", "x-change-reason"] in [e["loc"] for e in response.json()["errors"]]
    assert snapshot() == before


@pytest.mark.parametrize("query", [
    "studies?max_enrollment=7595743706417375215616",
    "studies?min_enrollment=100000001",
    "meta-analysis?max_enrollment=7595743706417375215616",
    "outcomes?min_enrollment=100000001",
])
def test_an_enrollment_beyond_any_trial_is_a_422_not_a_database_overflow(client, query):
    response = client.get(f"{API}/{query}")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "enrollment" in response.text
