"""The dashboard in a real headless Chromium against a real server and the seeded database.

Expected values are facts of the curated seed data (seed_data/), not outputs of the code: 19
studies; MAPP1 (NCT03537014) and MAPP2 (NCT04077437) are the phase 3 trials; three studies
test sertraline; MP-1 (NCT00090064) has a long-term follow-up 17 to 74 months after the last
session (mean 45.4) beside its 2-month primary assessment; the 2020 pooled long-term
follow-up's publication is retracted; the FDA advisory committee met on 2024-06-04.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import httpx
import pytest

from tests.e2e.conftest import skip_without_browser

skip_without_browser()

MAPP1, MAPP2, MP1 = "NCT03537014", "NCT04077437", "NCT00090064"
SERTRALINE_STUDIES = {"brady-2000-sertraline", "davidson-2001-sertraline",
                      "friedman-2007-sertraline"}


def query_of(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def row_keys(page) -> list[str]:
    return page.locator("#studies tbody tr[data-key]").evaluate_all(
        "rows => rows.map(r => r.dataset.key)")


def wait_rows(page, expected_count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('#studies tbody tr[data-key]').length === n "
        "&& !document.querySelector('#studies tbody[aria-busy]')", arg=expected_count)


def test_the_dashboard_loads_without_console_errors(dashboard):
    page = dashboard.open()
    assert page.title().startswith("evidencedb")
    wait_rows(page, 10)
    assert page.locator("#result-count").inner_text().startswith("19 studies match")
    dashboard.screenshot()
    assert dashboard.errors == []


def test_the_page_and_its_files_come_from_the_server_alone(dashboard):
    requested: list[str] = []
    dashboard.page.on("request", lambda r: requested.append(r.url))
    dashboard.open()
    assert requested
    foreign = [u for u in requested
               if not u.startswith(dashboard.base_url) and not u.startswith("data:")]
    assert foreign == []


def test_choosing_a_phase_changes_the_rows_and_the_url_and_back_undoes_it(dashboard):
    page = dashboard.open()
    wait_rows(page, 10)
    page.select_option("#f-phase", "PHASE3")
    wait_rows(page, 2)
    assert set(row_keys(page)) == {MAPP1, MAPP2}
    assert query_of(page)["phase"] == ["PHASE3"]
    assert page.locator("#result-count").inner_text().startswith("2 studies match")
    dashboard.screenshot("-phase3")

    page.go_back()
    wait_rows(page, 10)
    assert "phase" not in query_of(page)
    assert page.locator("#f-phase").input_value() == ""
    page.go_forward()
    wait_rows(page, 2)
    assert page.locator("#f-phase").input_value() == "PHASE3"
    assert dashboard.errors == []


def test_a_shared_link_restores_the_filters(dashboard):
    page = dashboard.open("?intervention=Sertraline")
    wait_rows(page, 3)
    assert set(row_keys(page)) == SERTRALINE_STUDIES
    assert page.locator("#f-intervention").input_value() == "Sertraline"


def test_free_text_and_minimum_follow_up_filter_the_rows(dashboard):
    page = dashboard.open()
    wait_rows(page, 10)
    page.fill("#f-min-follow-up", "40")
    page.locator("#f-min-follow-up").press("Enter")
    page.wait_for_function("() => new URLSearchParams(location.search)"
                           ".get('min_follow_up_months') === '40'")
    page.wait_for_function("() => !document.querySelector('#studies tbody[aria-busy]')")
    assert MP1 in row_keys(page)
    assert len(row_keys(page)) < 10
    page.click("#reset")
    wait_rows(page, 10)
    page.fill("#f-q", "sertraline")
    page.locator("#f-q").press("Enter")
    page.wait_for_function("() => new URLSearchParams(location.search).get('q') === 'sertraline'")
    # Free text reaches notes too: MAPP1's compare its effect with the sertraline trials'.
    wait_rows(page, 4)
    assert set(row_keys(page)) == SERTRALINE_STUDIES | {MAPP1}


def test_next_and_previous_pages_walk_the_keyset_pages(dashboard):
    page = dashboard.open()
    wait_rows(page, 10)
    first = row_keys(page)
    page.click("#next")
    wait_rows(page, 9)
    second = row_keys(page)
    assert "page_token" in query_of(page)
    assert not set(first) & set(second)
    assert page.locator("#next").is_disabled()
    page.click("#prev")
    wait_rows(page, 10)
    assert row_keys(page) == first
    assert "page_token" not in query_of(page)
    assert page.locator("#prev").is_disabled()


def test_sorting_by_enrollment_orders_the_rows_both_ways(dashboard):
    page = dashboard.open()
    wait_rows(page, 10)

    def enrollments() -> list[int]:
        cells = page.locator("#studies tbody tr td:nth-child(5)").all_inner_texts()
        return [int(c) for c in cells if c.strip().isdigit()]

    page.click("#studies th[data-sort=enrollment] button")
    page.wait_for_function("() => new URLSearchParams(location.search).get('sort') "
                           "=== 'enrollment'")
    wait_rows(page, 10)
    assert page.get_attribute("#studies th[data-sort=enrollment]", "aria-sort") == "ascending"
    ascending = enrollments()
    assert ascending == sorted(ascending) and len(ascending) >= 5

    page.click("#studies th[data-sort=enrollment] button")
    page.wait_for_function("() => new URLSearchParams(location.search).get('sort') "
                           "=== '-enrollment'")
    wait_rows(page, 10)
    descending = enrollments()
    assert descending == sorted(descending, reverse=True)
    assert descending[0] > ascending[0]


def test_opening_mp1_shows_its_long_term_follow_up_as_a_range_on_the_timeline(dashboard):
    page = dashboard.open()
    wait_rows(page, 10)
    row = page.locator(f"#studies tbody tr[data-key={MP1}]")
    row.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".timeline .tp")
    assert query_of(page)["study"] == [MP1]
    assert page.locator("#study-title").inner_text() == f"MP-1 ({MP1})"

    ltfu = page.locator(".timeline .tp", has_text="long-term follow-up")
    caption = ltfu.locator(".tp-label").inner_text()
    assert "17–74 months" in caption and "mean 45.4" in caption
    bar = ltfu.locator(".tp-range")
    assert (bar.get_attribute("data-min"), bar.get_attribute("data-max")) == ("17", "74")
    box = bar.bounding_box()
    mean = ltfu.locator(".tp-mean").bounding_box()
    primary = page.locator(".timeline .tp", has_text="2-month").locator(".tp-point")
    point = primary.bounding_box()
    assert box["x"] < mean["x"] < box["x"] + box["width"]
    assert point["x"] + point["width"] / 2 < box["x"]  # 2 months lies before 17 months
    # 17..74 months of the axis: the bar spans (74 - 17) / 2 = 28.5 times the 2-month offset
    axis_zero = page.locator(".timeline .tick").first.bounding_box()
    zero_x = axis_zero["x"] + axis_zero["width"] / 2
    two_months = point["x"] + point["width"] / 2 - zero_x
    assert box["width"] / two_months == pytest.approx(28.5, rel=0.05)
    dashboard.screenshot()
    assert dashboard.errors == []


def test_the_study_view_shows_design_arms_outcomes_publications_and_regulatory_events(dashboard):
    page = dashboard.open(f"?study={MAPP1}")
    page.wait_for_selector("#study-events li")
    body = page.locator("#study-body")
    assert "Randomized" in body.locator("dl.facts").inner_text()
    arms = body.locator("table.compact").first.inner_text()
    assert "MDMA-assisted therapy" in arms and "Placebo with therapy" in arms
    effects = body.locator("table.effects").first.inner_text()
    assert "0.91" in effects and "Cohen's d" in effects
    assert "Mitchell" in body.locator(".pubs").inner_text()
    events = page.locator("#study-events").inner_text()
    assert "2024-06-04" in events
    dashboard.screenshot()
    assert dashboard.errors == []


def test_the_study_view_shows_each_effects_risk_of_bias_or_not_assessed(dashboard):
    # MAPP1's CAPS-5 d carries the seed's published RoB 2 judgement (SYPRES: Low); a
    # sertraline trial with no published assessment in the seed says "Not assessed"
    page = dashboard.open(f"?study={MAPP1}")
    page.wait_for_selector("#study-body table.effects")
    caps = page.locator("#study-body .outcome", has_text="CAPS-5 total severity change")
    row = caps.locator("table.effects tbody tr", has_text="Cohen's d").filter(
        has_text="Placebo with therapy").first
    badge = row.locator(".badge.rob")
    assert badge.inner_text() == "Low"
    assert badge.get_attribute("data-judgement") == "LOW"
    assert "Risk of bias" in caps.locator("table.effects thead").inner_text()

    page = dashboard.open("?study=brady-2000-sertraline")
    page.wait_for_selector("#study-body table.effects")
    badges = page.locator("#study-body table.effects .badge.rob").all_inner_texts()
    assert badges and set(badges) == {"Not assessed"}
    dashboard.screenshot()
    assert dashboard.errors == []


def test_a_retracted_publication_carries_a_retraction_badge(dashboard):
    page = dashboard.open("?study=jerome-2020-pooled-ltfu")
    page.wait_for_selector("#study-body .pubs")
    badges = page.locator("#study-body .pubs .badge.bad").all_inner_texts()
    assert "Retracted" in badges
    assert page.locator("#study-body .study-title .badge.bad").inner_text() == "Retracted"


def test_space_on_a_row_opens_the_study_and_close_returns_focus(dashboard):
    page = dashboard.open()
    wait_rows(page, 10)
    page.locator(f"#studies tbody tr[data-key={MAPP2}]").focus()
    page.keyboard.press("Space")
    page.wait_for_selector("#study-body dl.facts")
    assert query_of(page)["study"] == [MAPP2]
    page.click("#close-study")
    page.wait_for_function("() => document.querySelector('#study').hidden")
    assert page.evaluate("document.activeElement.dataset.key") == MAPP2
    assert "study" not in query_of(page)


def test_every_control_has_a_label_and_keyboard_focus_is_visible(dashboard):
    page = dashboard.open()
    wait_rows(page, 10)
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, button')]
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !el.textContent.trim())
        .map(el => el.outerHTML)""")
    assert unlabelled == []
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "API docs"
    page.keyboard.press("Tab")
    focused = page.evaluate("""() => {
        const el = document.activeElement, style = getComputedStyle(el);
        return {id: el.id, outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
    }""")
    assert focused["id"] == "f-q"
    assert focused["outline"] != "none" and focused["width"] >= 2


