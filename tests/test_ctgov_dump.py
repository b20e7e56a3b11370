"""`evidencedb import-ctgov` on the registry's full dump (a ZIP of API v2 records, one study
per member), on folders of records, and on reruns: run as users run it, on a scratch
database, with the real registry records of tests/fixtures varied into many studies."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from tests.interop_support import RECORD_NAMES, raw
from tests.toolkit import run_cli, sql

COUNT = 30


def nct(i: int) -> str:
    return f"NCT9{i:07d}"


def study_record(i: int, *, posted: str | None = None) -> dict[str, Any]:
    """The i-th registry study: a real record (in turn) with its own NCT id and title."""
    record: dict[str, Any] = json.loads(raw(RECORD_NAMES[i % len(RECORD_NAMES)]))
    ident = record["protocolSection"]["identificationModule"]
    ident["nctId"] = nct(i)
    ident["briefTitle"] = f"{ident['briefTitle']} (dump study {i})"
    if posted is not None:
        record["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = posted
    return record


def write_dump(path: Path, records: list[dict[str, Any]],
               extra: dict[str, bytes] | None = None) -> Path:
    """A ZIP laid out as the registry publishes it: one `NCT….json` per study in a folder."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ctg-studies/", b"")
        for record in records:
            name = record["protocolSection"]["identificationModule"]["nctId"]
            archive.writestr(f"ctg-studies/{name}.json", json.dumps(record))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def summary(out: str) -> str:
    return out.strip().splitlines()[-1]


def stored(url: str) -> list[Any]:
    """Every study with its version, and the audit entries written about studies."""
    return [sql(url, "SELECT key, version FROM study ORDER BY key"),
            sql(url, "SELECT count(*) FROM audit_entry WHERE entity = 'study'")]


def test_a_dump_zip_imports_every_record(scratch_url, tmp_path):
    dump = write_dump(tmp_path / "ctg-studies.json.zip",
                      [study_record(i) for i in range(COUNT)])
    done = run_cli(scratch_url, "import-ctgov", str(dump), "--batch-size", "7")
    assert done.returncode == 0, done.stderr
    assert summary(done.stdout).startswith(
        f"{COUNT} created, 0 updated, 0 unchanged, 0 refused in ")
    assert "records/s" in summary(done.stdout)
    assert sql(scratch_url, "SELECT count(*) FROM study WHERE source_record IS NOT NULL") == [
        (COUNT,)]
    assert sql(scratch_url, "SELECT min(key), max(key) FROM study") == [(nct(0),
                                                                          nct(COUNT - 1))]
    assert sql(scratch_url, "SELECT action, count(*) FROM audit_entry GROUP BY action") == [
        ("create", COUNT)]


def test_a_second_run_of_the_same_dump_writes_nothing_and_says_so(scratch_url, tmp_path):
    dump = write_dump(tmp_path / "dump.zip", [study_record(i) for i in range(COUNT)])
    assert run_cli(scratch_url, "import-ctgov", str(dump)).returncode == 0
    before = stored(scratch_url)
    again = run_cli(scratch_url, "import-ctgov", str(dump))
    assert again.returncode == 0, again.stderr
    assert summary(again.stdout).startswith(f"0 created, 0 updated, {COUNT} unchanged, 0 refused")
    assert stored(scratch_url) == before
    assert {version for _, version in before[0]} == {1}


def test_a_rerun_after_a_partial_run_imports_only_what_is_missing(scratch_url, tmp_path):
    records = [study_record(i) for i in range(COUNT)]
    first = write_dump(tmp_path / "first.zip", records[:12])
    assert run_cli(scratch_url, "import-ctgov", str(first)).returncode == 0
    whole = write_dump(tmp_path / "whole.zip", records)
    done = run_cli(scratch_url, "import-ctgov", str(whole), "--batch-size", "5")
    assert summary(done.stdout).startswith(f"{COUNT - 12} created, 0 updated, 12 unchanged")
    assert sql(scratch_url, "SELECT count(*), max(version) FROM study") == [(COUNT, 1)]


def test_a_record_the_registry_updated_is_updated_to_version_2(scratch_url, tmp_path):
    records = [study_record(i) for i in range(COUNT)]
    assert run_cli(scratch_url, "import-ctgov",
                   str(write_dump(tmp_path / "old.zip", records))).returncode == 0
    records[4] = study_record(4, posted="2026-11-30")
    done = run_cli(scratch_url, "import-ctgov", str(write_dump(tmp_path / "new.zip", records)))
    assert done.returncode == 0, done.stderr
    assert summary(done.stdout).startswith(f"0 created, 1 updated, {COUNT - 1} unchanged")
    assert sql(scratch_url, "SELECT key FROM study WHERE version = 2") == [(nct(4),)]
    assert sql(scratch_url, "SELECT version, action FROM audit_entry WHERE entity_key = :k "
                            "ORDER BY version", k=nct(4)) == [(1, "create"),
                                                              (2, "import-update")]
    [(date,)] = sql(scratch_url, "SELECT source_record FROM study WHERE key = :k", k=nct(4))
    record = date if isinstance(date, dict) else json.loads(date)
    assert record["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] == (
        "2026-11-30")


