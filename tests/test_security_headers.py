"""What a browser is told about our answers (content types, framing, script, origins), and
links a client's Host header cannot poison."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app import migrations
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.schemas.study import StudyCreate
from app.services import studies
from tests.builders import study_document

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"
API = "/api/v1"
FOREST = f"{API}/meta-analysis/forest.svg?instrument=CAPS-5&effect_type=COHENS_D"


def test_every_answer_says_nosniff(client):
    for path in ("/", f"{API}/studies?page_size=1", f"{API}/studies/none", "/healthz",
                 f"{API}/export/studies.csv?registry_id=NCT00000000", "/openapi.json",
                 "/static/dashboard/app.js"):
        response = client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path


@pytest.mark.parametrize("path", ["/", "/docs", FOREST])
def test_pages_and_svg_forbid_inline_script_and_framing(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(("text/html", "image/svg+xml"))
    policy = dict(part.strip().split(" ", 1)
                  for part in response.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert response.headers["x-frame-options"] == "DENY"
    # No inline style of any kind, style attributes included.
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert "style-src-attr" not in policy


def test_json_answers_carry_no_page_policy(client):
    response = client.get(f"{API}/studies?page_size=1")
    assert "content-security-policy" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_dashboard_page_has_no_inline_script_or_style_element(client):
    page = client.get("/").text
    assert "<style" not in page
    for tag in page.split("<script")[1:]:
        assert 'src="/static/' in tag.split(">", 1)[0]
        assert tag.split(">", 1)[1].startswith("</script")


def test_configured_origins_may_read_and_others_may_not(client_with):
    client = client_with(cors_origins=["https://allowed.example"])
    allowed = client.get(f"{API}/studies?page_size=1",
                         headers={"Origin": "https://allowed.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://allowed.example"
    assert "link" in allowed.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers
    other = client.get(f"{API}/studies?page_size=1",
                       headers={"Origin": "https://other.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = client.options(f"{API}/studies", headers={
        "Origin": "https://allowed.example", "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, if-match"})
    assert preflight.status_code == 200
    assert "PATCH" in preflight.headers["access-control-allow-methods"]


def test_a_wildcard_origin_is_never_combined_with_credentials(client_with):
    client = client_with(cors_origins=["*"])
    response = client.get(f"{API}/studies?page_size=1",
                          headers={"Origin": "https://any.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


def test_no_cors_headers_without_configured_origins(client):
    response = client.get(f"{API}/studies?page_size=1", headers={"Origin": "https://x.example"})
    assert "access-control-allow-origin" not in response.headers


@pytest.fixture
def cached_database(scratch_url: str) -> Iterator[str]:
    migrations.upgrade(scratch_url)
    engine = make_engine(scratch_url)
    try:
        with Session(engine) as session:
            for n in range(3):
                studies.create(session, StudyCreate.model_validate(
                    study_document(f"study-{n}", nct=f"NCT0999990{n}")), actor_id=None)
        yield scratch_url
    finally:
        engine.dispose()


def cached_app(url: str, **settings: Any) -> Any:
    return create_app(Settings(database_url=url, response_cache_bytes=1 << 20, **settings))


def test_a_foreign_host_does_not_change_what_other_clients_are_served(cached_database):
    app = cached_app(cached_database)
    try:
        with TestClient(app, base_url="http://evidence.test") as client:
            url = f"{API}/studies?page_size=1"
            # Asked for twice, as an answer must be to be stored.
            for _ in range(2):
                attack = client.get(url, headers={"Host": "attacker.example"})
                assert "attacker.example" in attack.headers["link"]
            for _ in range(3):
                normal = client.get(url)
                assert normal.status_code == 200
                assert "attacker.example" not in normal.headers["link"]
                assert normal.headers["link"].startswith("<http://evidence.test/api/v1/studies?")
            assert normal.headers["x-cache"] == "hit"
    finally:
        app.state.engine.dispose()


def test_links_name_the_configured_public_base_url(cached_database):
    app = cached_app(cached_database, public_base_url="https://evidence.example.org/")
    try:
        with TestClient(app, base_url="http://internal:8000") as client:
            for host in ("attacker.example", "internal:8000"):
                response = client.get(f"{API}/studies?page_size=1", headers={"Host": host})
                assert response.headers["link"].startswith(
                    "<https://evidence.example.org/api/v1/studies?"), host
            bundle = client.get("/fhir/ResearchStudy?_count=1",
                                headers={"Host": "attacker.example"}).json()
            assert "attacker.example" not in str(bundle)
    finally:
        app.state.engine.dispose()


@pytest.mark.parametrize("value", ["ftp://x.example", "https://x.example/path", "example.org"])
def test_a_public_base_url_is_a_scheme_and_host(value):
    with pytest.raises(ValidationError):
        Settings(public_base_url=value)


@pytest.mark.parametrize("page", ["dashboard/index.html", "dashboard/app.js",
                                  "docs/index.html", "docs/docs.js"])
def test_page_assets_write_no_style_attribute(page):
    """The policy refuses style attributes; the pages place their bars and marks through
    the style object instead, which it allows."""
    source = (STATIC / page).read_text()
    assert not re.search(r"""style\s*=\s*["'`$]""", source), page
    assert "setAttribute(\"style\"" not in source and "cssText" not in source
