/* evidencedb dashboard: plain JavaScript on the public JSON API (/api/v1).
 *
 * The whole view lives in the URL query string: the study filters, the sort, the current page
 * token, the open study and the clock of its durability plot, the forest plot's instrument and
 * the network's merged nodes. Every change pushes a history entry, so a view can be shared as a
 * link and back/forward step through views.
 */
"use strict";

const API = "/api/v1";
const FILTER_NAMES = [
  "q", "condition", "intervention", "phase", "status", "min_follow_up_months",
  "include_retracted",
];
const VIEW_NAMES = ["sort", "page_token", "study", "clock", "instrument", "effect_type", "merge"];
const PAGE_SIZE = 10;
const KEEP_PAGES = { keepPages: true }; // a change that leaves the table on its page
const FACETS = [
  ["phase", "Phase"], ["status", "Status"], ["intervention", "Intervention"],
  ["follow_up", "Longest follow-up"], ["retraction_status", "Retraction status"],
  ["flag", "Registry vs publication"],
];
const LABELS = {
  EARLY_PHASE1: "Early phase 1", PHASE1: "Phase 1", PHASE1_PHASE2: "Phase 1/2",
  PHASE2: "Phase 2", PHASE2_PHASE3: "Phase 2/3", PHASE3: "Phase 3", PHASE4: "Phase 4",
  NA: "Not applicable", RCT: "RCT", COHENS_D: "Cohen's d", HEDGES_G: "Hedges' g", SMD: "SMD",
  MEAN_DIFFERENCE: "Mean difference", RISK_RATIO: "Risk ratio", ODDS_RATIO: "Odds ratio",
  RISK_DIFFERENCE: "Risk difference", NONE: "None", RETRACTED: "Retracted",
  EXPRESSION_OF_CONCERN: "Expression of concern", CORRECTED: "Corrected",
  PRIMARY_OUTCOME_NOT_REPORTED: "Primary outcome not reported",
  NEW_PRIMARY_OUTCOME: "New primary outcome", TIMEPOINT_CHANGED: "Timepoint changed",
  ENROLLMENT_DIFFERS: "Enrollment differs > 10 %",
};

const $ = (sel, root = document) => root.querySelector(sel);

/* ---------- small helpers ---------- */

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

function label(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (LABELS[value]) return LABELS[value];
  const text = String(value).replace(/_/g, " ").toLowerCase();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function num(value, digits = 2) {
  if (value === null || value === undefined) return "—";
  return Number.isInteger(value) ? String(value) : Number(value).toFixed(digits);
}

function months(value) {
  if (value === null || value === undefined) return "—";
  return `${Number(value).toFixed(value % 1 ? 1 : 0)} mo`;
}

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/* A server can require a reader key for reads (EVIDENCEDB_REQUIRE_READ_KEY): the first 401
 * shows the key form; the key lives in this tab's session storage only. */
const KEY_STORE = "evidencedb.readerKey";

function readerKey() {
  try {
    return sessionStorage.getItem(KEY_STORE) || "";
  } catch (_) {
    return "";
  }
}

function authHeaders() {
  const key = readerKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/* Requests of the API in flight, and when one last ended or a resource last loaded: the change
 * feed's long poll waits for a quiet moment before it holds a request open. */
const traffic = { inFlight: 0, last: 0 };

if ("PerformanceObserver" in window) {
  new PerformanceObserver(() => { traffic.last = performance.now(); })
    .observe({ type: "resource" });
}

/* A read refused for the rate limit is asked again once the server says it may be (its
 * Retry-After), when that is soon: a burst of panels loading at once must not leave one of
 * them empty. A longer wait is the user's to make, so the refusal is shown instead. */
const RETRY_AFTER_MAX_S = 10;
const RETRIES_AT_MOST = 3;

/* The Retry-After of a refusal in seconds, or null when it names none (or a date). */
function retryAfterSeconds(response) {
  const header = response.headers.get("Retry-After");
  const value = header === null || header.trim() === "" ? NaN : Number(header);
  return Number.isFinite(value) && value >= 0 ? value : null;
}

async function apiFetch(path, accept, signal) {
  const key = readerKey();
  let response;
  for (let attempt = 0; ; attempt += 1) {
    traffic.inFlight += 1;
    try {
      response = await fetch(path, { headers: { Accept: accept, ...authHeaders() }, signal });
    } finally {
      traffic.inFlight -= 1;
      traffic.last = performance.now();
    }
    const wait = response.status === 429 ? retryAfterSeconds(response) : null;
    if (wait === null || wait > RETRY_AFTER_MAX_S || attempt >= RETRIES_AT_MOST) break;
    await sleep(1000 * wait + Math.random() * 250);
    if (signal && signal.aborted) throw new DOMException("aborted", "AbortError");
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || detail;
    } catch (_) { /* not JSON */ }
    // A request sent before the key was entered says nothing about the key now in use.
    if (response.status === 401 && key === readerKey()) askForKey(detail);
    throw new ApiError(response.status, detail);
  }
  return response;
}

function askForKey(detail) {
  const form = $("#key-form");
  if (!form.hidden) return;
  form.hidden = false;
  $("#key-reason").textContent = readerKey()
    ? `The reader key was refused (${detail}). Enter another.`
    : "This server requires a reader key to read the evidence.";
  $("#f-key").focus();
}

function bindKeyForm() {
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    try {
      sessionStorage.setItem(KEY_STORE, $("#f-key").value.trim());
    } catch (_) { /* storage disabled: nothing to keep */ }
    $("#f-key").value = "";
    $("#key-form").hidden = true;
    studiesKey = facetsKey = instrumentsKey = forestKey = studyKeyShown = networkKey = null;
    changesKey = null;
    // The API description needs the key too when reads do: ask again what the server offers.
    Promise.all([discover(), loadVocabularies()]).then(render);
  });
}

async function getJSON(path, signal) {
  return (await apiFetch(path, "application/json", signal)).json();
}

/* An <img> cannot send the reader key: with a key, a drawing is fetched and shown from memory.
 * Each panel keeps one such copy: the one it replaces is released. */
const drawingsInMemory = new Map();

async function drawingUrl(url, panel) {
  if (!readerKey()) return url;
  const blob = await (await apiFetch(url, "image/svg+xml")).blob();
  const objectUrl = URL.createObjectURL(blob);
  const previous = drawingsInMemory.get(panel);
  if (previous) URL.revokeObjectURL(previous);
  drawingsInMemory.set(panel, objectUrl);
  return objectUrl;
}

/* ---------- state in the URL ---------- */

function readState() {
  const params = new URLSearchParams(location.search);
  const state = {};
  for (const name of [...FILTER_NAMES, ...VIEW_NAMES]) {
    const value = params.get(name);
    if (value !== null && value !== "") state[name] = value;
  }
  return state;
}

function stateQuery(state, names = [...FILTER_NAMES, ...VIEW_NAMES]) {
  const params = new URLSearchParams();
  for (const name of names) {
    if (state[name] !== undefined && state[name] !== "") params.set(name, state[name]);
  }
  return params;
}

function filterQuery(state) {
  return stateQuery(state, FILTER_NAMES);
}

/* history.state keeps the tokens of the pages before this one, for "Previous page". */
function navigate(changes, { keepPages = false } = {}) {
  const state = { ...readState(), ...changes };
  for (const key of Object.keys(state)) if (state[key] === undefined) delete state[key];
  const pages = keepPages ? (changes.__pages ?? pageStack()) : [];
  delete state.__pages;
  const query = stateQuery(state).toString();
  history.pushState({ pages }, "", query ? `?${query}` : location.pathname);
  render();
}

function pageStack() {
  return (history.state && history.state.pages) || [];
}

/* ---------- what the server offers ---------- */

const available = {
  facets: false, meta: false, forestSvg: false, durability: false, durabilitySvg: false,
  network: false, networkSvg: false, changes: false,
};

