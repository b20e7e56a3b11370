"""Bad input found by fuzzing: each case is a clear 4xx problem, never a 500, and changes
nothing. Every test goes through the public API on the test database (SQLite or PostgreSQL)."""

from __future__ import annotations

import base64
import json
import logging
import xml.etree.ElementTree as ET

import orjson
import pytest

from tests.authkit import API, bearer
from tests.builders import study_document
from tests.evidence_helpers import store

PROBLEM = "application/problem+json"


def token(*parts: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).rstrip(b"=").decode()


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    return response.json()


HUGE = 2**63
FOREIGN_TOKENS = [
    ("id past 64 bits", "/interventions", token("id", HUGE, HUGE)),
    ("id past 32 bits", "/publications", token("id", 2**31, 2**31)),
    ("negative id past 64 bits", "/conditions", token("id", -HUGE, -HUGE)),
    ("boolean id", "/regulatory-events", token("id", True, True)),
    ("float id", "/timepoints", token("id", 1.5, 1.5)),
    ("enrollment past 64 bits", "/studies?sort=enrollment", token("enrollment", HUGE, 1)),
    ("start date past 64 bits", "/studies?sort=-start_date", token("-start_date", HUGE, 1)),
    ("study id past 64 bits", "/studies?sort=title", token("title", "a", HUGE)),
    ("title with a NUL", "/studies?sort=title", token("title", "a\x00b", 1)),
    ("outcome id past 64 bits", "/outcomes", token("id", HUGE, HUGE)),
    ("history id past 64 bits", "/studies/NCT03537014/history", token("history", HUGE, HUGE)),
]


@pytest.mark.parametrize("what,path,page_token", FOREIGN_TOKENS,
                         ids=[t[0] for t in FOREIGN_TOKENS])
def test_page_token_with_a_value_no_column_holds_is_400(client, what, path, page_token):
    sep = "&" if "?" in path else "?"
    body = assert_problem(client.get(f"{API}{path}{sep}page_token={page_token}"), 400)
    assert body["detail"] == "page_token is not a token this API issued"


@pytest.mark.parametrize("value", ["true", "1.5", '"7"', "null", str(HUGE)])
def test_fhir_cursor_holding_anything_but_an_effect_id_is_400(client, value):
    cursor = token("id", json.loads(value), 1)
    response = client.get(f"/fhir/Evidence?_cursor={cursor}")
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


def test_integer_path_and_query_parameters_are_bounded_in_the_openapi_document(client):
    """Every integer a client can send is bounded to what an INTEGER column holds on both
    databases, so none reaches a driver too large."""
    spec = client.get("/openapi.json").json()
    unbounded = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                options = schema.get("anyOf", [schema])
                for option in options:
                    if option.get("type") == "integer" and not (
                            "maximum" in option and "minimum" in option
                            and option["maximum"] < 2**31):
                        unbounded.append((method, path, parameter["name"]))
    assert unbounded == []


def test_a_rejected_query_value_never_reaches_the_logs(client, caplog):
    secret = "evk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    with caplog.at_level(logging.DEBUG):
        response = client.get(f"{API}/studies?min_enrollment={secret}")
        assert_problem(response, 422)
        response = client.get(f"{API}/studies?q={secret}%00")
        assert_problem(response, 422)
        response = client.get(f"/ctgov/api/v2/studies?pageSize={secret}")
        assert_problem(response, 400)
    # The server's records, not the test client's own request lines.
    records = [r for r in caplog.records if r.name.startswith(("evidencedb", "uvicorn"))]
    logged = "\n".join(r.getMessage() + repr(getattr(r, "fields", "")) + repr(r.args)
                       for r in records)
    assert secret not in logged
    rejected = [r for r in records if getattr(r, "fields", {}).get("event")
                == "request rejected"]
    assert rejected, "validation refusals are logged with where and why"
    for record in rejected:
        for error in record.fields["errors"]:
            assert set(error) == {"loc", "type"}


NUL_FILTERS = [
    "/studies?condition=PT%00SD", "/studies?intervention=MD%00MA", "/studies?country=U%00S",
    "/studies?sponsor=a%00b", "/studies?registry_id=NCT%0003537014", "/studies?registry=N%00CT",
    "/studies?instrument=CAPS%00-5", "/studies?q=ptsd%00", "/outcomes?study=a%00b",
    "/outcomes?instrument=CAPS%00-5", "/meta-analysis?instrument=CAPS%00-5",
    "/stats/facets?sponsor=a%00b", "/timepoints?condition=a%00b", "/interventions?name=a%00b",
    "/conditions?name=a%00b", "/publications?doi=10.1%00/x", "/publications?pmid=1%002",
    "/publications?study=a%00b", "/regulatory-events?agency=F%00DA",
    "/regulatory-events?intervention=a%00b", "/export/studies.csv?sponsor=a%00b",
    "/studies/NCT%0003537014", "/studies/NCT%0003537014/history",
]


@pytest.mark.parametrize("url", NUL_FILTERS)
def test_nul_in_a_filter_or_key_is_422(client, url):
    body = assert_problem(client.get(f"{API}{url}"), 422)
    assert body["errors"], body


