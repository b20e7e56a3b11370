#!/usr/bin/env python3
"""Where `evidencedb load` spends its time, stage by stage.

    bench/load_profile.py --studies 10000 --database sqlite
    bench/load_profile.py --studies 10000 --database postgresql

Generates (or reuses) the synthetic studies, takes the first --studies lines, loads them into
a fresh database with the loader's own code and prints the wall time of each stage: reading
and validating the documents, planning the rows, building the row tuples, inserting (per
table) and committing. On PostgreSQL the insert time includes the server's work (COPY, index
maintenance, foreign-key checks), which runs in the server process.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--source", type=int, default=100_000,
                        help="size of the generated file to take the studies from")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--allocation-gc", action="store_true",
                        help="leave the garbage collector as it is (the loader runs it once "
                             "every 10 batches)")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--pg-database", default="evidencedb_load_profile",
                        help="the PostgreSQL database to (re)create and load")
    args = parser.parse_args()

    source = ROOT / "bench" / "data" / f"studies-{args.source}-seed{args.seed}.ndjson"
    if not source.exists():
        source.parent.mkdir(exist_ok=True)
        with open(source.with_suffix(".tmp"), "w") as f:
            subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--studies",
                            str(args.source), "--seed", str(args.seed)], stdout=f, check=True)
        source.with_suffix(".tmp").rename(source)
    work = Path(tempfile.mkdtemp(prefix="evidencedb-load-profile-"))
    if args.database == "sqlite":
        url = f"sqlite:///{work / 'profile.sqlite3'}"
    else:
        name = args.pg_database
        subprocess.run(["psql", "-q", args.pg_admin_url,
                        "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
                        "-c", f"CREATE DATABASE {name}"], check=True)
        url = f"postgresql+psycopg://{urllib.parse.urlsplit(args.pg_admin_url).netloc}/{name}"
    os.environ["EVIDENCEDB_DATABASE_URL"] = url

    from app import migrations
    from app.db import make_engine, make_sessionmaker
    from app.services import batch_gc, bulk, bulk_insert, load_finish

    migrations.upgrade(url)

    spent: Counter[str] = Counter()
    rows: Counter[str] = Counter()

    def timed(stage: str, fn):  # noqa: ANN001, ANN202
        def wrapper(*a, **kw):  # noqa: ANN002, ANN003, ANN202
            started = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[stage] += time.perf_counter() - started
        return wrapper

    tuples = bulk_insert.tuples
    insert = bulk._insert  # noqa: SLF001

    def insert_timed(conn, table, table_rows):  # noqa: ANN001, ANN202
        started = time.perf_counter()
        before = spent["build row tuples"]
        insert(conn, table, table_rows)
        own = time.perf_counter() - started - (spent["build row tuples"] - before)
        spent[f"insert {table.name}"] += own
        rows[table.name] += len(table_rows)

    bulk.parse = timed("read + validate documents", bulk.parse)
    bulk._plan_study = timed("plan rows", bulk._plan_study)  # noqa: SLF001
    bulk_insert.tuples = timed("build row tuples", tuples)
    bulk._insert = insert_timed  # noqa: SLF001
    load_batch = timed("load_batch (all)", bulk.load_batch)

    engine = make_engine(url)
    report = bulk.LoadReport()
    cache = bulk.new_vocab_cache()
    started = time.perf_counter()
    collection = contextlib.nullcontext(lambda: None) if args.allocation_gc \
        else batch_gc.batch_collection()
    with open(source, "rb") as f, make_sessionmaker(engine)() as session, \
            collection as after_batch:
        lines = itertools.islice(f, args.studies)
        for batch in bulk.batches(lines, 1000, report.errors):
            report.loaded += load_batch(session, batch, source=str(source), actor_id=None,
                                        vocab_cache=cache)
            after_batch()
        analyze = time.perf_counter()
        load_finish.refresh_statistics(session)
        spent["ANALYZE"] = time.perf_counter() - analyze
    total = time.perf_counter() - started
    engine.dispose()

    inserts = sum(v for k, v in spent.items() if k.startswith("insert "))
    inside = spent["load_batch (all)"]
    stages = [("read + validate documents", spent["read + validate documents"]),
              ("plan rows", spent["plan rows"]),
              ("build row tuples", spent["build row tuples"]),
              ("insert (all tables)", inserts),
              ("checks, ids, commit", inside - spent["plan rows"]
               - spent["build row tuples"] - inserts),
              ("statistics (VACUUM) ANALYZE", spent["ANALYZE"])]
    print(f"{report.loaded} studies into {args.database} in {total:.1f} s "
          f"({report.loaded / total:,.0f} studies/s, {sum(rows.values()):,} rows)")
    for name, seconds in stages:
        print(f"  {name:<28} {seconds:7.2f} s  {seconds / total * 100:5.1f} %")
    print("  insert by table:")
    for key, seconds in sorted(((k, v) for k, v in spent.items() if k.startswith("insert ")),
                               key=lambda kv: -kv[1]):
        table = key.removeprefix("insert ")
        print(f"    {table:<26} {seconds:7.2f} s  {rows[table]:>9,} rows "
              f"{rows[table] / seconds if seconds else 0:>10,.0f} rows/s")
    if report.errors:
        sys.exit(f"{len(report.errors)} batches rejected: {report.errors[0]}")


if __name__ == "__main__":
    main()