async function discover() {
  try {
    const spec = await getJSON("/openapi.json");
    const paths = spec.paths || {};
    available.facets = `${API}/stats/facets` in paths;
    available.meta = `${API}/meta-analysis` in paths;
    available.forestSvg = `${API}/meta-analysis/forest.svg` in paths;
    available.durability = `${API}/durability` in paths;
    available.durabilitySvg = `${API}/durability.svg` in paths;
    available.network = `${API}/network-meta-analysis` in paths;
    available.networkSvg = `${API}/network-meta-analysis/network.svg` in paths;
    available.changes = `${API}/changes` in paths;
  } catch (_) { /* every optional panel stays "not available" */ }
}

/* ---------- filter panel ---------- */

async function loadVocabularies() {
  const fill = async (path, select) => {
    try {
      const data = await getJSON(`${API}/${path}?page_size=1000`);
      select.length = 1; // keep "Any …"
      for (const item of data.items) {
        const option = document.createElement("option");
        option.value = item.name;
        option.textContent = `${item.name} (${item.study_count})`;
        select.append(option);
      }
    } catch (_) { /* the free-text filter still works */ }
  };
  await Promise.all([
    fill("conditions", $("#f-condition")), fill("interventions", $("#f-intervention")),
  ]);
}

function syncForm(state) {
  for (const name of FILTER_NAMES) {
    const control = $(`#filters [name="${name}"]`);
    const value = state[name] || "";
    if (control.tagName === "SELECT" && value && ![...control.options].some(
      (o) => o.value === value)) {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = value;
      control.append(option);
    }
    control.value = value;
  }
}

function formChanges() {
  const changes = {};
  for (const name of FILTER_NAMES) {
    const value = $(`#filters [name="${name}"]`).value.trim();
    changes[name] = value === "" ? undefined : value;
  }
  return changes;
}

function bindFilters() {
  const form = $("#filters");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate({ ...formChanges(), page_token: undefined });
  });
  form.addEventListener("change", (event) => {
    if (event.target.name === "q") return; // free text applies on Enter or Apply
    navigate({ ...formChanges(), page_token: undefined });
  });
  $("#reset").addEventListener("click", () => {
    const cleared = Object.fromEntries(FILTER_NAMES.map((n) => [n, undefined]));
    navigate({ ...cleared, page_token: undefined });
  });
}

/* ---------- studies table ---------- */

function bindTable() {
  for (const th of document.querySelectorAll("#studies th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => {
      const field = th.dataset.sort;
      const current = readState().sort || "key";
      const next = current === field ? `-${field}` : field;
      navigate({ sort: next === "key" ? undefined : next, page_token: undefined });
    });
  }
  const body = $("#studies tbody");
  const open = (row) => {
    if (row && row.dataset.key) navigate({ study: row.dataset.key }, KEEP_PAGES);
  };
  body.addEventListener("click", (event) => {
    if (event.target.closest("a")) return;
    open(event.target.closest("tr"));
  });
  body.addEventListener("keydown", (event) => {
    const row = event.target.closest("tr");
    if (!row) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      open(row);
    } else if (event.key === "ArrowDown" && row.nextElementSibling) {
      event.preventDefault();
      row.nextElementSibling.focus();
    } else if (event.key === "ArrowUp" && row.previousElementSibling) {
      event.preventDefault();
      row.previousElementSibling.focus();
    }
  });
  $("#next").addEventListener("click", () => {
    const token = $("#next").dataset.token;
    if (!token) return;
    const pages = [...pageStack(), readState().page_token || ""];
    navigate({ page_token: token, __pages: pages }, { keepPages: true });
  });
  $("#prev").addEventListener("click", () => {
    const pages = [...pageStack()];
    const previous = pages.pop();
    navigate({ page_token: previous || undefined, __pages: pages }, { keepPages: true });
  });
}

function studyHref(key) {
  const params = stateQuery({ ...readState(), study: key });
  return `?${params.toString()}`;
}

let studiesKey = null;

async function renderStudies(state) {
  const sort = state.sort || "key";
  for (const th of document.querySelectorAll("#studies th[data-sort]")) {
    const field = th.dataset.sort;
    if (sort === field) th.setAttribute("aria-sort", "ascending");
    else if (sort === `-${field}`) th.setAttribute("aria-sort", "descending");
    else th.removeAttribute("aria-sort");
  }
  const params = filterQuery(state);
  params.set("sort", sort);
  params.set("page_size", String(PAGE_SIZE));
  params.set("count_total", "true");
  params.set("fields", "key,acronym,title,phase,start_date,enrollment,follow_up_months_max,"
    + "retracted,overall_status");
  if (state.page_token) params.set("page_token", state.page_token);
  const query = params.toString();
  if (query === studiesKey) {
    markOpenRow(state.study);
    return;
  }
  studiesKey = query;
  const body = $("#studies tbody");
  const count = $("#result-count");
  body.setAttribute("aria-busy", "true");
  try {
    const data = await getJSON(`${API}/studies?${query}`);
    if (studiesKey !== query) return;
    body.innerHTML = data.items.map((s) => `
      <tr tabindex="0" data-key="${esc(s.key)}">
        <th scope="row"><a href="${esc(studyHref(s.key))}" data-study="${esc(s.key)}"
          tabindex="-1">${esc(s.acronym || s.key)}</a>
          ${s.acronym ? `<span class="muted small">${esc(s.key)}</span>` : ""}
          ${s.retracted ? '<span class="badge bad">Retracted</span>' : ""}</th>
        <td class="title">${esc(s.title)}</td>
        <td data-label="Phase">${esc(label(s.phase))}</td>
        <td data-label="Start">${esc(s.start_date || "—")}</td>
        <td class="num" data-label="Enrolled">${esc(s.enrollment ?? "—")}</td>
        <td class="num" data-label="Longest follow-up">${esc(months(s.follow_up_months_max))}</td>
      </tr>`).join("") || `<tr><td colspan="6">No study matches these filters.</td></tr>`;
    const total = data.total_count;
    const pages = pageStack();
    const first = pages.length * PAGE_SIZE + 1;
    const last = first + data.items.length - 1;
    count.textContent = total === null || total === undefined
      ? `${data.items.length} studies on this page`
      : `${total} ${total === 1 ? "study" : "studies"} match` + (
        total > PAGE_SIZE && data.items.length ? ` (showing ${first}–${last})` : "");
    $("#page-label").textContent = total > PAGE_SIZE ? `Page ${pages.length + 1}` : "";
    const next = $("#next");
    next.disabled = !data.next_page_token;
    next.dataset.token = data.next_page_token || "";
    $("#prev").disabled = !state.page_token;
  } catch (error) {
    if (error.status === 400 && state.page_token) {
      navigate({ page_token: undefined }); // a token from another sort: start again
      return;
    }
    body.innerHTML = `<tr><td colspan="6" class="error">Could not load studies: ${esc(error.message)}</td></tr>`;
    count.textContent = "No studies loaded";
  } finally {
    body.removeAttribute("aria-busy");
  }
  markOpenRow(state.study);
}

function markOpenRow(key) {
  for (const row of document.querySelectorAll("#studies tbody tr")) {
    if (row.dataset.key === key) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  }
}

/* ---------- facets as small bar charts ---------- */

let facetsKey = null;

const FOLLOW_UP_BUCKETS = {
  UNDER_6: "< 6 months", "6_TO_12": "6–12 months", "12_TO_24": "12–24 months",
  "24_PLUS": "≥ 24 months", NONE: "None timed",
};

function facetValueLabel(name, value) {
  if (value === null || value === undefined) return "Not recorded";
  if (name === "follow_up") return FOLLOW_UP_BUCKETS[value] || String(value);
  if (name === "retraction_status" && value === "NONE") return "Not retracted";
  if (name === "intervention" || name === "condition" || name === "country") return String(value);
  return label(value);
}

/* The facet document: {total, facets: {name: [{value, count}]}, params: {name: param}}. A
 * value is a button that applies it as a filter when the filter panel has that filter. */