CONTRAST_JS = """() => {
  const parse = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const failures = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el.getClientRects().length) continue;
    if (el.closest('.visually-hidden') || el.closest('.skip')) continue;
    if (el.closest(':disabled')) continue;  // inactive controls are exempt (WCAG 1.4.3)
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden') continue;
    const fg = parse(style.color).slice(0, 3), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) failures.push(`${ratio.toFixed(2)}: ${node.textContent.trim().slice(0, 40)}`);
  }
  return failures;
}"""


def test_text_contrast_is_at_least_4_5_to_1(dashboard):
    page = dashboard.open(f"?study={MP1}&intervention=MDMA&phase=PHASE3&instrument=CAPS-5")
    page.wait_for_selector("#study-events li")
    assert page.evaluate(CONTRAST_JS) == []


def test_on_a_360_pixel_screen_nothing_spills_sideways(browser, base_url):
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        page.goto(f"{base_url}/?study={MP1}")
        page.wait_for_selector(".timeline .tp")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        for part in (".timeline", "#studies", "#facet-charts"):
            box = page.locator(part).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 360, part
        page.screenshot(path=str(_output("narrow-screen.png")), full_page=True)
    finally:
        context.close()


def _output(name: str):
    from tests.e2e.conftest import OUTPUT

    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT / name


