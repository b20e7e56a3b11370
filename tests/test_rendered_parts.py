"""Rendered study parts: a list page splices each study's stored parts when they are current,
assembles them live when they are not, and every way of writing a study renders it.

The spliced answer must be the live one byte for byte, for every combination of parts.
"""

from __future__ import annotations

import json
import zlib

import pytest
from sqlalchemy import delete, func, select, text, update

from app.models import Study, StudyRender
from app.queries import rendered as q
from app.services import bulk, rendered
from tests.authkit import API
from tests.builders import study_document
from tests.interop_support import import_record, raw

pytestmark = pytest.mark.usefixtures("no_key_leaks")
FLAGGED = "NCT03475563"  # a registry record the suite imports (tests/ holds it)

INCLUDES = ["", "arms", "outcomes", "timepoints", "publications", "effects",
            "arms,outcomes,timepoints", "publications,effects,outcomes",
            "arms,outcomes,timepoints,publications,effects"]


def _page(client, include: str, **params):
    query = {"page_size": 200, **({"include": include} if include else {}), **params}
    response = client.get(f"{API}/studies", params=query)
    assert response.status_code == 200, response.text
    return response


def _stale(db_session) -> list[int]:
    return list(db_session.scalars(q.stale(0, 100_000, rendered.format_token())))


def _render(db_session, key: str) -> StudyRender:
    found = db_session.scalar(select(StudyRender).join(Study, Study.id == StudyRender.study_id)
                              .where(Study.key == key))
    assert found is not None, f"{key} has no render"
    return found


def test_the_seeded_studies_are_rendered_at_their_versions(db_session):
    live = db_session.scalar(select(func.count()).select_from(Study)
                             .where(Study.deleted_at.is_(None)))
    assert live
    assert _stale(db_session) == []


@pytest.mark.parametrize("include", INCLUDES)
def test_a_spliced_page_is_the_live_page_byte_for_byte(client, db_session, include):
    spliced = _page(client, include).content
    db_session.execute(delete(StudyRender))
    db_session.flush()
    live = _page(client, include).content
    assert spliced == live
    assert json.loads(live)["items"]


def _serves_only_a_current_render(db_session, key: str, served) -> None:
    """`served()` (the arms of `key` as an answer gives them) is the render while it is
    current, and the live parts once it is of an earlier version or of other code."""
    real = served()
    render = _render(db_session, key)
    tampered = json.dumps([{**real[0], "label": "As rendered"}]).encode()
    db_session.execute(update(StudyRender).where(StudyRender.study_id == render.study_id)
                       .values(arms=zlib.compress(tampered)))
    assert [a["label"] for a in served()] == ["As rendered"], \
        "a current render is what is served"
    db_session.execute(update(StudyRender).where(StudyRender.study_id == render.study_id)
                       .values(version=StudyRender.version - 1))
    assert served() == real, "a render of an earlier version is not used"
    db_session.execute(update(StudyRender).where(StudyRender.study_id == render.study_id)
                       .values(version=StudyRender.version + 1, format="another code"))
    assert served() == real, "a render made by other code is not used"


def test_a_page_serves_a_current_render_and_never_a_stale_one(client, db_session):
    key = _page(client, "arms").json()["items"][0]["key"]

    def served():
        items = _page(client, "arms", fields="key,arms").json()["items"]
        return next(s for s in items if s["key"] == key)["arms"]

    _serves_only_a_current_render(db_session, key, served)


def _keys(client) -> list[str]:
    return [s["key"] for s in _page(client, "", fields="key").json()["items"]]


def _flagged(client, curator) -> None:
    """An imported registry record whose publication reports more randomized participants
    than it registered: its read raises a flag, computed from the rendered parts."""
    assert import_record(client, curator, raw(FLAGGED)).status_code == 201
    read = client.get(f"{API}/studies/{FLAGGED}")
    doc = read.json()
    doc["arms"][0]["n_randomized"] = 150
    doc["arms"][0]["sources"] = [{"publication": doc["publications"][0]["ref"],
                                  "locator": "Figure 1"}]
    put = client.put(f"{API}/studies/{FLAGGED}", json=doc,
                     headers={**curator, "If-Match": read.headers["ETag"]})
    assert put.status_code == 200, put.text


