"""Writes need a curator key; keys are shown once and never again."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.authkit import API, KEYRING, bearer, leaked
from tests.builders import study_document

pytestmark = pytest.mark.usefixtures("no_key_leaks")

WRITE_METHODS = {"post", "put", "patch", "delete"}
SEEDED = "NCT03537014"


def write_routes(client):
    doc = client.get("/openapi.json").json()
    return [(path, method, op) for path, ops in doc["paths"].items()
            for method, op in ops.items() if method in WRITE_METHODS]


def sample_request(client, path: str, method: str) -> tuple[str, dict | None]:
    """A request to the route that only its key could make fail."""
    seeded = client.get(f"{API}/studies/{SEEDED}").json()
    values = {"key": SEEDED, "publication_id": str(seeded["publications"][0]["id"])}
    url = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), path)
    bodies = {
        ("/api/v1/studies", "post"): study_document("auth-new", "NCT09999951"),
        ("/api/v1/studies/{key}", "put"): {k: v for k, v in seeded.items()
                                           if k in study_document()},
        ("/api/v1/studies/{key}", "patch"): {"title": "changed without a key"},
        ("/api/v1/publications/{publication_id}/retraction", "post"): {
            "date": "2025-01-01", "notice": "retracted"},
    }
    return url, bodies.get((path, method), {})


def test_every_write_route_refuses_missing_wrong_revoked_and_reader_keys(
        client, make_key, revoke, snapshot):
    routes = write_routes(client)
    assert {(p, m) for p, m, _ in routes} >= {
        ("/api/v1/studies", "post"), ("/api/v1/studies/{key}", "put"),
        ("/api/v1/studies/{key}", "patch"), ("/api/v1/studies/{key}", "delete"),
        ("/api/v1/publications/{publication_id}/retraction", "post")}
    revoked = make_key("curator", "former curator")
    revoke(revoked)
    reader = make_key("reader", "reader")
    etag = client.get(f"{API}/studies/{SEEDED}").headers["etag"]
    wrong = "evk_" + "A" * 43
    cases = [({}, 401), (bearer(wrong), 401), ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
             (bearer(revoked), 401), (bearer(reader), 403)]
    before = snapshot()
    for path, method, _ in routes:
        url, body = sample_request(client, path, method)
        for headers, status in cases:
            response = client.request(method.upper(), url, json=body,
                                      headers={**headers, "If-Match": etag})
            assert response.status_code == status, (method, path, headers, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            if status == 401:
                assert response.headers["www-authenticate"] == "Bearer"
    assert snapshot() == before


def test_openapi_lists_every_status_of_each_write_route_with_the_problem_schema(client):
    for path, method, op in write_routes(client):
        statuses = set(op["responses"])
        needed = {"400", "401", "403", "413", "422", "429"}
        if "{" in path:
            needed |= {"404"}
        if path.startswith("/api/v1/studies/{key}"):
            needed |= {"410", "412", "428"}
        if method == "post" or method in ("put", "patch"):
            needed |= {"409"}
        assert needed <= statuses, (method, path, needed - statuses)
        for status in needed:
            content = op["responses"][status]["content"]
            schema = content["application/problem+json"]["schema"]
            assert {"title", "status"} <= set(schema["properties"]), (method, path, status)


def test_a_curator_key_may_write_and_an_admin_key_too(client, make_key):
    for n, role in enumerate(("curator", "admin")):
        doc = study_document(f"auth-ok-{n}", f"NCT0999996{n}")
        response = client.post(f"{API}/studies", json=doc, headers=bearer(make_key(role)))
        assert response.status_code == 201, response.text


def test_reads_are_public_unless_the_settings_require_a_key(client, client_with, make_key,
                                                            revoke):
    assert client.get(f"{API}/studies/{SEEDED}").status_code == 200
    strict = client_with(require_read_key=True)
    for url in (f"{API}/studies", f"{API}/studies/{SEEDED}", f"{API}/publications"):
        refused = strict.get(url)
        assert refused.status_code == 401, url
        assert refused.headers["www-authenticate"] == "Bearer"
    reader = make_key("reader", "reader")
    assert strict.get(f"{API}/studies/{SEEDED}", headers=bearer(reader)).status_code == 200
    revoke(reader)
    assert strict.get(f"{API}/studies/{SEEDED}", headers=bearer(reader)).status_code == 401
    assert strict.get("/healthz").status_code == 200


def run_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EVIDENCEDB_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "app.cli", "keys", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_cli_prints_a_key_once_lists_without_it_and_revokes_it(scratch_db):
    created = run_cli(scratch_db, "create", "--role", "curator", "--name", "carol")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    KEYRING.append(token)
    assert token.startswith("evk_") and len(token) >= 43
    listing = run_cli(scratch_db, "list")
    assert listing.returncode == 0
    assert "carol" in listing.stdout and "curator" in listing.stdout
    assert not leaked(listing.stdout + listing.stderr)

    app = create_app(Settings(database_url=scratch_db))
    try:
        with TestClient(app, raise_server_exceptions=False) as c:
            doc = study_document("cli-key", "NCT09999970")
            assert c.post(f"{API}/studies", json=doc, headers=bearer(token)).status_code == 201
            revoked = run_cli(scratch_db, "revoke", token[:12])
            assert revoked.returncode == 0, revoked.stderr
            assert not leaked(revoked.stdout + revoked.stderr)
            again = c.post(f"{API}/studies", json=study_document("cli-key-2", "NCT09999971"),
                           headers=bearer(token))
            assert again.status_code == 401
            assert not leaked(again.text)
    finally:
        app.state.engine.dispose()
    assert run_cli(scratch_db, "revoke", "evk_nosuchkey").returncode != 0
