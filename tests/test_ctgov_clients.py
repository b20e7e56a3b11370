"""A published ClinicalTrials.gov API v2 client, unchanged, pointed at our registry dialect.

pytrials (from the package index) asks `/version` when it starts, lists studies by a search
expression in JSON and CSV, and asks for fields by piece name (JSON) or by the registry's CSV
column titles (CSV). Its base URL is its one setting; a real server answers it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytrials.client import ClinicalTrials
from pytrials.utils import csv_handler, json_handler

from tests.toolkit import LiveServer, live_server, migrated, scratch_database

SEED = Path(__file__).resolve().parent.parent / "seed_data"
# The registry finds "PTSD" through its synonyms; our free text reads the words themselves.
PTSD = "stress disorder"
PTSD_NCT = sorted(p.stem for p in (SEED / "studies").glob("NCT*.json")
                  if "Post-traumatic stress disorder"
                  in json.loads(p.read_text(encoding="utf-8"))["conditions"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("clients")
    with scratch_database(database_url, tmp, "clients") as url:
        migrated(url, seed_dir=SEED)
        with live_server({"EVIDENCEDB_DATABASE_URL": url}) as running:
            yield running


@pytest.fixture
def trials(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> ClinicalTrials:
    monkeypatch.setattr(ClinicalTrials, "_BASE_URL", f"{server.url}/ctgov/api/v2/")
    return ClinicalTrials()


def test_the_client_starts_on_our_version_answer(trials):
    api_version, timestamp = trials.api_info
    assert api_version.startswith("2.")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", timestamp)


def test_the_client_lists_our_ptsd_studies_in_json(trials):
    body = trials.get_full_studies(search_expr=PTSD, max_studies=100, fmt="json")
    ids = [s["protocolSection"]["identificationModule"]["nctId"] for s in body["studies"]]
    assert PTSD_NCT and sorted(ids) == PTSD_NCT
    assert all(s["protocolSection"]["conditionsModule"]["conditions"] for s in body["studies"])


def test_the_client_exports_our_ptsd_studies_as_csv(trials):
    [header, *rows] = trials.get_full_studies(search_expr=PTSD, max_studies=100, fmt="csv")
    assert header[:5] == ["NCT Number", "Study Title", "Study URL", "Acronym", "Study Status"]
    assert sorted(r[0] for r in rows) == PTSD_NCT
    assert all(len(r) == len(header) for r in rows)


def test_the_client_reads_chosen_fields_by_piece_name(trials):
    body = trials.get_study_fields(search_expr=PTSD, fields=["NCTId", "BriefTitle",
                                                                "OverallStatus", "Condition"],
                                   max_studies=100, fmt="json")
    [first, *_] = body["studies"]
    assert set(first) == {"protocolSection"}
    assert set(first["protocolSection"]) == {"identificationModule", "statusModule",
                                              "conditionsModule"}
    assert set(first["protocolSection"]["identificationModule"]) == {"nctId", "briefTitle"}
    assert sorted(s["protocolSection"]["identificationModule"]["nctId"]
                  for s in body["studies"]) == PTSD_NCT


def test_the_client_exports_chosen_csv_columns(trials):
    table = trials.get_study_fields(search_expr=PTSD,
                                    fields=["NCT Number", "Conditions", "Study Title"],
                                    max_studies=100, fmt="csv")
    assert table[0] == ["NCT Number", "Conditions", "Study Title"]
    assert sorted(r[0] for r in table[1:]) == PTSD_NCT
    assert {r[1] for r in table[1:]} == {"Post-traumatic stress disorder"}


def test_the_clients_request_helpers_read_one_study(trials, server):
    base = ClinicalTrials._BASE_URL
    nct = PTSD_NCT[0]
    record = json_handler(f"{base}studies/{nct}")
    assert record["protocolSection"]["identificationModule"]["nctId"] == nct
    [header, row] = csv_handler(f"{base}studies/{nct}?format=csv")
    assert dict(zip(header, row, strict=True))["NCT Number"] == nct
