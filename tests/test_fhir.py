"""/fhir: studies as R5 ResearchStudy, effect estimates as R5 Evidence, validated by the
R5 models of the fhir.resources package."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from fhir.resources.bundle import Bundle
from fhir.resources.capabilitystatement import CapabilityStatement
from fhir.resources.evidence import Evidence
from fhir.resources.operationoutcome import OperationOutcome
from fhir.resources.researchstudy import ResearchStudy

from app.enums import Role
from app.services import studies as studies_service
from tests.builders import study_document
from tests.evidence_helpers import store
from tests.interop_support import (
    key_headers,
)

FHIR_JSON = "application/fhir+json"
SEED = Path(__file__).resolve().parent.parent / "seed_data" / "studies"
MODELS = {"ResearchStudy": ResearchStudy, "Evidence": Evidence}


def _get(client, url, **params):
    # Without params the URL's own query string (a next link's) is sent unchanged.
    response = client.get(url, params=params) if params else client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == FHIR_JSON
    return response.json()


def _walk(client, url, **params):
    """Every resource of a search, following the Bundles' next links; each validated."""
    resources = []
    body = _get(client, url, **params)
    while True:
        Bundle.model_validate(body)
        assert body["type"] == "searchset"
        for entry in body.get("entry", []):
            resource = entry["resource"]
            MODELS[resource["resourceType"]].model_validate(resource)
            assert entry["fullUrl"].endswith(f"/fhir/{resource['resourceType']}/"
                                             f"{resource['id']}")
            resources.append(resource)
        next_url = next((x["url"] for x in body["link"] if x["relation"] == "next"), None)
        if next_url is None:
            return resources
        body = _get(client, next_url)




def test_metadata_is_a_valid_r5_capability_statement(client):
    body = _get(client, "/fhir/metadata")
    statement = CapabilityStatement.model_validate(body)
    assert statement.fhirVersion == "5.0.0"
    types = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert set(types) == {"ResearchStudy", "Evidence"}
    assert {"read", "search-type"} == {i["code"] for i in types["Evidence"]["interaction"]}


def test_every_served_resource_validates_against_the_r5_models(client, imported):
    studies = _walk(client, "/fhir/ResearchStudy", _count=7)
    seeds = [json.loads(p.read_text())["key"] for p in SEED.glob("*.json")]
    assert sorted(s["id"] for s in studies) == sorted(seeds + list(imported))
    for study in studies:
        ResearchStudy.model_validate(_get(client, f"/fhir/ResearchStudy/{study['id']}"))
    evidence = _walk(client, "/fhir/Evidence", _count=10)
    assert len(evidence) == len({e["id"] for e in evidence})
    seed_effects = sum(len(o.get("effects", [])) for p in SEED.glob("*.json")
                       for o in json.loads(p.read_text())["outcome_measures"])
    assert len(evidence) == seed_effects + 7  # the dupilumab trial's effect analyses
    for item in evidence:
        assert Evidence.model_validate(_get(client, f"/fhir/Evidence/{item['id']}")) \
            .id == item["id"]


def test_mapp1_research_study_carries_its_design_arms_and_publication(client):
    body = _get(client, "/fhir/ResearchStudy/NCT03537014")
    ResearchStudy.model_validate(body)
    seed = json.loads((SEED / "NCT03537014.json").read_text())
    assert body["title"] == seed["title"]
    assert {"use": "official", "system": "https://clinicaltrials.gov",
            "value": "NCT03537014"} in body["identifier"]
    assert body["phase"]["coding"][0] == {"system": "http://hl7.org/fhir/research-study-phase",
                                          "code": "phase-3"}
    assert body["recruitment"]["actualNumber"] == 90
    assert [g["name"] for g in body["comparisonGroup"]] == [a["label"] for a in seed["arms"]]
    assert body["comparisonGroup"][1]["type"]["coding"][0]["code"] == "placebo-comparator"
    assert [c["text"] for c in body["condition"]] == seed["conditions"]
    [publication] = body["relatedArtifact"]
    assert publication["type"] == "citation"
    assert publication["resourceReference"]["identifier"] == {
        "system": "https://doi.org", "value": "10.1038/s41591-021-01336-3"}
    primary = body["outcomeMeasure"][0]
    assert primary["name"] == "CAPS-5 total severity change"
    assert primary["type"][0]["coding"][0]["code"] == "primary"
    assert "primary endpoint (18 weeks post-baseline) (2 months" in primary["description"]