function facetBars(name, title, values_, param, state) {
  const values = (values_ || []).filter((v) => v.count > 0);
  if (name === "follow_up") {
    const order = Object.keys(FOLLOW_UP_BUCKETS);
    values.sort((a, b) => order.indexOf(a.value) - order.indexOf(b.value));
  }
  const max = Math.max(1, ...values.map((v) => v.count));
  const selectable = FILTER_NAMES.includes(param) && param !== "min_follow_up_months";
  const rows = values.map((v) => {
    const text = facetValueLabel(name, v.value);
    const width = (100 * v.count / max).toFixed(1);
    const name_ = selectable && v.value !== null
      ? `<button type="button" class="bar-label link" data-param="${esc(param)}"
          data-value="${esc(v.value)}" aria-pressed="${state[param] === String(v.value)}"
          title="${state[param] === String(v.value) ? "Remove the filter on" : "Filter on"} ${
            esc(text)}">${esc(text)}</button>`
      : `<span class="bar-label" title="${esc(text)}">${esc(text)}</span>`;
    return `<li>${name_}<span class="bar-track" aria-hidden="true"><span class="bar"
        data-width="${width}%"></span></span><span class="bar-count">${esc(v.count)}</span></li>`;
  }).join("");
  return `<figure class="facet" data-facet="${esc(name)}">
    <figcaption>${esc(title)}</figcaption>
    ${rows ? `<ul class="bars" aria-label="${esc(title)}: studies per value">${rows}</ul>`
      : `<p class="muted small">None recorded for these studies.</p>`}</figure>`;
}

async function renderFacets(state) {
  const host = $("#facet-charts");
  if (!available.facets) {
    host.innerHTML = '<p class="muted">Facet counts are not available on this server.</p>';
    return;
  }
  const params = filterQuery(state);
  for (const [name] of FACETS) params.append("facet", name);
  const query = params.toString();
  if (query === facetsKey) return;
  facetsKey = query;
  try {
    const data = await getJSON(`${API}/stats/facets?${query}`);
    if (facetsKey !== query) return;
    const facets = data.facets || {};
    const facetParams = data.params || {};
    host.innerHTML = FACETS.map(([name, title]) =>
      facetBars(name, title, facets[name], facetParams[name], state)).join("");
  } catch (error) {
    host.innerHTML = `<p class="error">Could not load facet counts: ${esc(error.message)}</p>`;
  }
}

function bindFacets() {
  $("#facet-charts").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-param]");
    if (!button) return;
    const pressed = button.getAttribute("aria-pressed") === "true";
    navigate({ [button.dataset.param]: pressed ? undefined : button.dataset.value,
      page_token: undefined });
  });
}

/* ---------- study view ---------- */

let studyKeyShown = null;

function badgeFor(status) {
  if (!status || status === "NONE") return "";
  const cls = status === "RETRACTED" ? "bad" : status === "EXPRESSION_OF_CONCERN" ? "warn" : "info";
  return `<span class="badge ${cls}">${esc(label(status))}</span>`;
}

function dl(pairs) {
  return `<dl class="facts">${pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join("")}</dl>`;
}

function designHtml(s) {
  return dl([
    ["Registry ids", esc(s.registry_ids.map((r) => `${r.registry} ${r.identifier}`).join(", "))],
    ["Study type", esc(label(s.study_type))],
    ["Phase", esc(label(s.phase))],
    ["Status", esc(label(s.overall_status))],
    ["Allocation", esc(label(s.allocation))],
    ["Model", esc(label(s.intervention_model))],
    ["Masking", esc(label(s.masking))],
    ["Enrollment", s.enrollment === null ? null
      : esc(`${s.enrollment}${s.enrollment_type ? ` (${label(s.enrollment_type).toLowerCase()})` : ""}`)],
    ["Dates", esc(`${s.start_date || "?"} to ${s.completion_date || "?"}`)],
    ["Conditions", esc(s.conditions.join(", "))],
    ["Countries", esc((s.countries || []).join(", "))],
    ["Sponsor", s.sponsor ? esc(s.sponsor) : null],
    ["Population", s.population ? esc(s.population) : null],
  ]);
}

function armsHtml(arms) {
  if (!arms.length) return '<p class="muted">No arms recorded.</p>';
  return `<div class="table-wrap"><table class="compact stack">
    <thead><tr><th scope="col">Arm</th><th scope="col">Type</th>
      <th scope="col" class="num">Randomized</th><th scope="col">Interventions</th></tr></thead>
    <tbody>${arms.map((a) => `<tr><th scope="row">${esc(a.label)}</th>
      <td data-label="Type">${esc(label(a.arm_type))}</td>
      <td class="num" data-label="Randomized">${esc(a.n_randomized ?? "—")}</td>
      <td data-label="Interventions"><ul class="plain">${a.interventions.map((i) => `<li>${esc(i.intervention || i.name)}
        <span class="muted small">${esc([label(i.type).toLowerCase(), i.dose_text,
          i.sessions ? `${i.sessions} sessions` : null].filter(Boolean).join(" · "))}</span></li>`)
        .join("")}</ul></td></tr>`).join("")}</tbody></table></div>`;
}

/* An effect's risk of bias as a badge whose text says the overall judgement, or "Not
 * assessed" when no assessment is stored (never left blank, never guessed). */
const ROB_SEVERITY = {
  LOW: "", SOME_CONCERNS: " warn", MODERATE: " warn", HIGH: " bad", SERIOUS: " bad",
  CRITICAL: " bad", NO_INFORMATION: "",
};
function robBadge(e) {
  const overall = e.risk_of_bias ? e.risk_of_bias.overall : "NOT_ASSESSED";
  const tool = e.risk_of_bias ? ` (${e.risk_of_bias.tool === "ROB2" ? "RoB 2" : "ROBINS-I"})` : "";
  return `<span class="badge rob${ROB_SEVERITY[overall] || ""}" data-judgement="${esc(overall)}"
    title="Risk of bias${esc(tool)}: ${esc(label(overall))}">${esc(label(overall))}</span>`;
}

function effectRow(e) {
  const ci = e.ci_low !== null && e.ci_high !== null ? `${num(e.ci_low)} to ${num(e.ci_high)}` : "—";
  const p = e.p_value === null ? "—" : `${e.p_value_relation && e.p_value_relation !== "=" ?
    e.p_value_relation : ""}${e.p_value}`;
  return `<tr${e.retracted ? ' class="retracted"' : ""}>
    <td data-label="Comparison">${esc(e.experimental_arm)}${e.comparator_arm
      ? ` vs ${esc(e.comparator_arm)}` : ' <span class="muted small">(within arm)</span>'}</td>
    <td data-label="Timepoint">${esc(e.timepoint)}</td>
    <td data-label="Effect">${esc(label(e.effect_type))}</td>
    <td class="num strong" data-label="Value">${esc(num(e.value))}</td>
    <td class="num" data-label="CI">${esc(ci)}</td>
    <td class="num" data-label="p">${esc(p)}</td>
    <td data-label="Origin">${esc(label(e.origin))}${e.retracted ? ' <span class="badge bad">Retracted</span>' : ""}</td>
    <td data-label="Risk of bias">${robBadge(e)}</td></tr>`;
}

function outcomesHtml(outcomes) {
  if (!outcomes.length) return '<p class="muted">No outcome measures recorded.</p>';
  return outcomes.map((o) => `<div class="outcome">
    <h4>${esc(o.name)} <span class="muted small">${esc(o.instrument || "")}
      ${o.role ? `· ${esc(label(o.role).toLowerCase())}` : ""}
      ${o.lower_is_better === true ? "· lower is better" : ""}</span></h4>
    ${o.effects.length ? `<div class="table-wrap"><table class="compact stack effects">
      <thead><tr><th scope="col">Comparison</th><th scope="col">Timepoint</th>
        <th scope="col">Effect</th><th scope="col" class="num">Value</th>
        <th scope="col" class="num">CI</th><th scope="col" class="num">p</th>
        <th scope="col">Origin</th><th scope="col">Risk of bias</th></tr></thead>
      <tbody>${o.effects.map(effectRow).join("")}</tbody></table></div>`
      : `<p class="muted small">No effect sizes recorded${o.results.length
        ? ` (${o.results.length} arm-level results)` : ""}.</p>`}
  </div>`).join("");
}

const CLOCKS = {
  after_treatment: ["After treatment", "Months after the last treatment session"],
  since_baseline: ["Since baseline", "Months since baseline (randomization)"],
};
const ROLE_NAMES = {
  BASELINE: "baseline", PRIMARY_ENDPOINT: "primary endpoint",
  END_OF_TREATMENT: "end of treatment", FOLLOW_UP: "follow-up",
};

