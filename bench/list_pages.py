#!/usr/bin/env python3
"""What the list queries of bench/run cost inside the service, without HTTP: each page read by
`app.services.studies.list_page` on a session of its own, as a request reads it.

    bench/list_pages.py --database-url sqlite:///DIR/evidencedb.sqlite3 --studies 100000
    bench/list_pages.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/NAME

The database is one that bench/run loaded (`--work DIR --keep`; on PostgreSQL the database
evidencedb_bench_<studies>). For each list query (Q2, Q3, Q5 by default) it reads --pages
parameter sets drawn at random from the query's space (fixed by --seed) after a warm-up of 20,
and prints the wall time and the CPU time of the reading thread per page, in milliseconds
(mean, p50, p90). On PostgreSQL the server's own work is in the wall time only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from queries import QUERIES  # noqa: E402

WARM_UP = 20


def _params(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (f"{1000 * statistics.fmean(values):7.2f} {1000 * statistics.median(values):7.2f} "
            f"{1000 * p90:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--studies", type=int, default=100_000,
                        help="the size the database was loaded with (the queries' spaces)")
    parser.add_argument("--queries", default="Q2,Q3,Q5")
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from sqlalchemy.orm import Session

    from app.db import make_engine
    from app.schemas.filters import StudyListParams
    from app.services import studies

    engine = make_engine(args.database_url)
    wanted = args.queries.split(",")
    print(f"{args.database_url.split(':')[0]}, {args.pages} pages per query after "
          f"{WARM_UP} to warm up; ms per page")
    print(f"{'query':<6} {'wall: mean':>10} {'p50':>7} {'p90':>7}   {'CPU: mean':>9} "
          f"{'p50':>7} {'p90':>7}")
    for query in (q for q in QUERIES if q.name in wanted):
        sets = list(query.parameter_sets(args.studies, args.seed, purpose="list_pages",
                                         limit=args.pages + WARM_UP))
        walls: list[float] = []
        cpus: list[float] = []
        for i, values in enumerate(sets):
            url = query.url("evidencedb", values) or ""
            params = StudyListParams.model_validate(_params(url))
            wall, cpu = time.perf_counter(), time.thread_time()
            with Session(engine) as session:
                studies.list_page(session, params)
            if i >= WARM_UP:
                walls.append(time.perf_counter() - wall)
                cpus.append(time.thread_time() - cpu)
        print(f"{query.name:<6} {_summary(walls):>26}   {_summary(cpus):>25}")
    engine.dispose()


if __name__ == "__main__":
    main()
