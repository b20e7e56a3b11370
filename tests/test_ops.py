"""Liveness, readiness and version."""

from __future__ import annotations

from importlib.metadata import version as installed_version

from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import text

from app import migrations
from app.config import Settings
from app.main import create_app
from app.schemas.study import StudyCreate
from app.services import studies
from tests.builders import study_document

PROBLEM = "application/problem+json"
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/evidencedb"


def alembic_head() -> str:
    return ScriptDirectory.from_config(migrations.alembic_config("sqlite://")).get_current_head()


def test_healthz_answers_while_the_process_lives(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_reports_the_schema_revision(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "schema_revision": alembic_head()}


def test_readyz_is_503_on_an_unmigrated_database(scratch_url):
    with TestClient(create_app(Settings(database_url=scratch_url))) as c:
        response = c.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "revision None" in response.json()["detail"]
    assert response.headers["Retry-After"]


def test_an_unreachable_database_gives_503_problems_not_errors():
    with TestClient(create_app(Settings(database_url=UNREACHABLE)),
                    raise_server_exceptions=False) as c:
        assert c.get("/healthz").status_code == 200
        for path in ("/readyz", "/version", "/api/v1/studies", "/api/v1/studies/NCT00090064"):
            response = c.get(path)
            assert response.status_code == 503, path
            assert response.headers["content-type"].startswith(PROBLEM)
            assert response.headers["Retry-After"] == "1"
            body = response.json()
            assert body["title"] == "Service Unavailable"
            assert "127.0.0.1" not in body["detail"] and "psycopg" not in body["detail"]


def test_version_names_code_schema_and_data(client):
    body = client.get("/version").json()
    assert body["version"] == installed_version("evidencedb")
    assert body["schema_revision"] == alembic_head()
    assert isinstance(body["data_version"], str) and body["data_version"]


def test_the_data_version_changes_with_every_write(client, db_session):
    before = client.get("/version").json()
    entries = db_session.scalar(text("SELECT count(*) FROM audit_entry"))
    assert before["audit_entries"] == entries

    studies.create(db_session, StudyCreate.model_validate(study_document("version-probe")),
                   actor_id=None)
    after = client.get("/version").json()
    assert after["audit_entries"] == entries + 1
    assert after["data_version"] != before["data_version"]
    assert after["schema_revision"] == before["schema_revision"]
