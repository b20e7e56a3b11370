"""A list page's statement is made once per shape of filter and its values are bound at each
execution, so a page never answers with another request's values; the size of a large set
of studies, which only chooses SQLite's plan, is measured once a minute, not on every page."""

from __future__ import annotations

import itertools

import pytest

from app.queries import studies as q
from app.queries import study_filter as qf
from app.schemas.filters import StudyFilter
from app.services import studies as studies_service

API = "/api/v1"


def _keys(client, query: str) -> list[str]:
    keys: list[str] = []
    url = f"{API}/studies?page_size=7&{query}"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        keys += [item["key"] for item in body["items"]]
        token = body["next_page_token"]
        url = f"{API}/studies?page_size=7&{query}&page_token={token}" if token else ""
    return keys


@pytest.fixture
def every_study(client) -> list[dict]:
    response = client.get(f"{API}/studies?page_size=1000")
    assert response.status_code == 200 and response.json()["next_page_token"] is None
    return response.json()["items"]


def test_pages_of_one_shape_answer_each_their_own_values(client, every_study):
    """Requests of the same shape in a row (phase and minimum enrollment; registry ids;
    sponsors), each read page by page, list exactly the studies their own values select."""
    phases = sorted({s["phase"] for s in every_study if s["phase"]})
    enrollments = sorted({s["enrollment"] for s in every_study if s["enrollment"] is not None})
    assert len(phases) >= 2 and len(enrollments) >= 3
    for phase, least in itertools.product(phases, enrollments[:: max(1, len(enrollments) // 4)]):
        expected = sorted(s["key"] for s in every_study
                          if s["phase"] == phase and (s["enrollment"] or -1) >= least)
        got = _keys(client, f"phase={phase}&min_enrollment={least}&sort=key")
        assert got == expected, (phase, least)
    ids = [r["identifier"] for s in every_study for r in s["registry_ids"]]
    for pair in (ids[:2], ids[2:4], ids[-2:]):
        expected = sorted(s["key"] for s in every_study
                          if {r["identifier"] for r in s["registry_ids"]} & set(pair))
        assert sorted(_keys(client, f"registry_id={','.join(pair)}")) == expected, pair
    sponsors = sorted({s["sponsor"] for s in every_study if s["sponsor"]})[:4]
    for sponsor in sponsors:
        expected = sorted(s["key"] for s in every_study
                          if (s["sponsor"] or "").casefold() == sponsor.casefold())
        got = _keys(client, f"sponsor={sponsor.upper()}&sort=-start_date")
        assert sorted(got) == expected, sponsor


def _terms(**values) -> list[qf.Term]:
    return qf.terms(StudyFilter(**values), "sqlite")


def test_one_statement_per_shape_and_none_holds_a_value():
    """Two filters that differ only in their values share one page statement; another term,
    sort, cursor or plan makes another. The statement holds no value of any filter: each is
    given at execution."""
    first = q.page_select(_terms(phase=["PHASE2"], min_enrollment=10, condition=["PTSD"]),
                          "sqlite", "key", frozenset(), False)
    again = q.page_select(_terms(phase=["PHASE3", "PHASE4"], min_enrollment=500,
                                 condition=["Depression"]), "sqlite", "key", frozenset(), False)
    assert again is first
    others = [
        q.page_select(_terms(phase=["PHASE2"], condition=["PTSD"]), "sqlite", "key",
                      frozenset(), False),
        q.page_select(_terms(phase=["PHASE2"], min_enrollment=10, condition=["PTSD"]),
                      "sqlite", "-key", frozenset(), False),
        q.page_select(_terms(phase=["PHASE2"], min_enrollment=10, condition=["PTSD"]),
                      "sqlite", "key", frozenset(), True),
        q.page_select(_terms(phase=["PHASE2"], min_enrollment=10, condition=["PTSD"]),
                      "sqlite", "key", frozenset({"condition"}), False),
    ]
    assert all(other is not first for other in others)
    assert len({id(other) for other in others}) == len(others)
    named = {"phase", "min_enrollment", "condition", "page_limit"}
    binds = first.compile().binds
    assert named <= set(binds)
    assert all(binds[name].value is None for name in named)


def test_a_large_set_is_measured_once_a_minute(client, count_statements, dialect, monkeypatch):
    """SQLite sizes a set of studies (here a condition's) before choosing how to read a page;
    the size is kept, so the next pages do not measure it again, until it is a minute old.
    PostgreSQL never measures."""
    url = f"{API}/studies?condition=PTSD&sort=key&page_size=5"

    def statements() -> int:
        count_statements.statements.clear()
        assert client.get(url).status_code == 200
        return len(count_statements.statements)

    first, second = statements(), statements()
    assert first == second + (1 if dialect == "sqlite" else 0)
    monkeypatch.setattr(studies_service, "SIZE_KEPT_S", -1.0)
    assert statements() == first
