"""The `evidencedb` command run as users run it: a new process on a scratch database (a SQLite
file, or a PostgreSQL database when the suite runs on PostgreSQL), on small data.

What each command did is read back with plain SQL or over HTTP from `evidencedb serve`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.builders import study_document
from tests.interop_support import RECORDS_DIR
from tests.toolkit import KEYRING, free_port, run_cli, sql

ROOT = Path(__file__).resolve().parent.parent
SEEDED = len(list((ROOT / "seed_data" / "studies").glob("*.json")))


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr or result.stdout
    return result.stdout


# Live studies without a render at their current version (app.services.rendered).
UNRENDERED = ("SELECT count(*) FROM study s LEFT JOIN study_render r ON r.study_id = s.id "
              "AND r.version = s.version WHERE s.deleted_at IS NULL AND r.study_id IS NULL")


def test_migrate_builds_the_schema_and_is_idempotent(scratch_url):
    assert "migrated to head" in ok(run_cli(scratch_url, "migrate"))
    [(version,)] = sql(scratch_url, "SELECT version_num FROM alembic_version")
    assert version
    assert sql(scratch_url, "SELECT count(*) FROM study") == [(0,)]
    assert "migrated to head" in ok(run_cli(scratch_url, "migrate"))
    assert sql(scratch_url, "SELECT version_num FROM alembic_version") == [(version,)]


def test_seed_loads_every_seed_study_once(scratch_url):
    first = ok(run_cli(scratch_url, "seed"))
    assert f"seed: {SEEDED} studies created, 0 already stored" in first
    assert sql(scratch_url, "SELECT count(*) FROM study") == [(SEEDED,)]
    again = ok(run_cli(scratch_url, "seed"))
    assert f"seed: 0 studies created, {SEEDED} already stored" in again
    assert sql(scratch_url, "SELECT count(*) FROM study") == [(SEEDED,)]
    assert sql(scratch_url, "SELECT count(*) FROM study WHERE retracted = :t", t=True) == [(2,)]


def test_keys_create_list_and_revoke(scratch_url):
    created = run_cli(scratch_url, "keys", "create", "--role", "curator", "--name",
                      "dana@example.org")
    lines = ok(created).strip().splitlines()
    token = lines[-1].strip()
    KEYRING.append(token)
    assert "created curator key" in lines[0] and "dana@example.org" in lines[0]
    [(key_id, prefix, digest, role, revoked)] = sql(
        scratch_url, "SELECT id, prefix, key_hash, role, revoked_at FROM api_key")
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(prefix) and role == "CURATOR" and revoked is None
    listed = ok(run_cli(scratch_url, "keys", "list"))
    assert prefix in listed and "dana@example.org" in listed and "curator" in listed
    assert token not in listed and digest not in listed
    assert f"revoked key {key_id}" in ok(run_cli(scratch_url, "keys", "revoke", prefix))
    [(revoked_at,)] = sql(scratch_url, "SELECT revoked_at FROM api_key")
    assert revoked_at is not None
    unknown = run_cli(scratch_url, "keys", "revoke", "nosuchprefix")
    assert unknown.returncode != 0 and "not revoked" in unknown.stderr
    bad_role = run_cli(scratch_url, "keys", "create", "--role", "owner", "--name", "x")
    assert bad_role.returncode == 2
    assert sql(scratch_url, "SELECT count(*) FROM api_key") == [(1,)]


def test_load_takes_the_valid_batches_and_reports_the_refused_one(scratch_url, tmp_path):
    mixed = study_document("cli-mixed", "NCT09994403")
    mixed["publications"][0].update({"retraction_status": "RETRACTED",
                                     "retraction_date": "2024-01-15"})
    mixed["publications"].append({"ref": "second", "role": "SECONDARY",
                                  "doi": "10.9999/cli-mixed.second", "title": "Second"})
    results = mixed["outcome_measures"][0]["results"]
    results[1]["sources"].append({"publication": "second", "locator": "Table 3"})
    bad = study_document("cli-bad", "NCT09994404", enrollment=-5)
    lines = [study_document("cli-one", "NCT09994401"), study_document("cli-two", "NCT09994402"),
             mixed, bad]
    path = tmp_path / "studies.ndjson"
    path.write_text("".join(json.dumps(d) + "\n" for d in lines), encoding="utf-8")
    result = run_cli(scratch_url, "load", str(path), "--batch-size", "2")
    assert result.returncode == 1
    assert "loaded 2 studies" in result.stdout and "1 rejected" in result.stdout
    assert "line 4" in result.stderr and "its batch was not loaded" in result.stderr
    keys = [k for (k,) in sql(scratch_url, "SELECT key FROM study ORDER BY key")]
    assert keys == ["cli-one", "cli-two"]
    assert sql(scratch_url, "SELECT count(*) FROM study_render") == [(2,)]
    assert sql(scratch_url, UNRENDERED) == [(0,)]
    assert sql(scratch_url, "SELECT action, actor_id, entity_key FROM audit_entry") == [
        ("bulk-load", None, str(path))]

    path.write_text(json.dumps(mixed) + "\n", encoding="utf-8")
    assert "loaded 1 studies" in ok(run_cli(scratch_url, "load", str(path)))
    flags = sql(scratch_url,
                "SELECT a.label, r.retracted FROM outcome_result r JOIN arm a ON a.id = r.arm_id "
                "JOIN study s ON s.id = a.study_id WHERE s.key = 'cli-mixed' ORDER BY a.label")
    assert [(label, bool(f)) for label, f in flags] == [("Drug", True), ("Placebo", False)]


def test_import_ctgov_imports_records_and_refuses_a_legacy_one(scratch_url):
    record = RECORDS_DIR / "NCT03475563.json"
    out = ok(run_cli(scratch_url, "import-ctgov", str(record)))
    assert "NCT03475563 created as" in out
    [(key, has_record)] = sql(scratch_url,
                              "SELECT key, source_record IS NOT NULL FROM study")
    assert has_record
    again = ok(run_cli(scratch_url, "import-ctgov", str(record)))
    assert f"NCT03475563 updated as {key}" in again
    legacy = run_cli(scratch_url, "import-ctgov", str(RECORDS_DIR / "legacy-NCT04780763.json"))
    assert legacy.returncode != 0
    assert "refused" in legacy.stderr and "1 of 1 files refused" in legacy.stderr
    assert sql(scratch_url, "SELECT count(*) FROM study") == [(1,)]


def _slow_headers_answer(port: int) -> tuple[bytes, float]:
    """Send a request line and headers a piece at a time, never finishing; what came back and
    after how long."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as conn:
        started = time.monotonic()
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        with contextlib.suppress(OSError):
            for _ in range(40):
                time.sleep(0.25)
                conn.sendall(b"X-Slow: 1\r\n")
        with contextlib.suppress(OSError):
            while chunk := conn.recv(4096):
                answer += chunk
        return answer, time.monotonic() - started