def test_mapp1_effect_sizes_are_evidence_resources(client):
    items = _walk(client, "/fhir/Evidence", study="NCT03537014")
    seed = json.loads((SEED / "NCT03537014.json").read_text())
    expected = sorted(e["value"] for o in seed["outcome_measures"]
                      for e in o.get("effects", []))
    assert sorted(e["statistic"][0]["quantity"]["value"] for e in items) == expected
    between = next(e for e in items if e["statistic"][0]["quantity"]["value"] == 0.91)
    statistic = between["statistic"][0]
    assert statistic["statisticType"]["coding"][0]["code"] == "absolute-SMD"
    assert statistic["statisticType"]["text"] == "Cohen's d"
    caps = next(o for o in seed["outcome_measures"]
                if o["name"] == "CAPS-5 total severity change")
    analysed = {r["arm"]: r["n"] for r in caps["results"]
                if r["timepoint"] == "primary endpoint (18 weeks post-baseline)"}
    assert statistic["sampleSize"]["numberOfParticipants"] == (
        analysed["MDMA-assisted therapy"] + analysed["Placebo with therapy"])
    p_value = next(a for a in statistic["attributeEstimate"]
                   if a["type"]["coding"][0]["code"] == "C44185")
    assert p_value["quantity"] == {"value": 0.0001, "comparator": "<"}
    roles = {v["variableRole"]["coding"][0]["code"]: v["description"]
             for v in between["variableDefinition"]}
    assert roles["exposure"] == "MDMA-assisted therapy"
    assert roles["referenceExposure"] == "Placebo with therapy"
    assert roles["measuredVariable"].startswith("CAPS-5 total severity change (CAPS-5) at "
                                                "primary endpoint (18 weeks post-baseline) "
                                                "(2 months")
    assert "Mitchell JM" in between["citeAsMarkdown"]
    study_link = between["relatedArtifact"][-1]
    assert study_link["resourceReference"]["reference"] == "ResearchStudy/NCT03537014"


def test_mp1_follow_up_timepoint_reaches_the_research_study(client):
    body = _get(client, "/fhir/ResearchStudy/NCT00090064")
    ResearchStudy.model_validate(body)
    assert body["label"][0]["value"] == "MP-1"
    ltfu = next(o for o in body["outcomeMeasure"]
                if o["name"] == "CAPS total at long-term follow-up vs study exit")
    assert ("long-term follow-up (17 to 74 months (mean 45.4) after last treatment session; "
            "follow-up)") in ltfu["description"]
    # Its one comparison at follow-up is within the MDMA group and reported by p alone.
    [within] = _walk(client, "/fhir/Evidence", study="NCT00090064")
    statistic = within["statistic"][0]
    assert "quantity" not in statistic
    assert statistic["description"] == "mean difference: no estimate reported, p = 0.91"
    assert [a["quantity"] for a in statistic["attributeEstimate"]] == [{"value": 0.91}]
    assert "(within group)" in within["title"]


def test_a_retracted_publication_is_flagged_with_a_retracted_by_relation(client):
    body = _get(client, "/fhir/ResearchStudy/mithoefer-2019-pooled")
    ResearchStudy.model_validate(body)
    citation = next(a for a in body["relatedArtifact"] if a["type"] == "citation")
    assert citation["publicationStatus"] == "retired"
    assert {"text": "retracted"} in citation["classifier"]
    retraction = next(a for a in body["relatedArtifact"] if a["type"] == "retracted-by")
    assert retraction["resourceReference"]["identifier"]["value"] == \
        "10.1007/s00213-019-05249-5"
    evidence = _walk(client, "/fhir/Evidence", study="mithoefer-2019-pooled")
    assert evidence and {e["status"] for e in evidence} == {"retired"}


def test_research_study_search_filters_and_pages(client, imported):
    by_identifier = _walk(client, "/fhir/ResearchStudy",
                          identifier="https://clinicaltrials.gov|NCT02210780")
    assert [s["id"] for s in by_identifier] == ["NCT02210780"]
    by_condition = _walk(client, "/fhir/ResearchStudy", condition="Atopic Dermatitis")
    assert [s["id"] for s in by_condition] == ["NCT02210780"]
    by_keyword = _walk(client, "/fhir/ResearchStudy", keyword="repaglinide")
    assert [s["id"] for s in by_keyword] == ["NCT00763412"]
    by_status = _walk(client, "/fhir/ResearchStudy", status="WITHDRAWN")
    assert [s["id"] for s in by_status] == ["NCT00973089"]
    phase3 = _walk(client, "/fhir/ResearchStudy", phase="PHASE3")
    assert "NCT03537014" in {s["id"] for s in phase3}
    assert {s["phase"]["coding"][0]["code"] for s in phase3} == {"phase-3"}
    page = _get(client, "/fhir/ResearchStudy", _count=2, _total="accurate")
    assert len(page["entry"]) == 2
    assert page["total"] == len(list(SEED.glob("*.json"))) + len(imported)
    assert any(x["relation"] == "next" for x in page["link"])