def test_facet_bar_charts_count_the_filtered_studies(dashboard):
    page = dashboard.open("?intervention=MDMA")
    page.wait_for_selector("#facet-charts .facet[data-facet=phase] li")
    phase = page.locator("#facet-charts .facet[data-facet=phase]")
    counts = dict(re.findall(r"(Phase \d)\s+(\d+)", phase.inner_text()))
    assert counts["Phase 3"] == "2"
    phase.get_by_role("button", name="Phase 3").click()
    wait_rows(page, 2)
    assert query_of(page)["phase"] == ["PHASE3"]
    assert query_of(page)["intervention"] == ["MDMA"]
    pressed = page.locator("#facet-charts .facet[data-facet=phase] button[aria-pressed=true]")
    pressed.wait_for()
    assert pressed.inner_text().endswith("Phase 3")
    dashboard.screenshot()
    pressed.click()  # a second press removes the filter
    wait_rows(page, 10)
    assert "phase" not in query_of(page)
    assert dashboard.errors == []


def test_the_forest_plot_shows_one_row_per_pooled_study(dashboard):
    page = dashboard.open("?intervention=MDMA&phase=PHASE3")
    wait_rows(page, 2)
    page.locator("#forest").scroll_into_view_if_needed()
    page.locator("#f-instrument option[value='CAPS-5']").wait_for(state="attached")
    page.select_option("#f-instrument", "CAPS-5")
    page.wait_for_selector("#forest-studies tbody tr")
    assert query_of(page)["instrument"] == ["CAPS-5"]
    rows = page.locator("#forest-studies tbody tr")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.study)")) == [MAPP1, MAPP2]
    image = page.locator("img.forest-svg")
    image.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('img.forest-svg').complete "
                           "&& document.querySelector('img.forest-svg').naturalWidth > 0")
    svg = httpx.get(image.evaluate("img => img.src"))
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(svg.text)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    study_rows = root.findall(".//svg:g[@class='study']", ns)
    assert sorted(g.find("svg:title", ns).text for g in study_rows) == [
        f"MAPP1 ({MAPP1})", f"MAPP2 ({MAPP2})"]
    assert root.findall(".//svg:polygon[@class='pooled']", ns)
    assert "Cohen's d" in page.locator("#forest-body dl.facts").inner_text()
    dashboard.screenshot()
    assert dashboard.errors == []