def test_serve_migrates_seeds_and_answers_then_stops_on_sigterm(scratch_url):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCEDB_")}
    env["EVIDENCEDB_DATABASE_URL"] = scratch_url
    env["EVIDENCEDB_HEADER_READ_TIMEOUT_S"] = "2"
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("evidencedb serve did not become ready")
            time.sleep(0.2)
        body = httpx.get(f"{base}/api/v1/studies?count_total=true&page_size=1",
                         timeout=10).json()
        assert body["total_count"] == SEEDED
        assert httpx.get(f"{base}/api/v1/studies/NCT03537014", timeout=10).status_code == 200
        # Headers that never finish: a 408 and a closed connection at the deadline, not a
        # connection held for as long as the client likes.
        answer, took = _slow_headers_answer(port)
        assert took < 8, took
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:80]
        # A long poll of the change feed in flight when SIGTERM comes answers its empty page
        # then, instead of holding the shutdown up until its wait runs out (and being cut).
        head = httpx.get(f"{base}/api/v1/changes", params={"tail": 1},
                         timeout=10).json()["next_cursor"]
        polled: list[httpx.Response] = []
        poll = threading.Thread(target=lambda: polled.append(httpx.get(
            f"{base}/api/v1/changes", params={"since": head, "wait": 60}, timeout=90)))
        poll.start()
        time.sleep(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    # A graceful stop: uvicorn finishes, then re-raises the signal it caught.
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Finished server process" in output, output
    poll.join(timeout=90)
    assert [(p.status_code, p.json()) for p in polled] == [
        (200, {"items": [], "next_cursor": head})], output
    assert sql(scratch_url, "SELECT count(*) FROM study") == [(SEEDED,)]


def _children(pid: int) -> list[int]:
    """The processes `pid` started and that still run (Linux's /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{p}").exists() and "Z" not in _state(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def _state(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return "Z"


BUSY_WORKER = """
import time
from app.services import workers
pool = workers.pool()
pool.submit(time.sleep, 120)
time.sleep(1)
print("busy", flush=True)
time.sleep(120)
"""


def test_a_busy_worker_process_exits_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", BUSY_WORKER], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "busy"
        started = _children(parent.pid)
        assert started, "the pool started its worker"
    finally:
        parent.kill()
        parent.wait(timeout=30)
    assert _gone(started, within=10), f"still running: {started}"


def test_a_load_killed_mid_run_keeps_whole_batches_and_a_rerun_resumes(scratch_url, tmp_path):
    docs = [study_document(f"kill-{i:04d}", f"NCT098{i:05d}") for i in range(400)]
    path = tmp_path / "many.ndjson"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    ok(run_cli(scratch_url, "migrate"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCEDB_")}
    env["EVIDENCEDB_DATABASE_URL"] = scratch_url
    loader = subprocess.Popen([sys.executable, "-m", "app.cli", "load", str(path),
                               "--batch-size", "20"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while loader.poll() is None and time.monotonic() < deadline:
        if sql(scratch_url, "SELECT count(*) FROM study")[0][0] >= 20:
            break
        time.sleep(0.01)
    workers = _children(loader.pid)
    loader.send_signal(signal.SIGKILL)
    loader.wait(timeout=60)
    # Its renderer (a worker process) goes with it rather than waiting forever.
    assert _gone(workers, within=15), f"workers still running: {workers}"
    [(count,)] = sql(scratch_url, "SELECT count(*) FROM study")
    # Whole batches only, each with its audit entry.
    assert count % 20 == 0
    assert sql(scratch_url, "SELECT count(*) FROM audit_entry WHERE action = 'bulk-load'") == [
        (count // 20,)]
    out = ok(run_cli(scratch_url, "load", str(path), "--batch-size", "20"))
    assert (f"resuming: {count} studies of this file" in out if count
            else "starting clean" in out), out
    assert f"loaded {400 - count} studies" in out
    keys = [k for (k,) in sql(scratch_url, "SELECT key FROM study ORDER BY key")]
    assert keys == [d["key"] for d in docs]
    # The killed run's batches are rendered too, whether or not its worker got to them.
    assert sql(scratch_url, UNRENDERED) == [(0,)]
    # The feed has one create per loaded study, numbered without a gap across the killed
    # run and the resumed one, each pointing at its batch's audit entry.
    changes = sql(scratch_url, "SELECT c.seq, c.study_key, a.action FROM change c "
                               "JOIN audit_entry a ON a.id = c.audit_entry_id ORDER BY c.seq")
    assert [c[0] for c in changes] == list(range(1, 401))
    assert sorted(c[1] for c in changes) == keys
    assert {c[2] for c in changes} == {"bulk-load"}
    again = ok(run_cli(scratch_url, "load", str(path), "--batch-size", "50"))
    assert "resuming: 400 studies of this file" in again and "loaded 0 studies" in again
    # Another file of the same name is not this one: it starts clean.
    path.write_text(json.dumps(study_document("kill-new", "NCT09899999")) + "\n",
                    encoding="utf-8")
    fresh = ok(run_cli(scratch_url, "load", str(path)))
    assert "starting clean" in fresh and "loaded 1 studies" in fresh
