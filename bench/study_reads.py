#!/usr/bin/env python3
"""Single studies read by key over HTTP, each request a different study: `GET /studies/{key}`
(the study's own read, every part) beside bench/run's Q1 (the same study as a list page with
arms, outcomes and timepoints).

    bench/study_reads.py --database-url sqlite:///DIR/evidencedb.sqlite3 --studies 100000
    bench/study_reads.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/NAME

The database holds the studies of `bench/generate.py --studies N` (registry ids NCT90000000
onwards), loaded by bench/run (`--work DIR --keep`) or by `evidencedb load`. The service runs
from this checkout with --workers uvicorn workers; wrk (bench/traffic.lua) drives it with
--connections connections for --duration seconds per read after a warm-up of 3 s that walks
the keys from the other end. It prints req/s, p50 and p99 (ms) and non-2xx answers per read.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
READS = {"study": ("/api/v1/studies/", ""),
         "Q1": ("/api/v1/studies?registry_id=", "&include=arms,outcomes,timepoints")}


def _paths(folder: Path, name: str, keys: list[str]) -> Path:
    path = folder / f"{name}.paths"
    path.write_text("\t".join(READS[name]) + "\n" + "".join(f"{k}\n" for k in keys))
    return path


def _wrk(base: str, paths: Path, args: argparse.Namespace, duration: int,
         reverse: bool = False) -> str:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s", "--latency",
           "--timeout", "10s", "-s", str(ROOT / "bench" / "traffic.lua"), base, "--",
           str(paths), str(args.threads), *(["reverse"] if reverse else [])]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def _ms(out: str, label: str) -> float:
    m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not m:
        return float("nan")
    value = float(m[1])
    return value / 1000 if m[2] == "us" else value * 1000 if m[2] == "s" else value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=30_000, help="distinct studies asked for")
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    keys = [f"NCT{90000000 + i:08d}"
            for i in rng.sample(range(args.studies), min(args.keys, args.studies))]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("EVIDENCEDB_")},
           "EVIDENCEDB_DATABASE_URL": args.database_url, "EVIDENCEDB_LOG_LEVEL": "warning",
           # One client address sends every request: a per-address limit would refuse it.
           "EVIDENCEDB_RATE_LIMIT_PER_ADDRESS": "0", "PYTHONPATH": str(ROOT)}
    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host",
             "127.0.0.1", "--port", str(args.port), "--workers", str(args.workers),
             "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    sys.exit("the service did not become ready")
                time.sleep(0.3)
            print(f"{'read':<6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
            for name in READS:
                paths = _paths(Path(folder), name, keys)
                _wrk(base, paths, args, 3, reverse=True)
                out = _wrk(base, paths, args, args.duration)
                rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
                bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
                print(f"{name:<6} {rps:>8.1f} {_ms(out, '50'):>8.1f} {_ms(out, '99'):>8.1f} "
                      f"{int(bad[1]) if bad else 0:>8}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
