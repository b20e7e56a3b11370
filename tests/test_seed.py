"""The curated seed data: loads, is idempotent, and every number has a source."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.models import AuditEntry, EffectEstimate, OutcomeResult, RegulatoryEvent, Study
from app.services.seed import SeedError, read_seed, seed

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seed_data"
API = "/api/v1"


def _counts(session):
    return tuple(session.scalar(select(func.count()).select_from(m))
                 for m in (Study, OutcomeResult, EffectEstimate, RegulatoryEvent, AuditEntry))


def test_every_seed_file_is_stored(client):
    _, docs, events = read_seed(SEED)
    listed = client.get(f"{API}/studies?page_size=1000").json()["items"]
    assert {d.key for d in docs} == {s["key"] for s in listed}
    stored = client.get(f"{API}/regulatory-events?page_size=1000").json()["items"]
    assert {e.key for e in events.events} == {e["key"] for e in stored}


def test_seeding_twice_changes_nothing(db_session):
    before = _counts(db_session)
    report = seed(db_session, SEED)
    assert not report.changed
    assert report.studies_unchanged
    assert _counts(db_session) == before


def test_every_seeded_number_names_a_source(client):
    listed = client.get(f"{API}/studies?page_size=1000").json()["items"]
    for item in listed:
        study = client.get(f"{API}/studies/{item['key']}").json()
        if study["enrollment"] is not None:
            assert study["sources"], item["key"]
        for tp in study["timepoints"]:
            assert tp["sources"], (item["key"], tp["label"])
        for arm in study["arms"]:
            if arm["n_randomized"] is not None or arm["n_completed"] is not None:
                assert arm["sources"], (item["key"], arm["label"])
        for om in study["outcome_measures"]:
            for row in om["results"] + om["effects"]:
                assert row["sources"], (item["key"], om["name"])
        assert study["registry_ids"] or study["publications"], item["key"]


def test_seed_refuses_a_number_without_a_source(tmp_path, db_session):
    copy = tmp_path / "seed"
    shutil.copytree(SEED, copy)
    path = copy / "studies" / "NCT03537014.json"
    doc = json.loads(path.read_text())
    effects = [e for om in doc["outcome_measures"] for e in om.get("effects", [])]
    assert effects
    for effect in effects:
        effect["sources"] = []
    path.write_text(json.dumps(doc))
    before = _counts(db_session)
    with pytest.raises(SeedError, match="sources"):
        seed(db_session, copy)
    assert _counts(db_session) == before


def test_seed_refuses_an_unknown_field(tmp_path, db_session):
    copy = tmp_path / "seed"
    shutil.copytree(SEED, copy)
    path = copy / "studies" / "NCT00090064.json"
    doc = json.loads(path.read_text())
    doc["arms"][0]["n_guessed"] = 12
    path.write_text(json.dumps(doc))
    with pytest.raises(SeedError, match="n_guessed"):
        read_seed(copy)
