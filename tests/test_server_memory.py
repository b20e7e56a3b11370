"""A worker bounds glibc's malloc arenas (app.server.limit_malloc_arenas).

Run in fresh interpreters: the setting belongs to the process, and the app sets it when it is
built, before its request threads start.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

PROBE = """
import os, sys
from app.server import limit_malloc_arenas
print(limit_malloc_arenas(), os.environ.get("MALLOC_ARENA_MAX"))
"""

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")


def _probe(env_value: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    if env_value is not None:
        env["MALLOC_ARENA_MAX"] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, check=True, timeout=60)
    return out.stdout.split()


@glibc
def test_two_arenas_unless_the_environment_says_otherwise():
    assert _probe(None) == ["True", "2"]
    assert _probe("4") == ["True", "4"]


def test_a_value_that_is_not_a_number_is_left_alone():
    assert _probe("many") == ["False", "many"]


@glibc
def test_building_the_app_sets_it_for_the_workers_it_starts(database_url):
    probe = ("import os\nfrom app.main import create_app\ncreate_app()\n"
             "print(os.environ.get('MALLOC_ARENA_MAX'))")
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    env["EVIDENCEDB_DATABASE_URL"] = database_url
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                         text=True, check=True, timeout=120)
    assert out.stdout.split()[-1] == "2"