/* The follow-up timeline on one clock: each timepoint placed on it is a row with a dot on a
 * shared month axis; a timepoint reported as a distribution is a bar from its min to its max
 * with its mean marked. Positions are percentages, so the chart fits any width. */
function clockHtml(timepoints, clock) {
  const placed = timepoints.filter((t) => t.clocks && t.clocks[clock]);
  if (!placed.length) return "";
  const top = Math.max(...placed.map((t) => Math.max(t.clocks[clock].months,
    t.clocks[clock].max)));
  const step = top <= 6 ? 1 : top <= 24 ? 3 : top <= 60 ? 6 : 12;
  const axisMax = Math.max(step, Math.ceil(top / step) * step);
  const pct = (m) => `${((100 * m) / axisMax).toFixed(3)}%`;
  const ticks = [];
  for (let m = 0; m <= axisMax; m += step) ticks.push(m);
  const rows = placed.map((t) => {
    const c = t.clocks[clock];
    const isRange = c.min !== c.max;
    const derived = c.from === "SCHEDULE" ? " (from the treatment schedule)" : "";
    let text;
    let mark;
    if (isRange) {
      text = `${num(c.min, 1)}–${num(c.max, 1)} months`
        + (t.months_mean !== null ? ` (mean ${num(c.months, 1)}` + (t.months_sd !== null
          ? `, SD ${num(t.months_sd, 1)})` : ")") : "");
      mark = `<span class="tp-range" data-min="${c.min}" data-max="${c.max}"
          data-left="${pct(c.min)}" data-width="${pct(c.max - c.min)}"></span>`
        + (t.months_mean !== null ? `<span class="tp-mean" data-months="${c.months}"
          data-left="${pct(c.months)}"></span>` : "");
    } else {
      const atLeast = t.months === null && t.months_mean === null && t.months_max === null
        && t.months_min !== null;
      text = `${atLeast ? "at least " : ""}${num(c.months, 1)} months`
        + (t.months === null && t.months_mean !== null ? " (mean)" : "");
      mark = `<span class="tp-point" data-months="${c.months}" data-left="${pct(c.months)}">
        </span>`;
    }
    text += derived;
    if (t.role) text += ` · ${ROLE_NAMES[t.role] || t.role}`;
    if (t.n_assessed !== null) {
      text += `, ${t.n_assessed}${t.n_eligible !== null ? ` of ${t.n_eligible}` : ""} assessed`;
    }
    return `<li class="tp${t.role === "FOLLOW_UP" ? " follow-up" : ""}"
        data-label="${esc(t.label)}" data-role="${esc(t.role || "")}">
      <span class="tp-label"><strong>${esc(t.label)}</strong>: ${esc(text)}</span>
      <span class="tp-track" aria-hidden="true">${mark}</span></li>`;
  }).join("");
  const axis = `<div class="tp-axis" aria-hidden="true">${ticks.map((m) =>
    `<span class="tick" data-left="${pct(m)}">${m}</span>`).join("")}</div>`;
  const [title, caption] = CLOCKS[clock];
  return `<figure class="timeline" data-clock="${clock}">
    <h4>${title}</h4>
    <ol class="tp-rows" aria-label="${caption}">${rows}</ol>${axis}
    <figcaption class="muted small">${caption}; a bar spans the range of a timepoint reported
      as a distribution, the dark tick marks its mean.</figcaption>
  </figure>`;
}

/* Both clocks, after treatment first (follow-up length is read on it). */
function timelineHtml(timepoints) {
  const figures = Object.keys(CLOCKS).map((clock) => clockHtml(timepoints, clock)).join("");
  const unplaced = timepoints.filter((t) => !t.clocks
    || (!t.clocks.after_treatment && !t.clocks.since_baseline));
  if (!figures) {
    return '<p class="muted">No timepoint of this study is placed in months.</p>';
  }
  return figures + (unplaced.length ? `<p class="muted small">Not placed (no time reported):
    ${esc(unplaced.map((t) => t.label).join("; "))}.</p>` : "");
}