def test_imported_study_as_research_study_keeps_registry_values(client, imported):
    body = _get(client, "/fhir/ResearchStudy/NCT00973089")
    assert body["progressStatus"][0]["state"]["coding"][0]["code"] == "withdrawn"
    assert body["period"] == {"start": "2010-05", "end": "2015-03"}
    assert body["recruitment"]["actualNumber"] == 0
    registry = _get(client, "/fhir/ResearchStudy/NCT03475563")
    assert registry["recruitment"]["targetNumber"] == 100


def test_evidence_from_an_imported_analysis_keeps_its_confidence_interval(client, imported):
    items = _walk(client, "/fhir/Evidence", study="ResearchStudy/NCT02210780")
    pruritus = next(e for e in items if e["statistic"][0]["quantity"]["value"] == -2.13)
    ci = next(a for a in pruritus["statistic"][0]["attributeEstimate"]
              if a["type"]["coding"][0]["code"] == "C53324")
    assert ci["level"] == 0.9
    assert ci["range"] == {"low": {"value": -2.72}, "high": {"value": -1.55}}
    assert pruritus["statistic"][0]["statisticType"]["coding"][0]["code"] == "absolute-MD"
    assert pruritus["statistic"][0]["sampleSize"]["numberOfParticipants"] == 90 + 94
    registry = next(a for a in pruritus["relatedArtifact"] if a["type"] == "derived-from")
    assert registry["document"]["url"] == "https://clinicaltrials.gov/study/NCT02210780"


def _p_value_only_study(client, db_session, key, nct):
    """A curated study with a comparison reported by its p-value alone and a contrast its
    source printed the other way round."""
    doc = study_document(key, nct=nct)
    effects = doc["outcome_measures"][0]["effects"]
    effects[0] = {k: v for k, v in effects[0].items() if k not in ("value", "ci_low", "ci_high")}
    effects[0].update(effect_type="MEAN_DIFFERENCE", p_value=0.004, p_value_relation="=",
                      notes="reported by its p-value only")
    effects.append({
        "experimental_arm": "Drug", "comparator_arm": "Placebo", "timepoint": "12 months",
        "effect_type": "MEAN_DIFFERENCE",
        "as_reported": {"orientation": "COMPARATOR_VS_EXPERIMENTAL", "value": 9.7,
                        "ci_low": 4.1, "ci_high": 15.3,
                        "reason": "printed as placebo minus drug"},
        "sources": [{"publication": "main", "locator": "Table 3"}]})
    store(client, key_headers(db_session, Role.CURATOR), doc)


def test_a_comparison_with_only_a_p_value_is_evidence_without_a_quantity(client, db_session):
    _p_value_only_study(client, db_session, "p-value-only", "NCT09999931")
    items = _walk(client, "/fhir/Evidence", study="p-value-only")
    assert len(items) == 2
    [only_p] = [e for e in items if "quantity" not in e["statistic"][0]]
    statistic = only_p["statistic"][0]
    assert statistic["description"] == "mean difference: no estimate reported, p = 0.004"
    assert [a["quantity"] for a in statistic["attributeEstimate"]
            if a["type"]["coding"][0]["code"] == "C44185"] == [{"value": 0.004}]
    assert {"text": "reported by its p-value only"} in statistic["note"]
    Evidence.model_validate(_get(client, f"/fhir/Evidence/{only_p['id']}"))
    [reexpressed] = [e for e in items if "quantity" in e["statistic"][0]]
    assert reexpressed["statistic"][0]["quantity"] == {"value": -9.7}
    assert any(n["text"].startswith("as printed, comparator vs experimental: 9.7 (4.1 to "
                                    "15.3)") for n in reexpressed["statistic"][0]["note"])


def test_evidence_ids_are_stable_and_searchable(client):
    items = _walk(client, "/fhir/Evidence", _count=3)
    first = items[0]
    again = _walk(client, "/fhir/Evidence", _id=first["id"])
    assert again == [first] or [x["id"] for x in again] == [first["id"]]
    assert first["id"].startswith("effect-")
    total = _get(client, "/fhir/Evidence", _total="accurate", _count=1)["total"]
    assert total == len(items)


@pytest.mark.parametrize("url", ["/fhir/ResearchStudy/no-such-study", "/fhir/Evidence/effect-0",
                                 "/fhir/Evidence/nonsense", "/fhir/Evidence/%C2%B9",
                                 "/fhir/Evidence/effect-%C2%B9%C2%B2"])
