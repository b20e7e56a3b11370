"""The dashboard's "What changed" panel in a real headless Chromium against a real server.

The server runs on a database of its own (migrated, not seeded), so the changes are exactly
the writes these tests make through the API with a curator key: the panel lists the newest
changes for the current filters, newest first, a filter narrows it, and a write made while
the page is open appears without a reload.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from tests.authkit import API
from tests.builders import study_document
from tests.e2e.conftest import Dashboard, _cli, _serve, skip_without_browser
from tests.toolkit import bearer, committed_key, scratch_database

skip_without_browser()

LIST = "#changes-list"


class Writer:
    """Writes studies through the API of the server under test, as a curator."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = bearer(token)
        self.etags: dict[str, str] = {}

    def create(self, key: str, nct: str, **fields: object) -> None:
        response = httpx.post(f"{self.url}{API}/studies", json=study_document(key, nct, **fields),
                              headers=self.headers)
        assert response.status_code == 201, response.text
        self.etags[key] = response.headers["etag"]

    def patch(self, key: str, **fields: object) -> None:
        response = httpx.patch(f"{self.url}{API}/studies/{key}", json=fields,
                               headers={**self.headers, "If-Match": self.etags[key]})
        assert response.status_code == 200, response.text
        self.etags[key] = response.headers["etag"]

    def tail(self, count: int, **filters: str) -> list[dict]:
        response = httpx.get(f"{self.url}{API}/changes", params={"tail": count, **filters})
        assert response.status_code == 200, response.text
        return response.json()["items"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Writer]]:
    """A server on a migrated database of this module's own, and a curator writing to it."""
    with scratch_database(os.environ.get("EVIDENCEDB_TEST_DATABASE_URL"),
                          tmp_path_factory.mktemp("e2e-changes"), "e2e_changes") as url:
        _cli(url, "migrate")
        writer_key = committed_key(url, "curator", name="dashboard changes e2e")
        with _serve(url, tmp_path_factory.mktemp("changes-server")) as base_url:
            yield base_url, Writer(base_url, writer_key)


@pytest.fixture
def dashboard(browser, served, request: pytest.FixtureRequest) -> Iterator[Dashboard]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield Dashboard(page, served[0], request.node.name)
    context.close()


@pytest.fixture
def writer(served) -> Writer:
    return served[1]


def shown(page) -> list[dict]:
    """The panel's changes, top to bottom, once it is not loading."""
    page.wait_for_function(f"() => !document.querySelector('{LIST}[aria-busy]')")
    return page.locator(f"{LIST} li[data-change]").evaluate_all("""items => items.map(li => ({
        id: Number(li.dataset.change), action: li.dataset.action,
        study: (li.querySelector('a[data-study]') || {dataset: {}}).dataset.study || null,
        at: li.querySelector('time').getAttribute('datetime'), text: li.innerText}))""")


def shown_studies(page) -> set[str]:
    return {c["study"] for c in shown(page)}


def wait_live(page) -> None:
    page.wait_for_function("() => document.querySelector('#changes-status').textContent "
                           "=== 'Updating live'")


def is_long_poll(request) -> bool:
    return "/changes?" in request.url and "wait=" in request.url


def wait_top(page, study: str, action: str) -> None:
    page.wait_for_function(
        "([list, study, action]) => { const top = document.querySelector(list + ' li');"
        " return top && top.dataset.action === action"
        " && top.querySelector(`a[data-study='${study}']`); }", arg=[LIST, study, action])


def test_the_panel_lists_the_newest_changes_newest_first_and_links_their_studies(
        dashboard, writer):
    writer.create("chg-a", "NCT09997701")
    writer.create("chg-b", "NCT09997702", phase="PHASE3")
    writer.patch("chg-a", enrollment=75)
    page = dashboard.open()
    wait_top(page, "chg-a", "update")
    items = shown(page)
    newest = writer.tail(20)
    assert [c["id"] for c in items] == [c["id"] for c in reversed(newest)]
    top, second, third = items[:3]
    assert (top["study"], top["action"], second["study"], third["study"]) == (
        "chg-a", "update", "chg-b", "chg-a")
    assert "Updated" in top["text"] and "version 2" in top["text"]
    assert "enrollment" in top["text"]
    assert "Created" in second["text"] and "version 1" in second["text"]
    assert top["at"] == newest[-1]["at"]
    assert page.locator("#changes h2").inner_text() == "What changed"
    assert page.get_attribute(LIST, "aria-live") == "polite"

    page.locator(f"{LIST} a[data-study=chg-b]").click()
    page.wait_for_selector("#study-body dl.facts")
    assert "chg-b" in page.locator("#study-title").inner_text()
    assert "study=chg-b" in page.url
    dashboard.screenshot()
    assert dashboard.errors == []


