"""The seed's risk-of-bias judgements: only published assessments, each with its source and a
support text per domain; every other effect says NOT_ASSESSED in /outcomes and study reads;
seeding again adds nothing; an assessment naming an effect the study lacks fails the seed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.models import AuditEntry, RiskOfBias
from app.services.seed import SeedError, read_risk_of_bias, seed

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seed_data"
API = "/api/v1"
SYPRES = ("https://github.com/metapsy-project/data-ptsd-mdmactr/blob/"
          "2ed556861a599d67e468b1ecf193b81c72f01ead/data.csv")
MP1, MAPP1, MAPP2 = "NCT00090064", "NCT03537014", "NCT04077437"
COMPARATOR = "brady-2000-sertraline"


def outcomes(client, **params):
    response = client.get(f"{API}/outcomes", params={"page_size": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_every_seeded_judgement_names_its_source_and_says_why():
    assessments = read_risk_of_bias(SEED).assessments
    assert len(assessments) == 6
    for a in assessments:
        assert a.published_assessment is True
        assert a.sources and all(s.source_url for s in a.sources), a.study
        assert any(s.source_url == SYPRES and s.locator and "d1–d5 and rob" in s.locator
                   for s in a.sources), a.study
        for name, domain in a.domains:
            assert domain.support.strip(), (a.study, name)
            assert "SYPRES" in domain.support and "no support text" in domain.support


def test_every_stored_assessment_is_a_published_one(client, db_session):
    rows = db_session.scalars(select(RiskOfBias)).all()
    assert len(rows) == 17
    for row in rows:
        assert row.published_assessment is True and row.judged_by is None
        assert row.sources and all(s.get("source_url") for s in row.sources)
        assert all(d["support"].strip() for d in row.domains.values())


@pytest.mark.parametrize("study", [MAPP1, MAPP2])
def test_the_phase3_caps5_d_reads_low(client, study):
    (row,) = outcomes(client, study=study, instrument="CAPS-5", effect_type="COHENS_D",
                      comparison="BETWEEN_ARMS")
    assert row["risk_of_bias_status"] == "ASSESSED"
    assert row["risk_of_bias"]["tool"] == "ROB2"
    assert row["risk_of_bias"]["overall"] == "LOW"
    assessment = client.get(f"{API}/outcomes/{row['id']}/risk-of-bias").json()
    assert assessment["published_assessment"] is True
    assert assessment["judged_by"] is None
    assert assessment["sources"][0]["source_url"] == SYPRES


def test_mp1_reads_some_concerns_from_deviations(client):
    rows = outcomes(client, study=MP1, comparison="BETWEEN_ARMS")
    assert {r["effect_type"] for r in rows} == {"RISK_RATIO", "ODDS_RATIO", "RISK_DIFFERENCE"}
    for row in rows:
        assert row["risk_of_bias"]["overall"] == "SOME_CONCERNS"
        assert row["risk_of_bias"]["domains"] == {
            "randomization_process": "LOW",
            "deviations_from_intended_interventions": "SOME_CONCERNS",
            "missing_outcome_data": "LOW", "measurement_of_the_outcome": "LOW",
            "selection_of_the_reported_result": "LOW"}


def test_effects_outside_the_rule_are_not_assessed(client):
    # MAPP1's SDS effect and its within-arm changes are not covered by the rule
    for row in outcomes(client, study=MAPP1, comparison="WITHIN_ARM"):
        assert (row["risk_of_bias_status"], row["risk_of_bias"]) == ("NOT_ASSESSED", None)
    (sds,) = outcomes(client, study=MAPP1, instrument="SDS")
    assert (sds["risk_of_bias_status"], sds["risk_of_bias"]) == ("NOT_ASSESSED", None)


def test_a_study_without_a_published_assessment_shows_not_assessed(client):
    rows = outcomes(client, study=COMPARATOR)
    assert rows
    assert {(r["risk_of_bias_status"], r["risk_of_bias"]) for r in rows} == {
        ("NOT_ASSESSED", None)}
    study = client.get(f"{API}/studies/{COMPARATOR}").json()
    effects = [e for om in study["outcome_measures"] for e in om["effects"]]
    assert effects
    assert {e["risk_of_bias_status"] for e in effects} == {"NOT_ASSESSED"}
    mapp1 = client.get(f"{API}/studies/{MAPP1}").json()
    assert "ASSESSED" in {e["risk_of_bias_status"]
                          for om in mapp1["outcome_measures"] for e in om["effects"]}


def test_seeding_twice_adds_no_assessment(db_session):
    def counts():
        return (db_session.scalar(select(func.count()).select_from(RiskOfBias)),
                db_session.scalar(select(func.count()).select_from(AuditEntry)))

    before = counts()
    report = seed(db_session, SEED)
    assert (report.assessments_created, report.assessments_unchanged) == (0, 17)
    assert not report.changed
    assert counts() == before


def test_an_assessment_of_a_missing_effect_fails_the_seed(tmp_path, db_session):
    copy = tmp_path / "seed"
    shutil.copytree(SEED, copy)
    path = copy / "risk_of_bias.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["assessments"][0]["effects"][0]["timepoint"] = "a timepoint the study lacks"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(SeedError, match="a timepoint the study lacks.*no such effect"):
        seed(db_session, copy)


def test_facet_counts_after_the_seed(client):
    # 11 studies have effect estimates. Assessed: MP-1 (SOME_CONCERNS); Oehen 2013, MP-8,
    # MP-12, MAPP1 and MAPP2 (LOW). The other 5 have estimates and none assessed.
    body = client.get(f"{API}/stats/facets", params={"facet": "risk_of_bias"}).json()
    counts = {v["value"]: v["count"] for v in body["facets"]["risk_of_bias"]}
    assert counts == {"LOW": 5, "SOME_CONCERNS": 1, "NOT_ASSESSED": 5}