function publicationsHtml(publications) {
  if (!publications.length) return '<p class="muted">No publications recorded.</p>';
  return `<ul class="pubs">${publications.map((p) => {
    const link = p.doi ? `https://doi.org/${encodeURI(p.doi)}` : p.url;
    return `<li${p.retraction_status === "RETRACTED" ? ' class="retracted"' : ""}>
      ${badgeFor(p.retraction_status)}
      <span>${esc(p.first_author || "")}${p.year ? ` (${esc(p.year)})` : ""}.
        ${link ? `<a href="${esc(link)}" rel="noopener">${esc(p.title || p.doi)}</a>`
          : esc(p.title || p.citation || p.ref)}
        ${p.journal ? `<em>${esc(p.journal)}</em>.` : ""}
        <span class="muted small">${esc(label(p.role).toLowerCase())}</span></span>
      ${p.retraction_status && p.retraction_status !== "NONE" ? `<span class="small">
        ${esc(label(p.retraction_status))}${p.retraction_date ? ` on ${esc(p.retraction_date)}` : ""}
        ${p.retraction_reason ? `: ${esc(p.retraction_reason)}` : ""}</span>` : ""}
    </li>`;
  }).join("")}</ul>`;
}

function relationsHtml(s) {
  const links = [
    ...s.relations.map((r) => [label(r.relation_type).toLowerCase(), r.study ?? r.target]),
    ...s.referenced_by.map((r) => [`referenced by (${label(r.relation_type).toLowerCase()})`,
      r.study]),
  ].filter(([, key]) => key);
  if (!links.length) return "";
  return `<h3>Related studies</h3><ul class="plain">${links.map(([how, key]) =>
    `<li>${esc(how)}: <a href="${esc(studyHref(key))}" data-study="${esc(key)}">${esc(key)}</a></li>`)
    .join("")}</ul>`;
}

async function eventsHtml(s) {
  const names = [...new Set(s.interventions)];
  const seen = new Map();
  await Promise.all(names.map(async (name) => {
    const data = await getJSON(`${API}/regulatory-events?intervention=${encodeURIComponent(name)}`
      + "&page_size=200");
    for (const e of data.items) seen.set(e.key, e);
  }));
  const events = [...seen.values()].sort((a, b) => String(a.date).localeCompare(String(b.date)));
  if (!events.length) {
    return '<p class="muted">No regulatory events recorded for these interventions.</p>';
  }
  return `<ol class="events">${events.map((e) => `<li>
    <time datetime="${esc(e.date)}">${esc(e.date)}</time>
    <span class="badge info">${esc(e.agency || "sponsor")}</span>
    <span>${esc(e.summary || label(e.event_type))}
      ${e.vote_for !== null && e.vote_against !== null
        ? `<span class="small">(vote ${esc(e.vote_for)}–${esc(e.vote_against)})</span>` : ""}
      <span class="muted small">${esc(label(e.event_type).toLowerCase())} ·
        ${esc(e.intervention || "")}</span></span></li>`).join("")}</ol>`;
}

async function renderStudy(state) {
  const section = $("#study");
  const body = $("#study-body");
  if (!state.study) {
    section.hidden = true;
    studyKeyShown = null;
    return;
  }
  if (state.study === studyKeyShown) {
    await renderDurability(state); // the clock or the retracted-evidence filter may have changed
    return;
  }
  const key = state.study;
  studyKeyShown = key;
  section.hidden = false;
  $("#study-title").textContent = `Study ${key}`;
  body.innerHTML = '<p class="muted">Loading…</p>';
  try {
    const s = await getJSON(`${API}/studies/${encodeURIComponent(key)}`);
    if (studyKeyShown !== key) return;
    $("#study-title").textContent = s.acronym ? `${s.acronym} (${s.key})` : s.key;
    body.innerHTML = `
      <p class="study-title">${esc(s.title)}
        ${s.retracted ? '<span class="badge bad">Retracted</span>' : ""}</p>
      <h3>Design</h3>${designHtml(s)}
      <h3>Arms and interventions</h3>${armsHtml(s.arms)}
      <h3>Follow-up timeline</h3>${timelineHtml(s.timepoints)}
      <h3 id="durability-title">Durability</h3>${durabilityShellHtml()}
      <h3>Outcomes and effect sizes</h3>${outcomesHtml(s.outcome_measures)}
      <h3>Publications</h3>${publicationsHtml(s.publications)}
      ${relationsHtml(s)}
      <h3>Regulatory events</h3><div id="study-events"><p class="muted">Loading…</p></div>`;
    section.focus({ preventScroll: true });
    section.scrollIntoView({ block: "start" });
    const events = (async () => {
      try {
        const html = await eventsHtml(s);
        if (studyKeyShown === key) $("#study-events").innerHTML = html;
      } catch (error) {
        $("#study-events").innerHTML = `<p class="error">Could not load regulatory events:
          ${esc(error.message)}</p>`;
      }
    })();
    await Promise.all([events, renderDurability(readState())]);
  } catch (error) {
    body.innerHTML = `<p class="error">Could not load study ${esc(key)}: ${esc(error.message)}</p>`;
  }
}

/* ---------- durability of the open study ---------- */

const DURABILITY_CLOCKS = {
  treatment: ["after_treatment", "Months after treatment"],
  baseline: ["since_baseline", "Months since baseline"],
};

function durabilityShellHtml() {
  return `<div id="study-durability" class="durability">
    <form id="durability-form" class="inline-form" aria-label="Durability plot clock">
      <label for="f-clock">Count months</label>
      <select id="f-clock" name="clock">
        <option value="treatment">after treatment (last session)</option>
        <option value="baseline">since baseline (randomization)</option>
      </select>
    </form>
    <div id="durability-body" aria-live="polite"><p class="muted">Loading…</p></div></div>`;
}

function clockOf(state) {
  return state.clock === "baseline" ? "baseline" : "treatment";
}

/* Months on one clock: a range as min–max with its mean, else the single value. */
function clockMonthsHtml(timepoint, field) {
  const c = timepoint[field];
  if (!c) return '<span class="muted">not on this clock</span>';
  if (c.min !== c.max) {
    return `<span class="range" data-min="${esc(c.min)}" data-max="${esc(c.max)}">${
      esc(`${num(c.min, 1)}–${num(c.max, 1)}`)}</span>${timepoint.months_mean !== null
      ? ` <span class="small">(mean ${esc(num(c.months, 1))})</span>` : ""}`;
  }
  return esc(num(c.months, 1));
}

function scoreHtml(p) {
  let text;
  if (p.mean !== null) {
    text = `${num(p.mean, 1)}${p.sd !== null ? ` (SD ${num(p.sd, 1)})` : ""}`;
  } else if (p.change_mean !== null) {
    text = `change ${num(p.change_mean, 1)}${p.change_sd !== null
      ? ` (SD ${num(p.change_sd, 1)})` : ""}`;
  } else {
    return "—";
  }
  if (p.n !== null) text += `, n ${p.n}`;
  return esc(text) + (p.retracted ? ' <span class="badge bad">Retracted</span>' : "");
}

function retentionHtml(t) {
  if (t.n_assessed === null) return "—";
  return esc(`${t.n_assessed}${t.n_eligible !== null ? ` of ${t.n_eligible}` : ""}`
    + (t.retention !== null ? ` (${Math.round(100 * t.retention)}%)` : ""));
}

function controlledText(t) {
  if (t.controlled === true) return "Yes";
  if (t.controlled === false) return "No";
  return "—";
}

function durabilityTableHtml(study, clock) {
  const [field, heading] = DURABILITY_CLOCKS[clock];
  const timepoints = new Map(study.timepoints.map((t) => [t.id, t]));
  const rows = study.series.flatMap((series) => series.points.map((p) => {
    const t = timepoints.get(p.timepoint_id) || {};
    return `<tr data-arm="${esc(series.arm)}" data-timepoint="${esc(p.timepoint)}"${
      p.retracted ? ' class="retracted"' : ""}>
      <th scope="row">${esc(series.arm)} <span class="muted small">${esc(series.outcome)}${
        series.lower_is_better === true ? " · lower is better" : ""}</span></th>
      <td data-label="Timepoint">${esc(p.timepoint)}</td>
      <td class="num months" data-label="${esc(heading)}">${t.id === undefined ? "—"
        : clockMonthsHtml(t, field)}</td>
      <td class="num" data-label="Score">${scoreHtml(p)}</td>
      <td class="num retention" data-label="Assessed">${retentionHtml(t)}</td>
      <td data-label="Still controlled">${esc(controlledText(t))}</td></tr>`;
  })).join("");
  return `<div class="table-wrap"><table class="compact stack" id="durability-table">
    <caption>Score by arm and timepoint, ${esc(heading.toLowerCase())}</caption>
    <thead><tr><th scope="col">Arm</th><th scope="col">Timepoint</th>
      <th scope="col" class="num">${esc(heading)}</th><th scope="col" class="num">Score</th>
      <th scope="col" class="num">Assessed (of eligible)</th>
      <th scope="col">Still controlled</th></tr></thead>
    <tbody>${rows}</tbody></table></div>`;
}

function leftOutHtml(excluded) {
  return Object.entries(excluded || {}).map(([why, left]) => `<p class="muted small">${
    esc(`${left.count} ${label(why).toLowerCase()} result${left.count === 1 ? "" : "s"} left out`)}
    (${esc(left.include_with)} brings them in: choose “Shown and pooled” under Retracted
    evidence).</p>`).join("");
}

/* The open study's scores over time (GET /durability?study=KEY) with its drawing on the chosen
 * clock. The host remembers what it shows, so a re-render of the same view costs nothing. */
async function renderDurability(state) {
  const host = $("#durability-body");
  if (!host || !state.study) return;
  const clock = clockOf(state);
  $("#f-clock").value = clock;
  if (!available.durability) {
    $("#f-clock").disabled = true;
    host.innerHTML = '<p class="muted">Durability is not available on this server.</p>';
    return;
  }
  const params = new URLSearchParams({ study: state.study });
  if (state.include_retracted === "true") params.set("include_retracted", "true");
  const query = params.toString();
  const shown = `${query}&clock=${clock}`;
  if (host.dataset.shown === shown) return;
  host.dataset.shown = shown;
  host.setAttribute("aria-busy", "true");
  try {
    const data = await getJSON(`${API}/durability?${query}`);
    if (host.dataset.shown !== shown) return;
    const study = data.studies.find((s) => s.study_key === state.study) || data.studies[0];
    if (!study || !study.series.length) {
      host.innerHTML = `<p class="muted" id="durability-none">No durability data for this
        study: no arm has a score reported at its timepoints.</p>${leftOutHtml(data.excluded)}`;
      return;
    }
    let drawing = "";
    if (available.durabilitySvg) {
      const src = await drawingUrl(`${API}/durability.svg?${query}&clock=${clock}`, "durability");
      if (host.dataset.shown !== shown) return;
      drawing = `<div class="plot-wrap" tabindex="0" role="group"
        aria-label="Durability plot, scrolls sideways on a narrow screen"><img
        class="plot-svg durability-svg" src="${esc(src)}" width="820"
        alt="Score against ${esc(DURABILITY_CLOCKS[clock][1].toLowerCase())}, one line per
        arm; the same numbers are in the table below."></div>`;
    }
    const end = study.treatment_end_months;
    host.innerHTML = `${drawing}${durabilityTableHtml(study, clock)}
      ${end !== null && end !== undefined ? `<p class="muted small">Treatment ended
        ${esc(num(end, 1))} months after baseline.</p>` : ""}${leftOutHtml(data.excluded)}`;
  } catch (error) {
    if (host.dataset.shown !== shown) return;
    host.innerHTML = error.status === 422
      ? `<p class="muted" id="durability-none">No durability data for this study:
        ${esc(error.message)}</p>`
      : `<p class="error">Could not load durability: ${esc(error.message)}</p>`;
  } finally {
    if (host.dataset.shown === shown) host.removeAttribute("aria-busy");
  }
}