def test_a_filter_narrows_the_panel_to_the_changes_of_the_studies_it_matches(
        dashboard, writer):
    writer.create("chg-p4", "NCT09997703", phase="PHASE4")
    writer.create("chg-p1", "NCT09997704", phase="PHASE1")
    page = dashboard.open()
    wait_top(page, "chg-p1", "create")
    assert {"chg-p4", "chg-p1"} <= shown_studies(page)

    wait_live(page)
    with page.expect_event("requestfailed", predicate=is_long_poll) as aborted:
        page.select_option("#f-phase", "PHASE4")
    assert "phase=" not in aborted.value.url  # the long poll of the filters left behind
    page.wait_for_function("() => new URLSearchParams(location.search).get('phase') === 'PHASE4'")
    wait_top(page, "chg-p4", "create")
    assert shown_studies(page) == {"chg-p4"}

    page.select_option("#f-phase", "EARLY_PHASE1")
    page.wait_for_selector(f"{LIST} li.none")
    assert shown(page) == []
    assert "No change" in page.locator(LIST).inner_text()

    page.click("#reset")
    wait_top(page, "chg-p1", "create")
    assert {"chg-p4", "chg-p1"} <= shown_studies(page)
    assert dashboard.errors == []


def test_a_write_made_while_the_page_is_open_appears_without_a_reload(dashboard, writer):
    page = dashboard.open("?phase=PHASE2_PHASE3")
    wait_live(page)
    before = shown(page)
    page.evaluate("() => { window.sameDocument = true; }")

    writer.create("chg-other", "NCT09997705", phase="PHASE1")
    writer.create("chg-live", "NCT09997706", phase="PHASE2_PHASE3")
    wait_top(page, "chg-live", "create")
    writer.patch("chg-live", enrollment=90)
    wait_top(page, "chg-live", "update")

    items = shown(page)
    assert [c["action"] for c in items[:2]] == ["update", "create"]
    assert "version 2" in items[0]["text"]
    assert items[2:] == before
    assert "chg-other" not in shown_studies(page)
    assert page.evaluate("() => window.sameDocument") is True
    assert dashboard.errors == []


def test_the_panel_keeps_the_newest_twenty_as_changes_arrive(dashboard, writer):
    writer.create("chg-busy", "NCT09997707", overall_status="SUSPENDED")
    for n in range(21):
        writer.patch("chg-busy", enrollment=100 + n)
    page = dashboard.open("?status=SUSPENDED")
    wait_top(page, "chg-busy", "update")
    versions = [c["text"].split("version ")[1].split()[0] for c in shown(page)]
    assert versions == [str(v) for v in range(22, 2, -1)]

    wait_live(page)
    writer.patch("chg-busy", enrollment=200)
    page.wait_for_function(f"() => document.querySelector('{LIST} li').innerText"
                           ".includes('version 23')")
    versions = [c["text"].split("version ")[1].split()[0] for c in shown(page)]
    assert versions == [str(v) for v in range(23, 3, -1)]
    assert dashboard.errors == []


SET_HIDDEN = """hidden => {
    Object.defineProperty(document, 'hidden', {value: hidden, configurable: true});
    Object.defineProperty(document, 'visibilityState',
                          {value: hidden ? 'hidden' : 'visible', configurable: true});
    document.dispatchEvent(new Event('visibilitychange'));
}"""


def test_a_hidden_page_holds_no_request_open_and_catches_up_when_shown(dashboard, writer):
    writer.create("chg-hidden", "NCT09997708", overall_status="WITHDRAWN")
    page = dashboard.open("?status=WITHDRAWN")
    wait_top(page, "chg-hidden", "create")
    wait_live(page)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if is_long_poll(r) else None)
    with page.expect_event("requestfailed", predicate=is_long_poll):
        page.evaluate(SET_HIDDEN, True)
    assert page.locator("#changes-status").inner_text() == "Paused while the page is hidden"

    writer.patch("chg-hidden", enrollment=33)
    page.wait_for_timeout(1500)  # time enough for a poll that should not be made
    assert polls == []
    assert [c["action"] for c in shown(page)] == ["create"]

    page.evaluate(SET_HIDDEN, False)
    wait_top(page, "chg-hidden", "update")
    assert [c["action"] for c in shown(page)] == ["update", "create"]
    assert dashboard.errors == []
