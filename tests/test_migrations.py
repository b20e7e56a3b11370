"""The schema exists only through migrations, and they match the models."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import MetaData, inspect

from alembic import command
from app import migrations
from app.config import Settings
from app.db import Base, make_engine
from app.main import create_app


def test_models_and_migrations_do_not_drift(scratch_url):
    migrations.upgrade(scratch_url)
    command.check(migrations.alembic_config(scratch_url))


def test_upgrade_downgrade_upgrade(scratch_url):
    migrations.upgrade(scratch_url)
    engine = make_engine(scratch_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        migrations.downgrade(scratch_url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrations.upgrade(scratch_url)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_schema_is_created_only_by_migrations():
    app_dir = Path(__file__).resolve().parent.parent / "app"
    offenders = [p.name for p in app_dir.rglob("*.py") if "create_all(" in p.read_text()]
    assert offenders == []


def test_upgrade_gives_existing_timepoints_roles_and_clocks_and_keeps_the_rest(scratch_url):
    """A study written before the evidence-semantics revision (0004) reads the same after
    it, with the new fields filled from the old ones."""
    migrations.upgrade(scratch_url, "0003")
    engine = make_engine(scratch_url)
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        study_id = conn.execute(t["study"].insert().values(
            key="written-before", title="An older study", study_type="RCT", start_date_sort=0,
            countries=[], follow_up_months_max=45.4, has_results=True, retracted=False,
            search_text="An older study", version=3, created_at=now, updated_at=now,
            notes="participants reported fewer nightmares")).inserted_primary_key[0]
        arms = [conn.execute(t["arm"].insert().values(
            study_id=study_id, position=i, label=label, arm_type=arm_type)).inserted_primary_key[0]
            for i, (label, arm_type) in enumerate((("Drug", "EXPERIMENTAL"),
                                                   ("Placebo", "PLACEBO_COMPARATOR")))]
        timepoints = [conn.execute(t["timepoint"].insert().values(
            study_id=study_id, position=i, **row)).inserted_primary_key[0]
            for i, row in enumerate((
                {"label": "baseline", "anchor": "BASELINE", "months": 0, "is_follow_up": False,
                 "follow_up_months": 0},
                {"label": "primary endpoint", "anchor": "LAST_TREATMENT_SESSION", "months": 2,
                 "is_follow_up": False, "follow_up_months": 2},
                {"label": "long-term follow-up", "anchor": "LAST_TREATMENT_SESSION",
                 "months_min": 17, "months_max": 74, "months_mean": 45.4, "months_sd": 17.3,
                 "is_follow_up": True, "follow_up_months": 45.4}))]
        outcome_id = conn.execute(t["outcome_measure"].insert().values(
            study_id=study_id, position=0, name="CAPS", instrument="CAPS", role="PRIMARY",
            lower_is_better=True)).inserted_primary_key[0]
        conn.execute(t["effect_estimate"].insert().values(
            study_id=study_id, outcome_measure_id=outcome_id, timepoint_id=timepoints[1],
            experimental_arm_id=arms[0], comparator_arm_id=arms[1], position=0,
            effect_type="COHENS_D", value=0.8, ci_low=0.2, ci_high=1.4, ci_level=0.95,
            origin="REPORTED", retracted=False))
        conn.execute(t["provenance"].insert().values(
            study_id=study_id, source_url="https://example.org/older-study"))
    engine.dispose()

    migrations.upgrade(scratch_url)
    app = create_app(Settings(database_url=scratch_url, response_cache_bytes=0))
    with TestClient(app) as client:
        study = client.get("/api/v1/studies/written-before").json()
        assert [(tp["label"], tp["role"], tp["is_follow_up"]) for tp in study["timepoints"]] == [
            ("baseline", "BASELINE", False), ("primary endpoint", None, False),
            ("long-term follow-up", "FOLLOW_UP", True)]
        assert [tp["clocks"] for tp in study["timepoints"]] == [
            {"since_baseline": {"months": 0, "min": 0, "max": 0, "from": "ANCHOR"},
             "after_treatment": None},
            {"since_baseline": None,
             "after_treatment": {"months": 2, "min": 2, "max": 2, "from": "ANCHOR"}},
            {"since_baseline": None,
             "after_treatment": {"months": 45.4, "min": 17, "max": 74, "from": "ANCHOR"}}]
        ltfu = study["timepoints"][2]
        assert (ltfu["months_min"], ltfu["months_max"], ltfu["months_mean"],
                ltfu["months_sd"]) == (17, 74, 45.4, 17.3)
        assert study["follow_up_months_max"] == 45.4 and study["version"] == 3
        assert study["notes"] == "participants reported fewer nightmares"
        [effect] = study["outcome_measures"][0]["effects"]
        assert (effect["effect_type"], effect["value"], effect["ci_low"], effect["ci_high"]) == (
            "COHENS_D", 0.8, 0.2, 1.4)
        assert (effect["comparison"], effect["favours"]) == ("BETWEEN_ARMS", "EXPERIMENTAL")
        assert effect["as_reported"] is None and effect["inputs"] is None
        found = client.get("/api/v1/studies?min_follow_up_months=45.4&fields=key").json()
        assert [s["key"] for s in found["items"]] == ["written-before"]
        found = client.get("/api/v1/studies?q=nightmares&fields=key").json()
        assert [s["key"] for s in found["items"]] == ["written-before"]
    app.state.engine.dispose()
