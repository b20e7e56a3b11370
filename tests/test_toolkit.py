"""The test toolkit does what the tests built on it rely on: scratch databases are empty, really
commit and are gone afterwards; live servers answer and stop; keys work against a live server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from app.db import is_sqlite, make_engine
from tests.toolkit import (
    KEYRING,
    bearer,
    committed_key,
    live_server,
    migrated,
    run_cli,
    scratch_database,
)


def _database_exists(admin_url: str, url: str) -> bool:
    if is_sqlite(url):
        return Path(url.split("///", 1)[1]).exists()
    engine = make_engine(admin_url)
    try:
        with engine.connect() as conn:
            name = make_url(url).database
            return bool(conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                     {"n": name}).first())
    finally:
        engine.dispose()


def test_a_scratch_database_starts_empty_and_is_gone_afterwards(database_url, tmp_path):
    with scratch_database(database_url, tmp_path, "toolkit_probe") as url:
        assert url != database_url
        migrated(url)
        engine = make_engine(url)
        try:
            assert "study" in inspect(engine).get_table_names()
            with engine.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM study")).scalar() == 0
        finally:
            engine.dispose()
        if is_sqlite(url):
            return  # a SQLite scratch file lives in the test's temporary directory
        assert _database_exists(database_url, url)
    assert not _database_exists(database_url, url)


def test_a_live_server_answers_with_a_committed_key_and_stops(scratch_url):
    token = committed_key(migrated(scratch_url), "curator", "toolkit probe")
    with live_server({"EVIDENCEDB_DATABASE_URL": scratch_url}, ready_path="/readyz") as server:
        denied = httpx.post(f"{server.url}/api/v1/studies", json={}, timeout=10)
        accepted = httpx.post(f"{server.url}/api/v1/studies", json={}, headers=bearer(token),
                              timeout=10)
        proc = server.proc
    assert denied.status_code == 401
    assert accepted.status_code == 422  # past the key check, refused for its empty body
    assert proc.poll() is not None


_served: list[subprocess.Popen[bytes]] = []


def test_the_serve_fixture_starts_servers(serve, scratch_url):
    server = serve(migrated(scratch_url), EVIDENCEDB_REQUIRE_READ_KEY="true")
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    assert httpx.get(f"{server.url}/api/v1/studies", timeout=10).status_code == 401
    _served.append(server.proc)


def test_the_serve_fixture_stopped_the_previous_tests_server():
    assert len(_served) == 1
    assert _served[0].poll() is not None


def test_the_command_line_runs_on_the_database_it_is_given(scratch_url):
    migrated_url = migrated(scratch_url)
    created = run_cli(migrated_url, "keys", "create", "--role", "reader", "--name", "probe")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    KEYRING.append(token)
    listing = run_cli(migrated_url, "keys", "list")
    assert listing.returncode == 0 and "probe" in listing.stdout
    assert token not in listing.stdout
    assert run_cli(migrated_url, "no-such-command").returncode != 0
