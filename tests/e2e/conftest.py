"""A real server and a real browser for the dashboard's end-to-end tests.

The server is the toolkit's live uvicorn on a free port, against a toolkit scratch database
built with `evidencedb migrate` and `evidencedb seed` (a SQLite file, or on the PostgreSQL pass
a database named after the test database with an `_e2e` suffix). The browser is the system's
Chromium driven by Playwright; without one, every test here is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.toolkit import live_server, scratch_database

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parent.parent.parent
OUTPUT = ROOT / "test-output"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def skip_without_browser() -> None:
    """Skip the calling test module unless Playwright and a Chromium are both there."""
    pytest.importorskip("playwright.sync_api",
                        reason="Playwright for Python is not installed (pip install -e '.[test]')")
    if chromium_path() is None:
        pytest.skip("no Chromium on this machine (apt-get install -y chromium); the dashboard's "
                    "browser tests need it", allow_module_level=True)


def _cli(url: str, *args: str) -> None:
    env = {**os.environ, "EVIDENCEDB_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)


@pytest.fixture(scope="session")
def e2e_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scratch database, migrated and seeded through the command line."""
    with scratch_database(os.environ.get("EVIDENCEDB_TEST_DATABASE_URL"),
                          tmp_path_factory.mktemp("e2e"), "e2e") as url:
        _cli(url, "migrate")
        _cli(url, "seed")
        yield url


@contextmanager
def _serve(database_url: str, log_dir: Path, **settings: str) -> Iterator[str]:
    """uvicorn in a subprocess on a free port, until the block ends."""
    env = {"EVIDENCEDB_DATABASE_URL": database_url,
           **{f"EVIDENCEDB_{k.upper()}": v for k, v in settings.items()}}
    with live_server(env, ready_path="/readyz", log=log_dir / "uvicorn.log") as server:
        yield server.url


@pytest.fixture(scope="session")
def base_url(e2e_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API and dashboard, reads open to all."""
    with _serve(e2e_database_url, tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="module")
def keyed_server(e2e_database_url: str,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A second server on the same database that requires a reader key, and such a key."""
    env = {**os.environ, "EVIDENCEDB_DATABASE_URL": e2e_database_url}
    created = subprocess.run(
        [sys.executable, "-m", "app.cli", "keys", "create", "--role", "reader",
         "--name", "dashboard-e2e"], cwd=ROOT, env=env, check=True, capture_output=True,
        text=True, timeout=120)
    key = created.stdout.strip().splitlines()[-1]
    with _serve(e2e_database_url, tmp_path_factory.mktemp("keyed-server"),
                require_read_key="true") as url:
        yield url, key


@pytest.fixture(scope="module")
def limited_server(e2e_database_url: str, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[str]:
    """A server with a rate limit that the dashboard's first burst of requests exceeds: 15
    per 2-second window for the address (a page of 1,000 rows costs 11), counted in memory
    so that no other server's requests count."""
    with _serve(e2e_database_url, tmp_path_factory.mktemp("limited-server"),
                rate_limit_per_address="15", rate_limit_window_s="2",
                rate_limit_store="memory") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module: Playwright's sync API runs an event loop in this thread
    while it is open, which later tests that call asyncio.run() must not find."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS,
                              headless=True)
        yield b
        b.close()


class Dashboard:
    """A browser page on the dashboard that records console errors and failed requests."""

    def __init__(self, page: Page, base_url: str, name: str) -> None:
        self.page = page
        self.base_url = base_url
        self.name = name
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def open(self, query: str = "") -> Page:
        self.page.goto(f"{self.base_url}/{query}")
        self.wait_ready()
        return self.page

    def wait_ready(self) -> None:
        self.page.wait_for_selector("body[data-ready=true]")
        self.page.wait_for_load_state("networkidle")

    def screenshot(self, suffix: str = "") -> Path:
        OUTPUT.mkdir(exist_ok=True)
        path = OUTPUT / f"{self.name}{suffix}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def dashboard(browser: Browser, base_url: str,
              request: pytest.FixtureRequest) -> Iterator[Dashboard]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield Dashboard(page, base_url, request.node.name)
    context.close()