def test_a_study_read_from_its_render_is_the_live_read_byte_for_byte(client, curator,
                                                                     db_session):
    _flagged(client, curator)
    keys = _keys(client)
    spliced = {k: client.get(f"{API}/studies/{k}") for k in keys}
    db_session.execute(delete(StudyRender))
    db_session.flush()
    for key in keys:
        live = client.get(f"{API}/studies/{key}")
        assert live.status_code == spliced[key].status_code == 200, live.text
        assert spliced[key].content == live.content, key
        assert spliced[key].headers["ETag"] == live.headers["ETag"]
    # The parts only a study's own read has, and its flags, are in what was compared.
    docs = [json.loads(r.content) for r in spliced.values()]
    for part in ("keywords", "relations", "referenced_by", "sources", "flags", "arms",
                 "outcome_measures", "effects", "publications", "timepoints"):
        assert any(d[part] for d in docs), f"no seeded study has {part}"


def test_a_study_read_serves_a_current_render_and_never_a_stale_one(client, db_session):
    key = next(k for k in _keys(client)
               if client.get(f"{API}/studies/{k}").json()["arms"])
    _serves_only_a_current_render(
        db_session, key, lambda: client.get(f"{API}/studies/{key}").json()["arms"])


def test_a_write_renders_the_study_at_its_new_version(client, curator, db_session):
    created = client.post(f"{API}/studies", json=study_document("rendered-write", "NCT09990001"),
                          headers=curator)
    assert created.status_code == 201, created.text
    assert _render(db_session, "rendered-write").version == 1
    patched = client.patch(f"{API}/studies/rendered-write",
                           json={"conditions": ["Rendered condition"]},
                           headers={**curator, "If-Match": created.headers["ETag"]})
    assert patched.status_code == 200, patched.text
    assert _render(db_session, "rendered-write").version == 2
    assert _stale(db_session) == []
    item = _page(client, "", registry_id="NCT09990001").json()["items"][0]
    assert item["conditions"] == ["Rendered condition"]


def test_a_retraction_renders_every_study_that_cites_the_publication(client, curator,
                                                                    db_session):
    doc = study_document("rendered-retraction", "NCT09990002")
    created = client.post(f"{API}/studies", json=doc, headers=curator).json()
    publication = created["publications"][0]["id"]
    answer = client.post(f"{API}/publications/{publication}/retraction",
                         json={"date": "2025-06-01", "notice": "Retraction notice",
                               "reason": "data integrity"}, headers=curator)
    assert answer.status_code == 200, answer.text
    assert _render(db_session, "rendered-retraction").version == 2
    item = _page(client, "publications,outcomes",
                 registry_id="NCT09990002").json()["items"][0]
    assert item["publications"][0]["retraction_status"] == "RETRACTED"
    assert any(r["retracted"] for o in item["outcome_measures"] for r in o["results"])


def test_a_dry_run_renders_nothing(client, curator, db_session):
    before = db_session.scalar(select(func.count()).select_from(StudyRender))
    answer = client.post(f"{API}/studies", json=study_document("rendered-dry", "NCT09990003"),
                         params={"dry_run": "true"}, headers=curator)
    assert answer.status_code == 200, answer.text
    assert db_session.scalar(select(func.count()).select_from(StudyRender)) == before


def test_a_bulk_loaded_batch_is_rendered_with_it(db_session):
    lines = [json.dumps(study_document(f"rendered-load-{i}", f"NCT0999010{i}")).encode()
             for i in range(3)]
    errors: list[bulk.BatchError] = []
    cache = bulk.new_vocab_cache()
    for batch in bulk.batches(lines, 10, errors):
        bulk.load_batch(db_session, batch, source="rendered.ndjson", actor_id=None,
                        vocab_cache=cache)
    assert errors == []
    assert [_render(db_session, f"rendered-load-{i}").version for i in range(3)] == [1, 1, 1]
    assert _stale(db_session) == []


def test_fill_renders_what_is_missing_or_out_of_date(db_session):
    ids = list(db_session.scalars(select(Study.id).where(Study.deleted_at.is_(None))
                                  .order_by(Study.id)))
    db_session.execute(delete(StudyRender).where(StudyRender.study_id == ids[0]))
    db_session.execute(update(StudyRender).where(StudyRender.study_id == ids[1])
                       .values(format="another code"))
    db_session.execute(update(StudyRender).where(StudyRender.study_id == ids[2])
                       .values(version=0))
    assert _stale(db_session) == ids[:3]
    assert rendered.fill(db_session, commit=False) == 3
    assert _stale(db_session) == []


def test_rendering_gives_the_transaction_its_planner_settings_back(db_session, dialect):
    if dialect != "postgresql":
        pytest.skip("PostgreSQL only: rendering turns its sequential scans off meanwhile")
    db_session.execute(text("SET LOCAL enable_seqscan = on"))
    ids = list(db_session.scalars(select(Study.id).order_by(Study.id).limit(3)))
    assert rendered.store(db_session, ids) == 3
    assert db_session.scalar(text("SHOW enable_seqscan")) == "on"
