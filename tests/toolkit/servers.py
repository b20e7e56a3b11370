"""A real uvicorn server in a subprocess, for tests that need real connections and signals."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """A running server: its process, base URL and combined stdout/stderr log."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def live_server(env: dict[str, str], *, workers: int = 1, extra_args: tuple[str, ...] = (),
                ready_path: str = "/healthz", timeout_s: float = 60,
                log: Path | None = None) -> Iterator[LiveServer]:
    """`uvicorn app.main:create_app --factory` on a free port; stopped (SIGTERM) at the end.

    The server sees this process's environment without its EVIDENCEDB_ settings, plus `env`
    (so `{"EVIDENCEDB_DATABASE_URL": url}` picks its database). It is ready once `ready_path`
    answers 200; an early exit or no answer within `timeout_s` raises with the server's log.
    The log goes to `log` when given (kept), else to a temporary file removed at the end.
    """
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCEDB_")}
    full_env.update(env)
    keep_log = log is not None
    if log is None:
        with tempfile.NamedTemporaryFile(prefix="evidencedb-server-", suffix=".log",
                                         delete=False) as out:
            log = Path(out.name)
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
             *extra_args],
            cwd=ROOT, env=full_env, stdout=sink, stderr=subprocess.STDOUT,
        )
    server = LiveServer(proc, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{server.output()}")
            try:
                if httpx.get(f"{server.url}{ready_path}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{server.output()}")
            time.sleep(0.1)
        yield server
    finally:
        _stop(proc)
        if not keep_log:
            log.unlink(missing_ok=True)