def test_a_link_with_an_invalid_filter_says_what_is_wrong(dashboard):
    page = dashboard.open("?min_follow_up_months=-5")
    message = page.locator("#studies tbody td.error").inner_text()
    assert message.startswith("Could not load studies:")
    assert "min_follow_up_months" in message
    assert page.locator("#result-count").inner_text() == "No studies loaded"
    page.click("#reset")
    wait_rows(page, 10)
    assert "min_follow_up_months" not in query_of(page)


def test_back_and_forward_step_through_pages_and_studies(dashboard):
    page = dashboard.open()
    wait_rows(page, 10)
    first = row_keys(page)
    page.click("#next")
    wait_rows(page, 9)
    second = row_keys(page)
    page.locator(f"#studies tbody tr[data-key='{second[0]}'] a").click()  # the key's link
    page.wait_for_selector("#study-body dl.facts")
    assert query_of(page)["study"] == [second[0]]

    page.go_back()
    page.wait_for_function("() => document.querySelector('#study').hidden")
    assert row_keys(page) == second
    assert not page.locator("#prev").is_disabled()
    page.go_back()
    wait_rows(page, 10)
    assert row_keys(page) == first
    page.go_forward()
    wait_rows(page, 9)
    page.click("#prev")  # the token stack survived the trip through history
    wait_rows(page, 10)
    assert row_keys(page) == first
    assert dashboard.errors == []


