"""Backup and restore with pg_dump / pg_restore give a database that answers identically."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db import is_sqlite
from app.main import create_app
from tests.toolkit import scratch_database

FULL = "include=arms,outcomes,timepoints,publications,effects"


def client_tool(name: str) -> str | None:
    """The newest installed version of a PostgreSQL client program."""
    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (bindir / name).exists():
            return str(bindir / name)
    return shutil.which(name)


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def restored_url(database_url, engine, tmp_path):
    """The seeded test database, dumped with pg_dump and restored into a new database."""
    if is_sqlite(database_url):
        pytest.skip("runs in the PostgreSQL pass only")
    pg_dump, pg_restore = client_tool("pg_dump"), client_tool("pg_restore")
    if not (pg_dump and pg_restore):
        pytest.skip("pg_dump and pg_restore are not installed")
    dump = tmp_path / "evidencedb.dump"
    subprocess.run([pg_dump, "--format=custom", "--no-owner", f"--file={dump}",
                    libpq_url(database_url)], check=True, capture_output=True, timeout=120)
    with scratch_database(database_url, tmp_path, "restored") as url:
        subprocess.run([pg_restore, "--no-owner", "--exit-on-error", f"--dbname={libpq_url(url)}",
                        str(dump)], check=True, capture_output=True, timeout=120)
        yield url


def test_a_restored_backup_answers_byte_for_byte_like_the_original(database_url, restored_url):
    original = TestClient(create_app(Settings(database_url=database_url)))
    restored = TestClient(create_app(Settings(database_url=restored_url)))
    with original, restored:
        listing = original.get(f"/api/v1/studies?page_size=1000&{FULL}")
        assert listing.status_code == 200
        keys = [s["key"] for s in listing.json()["items"]]
        assert len(keys) >= 10
        paths = [
            f"/api/v1/studies?page_size=1000&{FULL}",
            "/api/v1/studies?page_size=5&sort=-start_date&count_total=true",
            "/api/v1/studies?q=MDMA",
            *[f"/api/v1/studies/{key}" for key in keys],
            "/api/v1/publications?page_size=1000",
            "/api/v1/regulatory-events?page_size=1000",
            "/api/v1/interventions?page_size=1000",
            "/api/v1/conditions?page_size=1000",
            "/api/v1/timepoints?page_size=1000",
        ]
        for path in paths:
            a, b = original.get(path), restored.get(path)
            assert a.status_code == 200, path
            assert (b.status_code, b.content, b.headers.get("etag")) == (
                a.status_code, a.content, a.headers.get("etag")), path
        assert restored.get("/readyz").status_code == 200
        assert restored.get("/version").json() == original.get("/version").json()
