"""Bulk loading: the study read back is the document given, the same as a single write."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
from sqlalchemy import func, select

from app.models import Study, StudyCondition
from app.schemas.study import StudyCreate
from app.services import bulk, bulk_insert, studies
from app.services.vocab import fold
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


def _differences(given, read, where="") -> list[str]:
    """Where `read` does not hold what `given` says (read may add server fields)."""
    if isinstance(given, dict):
        if not isinstance(read, dict):
            return [f"{where}: {read!r} is not an object"]
        return [d for k, v in given.items()
                for d in (_differences(v, read[k], f"{where}.{k}") if k in read
                          else [f"{where}.{k}: missing"])]
    if isinstance(given, list):
        if not isinstance(read, list) or len(read) != len(given):
            return [f"{where}: {read!r} has not {len(given)} items"]
        return [d for i, (g, r) in enumerate(zip(given, read, strict=True))
                for d in _differences(g, r, f"{where}[{i}]")]
    return [] if given == read else [f"{where}: {read!r} != {given!r}"]


def test_a_bulk_loaded_study_reads_back_as_the_document_given(db_session):
    # Checked against the document itself, not against another write path's answer.
    given = study_document("bulk-as-given", nct="NCT09999913")
    errors: list[bulk.BatchError] = []
    for batch in bulk.batches(_lines(given), 10, errors):
        bulk.load_batch(db_session, batch, source="test.ndjson", actor_id=None,
                        vocab_cache=bulk.new_vocab_cache())
    assert errors == []
    read = studies.read(db_session, "bulk-as-given")
    effects = read["outcome_measures"][0]["effects"]
    reported = [e for e in effects if e["origin"] == "REPORTED"]
    computed = [e for e in effects if e["origin"] == "COMPUTED"]
    read["outcome_measures"][0]["effects"] = reported
    assert _differences(given, read) == []
    # The results (28, 20.5, 10.1 against 27, 30.2, 11.0; lower is better) also give a
    # computed Hedges' g, by hand: pooled SD, d, J = 1 - 3/(4·df - 1), and
    # var(g) = J²·(1/n1 + 1/n2 + d²/(2·(n1 + n2))).
    pooled_sd = math.sqrt((27 * 10.1**2 + 26 * 11.0**2) / 53)
    d, j = (30.2 - 20.5) / pooled_sd, 1 - 3 / (4 * 53 - 1)
    se = j * math.sqrt(1 / 28 + 1 / 27 + d * d / (2 * 55))
    assert [(e["effect_type"], e["value"], e["se"]) for e in computed] == [
        ("HEDGES_G", pytest.approx(j * d, abs=1e-12), pytest.approx(se, abs=1e-12))]


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


def test_a_batch_whose_rows_refer_to_a_missing_row_is_refused_whole(db_session):
    # The loader's vocabulary cache is trusted for ids; one naming a condition that is not
    # stored must not give a study that refers to nothing, whichever way the database checks.
    doc = study_document("bulk-dangling", nct="NCT09999941")
    cache = bulk.new_vocab_cache()
    cache["condition"][fold(doc["conditions"][0])] = 987_654_321
    errors: list[bulk.BatchError] = []
    batch = next(bulk.batches(_lines(doc), 10, errors))
    with pytest.raises((bulk_insert.DanglingReference, sqlite3.IntegrityError)):
        bulk.load_batch(db_session, batch, source="t", actor_id=None, vocab_cache=cache)
    assert db_session.scalar(select(func.count()).where(Study.key == "bulk-dangling")) == 0
    assert db_session.scalar(select(func.count()).select_from(StudyCondition)
                             .where(StudyCondition.condition_id == 987_654_321)) == 0


def test_reading_ahead_gives_the_batches_and_errors_of_a_plain_read_in_line_order():
    docs = [study_document(f"ahead-{i}", nct=f"NCT0999995{i}") for i in range(9)]
    for bad in (1, 5, 6):
        docs[bad]["arms"][0]["n_randomized"] = -bad
    lines = _lines(*docs)
    plain_errors: list[bulk.BatchError] = []
    plain = [[line for line, _ in b] for b in bulk.batches(lines, 2, plain_errors)]
    ahead_errors: list[bulk.BatchError] = []
    seen_errors = []
    ahead = []
    for batch in bulk.read_ahead(lines, 2, ahead_errors):
        seen_errors.append([e.line for e in ahead_errors])
        ahead.append([line for line, _ in batch])
    assert plain == ahead == [[3, 4], [9]]
    assert [e.line for e in ahead_errors] == [e.line for e in plain_errors] == [2, 6, 7]
    # A batch arrives after the errors of the lines before it, never with later ones.
    assert seen_errors == [[2], [2, 6, 7]]