@pytest.mark.parametrize("url", [
    "/ctgov/api/v2/studies?query.cond=a%00b", "/ctgov/api/v2/studies?query.term=a%00b",
    "/ctgov/api/v2/studies?query.intr=a%00b", "/ctgov/api/v2/studies/NCT%0003537014",
])
def test_nul_in_a_ctgov_parameter_is_a_4xx_problem(client, url):
    response = client.get(url)
    assert response.status_code in (400, 404, 422), response.text
    assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize("url", [
    "/fhir/ResearchStudy?keyword=a%00b", "/fhir/ResearchStudy?condition=a%00b",
    "/fhir/ResearchStudy?identifier=a%00b", "/fhir/Evidence?study=a%00b",
    "/fhir/ResearchStudy/NCT%0003537014",
])
def test_nul_in_a_fhir_parameter_is_a_4xx_outcome(client, url):
    response = client.get(url)
    assert response.status_code in (400, 404, 422), response.text
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("key", ["evk_\x00abc", "evk_abc\x00", "\x00"])
def test_nul_in_an_api_key_is_401_and_writes_nothing(client, snapshot, key):
    before = snapshot()
    response = client.post(f"{API}/studies", json=study_document("nul-key", "NCT09999971"),
                           headers={"Authorization": f"Bearer {key}"})
    body = assert_problem(response, 401)
    assert "\x00" not in json.dumps(body)
    assert response.headers["www-authenticate"] == "Bearer"
    assert snapshot() == before


def test_lone_surrogate_in_a_study_is_422_and_writes_nothing(client, curator, snapshot):
    raw = json.dumps(study_document("surrogate", "NCT09999972", title="PTSD \ud800 trial"))
    before = snapshot()
    response = client.post(f"{API}/studies", content=raw,
                           headers={**curator, "Content-Type": "application/json"})
    body = assert_problem(response, 422)
    assert ["body", "title"] in [e["loc"] for e in body["errors"]]
    assert snapshot() == before


@pytest.mark.parametrize("patch", [
    '{"enrollment": 100000000000000000000}',
    '{"title": "PTSD \\ud800 trial"}',
    '{"\\udbe1": null}',
])
def test_merge_patch_no_encoder_can_write_is_422_and_writes_nothing(client, curator, snapshot,
                                                                     patch):
    store(client, curator, study_document("patch-overflow", "NCT09999973"))
    etag = client.get(f"{API}/studies/patch-overflow").headers["etag"]
    headers = {**curator, "If-Match": etag, "Idempotency-Key": "patch-overflow-1",
               "Content-Type": "application/merge-patch+json"}
    before = snapshot()
    response = client.patch(f"{API}/studies/patch-overflow", content=patch, headers=headers)
    assert_problem(response, 422)
    assert snapshot() == before


def _huge_effect_study(key: str, nct: str) -> dict:
    doc = study_document(key, nct)
    effect = doc["outcome_measures"][0]["effects"][0]
    effect.update(value=1e300, ci_low=-1e300, ci_high=1e300)
    return doc


def test_a_huge_effect_is_left_out_of_pooling_with_a_reason(client, curator):
    for i, key in enumerate(("huge-effect-a", "huge-effect-b", "huge-effect-c")):
        doc = study_document(key, f"NCT0999996{i}") if i else _huge_effect_study(
            key, f"NCT0999996{i}")
        if i == 2:
            doc["outcome_measures"][0]["effects"][0].update(value=0.5, ci_low=0.1, ci_high=0.9)
        store(client, curator, doc)
    query = "study=huge-effect-a&study=huge-effect-b&study=huge-effect-c&effect_type=COHENS_D"
    response = client.get(f"{API}/meta-analysis?{query}")
    assert response.status_code == 200, response.text
    meta = response.json()
    assert meta["k"] == 2
    left_out = [e for e in meta["excluded"] if e["study_key"] == "huge-effect-a"]
    assert left_out and "too large" in left_out[0]["reason"], meta["excluded"]
    svg = client.get(f"{API}/meta-analysis/forest.svg?{query}")
    assert svg.status_code == 200, svg.text
    ET.fromstring(svg.content)


def test_pooling_only_huge_effects_is_a_422_and_the_forest_plot_too(client, curator):
    store(client, curator, _huge_effect_study("huge-only-a", "NCT09999965"))
    store(client, curator, _huge_effect_study("huge-only-b", "NCT09999966"))
    query = "study=huge-only-a&study=huge-only-b&effect_type=COHENS_D"
    assert_problem(client.get(f"{API}/meta-analysis?{query}"), 422)
    assert_problem(client.get(f"{API}/meta-analysis/forest.svg?{query}"), 422)


def _nested(depth: int) -> bytes:
    return b'{"key": "deep", "notes": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("content_type", [
    "APPLICATION/JSON", "Application/Json; charset=utf-8", "application/merge-patch+JSON",
])
def test_deep_json_with_an_uppercase_content_type_is_refused_before_parsing(
        client_with, make_key, snapshot, content_type):
    client = client_with(max_json_depth=32)
    headers = {**bearer(make_key()), "Content-Type": content_type}
    before = snapshot()
    response = client.post(f"{API}/studies", content=_nested(500), headers=headers)
    body = assert_problem(response, 400)
    assert "nests deeper" in body["detail"]
    assert snapshot() == before