function bindDurability() {
  const body = $("#study-body");
  body.addEventListener("change", (event) => {
    if (event.target.id !== "f-clock") return;
    navigate({ clock: event.target.value === "treatment" ? undefined : event.target.value },
      KEEP_PAGES);
  });
  body.addEventListener("submit", (event) => {
    if (event.target.id === "durability-form") event.preventDefault();
  });
}

/* ---------- forest plot ---------- */

let instrumentsKey = null;
let forestKey = null;
const effectTypes = new Map(); // instrument -> Map(effect type -> number of estimates)
let forestSeen = false;

function watchForest() {
  const seen = () => {
    if (forestSeen) return;
    forestSeen = true;
    renderForest(readState());
  };
  if ("IntersectionObserver" in window) {
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) seen();
    }).observe($("#forest"));
  } else {
    seen();
  }
  $("#f-instrument").addEventListener("focus", seen);
}

/* The instruments (and their effect types) among the effect estimates of the filtered studies. */
let instrumentsLoading = null;

function loadInstruments(state) {
  const params = filterQuery(state);
  params.set("include", "effects");
  params.set("fields", "key,effects");
  params.set("page_size", "1000");
  const query = params.toString();
  if (query !== instrumentsKey) {
    instrumentsKey = query;
    instrumentsLoading = fetchInstruments(query);
  }
  return instrumentsLoading; // callers for the same filter share one request
}

async function fetchInstruments(query) {
  const byInstrument = new Map();
  try {
    const data = await getJSON(`${API}/studies?${query}`);
    for (const study of data.items) {
      for (const e of study.effects || []) {
        if (!e.instrument) continue;
        const types = byInstrument.get(e.instrument) || new Map();
        types.set(e.effect_type, (types.get(e.effect_type) || 0) + 1);
        byInstrument.set(e.instrument, types);
      }
    }
  } catch (_) { /* the list stays empty */ }
  if (query !== instrumentsKey) return; // the filter changed meanwhile
  effectTypes.clear();
  for (const [name, types] of byInstrument) effectTypes.set(name, types);
}

function syncInstruments(state) {
  const select = $("#f-instrument");
  const names = [...effectTypes.keys()];
  const chosen = state.instrument || "";
  if (chosen && !names.includes(chosen)) names.push(chosen);
  select.innerHTML = '<option value="">Choose…</option>' + names.sort()
    .map((name) => `<option value="${esc(name)}">${esc(name)}</option>`).join("");
  select.value = chosen;
}

/* Pooling needs one effect type: the chosen one, else the instrument's most frequent. */
function effectTypeFor(state) {
  if (state.effect_type) return state.effect_type;
  const types = [...(effectTypes.get(state.instrument) || new Map())]
    .sort((a, b) => b[1] - a[1]);
  return types.length ? types[0][0] : "";
}

function syncEffectTypes(state) {
  const select = $("#f-effect-type");
  const types = [...(effectTypes.get(state.instrument) || new Map()).keys()];
  if (state.effect_type && !types.includes(state.effect_type)) types.push(state.effect_type);
  select.innerHTML = types.sort().map((t) => `<option value="${esc(t)}">${esc(label(t))}</option>`)
    .join("") || '<option value="">—</option>';
  select.value = effectTypeFor(state);
  select.disabled = types.length < 2;
}

function metaQuery(state) {
  const params = filterQuery(state);
  params.set("instrument", state.instrument);
  const type = effectTypeFor(state);
  if (type) params.set("effect_type", type);
  return params.toString();
}

function metaSummaryHtml(meta) {
  const pi = meta.prediction_interval;
  return dl([
    ["Studies pooled", esc(meta.k)],
    ["Effect type", esc(label(meta.effect_type))],
    ["Model", esc(`random effects (${meta.method}${meta.hartung_knapp ? ", Hartung–Knapp" : ""})`)],
    ["Pooled estimate", `<strong>${esc(num(meta.estimate))}</strong> ${esc(
      `(${Math.round(100 * (meta.ci_level ?? 0.95))}% CI ${num(meta.ci_low)} to ${num(meta.ci_high)}, `
      + `p ${meta.p_value < 0.001 ? "< 0.001" : `= ${num(meta.p_value, 3)}`})`)}`],
    ["Prediction interval", pi ? esc(`${num(pi.low)} to ${num(pi.high)}`) : null],
    ["Heterogeneity", esc(`I² ${num(meta.i2, 1)}%, τ² ${num(meta.tau2, 3)}, Q ${num(meta.q)} `
      + `(df ${meta.df})`)],
  ]) + excludedHtml(meta.excluded || [])
    + (meta.warnings || []).map((w) => `<p class="warn-text small">${esc(w)}</p>`).join("");
}

function excludedHtml(excluded) {
  if (!excluded.length) return "";
  return `<details class="excluded"><summary>${excluded.length} estimate${
    excluded.length === 1 ? "" : "s"} left out of the pooling</summary><ul>${excluded.map((e) =>
    `<li>${esc(e.study_key)}, ${esc(e.experimental_arm || "")}${e.comparator_arm
      ? ` vs ${esc(e.comparator_arm)}` : ""} (${esc(label(e.effect_type))} ${esc(num(e.value))}):
      ${esc(e.reason)}</li>`).join("")}</ul></details>`;
}

function metaStudyRow(s) {
  const low = s.ci_low ?? s.pooled_ci_low;
  const high = s.ci_high ?? s.pooled_ci_high;
  const derived = s.ci_low === null || s.ci_low === undefined;
  return `<tr data-study="${esc(s.study_key)}"${s.retracted ? ' class="retracted"' : ""}>
    <th scope="row"><a href="${esc(studyHref(s.study_key))}" data-study="${esc(s.study_key)}">${
      esc(s.label)}</a>${s.retracted ? ' <span class="badge bad">Retracted</span>' : ""}</th>
    <td data-label="Timepoint">${esc(s.timepoint)}</td>
    <td class="num" data-label="Estimate">${esc(num(s.value))}</td>
    <td class="num" data-label="CI">${esc(num(low))} to ${esc(num(high))}${derived
      ? ' <span class="muted small" title="from the standard error">(derived)</span>' : ""}</td>
    <td class="num" data-label="Weight">${esc(num(s.weight_random, 1))}%</td></tr>`;
}

async function renderForest(state) {
  const host = $("#forest-body");
  if (!available.meta) {
    $("#f-instrument").disabled = true;
    $("#f-effect-type").disabled = true;
    host.innerHTML = '<p class="muted">The meta-analysis is not available on this server.</p>';
    return;
  }
  // The instrument list costs a request over the filtered studies' effects: only made once the
  // panel is on screen or an instrument is already chosen.
  if (state.instrument || forestSeen) await loadInstruments(state);
  syncInstruments(state);
  syncEffectTypes(state);
  if (!state.instrument) {
    forestKey = null;
    host.innerHTML = '<p class="muted">Choose an instrument to pool its effect sizes.</p>';
    return;
  }
  const query = metaQuery(state);
  if (query === forestKey) return;
  forestKey = query;
  host.innerHTML = '<p class="muted">Pooling…</p>';
  try {
    const meta = await getJSON(`${API}/meta-analysis?${query}`);
    if (forestKey !== query) return;
    let svg = "";
    if (available.forestSvg) {
      const svgUrl = await drawingUrl(`${API}/meta-analysis/forest.svg?${query}`, "forest");
      svg = `<div class="forest-wrap" tabindex="0" role="group"
        aria-label="Forest plot, scrolls sideways on a narrow screen"><img class="forest-svg"
        src="${esc(svgUrl)}"
        alt="Forest plot of ${esc(state.instrument)}: one row per study, the pooled estimate
        as a diamond; the same numbers are in the table below." width="800"></div>`;
    }
    const rows = meta.studies.map(metaStudyRow).join("");
    host.innerHTML = `${metaSummaryHtml(meta)}${svg}
      <div class="table-wrap"><table class="compact stack" id="forest-studies">
        <caption>Pooled studies</caption>
        <thead><tr><th scope="col">Study</th><th scope="col">Timepoint</th>
          <th scope="col" class="num">Estimate</th>
          <th scope="col" class="num">CI</th><th scope="col" class="num">Weight</th></tr>
        </thead><tbody>${rows}</tbody></table></div>`;
  } catch (error) {
    host.innerHTML = error.status === 422
      ? `<p class="warn-text">Cannot pool this selection: ${esc(error.message)}</p>`
      : `<p class="error">Could not load the meta-analysis: ${esc(error.message)}</p>`;
  }
}

