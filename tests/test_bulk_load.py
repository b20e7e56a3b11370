"""Bulk loading: the same validation and the same stored study as a single write."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.models import Study
from app.schemas.study import StudyCreate
from app.services import bulk, studies
from tests.builders import study_document

VOLATILE = {"created_at", "updated_at", "key", "registry_ids", "id"}


def _comparable(doc):
    if isinstance(doc, dict):
        return {k: _comparable(v) for k, v in doc.items() if k not in VOLATILE and k != "doi"}
    if isinstance(doc, list):
        return [_comparable(v) for v in doc]
    return doc


def _lines(*docs):
    return [json.dumps(d).encode() for d in docs]


def test_a_bulk_loaded_study_reads_like_a_single_write(db_session):
    single = study_document("single-write", nct="NCT09999911")
    loaded = study_document("bulk-loaded", nct="NCT09999912")
    studies.create(db_session, StudyCreate.model_validate(single), actor_id=None)
    errors: list[bulk.BatchError] = []
    cache = bulk.new_vocab_cache()
    for batch in bulk.batches(_lines(loaded), 10, errors):
        bulk.load_batch(db_session, batch, source="test.ndjson", actor_id=None,
                        vocab_cache=cache)
    assert errors == []
    a = studies.read(db_session, "single-write")
    b = studies.read(db_session, "bulk-loaded")
    assert _comparable(a) == _comparable(b)
    assert b["registry_ids"] == [{"registry": "NCT", "identifier": "NCT09999912"}]


def test_a_bad_line_is_reported_and_only_its_batch_is_skipped(db_session):
    docs = [study_document(f"bulk-{i}", nct=f"NCT0999992{i}") for i in range(5)]
    docs[2]["arms"][0]["n_randomized"] = -3
    before = db_session.scalar(select(func.count()).select_from(Study))
    errors: list[bulk.BatchError] = []
    cache = bulk.new_vocab_cache()
    loaded = 0
    for batch in bulk.batches(_lines(*docs), 2, errors):
        loaded += bulk.load_batch(db_session, batch, source="t", actor_id=None,
                                  vocab_cache=cache)
    assert [e.line for e in errors] == [3]
    assert "arms.0.n_randomized" in str(errors[0])
    assert loaded == 3
    keys = set(db_session.scalars(select(Study.key).where(Study.key.like("bulk-%"))))
    assert keys == {"bulk-0", "bulk-1", "bulk-4"}
    assert db_session.scalar(select(func.count()).select_from(Study)) == before + 3


def test_a_conflicting_document_fails_its_batch_whole(db_session):
    docs = [study_document("bulk-ok", nct="NCT09999931"),
            study_document("bulk-clash", nct="NCT03537014")]
    errors: list[bulk.BatchError] = []
    batch = next(bulk.batches(_lines(*docs), 10, errors))
    try:
        bulk.load_batch(db_session, batch, source="t", actor_id=None,
                        vocab_cache=bulk.new_vocab_cache())
    except bulk.BatchError as exc:
        assert exc.line == 2
        assert "NCT03537014" in exc.message
    else:
        raise AssertionError("the batch should have been refused")
    assert db_session.scalar(select(func.count()).where(Study.key.like("bulk-%"))) == 0