def test_on_a_server_that_requires_a_reader_key_the_dashboard_asks_for_one(browser, keyed_server):
    url, key = keyed_server
    assert httpx.get(f"{url}/api/v1/studies").status_code == 401
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{url}/?intervention=MDMA&phase=PHASE3&instrument=CAPS-5")
        form = page.locator("#key-form")
        form.wait_for(state="visible")
        assert "requires a reader key" in form.inner_text()
        assert page.evaluate("document.activeElement.id") == "f-key"
        page.fill("#f-key", key)
        page.keyboard.press("Enter")
        wait_rows(page, 2)
        assert set(row_keys(page)) == {MAPP1, MAPP2}
        assert form.is_hidden()
        page.locator("#forest-studies tbody tr").first.wait_for()
        page.wait_for_function("() => document.querySelector('img.forest-svg').complete "
                               "&& document.querySelector('img.forest-svg').naturalWidth > 0")
        page.screenshot(path=str(_output("reader-key.png")), full_page=True)
    finally:
        context.close()


def test_a_panel_refused_for_the_rate_limit_asks_again_when_the_server_says_it_may(
        browser, limited_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    refused: list[str] = []
    try:
        page = context.new_page()
        page.on("response", lambda r: refused.append(r.url) if r.status == 429 else None)
        page.goto(f"{limited_server}/?intervention=MDMA&phase=PHASE3&instrument=CAPS-5")
        wait_rows(page, 2)
        assert set(row_keys(page)) == {MAPP1, MAPP2}
        # The forest plot needs the instrument list (a page of 1,000 rows) to choose the
        # effect type: refused on the first try, it still pools.
        page.locator("#forest-studies tbody tr").first.wait_for(timeout=30_000)
        assert page.locator("#forest-studies tbody tr").count() == 2
        assert page.locator("#f-condition option").count() > 1  # the vocabularies loaded
        assert page.locator("#f-intervention option").count() > 1
        assert refused, "the burst stayed within the limit: the test shows nothing"
    finally:
        context.close()


# ---------------------------------------------------------------- durability and network panels

# The README's network of the MDMA trials, with the one instrument a dashboard view carries.
NETWORK_VIEW = {"instrument": "CAPS-5", "effect_type": "COHENS_D", "include_retracted": "true",
                "merge": "Placebo with therapy,Control (0-40 mg)"}


def _view(**params: str) -> str:
    from urllib.parse import urlencode

    return "?" + urlencode(params)


def wait_image(page, selector: str) -> None:
    page.wait_for_function(
        "sel => { const img = document.querySelector(sel);"
        " return img && img.complete && img.naturalWidth > 0; }", arg=selector)


def show_network(page) -> None:
    page.locator("#network").scroll_into_view_if_needed()
    page.wait_for_selector("#network-league tbody tr")


def test_opening_mp1_shows_how_long_its_benefit_lasted_in_the_durability_panel(dashboard):
    answer = httpx.get(f"{dashboard.base_url}/api/v1/durability",
                       params={"study": MP1}).json()
    (study,) = answer["studies"]
    ltfu = next(t for t in study["timepoints"] if t["label"] == "long-term follow-up")
    clock = ltfu["after_treatment"]
    assert (clock["min"], clock["max"], ltfu["months_mean"]) == (17, 74, 45.4)
    assert (ltfu["n_assessed"], ltfu["n_eligible"]) == (16, 19)

    page = dashboard.open()
    wait_rows(page, 10)
    page.locator(f"#studies tbody tr[data-key={MP1}]").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#durability-table tbody tr")
    row = page.locator("#durability-table tbody tr[data-timepoint='long-term follow-up']")
    assert row.count() == len([s for s in study["series"]
                               if any(p["timepoint_id"] == ltfu["id"] for p in s["points"])])
    months = row.first.locator("td.months")
    assert "17–74" in months.inner_text() and "mean 45.4" in months.inner_text()
    span = months.locator(".range")
    assert (span.get_attribute("data-min"), span.get_attribute("data-max")) == ("17", "74")
    assert row.first.locator("td.retention").inner_text().startswith("16 of 19")
    assert row.first.locator("td").last.inner_text() == (
        "No" if ltfu["controlled"] is False else "Yes")
    heading = page.locator("#durability-table thead th").nth(2).inner_text()
    assert heading == "Months after treatment"

    wait_image(page, "img.durability-svg")
    src = page.locator("img.durability-svg").evaluate("img => img.src")
    assert parse_qs(urlsplit(src).query) == {"study": [MP1], "clock": ["treatment"]}
    svg = httpx.get(src)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    dashboard.screenshot()

    # The other clock: the drawing and the months follow, and the choice is in the URL.
    page.select_option("#f-clock", "baseline")
    page.wait_for_function("() => new URLSearchParams(location.search).get('clock') "
                           "=== 'baseline'")
    page.wait_for_function("() => (document.querySelector('img.durability-svg') || {}).src"
                           "?.includes('clock=baseline')")
    wait_image(page, "img.durability-svg")
    assert page.locator("#durability-table thead th").nth(2).inner_text() == (
        "Months since baseline")
    if ltfu["since_baseline"] is None:
        assert row.first.locator("td.months").inner_text() == "not on this clock"
    page.go_back()
    page.wait_for_function("() => (document.querySelector('img.durability-svg') || {}).src"
                           "?.includes('clock=treatment')")
    assert page.locator("#f-clock").input_value() == "treatment"
    assert "17–74" in page.locator(
        "#durability-table tbody tr[data-timepoint='long-term follow-up'] td.months"
    ).first.inner_text()
    assert dashboard.errors == []


def test_a_study_without_durability_data_says_so(dashboard):
    key = "van-der-kolk-2007-emdr"
    answer = httpx.get(f"{dashboard.base_url}/api/v1/durability", params={"study": key}).json()
    assert not any(s["series"] for s in answer["studies"])
    page = dashboard.open(_view(study=key))
    note = page.locator("#durability-none")
    note.wait_for()
    assert note.inner_text().startswith("No durability data for this study")
    assert page.locator("img.durability-svg").count() == 0
    assert page.locator("#durability-table").count() == 0
    assert dashboard.errors == []


def test_the_network_panel_shows_a_league_table_with_a_row_and_a_column_per_node(dashboard):
    asked: list[str] = []
    dashboard.page.on("request", lambda r: asked.append(r.url)
                      if "/network-meta-analysis" in r.url else None)
    page = dashboard.open(_view(**NETWORK_VIEW))
    wait_rows(page, 10)
    assert asked == []  # the costly answer waits until the panel is on screen
    show_network(page)

    params = {**NETWORK_VIEW, "merge": [NETWORK_VIEW["merge"]]}
    answer = httpx.get(f"{dashboard.base_url}/api/v1/network-meta-analysis", params=params)
    assert answer.status_code == 200
    net = answer.json()
    nodes = {n["name"] for n in net["nodes"]}
    assert len(nodes) >= 2
    league = page.locator("#network-league")
    columns = league.locator("thead th[data-node]").evaluate_all(
        "ths => ths.map(th => th.dataset.node)")
    rows = league.locator("tbody tr").evaluate_all("trs => trs.map(tr => tr.dataset.node)")
    assert sorted(columns) == sorted(nodes) and sorted(rows) == sorted(nodes)
    assert columns == rows  # square: the same order down and across
    for cell in net["league"]:
        text = league.locator(f"tbody tr[data-node='{cell['treatment']}'] "
                              f"td[data-comparator='{cell['comparator']}']").inner_text()
        assert text == f"{cell['estimate']:.2f} ({cell['ci_low']:.2f} to {cell['ci_high']:.2f})"
    for score in net["p_scores"]:
        header = league.locator(f"tbody tr[data-node='{score['treatment']}'] th").inner_text()
        assert f"P-score {score['p_score']:.2f}" in header

    wait_image(page, "img.network-svg")
    src = page.locator("img.network-svg").evaluate("img => img.src")
    assert urlsplit(src).path == "/api/v1/network-meta-analysis/network.svg"
    assert parse_qs(urlsplit(src).query)["merge"] == [NETWORK_VIEW["merge"]]
    svg = httpx.get(src)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert page.locator("#f-merge").input_value() == NETWORK_VIEW["merge"]
    dashboard.screenshot()
    assert dashboard.errors == []


def test_merging_nodes_in_the_network_panel_goes_into_the_url(dashboard):
    view = {k: v for k, v in NETWORK_VIEW.items() if k != "merge"}
    page = dashboard.open(_view(**view))
    show_network(page)
    page.fill("#f-merge", NETWORK_VIEW["merge"])
    page.locator("#f-merge").press("Enter")
    page.wait_for_function("m => new URLSearchParams(location.search).get('merge') === m",
                           arg=NETWORK_VIEW["merge"])
    page.wait_for_function("m => (document.querySelector('img.network-svg') || {}).src"
                           "?.includes(m)", arg="merge=Placebo")
    page.wait_for_selector("#network-league tbody tr")
    wait_image(page, "img.network-svg")
    assert dashboard.errors == []


def test_a_network_the_api_refuses_shows_its_problem_in_the_panel(dashboard):
    view = {"instrument": "CAPS", "effect_type": "ODDS_RATIO"}
    refused = httpx.get(f"{dashboard.base_url}/api/v1/network-meta-analysis", params=view)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    page = dashboard.open(_view(**view))
    page.locator("#network").scroll_into_view_if_needed()
    problem = page.locator("#network-problem")
    problem.wait_for()
    assert problem.inner_text() == f"Cannot compare this selection: {detail}"
    assert page.locator("#network-league").count() == 0
    assert page.locator("img.network-svg").count() == 0


UNLABELLED_JS = """() => [...document.querySelectorAll('input, select, button')]
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.textContent.trim())
    .map(el => el.outerHTML)"""


def test_the_new_panels_are_labelled_keyboard_reachable_and_legible(dashboard):
    page = dashboard.open(_view(study=MP1, **NETWORK_VIEW))
    page.wait_for_selector("#durability-table tbody tr")
    show_network(page)
    wait_image(page, "img.durability-svg")
    wait_image(page, "img.network-svg")
    page.wait_for_load_state("networkidle")
    assert page.evaluate(UNLABELLED_JS) == []
    assert page.evaluate(CONTRAST_JS) == []
    # Tab from the study's close button reaches the clock, the plots' scrolling frames, the
    # merge field and the league table.
    page.focus("#close-study")
    reached = set()
    for _ in range(300):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("""() => { const el = document.activeElement;
            return el.id || el.getAttribute('aria-label') || el.tagName; }"""))
        if "f-merge" in reached and any(str(r).startswith("League table") for r in reached):
            break
    assert {"f-clock", "f-merge"} <= reached
    assert any(str(r).startswith("Durability plot") for r in reached)
    assert any(str(r).startswith("League table") for r in reached)
    assert dashboard.errors == []


