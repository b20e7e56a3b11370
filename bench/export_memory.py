"""Memory of a streamed export: does the server stay flat while it sends 100,000 studies?

Builds a scratch database of synthetic studies (rows inserted directly with SQLAlchemy Core:
a benchmark fixture, not curated data), starts the API under uvicorn in a subprocess, streams
/api/v1/export/studies.csv while sampling the server's resident memory, and prints rows,
bytes, seconds and RSS before / peak / after.

    .venv/bin/python bench/export_memory.py                  # 100,000 studies, SQLite
    .venv/bin/python bench/export_memory.py --studies 200000 --path /api/v1/export/studies.ndjson
    .venv/bin/python bench/export_memory.py --database-url postgresql+psycopg://…/scratch

A PostgreSQL database given with --database-url is emptied first: use a scratch one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import migrations  # noqa: E402
from app.db import is_sqlite, make_engine  # noqa: E402
from app.models import (  # noqa: E402
    Arm,
    ArmIntervention,
    Condition,
    Intervention,
    RegistryId,
    Study,
    StudyCondition,
    StudyCountry,
)
from tests.toolkit.databases import reset_database  # noqa: E402

PHASES = ["PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA"]
STATUSES = ["COMPLETED", "RECRUITING", "TERMINATED", "ACTIVE_NOT_RECRUITING"]
COUNTRIES = ["United States", "Canada", "Israel", "Germany", "Australia"]


def build(url: str, n: int, batch: int = 5000) -> None:
    reset_database(url)
    migrations.upgrade(url)
    engine = make_engine(url)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(insert(Condition), [{"name": f"Condition {i}", "synonyms": []}
                                         for i in range(50)])
        conn.execute(insert(Intervention), [{"name": f"Drug {i}", "type": "DRUG",
                                             "synonyms": []} for i in range(200)])
        cond_ids = list(conn.scalars(select(Condition.id)))
        int_ids = list(conn.scalars(select(Intervention.id)))
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        with engine.begin() as conn:
            conn.execute(insert(Study), [{
                "id": i + 1, "key": f"SYN{i:07d}",
                "title": f"Synthetic randomized trial number {i} of a test drug for a condition",
                "study_type": "RCT", "phase": PHASES[i % 5], "overall_status": STATUSES[i % 4],
                "allocation": "RANDOMIZED", "masking": "DOUBLE", "start_date": "2020-01",
                "start_date_sort": 20200100, "enrollment": 50 + i % 500,
                "enrollment_type": "ACTUAL", "sponsor": f"Sponsor {i % 97}",
                "summary": "A synthetic study for the export benchmark. " * 4,
                "countries": [COUNTRIES[i % 5], COUNTRIES[(i + 2) % 5]],
                "follow_up_months_max": float(i % 36), "has_results": bool(i % 2),
                "retracted": False, "search_text": f"synthetic trial {i}", "version": 1,
                "created_at": now, "updated_at": now} for i in range(start, stop)])
            conn.execute(insert(RegistryId), [
                {"study_id": i + 1, "registry": "NCT", "identifier": f"NCT9{i:07d}"}
                for i in range(start, stop)])
            conn.execute(insert(StudyCondition), [
                {"study_id": i + 1, "condition_id": cond_ids[i % len(cond_ids)],
                 "position": 0, "label": f"Condition {i % len(cond_ids)}"}
                for i in range(start, stop)])
            conn.execute(insert(StudyCountry), [
                {"study_id": i + 1, "country": COUNTRIES[i % 5]} for i in range(start, stop)])
            conn.execute(insert(Arm), [
                {"id": i + 1, "study_id": i + 1, "position": 0, "label": "Drug",
                 "arm_type": "EXPERIMENTAL", "n_randomized": 25} for i in range(start, stop)])
            conn.execute(insert(ArmIntervention), [
                {"arm_id": i + 1, "study_id": i + 1,
                 "intervention_id": int_ids[i % len(int_ids)], "position": 0,
                 "label": f"Drug {i % len(int_ids)}"} for i in range(start, stop)])
    if not is_sqlite(url):
        with engine.begin() as conn:
            for table in ("study", "arm"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
            conn.execute(text("ANALYZE"))
    engine.dispose()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--database-url", help="scratch database (emptied); default SQLite")
    parser.add_argument("--path", default="/api/v1/export/studies.csv")
    parser.add_argument("--reuse", action="store_true", help="skip building the database")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="evidencedb-bench-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        if not args.reuse:
            started = time.perf_counter()
            build(url, args.studies)
            print(f"built {args.studies:,} studies in {time.perf_counter() - started:.1f} s")
        port = free_port()
        env = {**os.environ, "EVIDENCEDB_DATABASE_URL": url}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
             "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            httpx.get(f"{base}/api/v1/studies?page_size=10")  # warm up imports and pool
            before = rss_kib(server.pid)
            peak = before
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, rss_kib(server.pid))
                    time.sleep(0.01)

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.perf_counter()
            size = lines = 0
            with httpx.stream("GET", f"{base}{args.path}", timeout=None) as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            seconds = time.perf_counter() - started
            done.set()
            sampler.join()
            after = rss_kib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)
    rows = lines - (1 if args.path.endswith(".csv") else 0)
    print(f"export   {args.path} on {url.split(':', 1)[0]}")
    print(f"rows     {rows:,}")
    print(f"bytes    {size:,} ({size / 2**20:.1f} MiB)")
    print(f"seconds  {seconds:.1f} ({rows / seconds:,.0f} rows/s)")
    print(f"RSS      before {before / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB, "
          f"after {after / 1024:.1f} MiB (peak − before {(peak - before) / 1024:.1f} MiB)")


if __name__ == "__main__":
    main()
