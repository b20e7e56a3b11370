"""The batched write of a dump's new records stores exactly what the one-by-one write stores.

The same files (the real registry records of tests/fixtures/ctgov and variants of them that
share identifiers, publications, conditions and interventions, with a refused file and a
record given twice among them) are imported into two empty databases, once one record at a
time and once batched, and every table is read back and compared row by row; only
timestamps are left out, and a number in a stored document (an audit snapshot, say) must be
an integer or a float on both sides alike."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

import app.models  # noqa: F401  (every table in the metadata)
from app.db import Base, make_engine, make_sessionmaker
from app.interop.ctgov import dump
from app.services import dump_import, import_batch
from tests.interop_support import RECORD_NAMES, record
from tests.toolkit import migrated

VARIANTS = 40
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def variant(i: int) -> dict[str, Any]:
    """A real record with its own NCT id and title; some share a condition, some give an
    intervention a type the vocabulary disagrees with, every other one has no results."""
    rec = record(RECORD_NAMES[i % len(RECORD_NAMES)])
    protocol = rec["protocolSection"]
    protocol["identificationModule"]["nctId"] = f"NCT95{i:06d}"
    protocol["identificationModule"]["briefTitle"] += f" (variant {i})"
    protocol.setdefault("conditionsModule", {}).setdefault("conditions", []).append(
        f"Shared condition {i % 4}")
    for entry in protocol.get("armsInterventionsModule", {}).get("interventions", []):
        if i % 3 == 0 and entry["name"].casefold() == "placebo":
            entry["type"] = "OTHER"
    if i % 2 and "resultsSection" in rec:
        del rec["resultsSection"]
        rec["hasResults"] = False
    return rec


def write_files(folder: Path, *, again: bool = True) -> Path:
    folder.mkdir()
    records = [record(name) for name in RECORD_NAMES] + [variant(i) for i in range(VARIANTS)]
    for n, rec in enumerate(records):
        (folder / f"{n:03d}.json").write_text(json.dumps(rec), encoding="utf-8")
    (folder / "020-broken.json").write_text('{"protocolSection": {', encoding="utf-8")
    if again:  # a later version of a record, in the next batch
        later = variant(7)
        later["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = (
            "2026-11-30")
        (folder / "030-again.json").write_text(json.dumps(later), encoding="utf-8")
    return folder


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return "<timestamp>"
    if isinstance(value, str) and _TIMESTAMP.match(value):
        return "<timestamp>"
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return _plain(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float):  # 5.0 in a stored document is not 5
        return ("float", value)
    return getattr(value, "value", value)


def tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in primary-key order, timestamps left out."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: [tuple(_plain(v) for v in row) for row in conn.execute(
                select(t).order_by(*t.primary_key.columns))]
                for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def import_folder(url: str, folder: Path, *, batched: bool) -> tuple[Any, str, list[str]]:
    engine = make_engine(url)
    out, err = io.StringIO(), io.StringIO()
    try:
        tally = dump_import.run(make_sessionmaker(engine), dump.members([folder]),
                                dump_import.ConsoleReport(out=out, err=err), batch_size=16,
                                batched=batched)
    finally:
        engine.dispose()
    refused = [line for line in err.getvalue().splitlines() if "refused" in line]
    return tally, out.getvalue(), refused


def test_batched_import_stores_what_the_one_by_one_import_stores(scratch_databases, tmp_path):
    folder = write_files(tmp_path / "records")
    one_by_one = migrated(scratch_databases("single"))
    batched = migrated(scratch_databases("batched"))
    single_tally, single_out, single_refused = import_folder(one_by_one, folder, batched=False)
    tally, out, refused = import_folder(batched, folder, batched=True)
    created = len(RECORD_NAMES) + VARIANTS
    assert (tally.created, tally.updated, tally.refused) == (created, 1, 1)
    assert tally.counts() == single_tally.counts()
    assert (single_tally.batched, tally.batched) == (0, created)
    assert out == single_out
    assert refused == single_refused and "020-broken.json: refused" in refused[0]
    expected, got = tables(one_by_one), tables(batched)
    assert len(expected["study"]) == created
    assert len(expected["audit_entry"]) == created + 1
    assert len(expected["change"]) == created + 1  # the feed is compared too
    for name in expected:
        assert got[name] == expected[name], name


def test_rerunning_a_batched_import_writes_nothing(scratch_url, tmp_path):
    folder = write_files(tmp_path / "records", again=False)
    url = migrated(scratch_url)
    import_folder(url, folder, batched=True)
    before = tables(url)
    tally, _, _ = import_folder(url, folder, batched=True)
    assert tally.counts() == (
        f"0 created, 0 updated, {len(RECORD_NAMES) + VARIANTS} unchanged, 1 refused")
    assert tables(url) == before


def test_a_batch_that_cannot_be_written_whole_is_written_file_by_file(scratch_databases,
                                                                      tmp_path, monkeypatch):
    folder = write_files(tmp_path / "records")
    one_by_one = migrated(scratch_databases("single"))
    fallen_back = migrated(scratch_databases("fallback"))
    written = import_folder(one_by_one, folder, batched=False)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise import_batch.NotBatched("refused for the test")

    monkeypatch.setattr(import_batch, "create", refuse)
    tally, out, refused = import_folder(fallen_back, folder, batched=True)
    assert (tally.counts(), out, refused) == (written[0].counts(), written[1], written[2])
    assert tally.batched == 0
    assert tables(fallen_back) == tables(one_by_one)