def test_on_a_360_pixel_screen_the_new_panels_stay_inside(browser, base_url):
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        page.goto(f"{base_url}/{_view(study=MP1, **NETWORK_VIEW)}")
        page.wait_for_selector("#durability-table tbody tr")
        show_network(page)
        wait_image(page, "img.network-svg")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        for part in ("#study-durability", "#durability-table", "#network", "#network-league",
                     ".league-wrap", "#network .plot-wrap", "#study-durability .plot-wrap"):
            box = page.locator(part).first.bounding_box()
            assert box["x"] >= 0, part
            if part != "#network-league":  # the league scrolls inside its frame
                assert box["x"] + box["width"] <= 360, part
        page.screenshot(path=str(_output("narrow-screen-panels.png")), full_page=True)
    finally:
        context.close()


def test_with_a_reader_key_the_new_panels_show_their_drawings_from_memory(browser,
                                                                          keyed_server):
    url, key = keyed_server
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{url}/{_view(study=MP1, **NETWORK_VIEW)}")
        page.locator("#key-form").wait_for(state="visible")
        page.fill("#f-key", key)
        page.keyboard.press("Enter")
        page.wait_for_selector("#durability-table tbody tr")
        wait_image(page, "img.durability-svg")
        show_network(page)
        wait_image(page, "img.network-svg")
        for image in ("img.durability-svg", "img.network-svg"):
            assert page.locator(image).evaluate("img => img.src").startswith("blob:")
    finally:
        context.close()
