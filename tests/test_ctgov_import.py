"""POST /api/v1/import/ctgov and `evidencedb import-ctgov`: registry records become studies."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.enums import Role
from app.models import AuditEntry
from tests.evidence_helpers import all_items
from tests.interop_support import (
    RECORD_NAMES,
    RECORDS_DIR,
    changed,
    import_record,
    key_headers,
    raw,
    record,
)


@pytest.fixture
def curator(db_session):
    return key_headers(db_session, Role.CURATOR)


def _study_count(client) -> int:
    return client.get("/api/v1/studies", params={"count_total": "true",
                                                 "page_size": 1}).json()["total_count"]


def _study(client, key):
    response = client.get(f"/api/v1/studies/{key}")
    assert response.status_code == 200, response.text
    return response.json()


def _outcome(doc, name):
    return next(o for o in doc["outcome_measures"] if o["name"] == name)


def _reported(outcome):
    """The effects the registry reported (beside them are those computed from counts)."""
    return [e for e in outcome["effects"] if e["origin"] == "REPORTED"]


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_every_reference_record_imports_with_201_and_reads_back(client, curator, name):
    rec = record(name)
    ident = rec["protocolSection"]["identificationModule"]
    response = import_record(client, curator, raw(name))
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/api/v1/studies/{name}"
    assert response.headers["etag"].startswith('"')
    imported = response.json()["imported"]
    assert [(x["nct_id"], x["action"], x["version"]) for x in imported] == [
        (name, "created", 1)]
    study = _study(client, name)
    assert study["title"] == ident["briefTitle"]
    assert {"registry": "NCT", "identifier": name} in study["registry_ids"]
    assert {"registry": "PROTOCOL", "identifier": ident["orgStudyIdInfo"]["id"]} in \
        study["registry_ids"]
    status = rec["protocolSection"]["statusModule"]
    assert study["overall_status"] == status["overallStatus"]
    assert study["start_date"] == status["startDateStruct"]["date"]
    assert study["sponsor"] == rec["protocolSection"]["sponsorCollaboratorsModule"][
        "leadSponsor"]["name"]
    design = rec["protocolSection"]["designModule"]
    assert study["enrollment"] == design["enrollmentInfo"]["count"]
    assert study["enrollment_type"] == design["enrollmentInfo"]["type"]
    assert study["conditions"] == rec["protocolSection"]["conditionsModule"]["conditions"]
    locations = rec["protocolSection"]["contactsLocationsModule"].get("locations", [])
    assert study["countries"] == list(dict.fromkeys(x["country"] for x in locations))
    assert study["sources"] == [{"publication": None, "registry": name,
                                 "source_url": f"https://clinicaltrials.gov/study/{name}",
                                 "locator": "protocolSection"}]


def test_second_import_of_a_record_updates_the_study_instead_of_duplicating_it(
        client, curator, db_session):
    first = import_record(client, curator, raw("NCT02210780"))
    assert first.status_code == 201
    before = _study_count(client)
    second = import_record(client, curator, raw("NCT02210780"))
    assert second.status_code == 200, second.text
    assert second.json()["imported"][0]["action"] == "updated"
    assert second.json()["imported"][0]["version"] == 2
    assert second.headers["etag"] != first.headers["etag"]
    assert _study_count(client) == before
    study = _study(client, "NCT02210780")
    assert study["version"] == 2
    arms = record("NCT02210780")["protocolSection"]["armsInterventionsModule"]["armGroups"]
    assert [a["label"] for a in study["arms"]] == [a["label"] for a in arms]
    listed = client.get("/api/v1/studies", params={"registry_id": "NCT02210780"}).json()
    assert [x["key"] for x in listed["items"]] == ["NCT02210780"]
    entries = db_session.execute(select(AuditEntry.action, AuditEntry.reason).where(
        AuditEntry.entity_key == "NCT02210780").order_by(AuditEntry.id)).all()
    assert [tuple(e) for e in entries] == [
        ("create", "imported from ClinicalTrials.gov record NCT02210780"),
        ("import-update", "imported from ClinicalTrials.gov record NCT02210780")]


def test_update_with_a_stale_if_match_is_refused_with_412(client, curator):
    created = import_record(client, curator, raw("NCT00973089"))
    import_record(client, curator, raw("NCT00973089"))
    response = client.post("/api/v1/import/ctgov", content=raw("NCT00973089"),
                           headers={**curator, "Content-Type": "application/json",
                                    "If-Match": created.headers["etag"]})
    assert response.status_code == 412
    assert response.headers["content-type"] == "application/problem+json"
    assert _study(client, "NCT00973089")["version"] == 2


def test_legacy_record_is_refused_with_422_and_nothing_written(client, curator, db_session):
    before = _study_count(client)
    audit_before = db_session.scalar(select(func.count()).select_from(AuditEntry))
    response = import_record(client, curator, raw("legacy-NCT04780763"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "pre-v2" in response.json()["detail"]
    assert _study_count(client) == before
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before
    assert client.get("/api/v1/studies/NCT04780763").status_code == 404


@pytest.mark.parametrize("body", [
    {"hello": "world"}, [], "a string", {"studies": []}, {"studies": [{"x": 1}]},
    {"protocolSection": {"identificationModule": {"nctId": "12345", "briefTitle": "x"}}},
    {"protocolSection": {"identificationModule": {"nctId": "NCT12345678"}}},
])
def test_json_that_is_not_a_study_record_is_refused_with_422(client, curator, body):
    before = _study_count(client)
    response = import_record(client, curator, body)
    assert response.status_code == 422
    assert response.json()["status"] == 422
    assert _study_count(client) == before


def test_a_batch_with_one_bad_record_writes_nothing(client, curator):
    before = _study_count(client)
    response = import_record(client, curator, {"studies": [record("NCT00973089"), {"x": 1}]})
    assert response.status_code == 422
    assert "studies[1]" in response.json()["detail"]
    assert _study_count(client) == before
    assert client.get("/api/v1/studies/NCT00973089").status_code == 404


def test_a_batch_imports_every_record_it_holds(client, curator):
    response = import_record(client, curator,
                             {"studies": [record("NCT00973089"), record("NCT04207047")]})
    assert response.status_code == 201
    assert [x["nct_id"] for x in response.json()["imported"]] == ["NCT00973089",
                                                                  "NCT04207047"]
    for key in ("NCT00973089", "NCT04207047"):
        assert _study(client, key)["key"] == key


def test_import_needs_a_curator_key(client, db_session):
    body = raw("NCT00973089")
    anonymous = import_record(client, {}, body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    wrong = import_record(client, {"Authorization": "Bearer not-a-key"}, body)
    assert wrong.status_code == 401
    revoked = import_record(client, key_headers(db_session, Role.CURATOR, revoked=True), body)
    assert revoked.status_code == 401
    reader = import_record(client, key_headers(db_session, Role.READER), body)
    assert reader.status_code == 403
    assert reader.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/studies/NCT00973089").status_code == 404
    admin = import_record(client, key_headers(db_session, Role.ADMIN), body)
    assert admin.status_code == 201


def test_mapping_report_of_nct00763412_lists_its_nine_outcome_measures(client, curator):
    measures = record("NCT00763412")["resultsSection"]["outcomeMeasuresModule"][
        "outcomeMeasures"]
    assert len(measures) == 9
    report = import_record(client, curator, raw("NCT00763412")).json()["imported"][0]["report"]
    base = "resultsSection.outcomeMeasuresModule.outcomeMeasures"
    listed = {m["path"]: m["target"] for m in report["mapped"]
              if m["path"].startswith(base) and m["path"].count(".") == 2}
    assert sorted(listed) == sorted(f"{base}[{i}]" for i in range(9))
    for i, measure in enumerate(measures):
        assert repr(measure["title"]) in listed[f"{base}[{i}]"]
    skipped = {s["path"] for s in report["skipped"]}
    assert "resultsSection.baselineCharacteristicsModule" in skipped
    assert all(s["reason"] for s in report["skipped"])


def test_results_keep_the_registry_strings_beside_the_parsed_numbers(client, curator):
    import_record(client, curator, raw("NCT00763412"))
    study = _study(client, "NCT00763412")
    bmi = _outcome(study, "BMI")
    assert bmi["role"] == "PRIMARY"
    assert bmi["unit"] == "Kg/m^2"
    placebo = next(r for r in bmi["results"] if r["arm"] == "1 Placebo")
    assert placebo["mean"] == 19.63
    assert placebo["n"] == 4
    assert "19.63" in placebo["raw"] and "15.56" in placebo["raw"]
    assert placebo["sources"] == [{
        "publication": None, "registry": "NCT00763412",
        "source_url": "https://clinicaltrials.gov/study/NCT00763412",
        "locator": "resultsSection.outcomeMeasuresModule.outcomeMeasures[0]"
                   ".classes[0].categories[0].measurements[0]"}]
    repaglinide = next(r for r in bmi["results"] if r["arm"] == "2. repaglinide")
    assert repaglinide["mean"] == 21.19


def test_values_printed_without_a_leading_zero_are_read_as_numbers(client, curator):
    rec = copy.deepcopy(record("NCT00763412"))
    baseline = rec["resultsSection"]["baselineCharacteristicsModule"]["measures"]
    odd = [m["upperLimit"] for x in baseline for c in x.get("classes", [])
           for k in c.get("categories", []) for m in k.get("measurements", [])
           if str(m.get("upperLimit", "")).startswith(".")]
    assert odd == [".33"], "the reference record prints a limit as '.33'"
    bmi = rec["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"][0]
    bmi["classes"][0]["categories"][0]["measurements"][0]["value"] = odd[0]
    import_record(client, curator, rec)
    [placebo] = [r for r in _outcome(_study(client, "NCT00763412"), "BMI")["results"]
                 if r["arm"] == "1 Placebo"]
    assert placebo["mean"] == 0.33
    assert placebo["raw"].startswith(".33 (")


def test_analyses_that_are_effect_measures_become_effect_estimates(client, curator):
    import_record(client, curator, raw("NCT02210780"))
    study = _study(client, "NCT02210780")
    nrs = _outcome(study, next(
        om["title"] for om in record("NCT02210780")["resultsSection"]["outcomeMeasuresModule"][
            "outcomeMeasures"] if om["title"].startswith("Change From Baseline in Peak")))
    [effect] = _reported(nrs)
    assert effect["effect_type"] == "MEAN_DIFFERENCE"
    assert effect["value"] == -2.13
    assert (effect["ci_low"], effect["ci_high"], effect["ci_level"]) == (-2.72, -1.55, 0.9)
    assert (effect["p_value"], effect["p_value_relation"]) == (0.0001, "<")
    assert effect["se"] == 0.354
    assert effect["experimental_arm"] == "Dupilumab 300 mg qw"
    assert effect["comparator_arm"] == "Placebo qw"
    assert effect["timepoint"] == "Baseline to Week 16"
    assert effect["sources"][0]["locator"].endswith(".analyses[0]")
    assert "LS Mean Difference -2.13" in effect["notes"]
    iga = [o for o in study["outcome_measures"]
           if o["name"].startswith("Percentage of Participants Achieving an Investigator")]
    [difference] = _reported(iga[0])
    assert difference["effect_type"] == "RISK_DIFFERENCE"
    assert difference["value"] == pytest.approx(0.34)
    assert difference["ci_low"] == pytest.approx(0.2429)


def test_analyses_whose_parameter_is_not_an_effect_measure_are_skipped_with_a_reason(
        client, curator):
    rec = copy.deepcopy(record("NCT02210780"))
    measures = rec["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]
    index = next(i for i, om in enumerate(measures) if om.get("analyses"))
    measures[index]["analyses"][0]["paramType"] = "Hazard Ratio (HR)"
    report = import_record(client, curator, rec).json()["imported"][0]["report"]
    path = f"resultsSection.outcomeMeasuresModule.outcomeMeasures[{index}].analyses[0]"
    [skip] = [s for s in report["skipped"] if s["path"] == path]
    assert "Hazard Ratio (HR)" in skip["reason"]
    study = _study(client, "NCT02210780")
    assert _reported(_outcome(study, measures[index]["title"])) == []


def test_time_frames_that_state_a_duration_become_timepoints_in_months(client, curator):
    import_record(client, curator, raw("NCT02210780"))
    import_record(client, curator, raw("NCT00763412"))
    dupilumab = {t["label"]: t for t in _study(client, "NCT02210780")["timepoints"]}
    assert dupilumab["Week 16"]["months"] == pytest.approx(16 * 12 / 52, abs=1e-4)
    assert dupilumab["Baseline to Week 16"]["months"] == pytest.approx(16 * 12 / 52, abs=1e-4)
    assert dupilumab["Baseline to Week 16"]["anchor"] == "BASELINE"
    assert dupilumab["Week 16"]["sources"][0]["registry"] == "NCT02210780"
    cf = {t["label"]: t for t in _study(client, "NCT00763412")["timepoints"]}
    assert cf["2 year/end of study"]["months"] == 24
    assert cf["2-year"]["months"] == 24


def test_a_time_frame_without_a_duration_is_kept_without_months(client, curator):
    rec = changed("NCT00973089", outcomesModule={"primaryOutcomes": [
        {"measure": "Caries progression", "timeFrame": "at the end of the study"}]})
    report = import_record(client, curator, rec).json()["imported"][0]["report"]
    [tp] = _study(client, "NCT00973089")["timepoints"]
    assert tp["label"] == "at the end of the study"
    assert tp["months"] is None
    assert any("states no duration" in s["reason"] for s in report["skipped"])


def test_withdrawn_study_keeps_partial_dates_and_zero_enrollment(client, curator):
    import_record(client, curator, raw("NCT00973089"))
    study = _study(client, "NCT00973089")
    assert study["overall_status"] == "WITHDRAWN"
    assert study["start_date"] == "2010-05"
    assert study["completion_date"] == "2015-03"
    assert study["enrollment"] == 0
    assert "Why stopped: recruiting or enrolling participants has halted" in study["notes"]
    listed = client.get("/api/v1/studies", params={"start_year_min": 2010,
                                                   "start_year_max": 2010,
                                                   "registry_id": "NCT00973089"}).json()
    assert [x["key"] for x in listed["items"]] == ["NCT00973089"]


def test_design_fields_map_to_our_vocabulary(client, curator):
    import_record(client, curator, raw("NCT00763412"))
    study = _study(client, "NCT00763412")
    assert (study["study_type"], study["phase"], study["allocation"],
            study["intervention_model"], study["masking"], study["primary_purpose"]) == (
        "RCT", "NA", "RANDOMIZED", "PARALLEL", "QUADRUPLE", "OTHER")
    assert study["keywords"][:2] == ["Cystic Fibrosis", "Diabetes"]
    assert study["population"].startswith("Sex: ALL; Ages: 12 Years to 24 Years")
    assert {"registry": "NIH", "identifier": "P60DK020579"} in study["registry_ids"]


def test_observational_registry_with_unknown_status_keeps_its_last_known_status(
        client, curator):
    import_record(client, curator, raw("NCT03475563"))
    study = _study(client, "NCT03475563")
    assert study["study_type"] == "OBSERVATIONAL"
    assert study["overall_status"] == "UNKNOWN"
    assert "Last known status: RECRUITING" in study["notes"]
    assert study["countries"] == ["Spain"]
    assert study["acronym"] == "BIOSS"
    assert [a["arm_type"] for a in study["arms"]] == ["OTHER"]


@pytest.mark.parametrize(("phases", "expected"), [
    (["PHASE1", "PHASE2"], "PHASE1_PHASE2"), (["PHASE2", "PHASE3"], "PHASE2_PHASE3"),
    (["PHASE3"], "PHASE3"), (["EARLY_PHASE1"], "EARLY_PHASE1"), (["NA"], "NA")])
def test_registry_phases_map_to_one_phase(client, curator, phases, expected):
    design = copy.deepcopy(record("NCT00973089")["protocolSection"]["designModule"])
    design["phases"] = phases
    assert import_record(client, curator, changed("NCT00973089", designModule=design)
                         ).status_code == 201
    assert _study(client, "NCT00973089")["phase"] == expected


def test_arms_keep_their_links_to_interventions(client, curator):
    import_record(client, curator, raw("NCT04207047"))
    arms = {a["label"]: a for a in _study(client, "NCT04207047")["arms"]}
    assert [x["name"] for x in arms["Group A"]["interventions"]] == ["Genius"]
    assert sorted(x["name"] for x in arms["Group D"]["interventions"]) == sorted(
        ["Genius", "eC02", "PicoPlus", "LaseMD", "LaseMD Flex"])
    assert arms["Group D"]["interventions"][0]["type"] == "DEVICE"
    found = client.get("/api/v1/studies", params={"intervention": "PicoPlus"}).json()
    assert [x["key"] for x in found["items"]] == ["NCT04207047"]


def test_result_references_become_publications_and_background_reading_is_skipped(
        client, curator):
    report = import_record(client, curator, raw("NCT03475563")).json()["imported"][0]["report"]
    study = _study(client, "NCT03475563")
    refs = record("NCT03475563")["protocolSection"]["referencesModule"]["references"]
    results = [r for r in refs if r["type"] == "RESULT"]
    assert [p["pmid"] for p in study["publications"]] == [r["pmid"] for r in results]
    assert study["publications"][0]["role"] == "PRIMARY_RESULTS"
    assert study["publications"][0]["doi"] == "10.1016/j.cjca.2014.12.024"
    assert study["publications"][0]["citation"] == results[0]["citation"]
    background = import_record(client, curator, raw("NCT00973089")).json()
    assert any(s["reason"].startswith("background")
               for s in background["imported"][0]["report"]["skipped"])
    assert _study(client, "NCT00973089")["publications"] == []
    assert report["mapped"]


def test_a_reference_the_registry_marks_as_retracted_flags_the_study(client, curator):
    module = copy.deepcopy(record("NCT03475563")["protocolSection"]["referencesModule"])
    for ref in module["references"]:
        ref["retractions"] = [{"pmid": "99999999", "source": "Can J Cardiol"}]
    import_record(client, curator, changed("NCT03475563", referencesModule=module))
    study = _study(client, "NCT03475563")
    assert {p["retraction_status"] for p in study["publications"]} == {"RETRACTED"}
    assert "99999999" in study["publications"][0]["retraction_notice"]
    assert study["retracted"] is True


def test_a_registry_record_never_overwrites_a_curated_study(client, curator):
    before = _study(client, "NCT03537014")
    rec = copy.deepcopy(record("NCT00973089"))
    rec["protocolSection"]["identificationModule"]["nctId"] = "NCT03537014"
    response = import_record(client, curator, rec)
    assert response.status_code == 409
    assert response.json()["existing_study"] == "NCT03537014"
    assert _study(client, "NCT03537014") == before


def test_the_raw_record_is_kept_verbatim(client, curator):
    import_record(client, curator, raw("NCT03630471"))
    served = client.get("/ctgov/api/v2/studies/NCT03630471").json()
    assert served == record("NCT03630471")


def test_the_import_command_reads_files_and_folders(monkeypatch, capsys, scratch_databases):
    from app.cli import main
    from app.config import get_settings

    monkeypatch.setenv("EVIDENCEDB_DATABASE_URL", scratch_databases("import"))
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as refused:
            main(["import-ctgov", str(RECORDS_DIR)])
        assert "1 of 7 files refused" in str(refused.value)
        out = capsys.readouterr()
        assert out.out.count(" created as ") == 6
        assert "legacy-NCT04780763.json: refused (422)" in out.err
        main(["import-ctgov", str(RECORDS_DIR / "NCT00973089.json")])
        assert "NCT00973089 updated as NCT00973089 (version 2" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()


def test_participant_flow_gives_the_arms_their_sizes(client, curator):
    flow = record("NCT02210780")["resultsSection"]["participantFlowModule"]
    [period] = flow["periods"]
    milestones = {m["type"]: {a["groupId"]: int(a["numSubjects"]) for a in m["achievements"]}
                  for m in period["milestones"]}
    titles = {g["id"]: g["title"] for g in flow["groups"]}
    import_record(client, curator, raw("NCT02210780"))
    arms = {a["label"]: a for a in _study(client, "NCT02210780")["arms"]}
    for group, title in titles.items():
        assert arms[title]["n_randomized"] == milestones["STARTED"][group]
        assert arms[title]["n_completed"] == milestones["COMPLETED"][group]
        assert {s["locator"] for s in arms[title]["sources"]} == {
            "resultsSection.participantFlowModule.periods[0].milestones[0]",
            "resultsSection.participantFlowModule.periods[0].milestones[1]"}


def test_adverse_events_become_safety_outcomes_with_counts_per_arm(client, curator):
    ae = record("NCT02210780")["resultsSection"]["adverseEventsModule"]
    import_record(client, curator, raw("NCT02210780"))
    study = _study(client, "NCT02210780")
    serious = _outcome(study, "Participants with serious adverse events")
    assert serious["role"] == "SAFETY"
    arms = {a["label"] for a in study["arms"]}
    got = {(r["arm"], r["count"], r["denominator"]) for r in serious["results"]}
    expected = {(g["title"], g["seriousNumAffected"], g["seriousNumAtRisk"])
                for g in ae["eventGroups"]}
    assert got == expected
    assert {r["arm"] for r in serious["results"]} <= arms
    assert {r["timepoint"] for r in serious["results"]} == {ae["timeFrame"]}


def test_a_protocol_code_another_study_holds_is_left_out_with_a_reason(client, curator):
    ident = copy.deepcopy(record("NCT00973089")["protocolSection"]["identificationModule"])
    ident["orgStudyIdInfo"] = {"id": "MAPP1"}
    response = import_record(client, curator,
                             changed("NCT00973089", identificationModule=ident))
    assert response.status_code == 201, response.text
    report = response.json()["imported"][0]["report"]
    assert {"path": "registry_ids: PROTOCOL MAPP1",
            "reason": "already the identifier of study 'NCT03537014'"} in report["skipped"]
    assert _study(client, "NCT00973089")["registry_ids"] == [
        {"registry": "NCT", "identifier": "NCT00973089"}]


def test_time_frames_differing_only_in_case_share_one_timepoint(client, curator):
    rec = changed("NCT00973089", outcomesModule={
        "primaryOutcomes": [{"measure": "A", "timeFrame": "Week 16"}],
        "secondaryOutcomes": [{"measure": "B", "timeFrame": "week 16"}]})
    assert import_record(client, curator, rec).status_code == 201
    assert [t["label"] for t in _study(client, "NCT00973089")["timepoints"]] == ["Week 16"]


def test_a_dry_run_reports_the_mapping_and_writes_nothing(client, curator):
    before = _study_count(client)
    response = client.post("/api/v1/import/ctgov?dry_run=true", content=raw("NCT00763412"),
                           headers={**curator, "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True and body["would_status"] == 201
    assert body["result"]["imported"][0]["report"]["mapped"]
    assert _study_count(client) == before
    assert client.get("/api/v1/studies/NCT00763412").status_code == 404


def test_a_retried_import_with_the_same_idempotency_key_is_replayed(client, curator):
    headers = {**curator, "Content-Type": "application/json", "Idempotency-Key": "import-1"}
    first = client.post("/api/v1/import/ctgov", content=raw("NCT00973089"), headers=headers)
    again = client.post("/api/v1/import/ctgov", content=raw("NCT00973089"), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert _study(client, "NCT00973089")["version"] == 1


# ------------------------------------------------------------------ registry results as evidence

ESCALC = json.loads((Path(__file__).resolve().parent / "fixtures" / "metafor" / "escalc.json")
                    .read_text(encoding="utf-8"))
DUPILUMAB, PLACEBO = "Dupilumab 300 mg qw", "Placebo qw"
IGA = "Percentage of Participants Achieving an Investigator's Global Assessment"
NRS = "Change From Baseline in Peak Weekly Averaged Pruritis"


def _measure(rec, start):
    """The outcome measure of a record whose title starts so (for changing a copy)."""
    measures = rec["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]
    return next(m for m in measures if m["title"].startswith(start))


def _served(study, start):
    return next(o for o in study["outcome_measures"] if o["name"].startswith(start))


def _computed(client, effect_type, start, key="NCT02210780"):
    rows = all_items(client, f"/api/v1/outcomes?study={key}&origin=COMPUTED"
                             f"&effect_type={effect_type}")
    [row] = [r for r in rows if r["outcome"].startswith(start)]
    return row


def _escalc(table, measure):
    return next(t for t in ESCALC["tables"] if t["table"] == table)[measure]


def test_percentages_of_participants_import_as_counts_derived_from_the_printed_percentages(
        client, curator):
    import_record(client, curator, raw("NCT02210780"))
    study = _study(client, "NCT02210780")
    iga = _served(study, IGA)
    assert {r["arm"]: (r["percent"], r["count"], r["denominator"], r["count_derived"])
            for r in iga["results"]} == {PLACEBO: ("10.3", 10, 97, True),
                                         DUPILUMAB: ("44.3", 43, 97, True)}
    assert {r["raw"] for r in iga["results"]} == {"10.3 Percentage of participants",
                                                   "44.3 Percentage of participants"}
    # Every percentage of participants in the record, as printed, over its analysed number.
    rec = record("NCT02210780")
    for om in rec["resultsSection"]["outcomeMeasuresModule"]["outcomeMeasures"]:
        if om["unitOfMeasure"] != "Percentage of participants":
            continue
        groups = {g["id"]: g["title"] for g in om["groups"]}
        denoms = {c["groupId"]: int(c["value"]) for c in om["denoms"][0]["counts"]}
        printed = {groups[m["groupId"]]: (m["value"], denoms[m["groupId"]])
                   for m in om["classes"][0]["categories"][0]["measurements"]}
        served = _served(study, om["title"])["results"]
        assert {r["arm"]: (r["percent"], r["denominator"]) for r in served} == printed
        for r in served:
            assert r["count_derived"] is True
            assert f"{100 * r['count'] / r['denominator']:.1f}" == r["percent"]


def test_the_placebo_arm_registered_as_experimental_is_the_comparator(client, curator):
    report = import_record(client, curator, raw("NCT02210780")).json()["imported"][0]["report"]
    study = _study(client, "NCT02210780")
    assert {a["label"]: a["arm_type"] for a in study["arms"]} == {
        PLACEBO: "PLACEBO_COMPARATOR", DUPILUMAB: "EXPERIMENTAL"}
    assert "registers the arm 'Placebo qw' as EXPERIMENTAL" in study["notes"]
    assert any(m["path"] == "protocolSection.armsInterventionsModule.armGroups[0].type"
               for m in report["mapped"])


def test_nct02210780_computed_risk_difference_agrees_with_the_registry_difference(
        client, curator):
    import_record(client, curator, raw("NCT02210780"))
    rd = _computed(client, "RISK_DIFFERENCE", IGA)
    assert (rd["experimental_arm"], rd["comparator_arm"]) == (DUPILUMAB, PLACEBO)
    assert rd["inputs"]["experimental"] == {"events": 43, "total": 97}
    assert rd["inputs"]["comparator"] == {"events": 10, "total": 97}
    analysis = _measure(record("NCT02210780"), IGA)["analyses"][0]
    assert (analysis["paramType"], analysis["paramValue"]) == ("Percentage Difference", "34.0")
    registry = float(analysis["paramValue"]) / 100
    # The same sign, and the same value within the rounding of the printed figures (the
    # difference to 0.1 point, each group's percentage to 0.05 point).
    assert rd["value"] > 0 and registry > 0
    assert abs(rd["value"] - registry) <= 0.0005 + 2 * 0.0005
    assert rd["value"] == pytest.approx(0.340, abs=5e-4)
    [reported] = [e for e in _reported(_served(_study(client, "NCT02210780"), IGA))
                  if e["effect_type"] == "RISK_DIFFERENCE"]
    assert reported["value"] == pytest.approx(registry)
    assert (reported["experimental_arm"], reported["comparator_arm"]) == (DUPILUMAB, PLACEBO)
    expected = _escalc([43, 97, 10, 97], "RD")
    assert rd["value"] == pytest.approx(expected["yi"], abs=1e-12)
    assert rd["se"] ** 2 == pytest.approx(expected["vi"], rel=1e-9)


@pytest.mark.parametrize(("effect_type", "measure"), [("RISK_RATIO", "RR"),
                                                      ("ODDS_RATIO", "OR")])
def test_nct02210780_computed_ratios_equal_metafor_escalc(client, curator, effect_type,
                                                          measure):
    import_record(client, curator, raw("NCT02210780"))
    row = _computed(client, effect_type, IGA)
    expected = _escalc([43, 97, 10, 97], measure)
    assert abs(math.log(row["value"]) - expected["yi"]) <= 1e-9
    assert row["se"] ** 2 == pytest.approx(expected["vi"], rel=1e-9)
    # Placebo over dupilumab would be the table the other way round.
    assert _escalc([10, 97, 43, 97], measure)["yi"] == pytest.approx(-expected["yi"])
    assert row["value"] > 1


def _analysis_variant(start, **changes):
    """NCT02210780 with the first analysis of one measure changed (None deletes a field)."""
    rec = copy.deepcopy(record("NCT02210780"))
    analysis = _measure(rec, start)["analyses"][0]
    for key, value in changes.items():
        if value is None:
            analysis.pop(key, None)
        else:
            analysis[key] = value
    return rec


def _reported_effect(client, start):
    [effect] = _reported(_served(_study(client, "NCT02210780"), start))
    return effect


def test_an_analysis_printed_comparator_first_is_stored_our_way_with_the_printed_value_kept(
        client, curator):
    rec = _analysis_variant(IGA, estimateComment="Placebo qw vs. Dupilumab 300 mg qw",
                            paramValue="-34.0", ciLowerLimit="-43.75", ciUpperLimit="-24.29")
    assert import_record(client, curator, rec).status_code == 201
    effect = _reported_effect(client, IGA)
    assert (effect["experimental_arm"], effect["comparator_arm"]) == (DUPILUMAB, PLACEBO)
    assert effect["value"] == pytest.approx(0.34)
    assert (effect["ci_low"], effect["ci_high"]) == (pytest.approx(0.2429),
                                                     pytest.approx(0.4375))
    printed = effect["as_reported"]
    assert printed["orientation"] == "COMPARATOR_VS_EXPERIMENTAL"
    assert (printed["value"], printed["ci_low"], printed["ci_high"]) == (
        pytest.approx(-0.34), pytest.approx(-0.4375), pytest.approx(-0.2429))
    assert "Percentage Difference -34.0" in printed["reason"]
    assert "estimate comment says 'Placebo qw vs. Dupilumab 300 mg qw'" in printed["reason"]
    assert "estimate comment: Placebo qw vs. Dupilumab 300 mg qw" in effect["notes"]
    assert "Registry analysis: Percentage Difference -34.0" in effect["notes"]
    # The computed difference from the counts agrees with the stored one.
    assert _computed(client, "RISK_DIFFERENCE", IGA)["value"] == pytest.approx(
        effect["value"], abs=1e-3)


@pytest.mark.parametrize(("comment", "ours"), [
    ("Dupilumab 300 mg qw vs. Placebo qw", True),
    ("Placebo qw versus Dupilumab 300 mg qw", False),
    ("Difference: dupilumab minus placebo", True),
    ("Treatment difference (placebo - dupilumab)", False),
    ("Dupilumab compared with placebo", True),
])
def test_the_estimate_comment_says_which_group_was_subtracted_from_which(
        client, curator, comment, ours):
    rec = _analysis_variant(NRS, estimateComment=comment)
    assert import_record(client, curator, rec).status_code == 201
    effect = _reported_effect(client, NRS)
    assert (effect["experimental_arm"], effect["comparator_arm"]) == (DUPILUMAB, PLACEBO)
    assert effect["value"] == pytest.approx(-2.13 if ours else 2.13)
    assert (effect["as_reported"] is None) == ours
    assert f"estimate comment: {comment}" in effect["notes"]
    if not ours:
        # The registry's own group values say the other way: the notes keep that doubt.
        assert "the group values of this measure give the estimate the other way" in \
            effect["notes"]


@pytest.mark.parametrize(("value", "low", "high", "reexpressed"), [
    ("-2.13", "-2.72", "-1.55", False), ("2.13", "1.55", "2.72", True)])
def test_without_a_statement_the_group_values_tell_the_direction(
        client, curator, value, low, high, reexpressed):
    rec = _analysis_variant(NRS, estimateComment=None, paramValue=value, ciLowerLimit=low,
                            ciUpperLimit=high)
    assert import_record(client, curator, rec).status_code == 201
    effect = _reported_effect(client, NRS)
    assert (effect["value"], effect["ci_low"], effect["ci_high"]) == (-2.13, -2.72, -1.55)
    assert (effect["as_reported"] is not None) == reexpressed
    assert "group values of this measure give the printed estimate" in effect["notes"]


def test_when_nothing_tells_the_direction_the_value_is_kept_as_printed(client, curator):
    # No statement, and the group means (-4.24 and -2.11) do not give -9.0 either way.
    rec = _analysis_variant(NRS, estimateComment=None, paramValue="-9.0",
                            ciLowerLimit=None, ciUpperLimit=None)
    assert import_record(client, curator, rec).status_code == 201
    effect = _reported_effect(client, NRS)
    assert effect["value"] == -9.0
    assert effect["as_reported"] is None
    assert "the registry does not say which group is minus which" in effect["notes"]
    assert "kept as printed" in effect["notes"]


def test_an_analysis_with_only_a_p_value_becomes_a_p_value_only_comparison(client, curator):
    rec = _analysis_variant(NRS, paramValue="NA", ciLowerLimit=None, ciUpperLimit=None,
                            dispersionType=None, dispersionValue=None, pValue="0.003")
    assert import_record(client, curator, rec).status_code == 201
    effect = _reported_effect(client, NRS)
    assert (effect["effect_type"], effect["value"]) == ("MEAN_DIFFERENCE", None)
    assert (effect["p_value"], effect["p_value_relation"]) == (0.003, "=")
    assert (effect["experimental_arm"], effect["comparator_arm"]) == (DUPILUMAB, PLACEBO)
    assert "only a p-value was reported" in effect["notes"]


def test_counts_of_participants_import_as_counts_over_the_analysed_number(client, curator):
    rec = copy.deepcopy(record("NCT02210780"))
    iga = _measure(rec, IGA)
    iga.update(paramType="COUNT_OF_PARTICIPANTS", unitOfMeasure="Participants")
    for m, count in zip(iga["classes"][0]["categories"][0]["measurements"], ("10", "43"),
                        strict=True):
        m["value"] = count
    assert import_record(client, curator, rec).status_code == 201
    served = _served(_study(client, "NCT02210780"), IGA)["results"]
    assert {r["arm"]: (r["count"], r["denominator"], r["percent"], r["count_derived"])
            for r in served} == {PLACEBO: (10, 97, None, False),
                                 DUPILUMAB: (43, 97, None, False)}
    rr = _computed(client, "RISK_RATIO", IGA)
    assert abs(math.log(rr["value"]) - _escalc([43, 97, 10, 97], "RR")["yi"]) <= 1e-9


@pytest.mark.parametrize("unit", ["% of participants", "percent", "Percentage of Patients"])
def test_other_ways_of_writing_a_percentage_of_participants_give_counts(client, curator, unit):
    rec = copy.deepcopy(record("NCT02210780"))
    _measure(rec, IGA)["unitOfMeasure"] = unit
    assert import_record(client, curator, rec).status_code == 201
    served = _served(_study(client, "NCT02210780"), IGA)["results"]
    assert sorted((r["percent"], r["count"]) for r in served) == [("10.3", 10), ("44.3", 43)]


def test_a_percentage_that_several_counts_print_as_gives_no_count(client, curator):
    rec = copy.deepcopy(record("NCT02210780"))
    iga = _measure(rec, IGA)
    for c in iga["denoms"][0]["counts"]:
        c["value"] = "300"
    iga["classes"][0]["categories"][0]["measurements"][0]["value"] = "10"
    report = import_record(client, curator, rec).json()["imported"][0]["report"]
    served = _served(_study(client, "NCT02210780"), IGA)["results"]
    placebo = next(r for r in served if r["arm"] == PLACEBO)
    assert (placebo["percent"], placebo["denominator"], placebo["count"]) == ("10", 300, None)
    assert any("10% of 300: no single count" in s["reason"] for s in report["skipped"])
    assert next(r for r in served if r["arm"] == DUPILUMAB)["count"] == 133  # 44.3% of 300


def test_imported_timepoints_have_a_role_and_months_since_baseline(client, curator):
    import_record(client, curator, raw("NCT02210780"))
    tps = {t["label"]: t for t in _study(client, "NCT02210780")["timepoints"]}
    week16 = 16 * 12 / 52
    assert tps["Week 16"]["role"] == "PRIMARY_ENDPOINT"  # the primary outcome's time frame
    assert tps["Week 16"]["months_since_baseline"] == pytest.approx(week16, abs=1e-4)
    assert tps["Baseline to Week 16"]["role"] == "PRIMARY_ENDPOINT"  # assessed at week 16
    assert tps["Baseline to Week 16"]["months_since_baseline"] == pytest.approx(week16,
                                                                                abs=1e-4)
    [adverse] = [t for t in tps.values() if t["label"].startswith("Adverse Events")]
    assert adverse["role"] is None  # a window up to week 32, not an assessment
    import_record(client, curator, raw("NCT00763412"))
    cf = {t["label"]: t for t in _study(client, "NCT00763412")["timepoints"]}
    assert cf["2 year/end of study"]["role"] == "PRIMARY_ENDPOINT"
    assert cf["2 year/end of study"]["months_since_baseline"] == 24


@pytest.mark.parametrize(("frame", "role", "months"), [
    ("Baseline", "BASELINE", 0), ("Day 1 (baseline)", "BASELINE", 0),
    ("End of treatment (Week 12)", "END_OF_TREATMENT", 12 * 12 / 52),
    ("6 months after end of treatment", None, None),
    ("Up to 52 weeks", None, 12.0), ("Week 52", "PRIMARY_ENDPOINT", 12.0),
])
def test_time_frames_give_roles_only_when_they_are_clear(client, curator, frame, role, months):
    rec = changed("NCT00973089", outcomesModule={
        "primaryOutcomes": [{"measure": "Caries progression", "timeFrame": "Month 12"}],
        "secondaryOutcomes": [{"measure": "Pain", "timeFrame": frame}]})
    assert import_record(client, curator, rec).status_code == 201
    tps = {t["label"]: t for t in _study(client, "NCT00973089")["timepoints"]}
    assert tps["Month 12"]["role"] == "PRIMARY_ENDPOINT"
    assert tps[frame]["role"] == role
    assert tps[frame]["months_since_baseline"] == (None if months is None
                                                   else pytest.approx(months, abs=1e-4))
