"""Vocabularies with counts, written out from the seed and counted again over the seed files
(never compared with /studies, whose filters share the vocabulary's alias tables)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tests.builders import study_document
from tests.evidence_helpers import API, all_items, store

SEED_DIR = Path(__file__).resolve().parent.parent / "seed_data"
DOCS = [json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((SEED_DIR / "studies").glob("*.json"))]
VOCABULARY = json.loads((SEED_DIR / "vocabulary.json").read_text(encoding="utf-8"))
EVENTS = json.loads((SEED_DIR / "regulatory_events.json").read_text(encoding="utf-8"))["events"]

INTERVENTION_COUNTS = {
    "MDMA": 11, "Placebo": 11, "Psychotherapy": 11, "Sertraline": 3, "Paroxetine": 2,
    "Prolonged exposure": 2, "Fluoxetine": 1, "Cognitive processing therapy": 1, "EMDR": 1,
    "Present-centered therapy": 1, "Minimal attention": 1}


def seed_intervention_counts() -> Counter[str]:
    return Counter(name for d in DOCS for name in {
        i["name"] for a in d.get("arms", []) for i in a.get("interventions", [])})


def test_intervention_counts_are_the_seed_counts(client):
    assert dict(seed_intervention_counts()) == INTERVENTION_COUNTS
    items = all_items(client, f"{API}/interventions")
    assert {i["name"]: i["study_count"] for i in items} == INTERVENTION_COUNTS
    assert {i["name"]: i["type"] for i in items} == {
        v["name"]: v["type"] for v in VOCABULARY["interventions"]}


def test_condition_counts_are_the_seed_counts(client):
    items = all_items(client, f"{API}/conditions")
    assert [(c["name"], c["study_count"]) for c in items] == [
        ("Post-traumatic stress disorder", 19)]
    assert sum("Post-traumatic stress disorder" in d.get("conditions", []) for d in DOCS) == 19
    by_synonym = client.get(f"{API}/conditions?name=PTSD").json()["items"]
    assert [(c["name"], c["study_count"]) for c in by_synonym] == [
        ("Post-traumatic stress disorder", 19)]


def test_publications_are_the_seed_publications(client):
    items = all_items(client, f"{API}/publications")
    assert len(items) == 18
    seeded = [p for d in DOCS for p in d.get("publications", [])]
    assert {p["doi"] for p in items if p["doi"]} == {p["doi"] for p in seeded if p.get("doi")}
    retracted = sorted(p["doi"] for p in items if p["retraction_status"] == "RETRACTED")
    assert retracted == sorted(p["doi"] for p in seeded
                               if p.get("retraction_status") == "RETRACTED")
    assert len(retracted) == 2


def test_regulatory_events_are_the_seed_events(client):
    items = all_items(client, f"{API}/regulatory-events")
    assert len(items) == len(EVENTS) == 16
    assert {e["key"] for e in items} == {e["key"] for e in EVENTS}


def test_a_new_study_adds_one_to_each_of_its_interventions(client, curator):
    store(client, curator, study_document("vocab-new", nct="NCT09999923"))
    items = all_items(client, f"{API}/interventions")
    counts = {i["name"]: i["study_count"] for i in items}
    assert counts == {**INTERVENTION_COUNTS, "Placebo": 12, "Testamine": 1}