def test_bad_members_are_reported_by_name_and_the_rest_import(scratch_url, tmp_path):
    untitled = study_record(COUNT + 1)
    del untitled["protocolSection"]["identificationModule"]["briefTitle"]
    untitled["protocolSection"]["identificationModule"].pop("officialTitle", None)
    legacy = json.loads(raw("NCT00763412"))
    legacy = {"FullStudiesResponse": {"FullStudies": [{"Study": legacy}]}}
    dump = write_dump(tmp_path / "dump.zip", [study_record(i) for i in range(COUNT)], extra={
        "ctg-studies/NCT90000900.json": b'{"protocolSection": {',
        "ctg-studies/NCT90000901.json": json.dumps(untitled).encode(),
        "ctg-studies/NCT90000902.json": json.dumps(legacy).encode(),
        "ctg-studies/README.txt": b"not a record, not read"})
    done = run_cli(scratch_url, "import-ctgov", str(dump), "--batch-size", "8")
    assert done.returncode != 0
    for member in ("NCT90000900", "NCT90000901", "NCT90000902"):
        assert f"{dump}:ctg-studies/{member}.json: refused" in done.stderr
    assert "README" not in done.stderr
    assert "not JSON" in done.stderr and "(422)" in done.stderr
    assert f"3 of {COUNT + 3} files refused" in done.stderr
    assert summary(done.stdout).startswith(f"{COUNT} created, 0 updated, 0 unchanged, 3 refused")
    assert sql(scratch_url, "SELECT count(*) FROM study") == [(COUNT,)]
    # The change feed holds the created studies only, numbered 1… without a gap, each with
    # the audit entry of its own write.
    changes = sql(scratch_url, "SELECT c.seq, c.study_key, c.action, a.entity_key "
                               "FROM change c JOIN audit_entry a ON a.id = c.audit_entry_id "
                               "ORDER BY c.seq")
    assert [c[0] for c in changes] == list(range(1, COUNT + 1))
    assert sorted(c[1] for c in changes) == sorted(nct(i) for i in range(COUNT))
    assert {(c[2], c[1] == c[3]) for c in changes} == {("create", True)}


def test_a_curated_study_with_a_dump_nct_id_is_refused_and_the_others_import(scratch_url,
                                                                             tmp_path):
    assert run_cli(scratch_url, "seed").returncode == 0
    [(curated_version,)] = sql(scratch_url,
                               "SELECT version FROM study WHERE key = 'NCT03537014'")
    audits = sql(scratch_url, "SELECT count(*) FROM audit_entry")
    clash = study_record(5)
    clash["protocolSection"]["identificationModule"]["nctId"] = "NCT03537014"
    records = [study_record(i) for i in range(COUNT) if i != 5] + [clash]
    done = run_cli(scratch_url, "import-ctgov", str(write_dump(tmp_path / "dump.zip", records)))
    assert done.returncode != 0
    assert "dump.zip:ctg-studies/NCT03537014.json: refused (409)" in done.stderr
    assert "curated study" in done.stderr
    assert f"1 of {COUNT} files refused" in done.stderr
    # A curated study keeps its version and has no stored record (JSON null).
    [(version, record)] = sql(scratch_url, "SELECT version, source_record FROM study "
                                           "WHERE key = 'NCT03537014'")
    assert (version, record in (None, "null")) == (curated_version, True)
    assert sql(scratch_url, "SELECT count(*) FROM study WHERE key LIKE 'NCT9%'") == [
        (COUNT - 1,)]
    [(after,)] = sql(scratch_url, "SELECT count(*) FROM audit_entry")
    assert after == audits[0][0] + COUNT - 1


def test_a_folder_with_nested_folders_imports_every_file_and_zip(scratch_url, tmp_path):
    top = tmp_path / "records"
    for i in range(COUNT):
        folder = top / f"part{i % 3}" / ("deeper" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{nct(i)}.json").write_text(json.dumps(study_record(i)), encoding="utf-8")
    (top / "notes.txt").write_text("not a record", encoding="utf-8")
    write_dump(top / "part1" / "more.zip", [study_record(i) for i in range(COUNT, COUNT + 5)])
    done = run_cli(scratch_url, "import-ctgov", str(top))
    assert done.returncode == 0, done.stderr
    assert summary(done.stdout).startswith(f"{COUNT + 5} created, 0 updated, 0 unchanged")
    assert sql(scratch_url, "SELECT count(*) FROM study") == [(COUNT + 5,)]
    again = run_cli(scratch_url, "import-ctgov", str(top))
    assert summary(again.stdout).startswith(f"0 created, 0 updated, {COUNT + 5} unchanged")


def test_progress_is_reported_every_n_files(scratch_url, tmp_path):
    dump = write_dump(tmp_path / "dump.zip", [study_record(i) for i in range(12)])
    done = run_cli(scratch_url, "import-ctgov", str(dump), "--progress-every", "5")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.endswith(" s)")]
    assert [line.split(":")[0] for line in lines] == ["5 files", "10 files"]
    assert lines[0].startswith("5 files: 5 created, 0 updated, 0 unchanged, 0 refused")
