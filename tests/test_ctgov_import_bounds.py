"""Registry imports out of bounds are refused before anything is looked up or stored.

A record with more parts than any real record, nested deeper, or holding a value that no
store can keep (a lone surrogate, an integer beyond 64 bits, a number that is not finite) is a
422 problem, whatever the Content-Type spelling, and leaves every table as it was: so it can
neither hold the write lock while the vocabulary is searched nor break the registry dialect
that would serve it.
"""

from __future__ import annotations

import copy
import json
import re

import pytest

from app.enums import Role
from tests.authkit import db_state
from tests.interop_support import key_headers, record

NAME = "NCT00973089"
URL = "/api/v1/import/ctgov"
# Tables an import reads or writes; a bounds refusal must touch none of them.
DATA_TABLES = re.compile(r"\b(study|condition|intervention|publication|registry_id|arm)\b",
                         re.IGNORECASE)


def _post(client, headers, body: bytes, content_type: str = "application/json"):
    return client.post(URL, content=body, headers={**headers, "Content-Type": content_type})


def _refused(response) -> dict:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def _nested(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def test_a_record_with_100000_conditions_is_refused_before_any_lookup(
        client, db_session, connection, count_statements):
    headers = key_headers(db_session, Role.CURATOR)
    rec = record(NAME)
    rec["protocolSection"]["conditionsModule"]["conditions"] = [
        f"c{i}" for i in range(100_000)]
    body = json.dumps(rec).encode()
    assert len(body) < 1024 * 1024  # within the body limit: the record itself is refused
    before = db_state(connection)
    count_statements.statements.clear()
    problem = _refused(_post(client, headers, body))
    assert "10000" in problem["detail"]
    assert problem["errors"][0]["loc"][:4] == ["body", "protocolSection", "conditionsModule",
                                               "conditions"]
    assert not [s for s in count_statements.statements if DATA_TABLES.search(s)]
    assert db_state(connection) == before


def test_more_conditions_than_a_study_holds_are_refused_before_any_lookup(
        client, db_session, connection, count_statements):
    headers = key_headers(db_session, Role.CURATOR)
    rec = record(NAME)
    rec["protocolSection"]["conditionsModule"]["conditions"] = [
        f"Condition {i}" for i in range(5000)]
    before = db_state(connection)
    count_statements.statements.clear()
    _refused(_post(client, headers, json.dumps(rec).encode()))
    assert not [s for s in count_statements.statements if DATA_TABLES.search(s)]
    assert db_state(connection) == before


@pytest.mark.parametrize("content_type", [
    "application/json", "APPLICATION/JSON", "Application/Json; charset=UTF-8",
])
def test_a_record_nested_300_deep_is_refused_whatever_the_content_type(
        client, db_session, connection, content_type):
    headers = key_headers(db_session, Role.CURATOR)
    rec = record(NAME)
    rec["derivedSection"] = {"miscInfoModule": {"deep": _nested(300)}}
    before = db_state(connection)
    response = _post(client, headers, json.dumps(rec).encode(), content_type)
    assert response.status_code in (400, 413, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert db_state(connection) == before
    assert client.get(f"/ctgov/api/v2/studies/{NAME}").status_code == 404
    assert client.get("/ctgov/api/v2/studies").status_code == 200


@pytest.mark.parametrize("raw_value", [
    '"\\ud800 lone surrogate"', '"nul \\u0000 inside"', str(10 ** 30), "NaN", "-Infinity",
    "1e20", "-1.5e300",
])
def test_a_value_no_store_can_keep_is_refused(client, db_session, connection, raw_value):
    headers = key_headers(db_session, Role.CURATOR)
    rec = record(NAME)
    rec["derivedSection"] = {"miscInfoModule": {"value": "PLACEHOLDER"}}
    body = json.dumps(rec).replace('"PLACEHOLDER"', raw_value).encode()
    before = db_state(connection)
    problem = _refused(_post(client, headers, body))
    assert problem["errors"][0]["loc"] == ["body", "derivedSection", "miscInfoModule", "value"]
    assert db_state(connection) == before
    assert client.get("/ctgov/api/v2/studies").status_code == 200
    assert client.get(f"/ctgov/api/v2/studies/{NAME}").status_code == 404


def test_a_record_within_bounds_still_imports_whole(client, db_session):
    headers = key_headers(db_session, Role.CURATOR)
    rec = record(NAME)
    rec["derivedSection"] = {"miscInfoModule": {"deep": _nested(10), "big": 2 ** 62}}
    response = _post(client, headers, json.dumps(rec).encode())
    assert response.status_code == 201, response.text
    served = client.get(f"/ctgov/api/v2/studies/{NAME}")
    assert served.status_code == 200
    assert served.json()["derivedSection"] == rec["derivedSection"]


def test_a_batch_of_records_is_bounded_too(client, db_session, connection):
    headers = key_headers(db_session, Role.CURATOR)
    good = record(NAME)
    bad = copy.deepcopy(good)
    bad["protocolSection"]["identificationModule"]["nctId"] = "NCT00973090"
    bad["derivedSection"] = {"miscInfoModule": {"deep": _nested(30)}}
    before = db_state(connection)
    problem = _refused(_post(client, headers, json.dumps({"studies": [good, bad]}).encode()))
    assert problem["errors"][0]["loc"][:3] == ["body", "studies", 1]
    assert db_state(connection) == before