function bindForest() {
  $("#f-instrument").addEventListener("change", (event) => {
    navigate({ instrument: event.target.value || undefined, effect_type: undefined },
      KEEP_PAGES);
  });
  $("#f-effect-type").addEventListener("change", (event) => {
    navigate({ effect_type: event.target.value || undefined }, KEEP_PAGES);
  });
  $("#forest-form").addEventListener("submit", (event) => event.preventDefault());
}

/* ---------- network meta-analysis ---------- */

let networkKey = null;
let networkRun = 0; // the latest request wins, even when an earlier one asked the same
let networkSeen = false;

/* The network answer is costly: nothing is asked for until the panel is on screen, its
 * control has focus or its form is sent. */
function watchNetwork() {
  const seen = () => {
    if (networkSeen) return;
    networkSeen = true;
    renderNetwork(readState());
  };
  if ("IntersectionObserver" in window) {
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) seen();
    }).observe($("#network"));
  } else {
    seen();
  }
  $("#f-merge").addEventListener("focus", seen);
}

/* The forest plot's selection plus the merged nodes: one `merge` per group, groups split on
 * semicolons. */
function networkQuery(state) {
  const params = new URLSearchParams(metaQuery(state));
  for (const group of (state.merge || "").split(";")) {
    if (group.trim()) params.append("merge", group.trim());
  }
  return params.toString();
}

function intervalText(cell) {
  const x = cell.exponentiated;
  const [estimate, low, high] = x ? [x.estimate, x.ci_low, x.ci_high]
    : [cell.estimate, cell.ci_low, cell.ci_high];
  return `${num(estimate)} (${num(low)} to ${num(high)})`;
}

function leagueHtml(net) {
  const pScores = new Map((net.p_scores || []).map((p) => [p.treatment, p.p_score]));
  const names = net.nodes.map((n) => n.name);
  if (pScores.size) names.sort((a, b) => (pScores.get(b) ?? 0) - (pScores.get(a) ?? 0));
  const cells = new Map(net.league.map((c) => [`${c.treatment}\u0000${c.comparator}`, c]));
  const level = Math.round(100 * (net.ci_level ?? 0.95));
  const ratio = net.scale === "log";
  const rows = names.map((row) => `<tr data-node="${esc(row)}"><th scope="row">${esc(row)}${
    pScores.has(row) ? ` <span class="muted small">P-score ${esc(num(pScores.get(row)))}</span>`
      : ""}</th>${names.map((col) => {
      if (col === row) return `<td class="diag" data-comparator="${esc(col)}">—</td>`;
      const cell = cells.get(`${row}\u0000${col}`);
      return `<td class="num" data-comparator="${esc(col)}">${cell ? esc(intervalText(cell))
        : "—"}</td>`;
    }).join("")}</tr>`).join("");
  return `<p class="hint" id="league-hint">Each cell is the row's treatment against the
      column's (${esc(label(net.effect_type))}${ratio ? ", ratio scale" : ""}, ${esc(level)}%
      CI)${net.higher_favours === true ? "; higher favours the row"
        : net.higher_favours === false ? "; lower favours the row" : ""}.</p>
    <div class="table-wrap league-wrap" tabindex="0" role="group"
      aria-label="League table, scrolls sideways on a narrow screen">
    <table class="compact league" id="network-league" aria-describedby="league-hint">
    <caption>League table</caption>
    <thead><tr><th scope="col"><span class="visually-hidden">Treatment</span></th>${names.map((n) => `<th scope="col" data-node="${esc(n)}">${esc(n)}</th>`)
      .join("")}</tr></thead>
    <tbody>${rows}</tbody></table></div>`;
}

function networkSummaryHtml(net) {
  const h = net.heterogeneity;
  return dl([
    ["Studies", esc(net.k)],
    ["Treatments", esc(`${net.n_treatments} (reference ${net.reference})`)],
    ["Effect type", esc(label(net.effect_type))],
    ["Model", esc(net.model === "random" ? `random effects (${net.method_tau}), τ² ${
      num(net.tau2, 3)}` : "fixed effect")],
    ["Heterogeneity", h ? esc(`I² ${num(h.i2, 1)}%, Q ${num(h.q)} (df ${h.df}); between `
      + `designs Q ${num(h.between_designs.q)} (df ${h.between_designs.df})`) : null],
  ]);
}

async function renderNetwork(state) {
  const host = $("#network-body");
  const merge = $("#f-merge");
  if (document.activeElement !== merge) merge.value = state.merge || "";
  if (!available.network) {
    merge.disabled = true;
    host.innerHTML = '<p class="muted">The network meta-analysis is not available on this '
      + "server.</p>";
    return;
  }
  if (!state.instrument) {
    networkKey = null;
    host.innerHTML = '<p class="muted">Choose an instrument in the forest plot panel to '
      + "compare the treatments its estimates connect.</p>";
    return;
  }
  if (!networkSeen) {
    networkKey = null;
    host.innerHTML = '<p class="muted">The network is computed once this panel is on '
      + "screen.</p>";
    return;
  }
  await loadInstruments(state); // the effect type defaults to the instrument's most frequent
  const query = networkQuery(state);
  if (query === networkKey) return;
  networkKey = query;
  const run = ++networkRun;
  host.innerHTML = '<p class="muted">Computing the network…</p>';
  host.setAttribute("aria-busy", "true");
  try {
    const net = await getJSON(`${API}/network-meta-analysis?${query}`);
    if (run !== networkRun) return;
    let drawing = "";
    if (available.networkSvg) {
      const src = await drawingUrl(`${API}/network-meta-analysis/network.svg?${query}`, "network");
      if (run !== networkRun) return;
      drawing = `<div class="plot-wrap" tabindex="0" role="group"
        aria-label="Network graph, scrolls sideways on a narrow screen"><img
        class="plot-svg network-svg" src="${esc(src)}" width="640"
        alt="Network of ${esc(net.n_treatments)} treatments: a node per treatment, an edge per
        compared pair, its width the number of studies; the comparisons are in the league
        table below."></div>`;
    }
    host.innerHTML = `${networkSummaryHtml(net)}${drawing}${leagueHtml(net)}
      ${(net.warnings || []).map((w) => `<p class="warn-text small">${esc(w)}</p>`).join("")}
      ${excludedHtml(net.excluded || [])}`;
  } catch (error) {
    if (run !== networkRun) return;
    host.innerHTML = error.status === 422
      ? `<p class="warn-text" id="network-problem">Cannot compare this selection: ${
        esc(error.message)}</p>`
      : `<p class="error">Could not load the network meta-analysis: ${esc(error.message)}</p>`;
  } finally {
    if (run === networkRun) host.removeAttribute("aria-busy");
  }
}

function bindNetwork() {
  $("#network-form").addEventListener("submit", (event) => {
    event.preventDefault();
    networkSeen = true;
    const merge = $("#f-merge").value.trim();
    networkKey = null; // asked again: answer again
    navigate({ merge: merge || undefined }, KEEP_PAGES);
  });
}

/* ---------- what changed: the change feed ---------- */

const CHANGES_SHOWN = 20;
const CHANGES_WAIT = 25; // seconds a long poll waits for a change before it answers empty
const CHANGES_QUIET_MS = 1000;
const CHANGES_RETRY_MS = [2000, 5000, 15000, 30000, 60000];
const CHANGES_MEMBERS = 6; // changed members named in full; the rest are counted
const BOOKKEEPING = new Set(["created_at", "updated_at", "version"]); // every write's
const ACTIONS = {
  create: "Created", update: "Updated", replace: "Replaced", delete: "Deleted",
  retraction: "Retracted",
};

let changesKey = null; // the filters the list shows the changes of
let changesRun = 0; // one run per filter: an older run stops at its next step
let changesLoop = 0; // the run a loop follows now, 0 when none does
let changesPaused = 0; // the run the hidden page paused
let changesCursor = null; // the feed's cursor after the changes shown; null: load the newest
let changesAbort = null; // the pending request's controller

