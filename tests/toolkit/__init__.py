"""The one test toolkit: scratch databases, live servers and keys.

Every test that needs a database of its own (whose writes really commit), a real uvicorn
process, or an API key in a committed database takes it from here, so there is one way to
make each and one place to change it:

- `scratch_database(base_url, directory, suffix)` — a context manager giving an empty database
  of the test database's kind (a SQLite file in `directory`, or a PostgreSQL database named
  after the test database with `_suffix`), dropped at the end. The fixtures `scratch_databases`
  (a factory), `scratch_url` and `scratch_db` wrap it per test.
- `live_server(env)` — `uvicorn app.main:create_app --factory` in a subprocess on a free port,
  ready when `/healthz` (or another path) answers 200, stopped with SIGTERM at the end. The
  fixture `serve` starts one per call and stops them after the test.
- `run_cli(url, *args)` — `python -m app.cli ARGS` in a new process on the database at `url`,
  returning its exit code and output; `sql(url, statement)` reads back what it left there.
- `committed_key(url, role)` — a key stored in a committed database (for live servers and the
  command line), remembered in `KEYRING` so the leak guards can look for it.
"""

from tests.toolkit.commands import run_cli, sql
from tests.toolkit.databases import (
    migrated,
    reset_database,
    scratch_database,
    test_database_url,
)
from tests.toolkit.keys import KEYRING, bearer, committed_key, leaked
from tests.toolkit.servers import LiveServer, free_port, live_server

__all__ = [
    "KEYRING",
    "LiveServer",
    "bearer",
    "committed_key",
    "free_port",
    "leaked",
    "live_server",
    "migrated",
    "reset_database",
    "run_cli",
    "sql",
    "scratch_database",
    "test_database_url",
]
