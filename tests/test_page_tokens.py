"""Page tokens at their limits: what a token may hold (ids from 0 to the largest INTEGER, sort
values in an INTEGER's range, text, or null), each side of every bound, the exact detail of each
refusal, and every cursor surviving its own encoding."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.enums import Role
from app.models import Study
from app.queries.pagination import Cursor, decode_cursor, encode_cursor
from tests.authkit import API
from tests.builders import study_document
from tests.interop_support import key_headers
from tests.test_bad_input import assert_problem, token

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
NOT_ISSUED = "page_token is not a token this API issued"

ACCEPTED = [
    ("largest enrollment, largest id", token("enrollment", INT_MAX, INT_MAX)),
    ("smallest enrollment, id 0", token("enrollment", INT_MIN, 0)),
]
REFUSED = [
    ("enrollment past the largest", token("enrollment", INT_MAX + 1, 1)),
    ("enrollment below the smallest", token("enrollment", INT_MIN - 1, 1)),
    ("id past the largest", token("enrollment", 5, INT_MAX + 1)),
    ("negative id", token("enrollment", 5, -1)),
    ("fractional enrollment", token("enrollment", 1.5, 1)),
    ("list as enrollment", token("enrollment", [1], 1)),
    ("no enrollment", token("enrollment", None, 1)),
    ("text as enrollment", token("enrollment", "5", 1)),
    ("not base64 JSON", "bm90IGpzb24"),
]


@pytest.mark.parametrize("what,page_token", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_a_token_at_a_bound_is_read(client, what, page_token):
    response = client.get(f"{API}/studies?sort=enrollment&page_token={page_token}")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("what,page_token", REFUSED, ids=[r[0] for r in REFUSED])
def test_a_token_past_a_bound_is_refused_as_not_issued(client, what, page_token):
    body = assert_problem(client.get(f"{API}/studies?sort=enrollment&page_token={page_token}"),
                          400)
    assert body["detail"] == NOT_ISSUED


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00", 5])
def test_an_update_time_token_holds_an_iso_timestamp(client, value):
    body = assert_problem(client.get(f"{API}/studies?sort=updated_at&page_token="
                                     f"{token('updated_at', value, 1)}"), 400)
    assert body["detail"] == NOT_ISSUED


def test_a_token_of_another_sort_order_says_so(client):
    body = assert_problem(client.get(f"{API}/studies?sort=title&page_token="
                                     f"{token('enrollment', 5, 1)}"), 400)
    assert body["detail"] == ("page_token does not belong to this sort order; start again "
                              "without it")


def test_every_cursor_decodes_to_itself():
    for i in [*range(300), INT_MAX]:
        for cursor in (Cursor("id", i, i), Cursor("title", f"t{i}", i),
                       Cursor("enrollment", -i, i), Cursor("flags", None, i)):
            encoded = encode_cursor(cursor)
            assert "=" not in encoded
            assert decode_cursor(encoded, cursor.sort) == cursor


@pytest.mark.parametrize("value", [None, 1.5, 7, [1]])
def test_a_flag_list_token_holds_a_flag_id_as_text(client, db_session, value):
    """A flag list token continues after a flag id; with anything else in its place it is
    refused, also when its study raises flags (their ids were compared with it)."""
    doc = study_document("token-flags", nct="NCT09999971")
    doc["outcome_measures"].append({
        "name": "Registered measure", "role": "PRIMARY",
        "results": [{"arm": "Drug", "timepoint": "12 months", "n": 30, "mean": 21.0,
                     "sources": [{"registry": "NCT09999971", "locator": "results"}]}]})
    curator = key_headers(db_session, Role.CURATOR)
    assert client.post(f"{API}/studies", json=doc, headers=curator).status_code == 201
    [first] = client.get(f"{API}/flags?page_size=1").json()["items"][:1]
    assert first["study"] == "token-flags"
    study_id = db_session.scalar(select(Study.id).where(Study.key == "token-flags"))
    body = assert_problem(client.get(f"{API}/flags?page_token={token('flags', value, study_id)}"),
                          400)
    assert body["detail"] == NOT_ISSUED
    assert client.get(f"{API}/flags?page_token={token('flags', first['id'], study_id)}"
                      ).status_code == 200