function changeTime(at) {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return String(at);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${
    pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/* The members a change touched; a record created or deleted is changed as a whole. */
function changedHtml(c) {
  const names = (c.changed || []).filter((name) => !BOOKKEEPING.has(name));
  if (!names.length || c.action === "create" || c.action === "delete") return "";
  const more = names.length - CHANGES_MEMBERS;
  const text = more > 1 ? `${names.slice(0, CHANGES_MEMBERS).join(", ")} and ${more} more`
    : names.join(", ");
  return `<span class="changed small" title="${esc(names.join(", "))}">Changed: ${
    esc(text)}</span>`;
}

/* A change: when, what was done, to which study (a link to its view unless it was deleted),
 * the record's version after it and the members it touched. */
function changeHtml(c) {
  let what;
  if (!c.study) {
    what = esc(`${label(c.entity)} ${c.key}`);
  } else if (c.entity === "study" && c.action === "delete") {
    what = esc(c.study);
  } else {
    what = `<a href="${esc(studyHref(c.study))}" data-study="${esc(c.study)}">${esc(c.study)}</a>`;
  }
  if (c.study && c.entity !== "study") {
    what += ` <span class="muted small">${esc(label(c.entity).toLowerCase())}</span>`;
  }
  return `<li data-change="${esc(c.id)}" data-action="${esc(c.action)}">
    <time datetime="${esc(c.at)}" title="${esc(c.at)}">${esc(changeTime(c.at))}</time>
    <span class="badge">${esc(ACTIONS[c.action] || label(c.action))}</span> ${what}${
      c.version !== null && c.version !== undefined
        ? ` <span class="muted small version">version ${esc(c.version)}</span>` : ""}
    ${changedHtml(c)}</li>`;
}

/* The feed answers in commit order; the list shows the newest first and keeps CHANGES_SHOWN. */
function showChanges(items, replace) {
  const list = $("#changes-list");
  const html = items.map(changeHtml).reverse().join("");
  if (replace) {
    list.innerHTML = html || `<li class="muted none">No change to ${
      changesKey ? "the studies these filters match" : "any study"} yet.</li>`;
    list.removeAttribute("aria-busy");
    return;
  }
  if (!html) return;
  const none = list.querySelector(".none");
  if (none) none.remove();
  list.insertAdjacentHTML("afterbegin", html);
  while (list.children.length > CHANGES_SHOWN) list.lastElementChild.remove();
}

function changesStatus(text) {
  $("#changes-status").textContent = text;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/* Resolves once no request of the page has been in flight or ended for `ms`: a long poll holds
 * its request open, so it waits for the view's own requests (a page that has loaded is idle). */
function quiet(ms) {
  return new Promise((resolve) => {
    const check = () => {
      const idle = performance.now() - traffic.last;
      if (!traffic.inFlight && idle >= ms) resolve();
      else setTimeout(check, Math.max(50, ms - idle));
    };
    check();
  });
}

/* Loads the newest changes for the filters, then follows the feed from its cursor with long
 * polls, prepending what comes, until the filters change or the page is hidden. An error
 * waits longer each time before the next try; a cursor the feed no longer keeps starts again
 * from the newest changes; a refused request (the filters, the key) ends the run. */
async function followChanges(run) {
  changesLoop = run;
  let failures = 0;
  try {
    while (run === changesRun && changesPaused !== run) {
      if (document.hidden) {
        pauseChanges();
        return;
      }
      const newest = changesCursor === null;
      const params = new URLSearchParams(changesKey || "");
      if (newest) {
        params.set("tail", String(CHANGES_SHOWN));
      } else {
        await quiet(CHANGES_QUIET_MS);
        if (run !== changesRun || changesPaused === run) return;
        params.set("since", changesCursor);
        params.set("wait", String(CHANGES_WAIT));
        changesStatus("Updating live");
      }
      changesAbort = new AbortController();
      try {
        const data = await getJSON(`${API}/changes?${params}`, changesAbort.signal);
        if (run !== changesRun) return;
        showChanges(data.items, newest);
        changesCursor = data.next_cursor;
        failures = 0;
      } catch (error) {
        if (run !== changesRun || error.name === "AbortError") return;
        if (!newest && (error.status === 400 || error.status === 410)) {
          changesCursor = null;
          continue;
        }
        if (error.status >= 400 && error.status < 500 && error.status !== 429) {
          if (newest) {
            $("#changes-list").innerHTML = `<li class="error">Could not load the changes: ${
              esc(error.message)}</li>`;
            $("#changes-list").removeAttribute("aria-busy");
          }
          changesStatus(newest ? "" : `Stopped: ${error.message}`);
          return;
        }
        const delay = CHANGES_RETRY_MS[Math.min(failures, CHANGES_RETRY_MS.length - 1)];
        failures += 1;
        changesStatus(`Could not reach the change feed; trying again in ${delay / 1000} s`);
        await sleep(delay);
      }
    }
  } finally {
    if (changesLoop === run) changesLoop = 0;
  }
}

function renderChanges(state) {
  if (!available.changes) {
    changesKey = null;
    changesRun += 1;
    if (changesAbort) changesAbort.abort();
    $("#changes-list").innerHTML = '<li class="muted">The change feed is not available on this '
      + "server.</li>";
    changesStatus("");
    return;
  }
  const query = filterQuery(state).toString();
  if (query === changesKey) return;
  changesKey = query;
  changesRun += 1;
  if (changesAbort) changesAbort.abort();
  changesCursor = null;
  changesStatus("");
  $("#changes-list").setAttribute("aria-busy", "true");
  followChanges(changesRun); // not awaited: it follows the feed until the filters change
}

/* A hidden page holds no request open: following stops there and goes on from the same
 * cursor when the page shows again. */
function pauseChanges() {
  if (changesLoop !== changesRun || changesPaused === changesRun) return;
  changesPaused = changesRun;
  if (changesAbort) changesAbort.abort();
  changesStatus("Paused while the page is hidden");
}

function resumeChanges() {
  if (document.hidden || changesPaused !== changesRun) return;
  changesPaused = 0;
  changesStatus("");
  if (changesLoop !== changesRun) followChanges(changesRun);
}

function bindChanges() {
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) pauseChanges();
    else resumeChanges();
  });
  window.addEventListener("pagehide", pauseChanges);
  window.addEventListener("pageshow", resumeChanges);
}

/* ---------- wiring ---------- */

async function render() {
  const state = readState();
  syncForm(state);
  await Promise.all([
    renderStudies(state), renderFacets(state), renderStudy(state), renderForest(state),
    renderNetwork(state), renderChanges(state),
  ]);
  document.body.dataset.ready = "true";
}

function keepPagesOnStudyLinks() {
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-study]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    navigate({ study: link.dataset.study }, KEEP_PAGES);
  });
  $("#close-study").addEventListener("click", () => {
    const key = readState().study;
    navigate({ study: undefined }, KEEP_PAGES);
    const row = document.querySelector(`#studies tbody tr[data-key="${CSS.escape(key || "")}"]`);
    if (row) row.focus();
  });
}

async function main() {
  bindFilters();
  bindTable();
  bindForest();
  bindDurability();
  bindNetwork();
  bindFacets();
  keepPagesOnStudyLinks();
  bindKeyForm();
  bindChanges();
  window.addEventListener("popstate", () => render());
  await Promise.all([discover(), loadVocabularies()]);
  await render();
  watchForest();
  watchNetwork();
}

// Bars and timeline marks carry their geometry as data-left / data-width; it is applied here
// through the style object, so the page needs no inline style attribute (the content security
// policy allows none).
function placeMarks(root) {
  const marks = root.matches("[data-left],[data-width]") ? [root] : [];
  for (const el of [...marks, ...root.querySelectorAll("[data-left],[data-width]")]) {
    if (el.dataset.left) el.style.left = el.dataset.left;
    if (el.dataset.width) el.style.width = el.dataset.width;
  }
}

new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (node.nodeType === Node.ELEMENT_NODE) placeMarks(node);
    }
  }
}).observe(document.body, { childList: true, subtree: true });

main();
