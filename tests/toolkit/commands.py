"""The `evidencedb` command line run as users run it: a new process on a chosen database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import text

from app.db import make_engine

ROOT = Path(__file__).resolve().parent.parent.parent


def run_cli(database_url: str, *args: str, env: dict[str, str] | None = None,
            stdin: str | None = None, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    """`python -m app.cli ARGS` with EVIDENCEDB_DATABASE_URL set to `database_url` (and `env`
    added), from the repository root; the result carries returncode, stdout and stderr.

    The process sees this environment without its EVIDENCEDB_ settings, so nothing of the
    test run's own configuration leaks into the command.
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCEDB_")}
    full_env["EVIDENCEDB_DATABASE_URL"] = database_url
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=full_env,
                          input=stdin, capture_output=True, text=True, timeout=timeout_s,
                          check=False)


def sql(database_url: str, statement: str, **params: Any) -> list[Any]:
    """The rows of one SQL statement on the database at `database_url` (what a command left
    there), read on a connection of its own."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(statement), params).all())
    finally:
        engine.dispose()