def test_unknown_resources_are_404_operation_outcomes(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response.headers["content-type"] == FHIR_JSON
    outcome = OperationOutcome.model_validate(response.json())
    assert outcome.issue[0].code == "not-found"


@pytest.mark.parametrize(("url", "params"), [
    ("/fhir/ResearchStudy", {"foo": "bar"}), ("/fhir/ResearchStudy", {"_count": "0"}),
    ("/fhir/ResearchStudy", {"_cursor": "garbage!"}), ("/fhir/Evidence", {"_id": "x1"}),
    ("/fhir/Evidence", {"_cursor": "garbage!"}), ("/fhir/Evidence", {"subject": "x"}),
    ("/fhir/ResearchStudy", {"status": "FINISHED"}),
])
def test_bad_search_parameters_are_400_operation_outcomes(client, url, params):
    response = client.get(url, params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == FHIR_JSON
    OperationOutcome.model_validate(response.json())


def _token(*parts):
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("cursor", [
    _token("id", True, 1), _token("id", 2 ** 64, 1), _token("id", -(2 ** 70), 1),
    _token("id", 1.5, 1), _token("id", "7", 1),
])
def test_a_cursor_this_server_never_issued_is_a_400_operation_outcome(client, cursor):
    for url in ("/fhir/Evidence", "/fhir/ResearchStudy"):
        response = client.get(url, params={"_cursor": cursor})
        assert response.status_code == 400, (url, response.text)
        assert response.headers["content-type"] == FHIR_JSON
        OperationOutcome.model_validate(response.json())


def test_every_fhir_read_status_is_documented_as_an_operation_outcome(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path, statuses in (("/fhir/ResearchStudy/{ident}", ("400", "401", "404", "410")),
                           ("/fhir/Evidence/{ident}", ("400", "401", "404")),
                           ("/fhir/ResearchStudy", ("400", "401")),
                           ("/fhir/Evidence", ("400", "401"))):
        responses = paths[path]["get"]["responses"]
        for status in statuses:
            schema = responses[status]["content"][FHIR_JSON]["schema"]
            assert "issue" in schema["properties"], (path, status)
        assert {"429", "503"} <= set(responses), path


def _statements(client, counter, url):
    counter.statements.clear()
    response = client.get(url)
    assert response.status_code == 200, response.text
    return len(counter.statements), response.json()


def test_dialect_pages_run_a_constant_number_of_statements(client, count_statements,
                                                          monkeypatch):
    # A large set's size, which SQLite measures to choose a plan, is otherwise kept for a
    # minute: measured on every page here, both pages of a pair take the same path.
    monkeypatch.setattr(studies_service, "SIZE_KEPT_S", -1.0)
    n_many, many = _statements(client, count_statements, "/fhir/ResearchStudy?_count=50")
    n_one, one = _statements(client, count_statements, "/fhir/ResearchStudy?_count=1")
    assert len(many["entry"]) > 10 and len(one["entry"]) == 1
    assert n_many == n_one
    e_many, evidence = _statements(client, count_statements, "/fhir/Evidence?_count=50")
    e_one, _ = _statements(client, count_statements, "/fhir/Evidence?_count=1")
    assert len(evidence["entry"]) > 5
    assert e_many == e_one
    c_many, studies = _statements(client, count_statements,
                                  "/ctgov/api/v2/studies?pageSize=50")
    c_one, _ = _statements(client, count_statements, "/ctgov/api/v2/studies?pageSize=1")
    assert len(studies["studies"]) > 5
    assert c_many == c_one


def test_dialects_need_a_key_when_the_settings_require_one_for_reads(settings, connection,
                                                                    db_session):
    from collections.abc import Iterator

    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from app.api.deps import get_session
    from app.main import create_app

    application = create_app(settings.model_copy(update={"require_read_key": True}))

    def _session() -> Iterator[Session]:
        with Session(bind=connection, join_transaction_mode="create_savepoint",
                     expire_on_commit=False, autoflush=False) as session:
            yield session

    application.dependency_overrides[get_session] = _session
    reader = key_headers(db_session, Role.READER)
    try:
        with TestClient(application, raise_server_exceptions=False) as strict:
            refused = strict.get("/fhir/ResearchStudy/NCT03537014")
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"
            assert OperationOutcome.model_validate(refused.json()).issue[0].code == "login"
            ctgov = strict.get("/ctgov/api/v2/studies/NCT03537014")
            assert ctgov.status_code == 401
            assert ctgov.headers["content-type"] == "application/problem+json"
            assert strict.get("/fhir/metadata").status_code == 200
            for url in ("/fhir/ResearchStudy/NCT03537014", "/fhir/Evidence",
                        "/ctgov/api/v2/studies/NCT03537014"):
                assert strict.get(url, headers=reader).status_code == 200, url
    finally:
        application.state.engine.dispose()
