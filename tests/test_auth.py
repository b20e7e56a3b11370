"""Writes need a curator key; keys are shown once and never again."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.config import Settings
from app.main import create_app
from tests.authkit import API, KEYRING, bearer, leaked
from tests.builders import study_document

pytestmark = pytest.mark.usefixtures("no_key_leaks")

WRITE_METHODS = {"post", "put", "patch", "delete"}
SEEDED = "NCT03537014"
ROOT = Path(__file__).resolve().parent.parent


# Routes any valid key may write to: a reader's own saved searches.
KEY_HOLDER_ROUTES = "/api/v1/subscriptions"


def write_routes(client, *, key_holders: bool = False):
    """The write routes that need a curator key (or, with `key_holders`, the ones that
    admit any key)."""
    doc = client.get("/openapi.json").json()
    return [(path, method, op) for path, ops in doc["paths"].items()
            for method, op in ops.items() if method in WRITE_METHODS
            and path.startswith(KEY_HOLDER_ROUTES) == key_holders]


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


def test_routes_for_any_key_refuse_missing_wrong_and_revoked_keys_and_admit_a_reader(
        client, make_key, revoke, snapshot):
    routes = write_routes(client, key_holders=True)
    assert {(p, m) for p, m, _ in routes} == {
        ("/api/v1/subscriptions", "post"), ("/api/v1/subscriptions/{subscription_id}", "delete"),
        ("/api/v1/subscriptions/{subscription_id}/acknowledge", "post")}
    revoked = make_key("reader", "former reader")
    revoke(revoked)
    cases = [({}, 401), (bearer("evk_" + "A" * 43), 401), (bearer(revoked), 401)]
    before = snapshot()
    for path, method, op in routes:
        assert "403" not in op["responses"], (method, path)
        url = path.replace("{subscription_id}", "1")
        for headers, status in cases:
            response = client.request(method.upper(), url, json={"filter": {}},
                                      headers=headers)
            assert response.status_code == status, (method, path, headers, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
    assert snapshot() == before
    reader = bearer(make_key("reader", "reader"))
    saved = client.post(f"{API}/subscriptions", json={"filter": {}}, headers=reader)
    assert saved.status_code == 201, saved.text


def test_openapi_lists_every_status_of_each_write_route_with_the_problem_schema(client):
    for path, method, op in write_routes(client):
        statuses = set(op["responses"])
        needed = {"400", "401", "403", "413", "422", "429"}
        if "{" in path:
            needed |= {"404"}
        if path.startswith("/api/v1/studies/{key}"):
            needed |= {"410", "412", "428"}
        if method in ("post", "put", "patch") and not path.startswith("/api/v1/keys"):
            needed |= {"409"}  # a key cannot conflict with anything stored
        assert needed <= statuses, (method, path, needed - statuses)
        check_problem_schemas(op, needed, method, path)
    for path, method, op in write_routes(client, key_holders=True):
        needed = {"400", "401", "404", "413", "422", "429"} - ({"404"} if "{" not in path
                                                                else set())
        assert needed <= set(op["responses"]), (method, path, needed - set(op["responses"]))
        check_problem_schemas(op, needed, method, path)


def check_problem_schemas(op: dict, needed: set[str], method: str, path: str) -> None:
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


def test_security_rules_never_import_the_http_layer():
    tree = ast.parse((ROOT / "app" / "security.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert not {m for m in imported if m and (m.startswith("app.api") or m == "fastapi")}


def test_openapi_declares_the_bearer_scheme_on_every_protected_operation(client):
    doc = client.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert list(schemes) == ["bearer"]
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"
    for path, method, op in write_routes(client):
        assert op["security"] == [{"bearer": []}], (method, path)
    assert doc["paths"]["/api/v1/keys"]["get"]["security"] == [{"bearer": []}]
    # Reads admit anyone: the key is optional.
    assert doc["paths"]["/api/v1/studies"]["get"]["security"] == [{}, {"bearer": []}]


def test_with_read_keys_required_operations_and_docs_need_a_key_too(client_with, make_key):
    strict = client_with(require_read_key=True)
    reader = bearer(make_key("reader", "reader"))
    for path in ("/metrics", "/version", "/openapi.json", "/docs"):
        refused = strict.get(path)
        assert refused.status_code == 401, path
        assert refused.headers["content-type"] == "application/problem+json"
        assert strict.get(path, headers=reader).status_code == 200, path
    assert strict.get("/healthz").status_code == 200
    assert strict.get("/readyz").status_code == 200
    doc = strict.get("/openapi.json", headers=reader).json()
    assert doc["paths"]["/api/v1/studies"]["get"]["security"] == [{"bearer": []}]
    assert doc["paths"]["/version"]["get"]["security"] == [{"bearer": []}]

    open_ops = client_with(require_read_key=True, protect_operations=False)
    for path in ("/metrics", "/version", "/openapi.json", "/docs"):
        assert open_ops.get(path).status_code == 200, path
    assert open_ops.get(f"{API}/studies").status_code == 401


def test_docs_come_from_our_origin_or_are_switched_off(client, client_with):
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
    for source in sources:
        assert client.get(source).status_code == 200, source
    assert client.get("/redoc").status_code == 404
    off = client_with(docs_enabled=False)
    assert off.get("/docs").status_code == 404
    assert off.get("/openapi.json").status_code == 404
    assert off.get(f"{API}/studies").status_code == 200


class TestKeyManagement:
    def test_an_admin_creates_a_key_seen_once_lists_without_secrets_and_revokes_it(
            self, client, make_key, response_log):
        admin = bearer(make_key("admin", "the admin"))
        created = client.post(f"{API}/keys", json={"name": "new reader", "role": "READER"},
                              headers=admin)
        assert created.status_code == 201, created.text
        body = created.json()
        token = body["key"]
        response_log.clear()  # the one answer allowed to show it; no other may
        KEYRING.append(token)
        assert token.startswith("evk_") and body["role"] == "READER"
        assert created.headers["location"] == f"{API}/keys/{body['id']}"
        assert created.headers["cache-control"] == "no-store"

        listing = client.get(f"{API}/keys", headers=admin)
        assert listing.status_code == 200
        listed = {k["id"]: k for k in listing.json()["items"]}
        assert listed[body["id"]]["name"] == "new reader"
        assert "key" not in listed[body["id"]] and "key_hash" not in listed[body["id"]]
        assert token not in listing.text and token[:20] not in listing.text

        # The new key works (a reader may not manage keys: 403, not 401) until revoked.
        assert client.get(f"{API}/keys", headers=bearer(token)).status_code == 403
        revoked = client.delete(f"{API}/keys/{body['id']}", headers=admin)
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        refused = client.post(f"{API}/keys", json={"name": "x", "role": "READER"},
                              headers=bearer(token))
        assert refused.status_code == 401

    def test_key_changes_are_audited_without_the_key(self, client, make_key, connection,
                                                     response_log):
        admin = bearer(make_key("admin", "auditing admin"))
        created = client.post(f"{API}/keys", json={"name": "audited", "role": "CURATOR"},
                              headers=admin).json()
        response_log.clear()  # the one answer allowed to show it
        KEYRING.append(created["key"])
        client.delete(f"{API}/keys/{created['id']}", headers=admin)
        rows = connection.execute(text(
            "SELECT action, changes FROM audit_entry WHERE entity = 'api_key' "
            "AND entity_key = :k ORDER BY id"), {"k": str(created["id"])}).all()
        assert [r.action for r in rows] == ["create", "revoke"]
        assert created["key"] not in repr(rows)

    @pytest.mark.parametrize("role", ["curator", "reader"])
    def test_a_curator_or_reader_is_refused_with_403_and_nothing_changes(
            self, client, make_key, snapshot, role):
        other = bearer(make_key(role, f"a {role}"))
        before = snapshot()
        for method, url, body in (("POST", f"{API}/keys", {"name": "x", "role": "ADMIN"}),
                                  ("GET", f"{API}/keys", None),
                                  ("DELETE", f"{API}/keys/1", None)):
            response = client.request(method, url, json=body, headers=other)
            assert response.status_code == 403, (method, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        assert client.post(f"{API}/keys", json={"name": "x", "role": "ADMIN"}).status_code == 401
        assert snapshot() == before

    def test_bad_input_is_a_problem_and_changes_nothing(self, client, make_key, snapshot):
        admin = bearer(make_key("admin", "careful admin"))
        before = snapshot()
        for body in ({"name": "x", "role": "OWNER"}, {"name": "", "role": "READER"},
                     {"name": "x", "role": "READER", "key": "evk_mine"},
                     {"name": "a\x00b", "role": "READER"}):
            response = client.post(f"{API}/keys", json=body, headers=admin)
            assert response.status_code == 422, body
        assert client.delete(f"{API}/keys/999999", headers=admin).status_code == 404
        assert client.delete(f"{API}/keys/99999999999", headers=admin).status_code == 422
        assert snapshot() == before
