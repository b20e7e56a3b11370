"""/ctgov/api/v2/studies: our studies as ClinicalTrials.gov API v2 answers for them."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from app.enums import Role
from tests.builders import study_document
from tests.evidence_helpers import store
from tests.interop_support import (
    RECORD_NAMES,
    key_headers,
    record,
)

SEED = Path(__file__).resolve().parent.parent / "seed_data" / "studies"
NCT_SEEDS = sorted(p.stem for p in SEED.glob("NCT*.json"))
# The columns of the registry's own CSV download, in its order.
REGISTRY_CSV_COLUMNS = [
    "NCT Number", "Study Title", "Study URL", "Acronym", "Study Status", "Brief Summary",
    "Study Results", "Conditions", "Interventions", "Primary Outcome Measures",
    "Secondary Outcome Measures", "Other Outcome Measures", "Sponsor", "Collaborators", "Sex",
    "Age", "Phases", "Enrollment", "Funder Type", "Study Type", "Study Design", "Other IDs",
    "Start Date", "Primary Completion Date", "Completion Date", "First Posted",
    "Results First Posted", "Last Update Posted", "Locations", "Study Documents"]




def _list(client, **params):
    response = client.get("/ctgov/api/v2/studies", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _ids(body):
    return [s["protocolSection"]["identificationModule"]["nctId"] for s in body["studies"]]


def _all_ids(client, **params):
    ids, token = [], None
    while True:
        body = _list(client, **params, **({"pageToken": token} if token else {}))
        ids += _ids(body)
        token = body.get("nextPageToken")
        if token is None:
            return ids


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_an_imported_study_returns_the_protocol_section_of_its_record(client, imported,
                                                                      name):
    response = client.get(f"/ctgov/api/v2/studies/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["protocolSection"] == record(name)["protocolSection"]
    assert response.json()["hasResults"] == record(name)["hasResults"]


def test_a_curated_study_is_rendered_in_the_v2_module_shapes(client):
    seed = json.loads((SEED / "NCT03537014.json").read_text())
    study = client.get("/ctgov/api/v2/studies/NCT03537014").json()
    ps = study["protocolSection"]
    assert ps["identificationModule"]["nctId"] == "NCT03537014"
    assert ps["identificationModule"]["briefTitle"] == seed["title"]
    assert ps["identificationModule"]["acronym"] == "MAPP1"
    assert ps["designModule"]["phases"] == ["PHASE3"]
    assert ps["designModule"]["enrollmentInfo"] == {"count": 90, "type": "ACTUAL"}
    assert ps["designModule"]["designInfo"]["allocation"] == "RANDOMIZED"
    assert ps["conditionsModule"]["conditions"] == seed["conditions"]
    arms = ps["armsInterventionsModule"]["armGroups"]
    assert [a["label"] for a in arms] == [a["label"] for a in seed["arms"]]
    assert "Drug: MDMA" in arms[0]["interventionNames"]
    mdma = next(x for x in ps["armsInterventionsModule"]["interventions"]
                if x["name"] == "MDMA")
    assert mdma["armGroupLabels"] == ["MDMA-assisted therapy"]
    assert ps["outcomesModule"]["primaryOutcomes"][0]["measure"] == \
        "CAPS-5 total severity change"
    assert study["hasResults"] is True


def test_curated_mapp1_carries_its_effect_sizes_and_timepoint(client):
    study = client.get("/ctgov/api/v2/studies/NCT03537014").json()
    measures = study["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]
    caps = next(m for m in measures if m["title"] == "CAPS-5 total severity change")
    groups = {g["id"]: g["title"] for g in caps["groups"]}
    between = [a for a in caps["analyses"] if len(a["groupIds"]) == 2]
    assert [(a["paramType"], a["paramValue"]) for a in between] == [("Cohen's d", "0.91")]
    assert [groups[g] for g in between[0]["groupIds"]] == ["MDMA-assisted therapy",
                                                           "Placebo with therapy"]
    assert between[0]["pValue"] == "<0.0001"
    assert caps["timeFrame"].startswith("primary endpoint (18 weeks post-baseline) (2 months")


def test_curated_mp1_carries_its_long_term_follow_up(client):
    study = client.get("/ctgov/api/v2/studies/NCT00090064").json()
    assert study["protocolSection"]["identificationModule"]["acronym"] == "MP-1"
    measures = study["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]
    ltfu = next(m for m in measures
                if m["title"] == "CAPS total at long-term follow-up vs study exit")
    assert "long-term follow-up (17 to 74 months (mean 45.4)" in ltfu["timeFrame"]
    values = [m["value"] for c in ltfu["classes"] for k in c["categories"]
              for m in k["measurements"]]
    assert values == ["24.6", "23.7"]


def test_unknown_nct_id_is_404_and_a_malformed_one_is_400(client):
    missing = client.get("/ctgov/api/v2/studies/NCT09999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert client.get("/ctgov/api/v2/studies/not-an-id").status_code == 400


def test_list_holds_only_studies_with_an_nct_id_in_nct_order(client):
    ids = _all_ids(client, pageSize=1000)
    assert ids == sorted(NCT_SEEDS)


def test_page_size_and_page_tokens_walk_every_study_once(client, imported):
    everything = _all_ids(client, pageSize=1000)
    assert set(imported) <= set(everything)
    first = _list(client, pageSize=4)
    assert len(first["studies"]) == 4
    assert "nextPageToken" in first
    walked = _all_ids(client, pageSize=4)
    assert walked == everything
    last = _list(client, pageSize=1000)
    assert "nextPageToken" not in last


def test_default_page_size_is_ten(client, imported):
    assert len(_list(client)["studies"]) == 10


def test_count_total_reports_total_count(client, imported):
    body = _list(client, countTotal="true", pageSize=2)
    assert body["totalCount"] == len(NCT_SEEDS) + len(imported)
    assert "totalCount" not in _list(client, pageSize=2)


def test_query_cond_finds_studies_by_condition(client, imported):
    assert _all_ids(client, **{"query.cond": "Atopic Dermatitis"}) == ["NCT02210780"]
    assert _all_ids(client, **{"query.cond": "atopic dermatitis"}) == ["NCT02210780"]


def test_query_intr_finds_studies_by_intervention(client, imported):
    assert _all_ids(client, **{"query.intr": "Dupilumab"}) == ["NCT02210780"]
    mdma = set(_all_ids(client, **{"query.intr": "MDMA"}))
    assert {"NCT03537014", "NCT00090064"} <= mdma
    assert not mdma & set(imported)


def test_query_term_searches_free_text(client, imported):
    assert _all_ids(client, **{"query.term": "repaglinide"}) == ["NCT00763412"]


def test_filter_overall_status_keeps_the_given_statuses(client, imported):
    assert _all_ids(client, **{"filter.overallStatus": "WITHDRAWN"}) == ["NCT00973089"]
    both = _all_ids(client, **{"filter.overallStatus": "WITHDRAWN|UNKNOWN"})
    assert set(both) == {"NCT00973089", "NCT03475563", "NCT04207047"}
    assert _all_ids(client, **{"filter.overallStatus": "WITHDRAWN,UNKNOWN"}) == both


def test_filter_ids_keeps_the_given_studies(client, imported):
    ids = _all_ids(client, **{"filter.ids": "NCT04207047,NCT03537014"})
    assert ids == ["NCT03537014", "NCT04207047"]


def test_fields_keeps_only_the_requested_sections_and_modules(client, imported):
    body = _list(client, fields="protocolSection", **{"filter.ids": "NCT02210780"})
    assert list(body["studies"][0]) == ["protocolSection"]
    modules = _list(client, fields="IdentificationModule|StatusModule",
                    **{"filter.ids": "NCT02210780"})["studies"][0]
    expected = record("NCT02210780")["protocolSection"]
    assert modules == {"protocolSection": {
        "identificationModule": expected["identificationModule"],
        "statusModule": expected["statusModule"]}}
    nct_only = _list(client, fields="NCTId", **{"filter.ids": "NCT02210780"})["studies"][0]
    assert nct_only == {"protocolSection": {"identificationModule": {"nctId": "NCT02210780"}}}
    results = client.get("/ctgov/api/v2/studies/NCT02210780",
                         params={"fields": "resultsSection,hasResults"}).json()
    assert set(results) == {"resultsSection", "hasResults"}
    assert client.get("/ctgov/api/v2/studies/NCT02210780").json() == record("NCT02210780")


def test_format_csv_answers_with_a_csv_table(client, imported):
    response = client.get("/ctgov/api/v2/studies",
                          params={"format": "csv", "pageSize": 3, "countTotal": "true"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 3
    assert rows[0]["NCT Number"] == sorted(NCT_SEEDS + list(imported))[0]
    assert response.headers["x-total-count"] == str(len(NCT_SEEDS) + len(imported))
    token = response.headers["x-next-page-token"]
    following = client.get("/ctgov/api/v2/studies",
                           params={"format": "csv", "pageSize": 3, "pageToken": token})
    assert list(csv.DictReader(io.StringIO(following.text)))[0]["NCT Number"] == \
        sorted(NCT_SEEDS + list(imported))[3]
    one = client.get("/ctgov/api/v2/studies",
                     params={"format": "csv", "filter.ids": "NCT02210780"}).text
    [row] = list(csv.DictReader(io.StringIO(one)))
    rec = record("NCT02210780")["protocolSection"]
    assert row["Study Title"] == rec["identificationModule"]["briefTitle"]
    assert row["Study Status"] == "COMPLETED"
    assert row["Phases"] == "PHASE2"
    assert row["Enrollment"] == "194"
    assert row["Conditions"] == "Atopic Dermatitis"
    assert row["Study URL"] == "https://clinicaltrials.gov/study/NCT02210780"


@pytest.mark.parametrize("params", [
    {"query.locn": "Spain"}, {"sort": "LastUpdatePostDate"}, {"page_size": "5"},
    {"filter.overallStatus": "FINISHED"}, {"pageSize": "0"}, {"pageSize": "1001"},
    {"format": "xml"}, {"fields": "NoSuchModule"}, {"pageToken": "garbage!"},
    {"countTotal": "maybe"}, {"filter.ids": "12345"},
])
def test_unknown_or_invalid_parameters_are_refused_with_400(client, params):
    response = client.get("/ctgov/api/v2/studies", params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 400


def test_study_list_filters_by_registry(client):
    seeds = [json.loads(p.read_text()) for p in SEED.glob("*.json")]
    with_protocol = sorted(d["key"] for d in seeds
                           if any(r["registry"] == "PROTOCOL" for r in d.get("registry_ids", [])))
    assert with_protocol
    body = client.get("/api/v1/studies", params={"registry": "PROTOCOL",
                                                 "page_size": 1000}).json()
    assert sorted(x["key"] for x in body["items"]) == with_protocol


def test_a_comparison_with_only_a_p_value_is_an_analysis_without_an_estimate(
        client, db_session):
    doc = study_document("p-value-only", nct="NCT09999932")
    effect = doc["outcome_measures"][0]["effects"][0]
    for key in ("value", "ci_low", "ci_high"):
        effect.pop(key)
    effect.update(effect_type="MEAN_DIFFERENCE", p_value=0.004, p_value_relation="=")
    store(client, key_headers(db_session, Role.CURATOR), doc)
    study = client.get("/ctgov/api/v2/studies/NCT09999932")
    assert study.status_code == 200, study.text
    [measure] = study.json()["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]
    groups = {g["id"]: g["title"] for g in measure["groups"]}
    [analysis] = measure["analyses"]
    assert "paramValue" not in analysis
    assert (analysis["paramType"], analysis["pValue"]) == ("Mean Difference", "0.004")
    assert [groups[g] for g in analysis["groupIds"]] == ["Drug", "Placebo"]
    assert analysis["estimateComment"].startswith("Drug vs. Placebo")
    listed = client.get("/ctgov/api/v2/studies", params={"filter.ids": "NCT09999932"})
    assert listed.status_code == 200
    table = client.get("/ctgov/api/v2/studies",
                       params={"format": "csv", "filter.ids": "NCT09999932"})
    assert table.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(table.text)))
    assert (row["NCT Number"], row["Study Results"]) == ("NCT09999932", "YES")


def test_version_answers_as_the_registry_does(client):
    response = client.get("/ctgov/api/v2/version")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"apiVersion", "dataTimestamp"}
    assert re.fullmatch(r"2\.\d+\.\d+", body["apiVersion"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", body["dataTimestamp"])


def test_version_data_timestamp_moves_with_a_write(client, db_session):
    before = client.get("/ctgov/api/v2/version").json()["dataTimestamp"]
    doc = study_document("timestamp-moves", nct="NCT09999933")
    store(client, key_headers(db_session, Role.CURATOR), doc)
    after = client.get("/ctgov/api/v2/version").json()["dataTimestamp"]
    assert after >= before
    newest = client.get("/api/v1/studies/timestamp-moves").json()["updated_at"]
    assert newest.startswith(after[:16])


@pytest.mark.parametrize("fields", [
    "NCTId,BriefTitle,OverallStatus",
    "protocolSection.identificationModule.nctId|protocolSection.identificationModule.briefTitle"
    "|protocolSection.statusModule.overallStatus",
    "nctid|BRIEFTITLE|overallStatus",
])
def test_fields_by_piece_name_or_area_path_keep_only_those_pieces(client, imported, fields):
    [study] = _list(client, fields=fields, **{"filter.ids": "NCT02210780"})["studies"]
    ps = record("NCT02210780")["protocolSection"]
    assert study == {"protocolSection": {
        "identificationModule": {"nctId": "NCT02210780",
                                 "briefTitle": ps["identificationModule"]["briefTitle"]},
        "statusModule": {"overallStatus": ps["statusModule"]["overallStatus"]}}}


def test_fields_inside_lists_keep_those_keys_of_every_item(client, imported):
    study = client.get("/ctgov/api/v2/studies/NCT02210780",
                       params={"fields": "InterventionName,InterventionType"}).json()
    expected = [{k: x[k] for k in ("type", "name")} for x in
                record("NCT02210780")["protocolSection"]["armsInterventionsModule"][
                    "interventions"]]
    assert study == {"protocolSection": {"armsInterventionsModule": {
        "interventions": expected}}}


def test_csv_has_every_registry_column_by_default(client, imported):
    table = client.get("/ctgov/api/v2/studies",
                       params={"format": "csv", "filter.ids": "NCT02210780"}).text
    [header, _] = list(csv.reader(io.StringIO(table)))
    assert header == REGISTRY_CSV_COLUMNS


def test_csv_fields_choose_columns_by_title_or_piece(client, imported):
    params = {"format": "csv", "filter.ids": "NCT02210780"}
    by_title = client.get("/ctgov/api/v2/studies",
                          params={**params, "fields": "NCT Number|Conditions|Study Title"})
    assert by_title.status_code == 200, by_title.text
    [header, row] = list(csv.reader(io.StringIO(by_title.text)))
    assert header == ["NCT Number", "Conditions", "Study Title"]
    assert row[:2] == ["NCT02210780", "Atopic Dermatitis"]
    by_piece = client.get("/ctgov/api/v2/studies",
                          params={**params, "fields": "NCTId,InterventionName,Phase"}).text
    [header, row] = list(csv.reader(io.StringIO(by_piece)))
    assert header == ["NCT Number", "Study URL", "Interventions", "Phases"]
    assert row[3] == "PHASE2"
    one = client.get("/ctgov/api/v2/studies/NCT02210780",
                     params={"format": "csv", "fields": "Sponsor"}).text
    assert list(csv.reader(io.StringIO(one)))[0] == ["Sponsor"]


@pytest.mark.parametrize("params", [
    {"fields": "protocolSection.noSuchModule"}, {"fields": "NoSuchPiece"},
    {"fields": "Study Title"}, {"format": "csv", "fields": "No Such Column"},
    {"format": "csv", "fields": "protocolSection.oversightModule"},
    {"markupFormat": "html"},
])
def test_fields_that_name_nothing_are_refused_with_400(client, params):
    response = client.get("/ctgov/api/v2/studies", params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_markup_format_of_published_clients_is_accepted(client):
    for value in ("legacy", "markdown"):
        response = client.get("/ctgov/api/v2/studies", params={"markupFormat": value})
        assert response.status_code == 200, response.text


def test_every_registry_read_status_is_documented(client):
    paths = client.get("/openapi.json").json()["paths"]
    study = paths["/ctgov/api/v2/studies/{nct_id}"]["get"]["responses"]
    for status in ("200", "400", "401", "404", "410", "422", "429", "503"):
        assert status in study, status
    assert "text/csv" in study["200"]["content"]
    assert {"200", "400", "401", "429"} <= set(paths["/ctgov/api/v2/studies"]["get"][
        "responses"])
    version = paths["/ctgov/api/v2/version"]["get"]["responses"]["200"]
    schema = version["content"]["application/json"]["schema"]
    assert schema  # a model, not a bare string
