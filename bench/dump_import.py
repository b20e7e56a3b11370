"""Importing the registry's full dump: how long, how fast, how much memory, and the rerun.

Generates N registry records from the real ones in tests/fixtures/ctgov (each with its own
NCT id, title, protocol id and an extra condition; every other record that has results
loses its resultsSection), writes them into a ZIP laid out as ClinicalTrials.gov publishes
its dump (`ctg-studies/NCT….json`), runs `evidencedb import-ctgov` on it in a new process
against a scratch database, then runs it again (every record unchanged). For each run it
prints the command's summary, elapsed seconds, records/s, the peak RSS of the import
process and the CPU seconds it and its mapping worker used (their rusage, from wait4): on a
machine shared with other work, CPU time per record is the steadier figure.

    .venv/bin/python bench/dump_import.py                        # 100,000 records, SQLite
    .venv/bin/python bench/dump_import.py --records 2000
    .venv/bin/python bench/dump_import.py --records 2000 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/scratch
    .venv/bin/python bench/dump_import.py --records 300 --profile   # cProfile of the first run

A PostgreSQL database given with --postgres is emptied first: use a scratch one.
"""

from __future__ import annotations

import argparse
import os
import pstats
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import is_sqlite  # noqa: E402
from tests.toolkit.databases import reset_database  # noqa: E402

RECORDS = ROOT / "tests" / "fixtures" / "ctgov"
NAMES = ("NCT00763412", "NCT00973089", "NCT02210780", "NCT03475563", "NCT03630471",
         "NCT04207047")
CONDITIONS = ("Depression", "Anxiety", "Insomnia", "Chronic Pain", "Asthma", "Migraine",
              "Type 2 Diabetes", "Hypertension", "Obesity", "Alcohol Use Disorder")


def synthetic(base: bytes, i: int) -> bytes:
    """The i-th generated record: a real record with its identity and conditions varied."""
    record: dict[str, Any] = orjson.loads(base)
    protocol = record["protocolSection"]
    ident = protocol["identificationModule"]
    ident["nctId"] = f"NCT8{i:07d}"
    ident["briefTitle"] = f"{ident['briefTitle']} (synthetic study {i})"
    ident["orgStudyIdInfo"] = {"id": f"SYN-{i}"}
    ident.pop("secondaryIdInfos", None)
    conditions = protocol.setdefault("conditionsModule", {}).setdefault("conditions", [])
    conditions.append(f"{CONDITIONS[i % len(CONDITIONS)]} {i % 97}")
    if i % 2 and "resultsSection" in record:
        del record["resultsSection"]
        record["hasResults"] = False
    return orjson.dumps(record)


def write_dump(path: Path, count: int) -> None:
    bases = [(RECORDS / f"{name}.json").read_bytes() for name in NAMES]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i in range(count):
            archive.writestr(f"ctg-studies/NCT8{i:07d}.json", synthetic(bases[i % len(bases)], i))


def run_import(url: str, dump: Path, count: int, args: argparse.Namespace,
               profile: Path | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCEDB_")}
    env["EVIDENCEDB_DATABASE_URL"] = url
    prefix = ["-m", "cProfile", "-o", str(profile)] if profile else []
    command = [sys.executable, *prefix, "-m", "app.cli", "import-ctgov", str(dump),
               "--batch-size", str(args.batch_size), "--progress-every", str(args.every)]
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    assert proc.stdout is not None
    out = proc.stdout.read().strip().splitlines()
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    cpu = usage.ru_utime + usage.ru_stime  # with the worker it waited for
    print(f"  summary: {out[-1] if out else '(none)'} (exit {proc.returncode})")
    print(f"  {count} records in {elapsed:.1f} s: {count / elapsed:.0f} records/s, "
          f"peak RSS of the import process {peak_mb:.0f} MB, "
          f"CPU {cpu:.1f} s ({1000 * cpu / count:.2f} ms a record)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--postgres", metavar="URL",
                        help="also run against this PostgreSQL database (emptied first)")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--every", type=int, default=1000, help="progress line every N files")
    parser.add_argument("--profile", action="store_true",
                        help="run the first import under cProfile and print the top entries")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evidencedb-dump-") as tmp:
        dump = Path(tmp) / "ctg-studies.json.zip"
        started = time.monotonic()
        write_dump(dump, args.records)
        print(f"generated {args.records} records into {dump.stat().st_size / 2**20:.1f} MB "
              f"of ZIP in {time.monotonic() - started:.1f} s")
        urls = [f"sqlite:///{Path(tmp) / 'dump.sqlite3'}"]
        urls += [args.postgres] if args.postgres else []
        for url in urls:
            reset_database(url)
            kind = "SQLite" if is_sqlite(url) else "PostgreSQL"
            profile = Path(tmp) / "import.prof" if args.profile else None
            print(f"{kind}: first import")
            run_import(url, dump, args.records, args, profile)
            if profile is not None:
                stats = pstats.Stats(str(profile))
                stats.sort_stats("cumulative").print_stats(30)
                stats.sort_stats("tottime").print_stats(20)
            print(f"{kind}: rerun (every record unchanged)")
            run_import(url, dump, args.records, args)


if __name__ == "__main__":
    main()
