"""A read is a write: the document `GET /studies/{key}` returns is accepted by `PUT` as it is.

The server's own fields are `readOnly` in the OpenAPI document and ignored on the way in;
computed effects sent back are derived again rather than stored as reported ones.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

SEED_STUDIES = Path(__file__).resolve().parent.parent / "seed_data" / "studies"
SEEDED_KEYS = sorted(json.loads(p.read_text())["key"] for p in SEED_STUDIES.glob("*.json"))
SERVER_FIELDS = {"version", "updated_at"}


def _read(client: TestClient, key: str) -> tuple[dict[str, Any], str]:
    r = client.get(f"/api/v1/studies/{key}")
    assert r.status_code == 200, r.text
    return r.json(), r.headers["ETag"]


def _without(doc: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in fields}


def test_every_seeded_study_is_listed() -> None:
    # The walk below must cover the whole seed: 19 curated study files.
    assert len(SEEDED_KEYS) == 19


@pytest.mark.parametrize("key", SEEDED_KEYS)
def test_put_of_the_unchanged_read_changes_nothing_but_the_version(
        client: TestClient, curator: dict[str, str], key: str) -> None:
    before, etag = _read(client, key)
    r = client.put(f"/api/v1/studies/{key}", json=before, headers={**curator, "If-Match": etag})
    assert r.status_code == 200, r.text
    after, new_etag = _read(client, key)
    assert new_etag != etag
    assert after["version"] == before["version"] + 1
    assert _without(after, SERVER_FIELDS) == _without(before, SERVER_FIELDS)
    assert r.json() == after


def test_read_only_fields_sent_back_changed_are_ignored(
        client: TestClient, curator: dict[str, str]) -> None:
    key = "NCT00090064"
    before, etag = _read(client, key)
    edited = copy.deepcopy(before)
    edited.update(version=999, retracted=not before["retracted"], has_results=False,
                  follow_up_months_max=1.0, interventions=["something else"],
                  created_at="2000-01-01T00:00:00Z")
    edited["publications"][0]["id"] = 123456
    edited["arms"][0]["interventions"][0]["intervention"] = "renamed"
    edited["timepoints"][0]["clocks"] = None
    r = client.put(f"/api/v1/studies/{key}", json=edited, headers={**curator, "If-Match": etag})
    assert r.status_code == 200, r.text
    after, _ = _read(client, key)
    assert _without(after, SERVER_FIELDS) == _without(before, SERVER_FIELDS)


def test_a_computed_effect_sent_back_is_derived_again_not_stored_as_reported(
        client: TestClient, curator: dict[str, str]) -> None:
    key = next(k for k in SEEDED_KEYS if any(
        e["origin"] == "COMPUTED" for e in client.get(f"/api/v1/studies/{k}").json()["effects"]))
    before, etag = _read(client, key)
    computed = [e for e in before["effects"] if e["origin"] == "COMPUTED"]
    edited = copy.deepcopy(before)
    for om in edited["outcome_measures"]:
        for e in om["effects"]:
            if e["origin"] == "COMPUTED":
                e["value"] = 42.0  # a computed value is not the curator's to set
    r = client.put(f"/api/v1/studies/{key}", json=edited, headers={**curator, "If-Match": etag})
    assert r.status_code == 200, r.text
    after, _ = _read(client, key)
    assert [e for e in after["effects"] if e["origin"] == "COMPUTED"] == computed
    assert sum(e["origin"] == "REPORTED" for e in after["effects"]) == sum(
        e["origin"] == "REPORTED" for e in before["effects"])


def test_the_openapi_document_marks_server_fields_read_only(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    read_only = {name: sorted(k for k, v in schemas[name]["properties"].items()
                              if v.get("readOnly")) for name in (
        "StudyDocument", "PublicationIn", "ArmInterventionIn", "TimepointIn",
        "OutcomeResultIn", "EffectEstimateIn")}
    assert read_only == {
        "StudyDocument": ["created_at", "effects", "flags", "follow_up_months_max",
                          "has_results", "interventions", "referenced_by", "retracted",
                          "updated_at", "version"],
        "PublicationIn": ["id"],
        "ArmInterventionIn": ["intervention"],
        "TimepointIn": ["clocks"],
        "OutcomeResultIn": ["count_derived", "retracted"],
        "EffectEstimateIn": ["comparison", "direction", "favours", "inputs", "nnt", "origin",
                             "retracted", "risk_of_bias", "risk_of_bias_status"],
    }
    put = client.get("/openapi.json").json()["paths"]["/api/v1/studies/{key}"]["put"]
    body = put["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    answer = put["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == "#/components/schemas/StudyDocument"
    assert {"$ref": body} in answer["anyOf"]


def _holds(stored: Any, sent: Any, where: str, out: list[str]) -> None:
    """Where `stored` lacks or differs from a value `sent` holds (the stored document may add
    fields, and computed effects beside the reported ones)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            out.append(f"{where}: {stored!r} is not an object")
            return
        for k, v in sent.items():
            if k not in stored:
                out.append(f"{where}.{k} missing")
            else:
                _holds(stored[k], v, f"{where}.{k}", out)
    elif isinstance(sent, list):
        if not isinstance(stored, list):
            out.append(f"{where}: {stored!r} is not a list")
            return
        stored = [x for x in stored if not (isinstance(x, dict) and x.get("origin") == "COMPUTED")]
        if len(stored) != len(sent):
            out.append(f"{where}: {len(stored)} items, sent {len(sent)}")
            return
        for i, (a, b) in enumerate(zip(stored, sent, strict=True)):
            _holds(a, b, f"{where}[{i}]", out)
    elif stored != sent:
        out.append(f"{where}: {stored!r} != {sent!r}")


@pytest.mark.parametrize("key", SEEDED_KEYS)
def test_every_seeded_study_reads_back_every_value_of_its_seed_file(client: TestClient,
                                                                    key: str) -> None:
    sent = next(json.loads(p.read_text()) for p in SEED_STUDIES.glob("*.json")
                if json.loads(p.read_text())["key"] == key)
    stored, _ = _read(client, key)
    differences: list[str] = []
    _holds(stored, sent, key, differences)
    assert differences == []
