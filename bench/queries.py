"""The benchmark queries, as each system asks them, their parameter spaces, and how their
answers are compared.

Every query is a URL template per system with named parameters ({condition}, {phase}, …);
Datasette's SQL takes the same parameters as `:name` values in the query string. A "cached"
run repeats one parameter set (`Query.cached`); a "varied" run walks the query's parameter
space in a random order fixed by the seed (`parameter_sets`)."""

from __future__ import annotations

import json
import random
import re
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from generate import CONDITIONS, PHASES, WORDS

DB = "/datasette"  # the database name Datasette gives datasette.db

# The request spaces. Conditions and phases are the generator's own; free text is each of its
# words that is a single search term (a phrase such as "quality of life" is several terms, which
# PostgreSQL and SQLite's text search weigh differently), so the same word asks Datasette's
# FTS5 match, evidencedb's FTS5 match and evidencedb's tsquery the same question.
CONDITION_NAMES = [name for name, _ in CONDITIONS]
SEARCH_WORDS = [w for w in WORDS if re.fullmatch(r"\w+", w)]
# Minimum enrollment 0–299: generated enrollments are log-normal with a median of 74 (one
# study in five enrols 150 or more, one in twenty 300 or more), so the range runs from every
# study to a few.
MIN_ENROLLMENTS = [str(n) for n in range(0, 300)]
# A varied run never writes more parameter sets than this per query (drawn at random from
# larger spaces).
MAX_PARAMETER_SETS = 1_000_000

CONDITION_STUDIES = ("SELECT sc.study_id FROM study_condition sc JOIN condition_alias ca "
                     "ON ca.condition_id = sc.condition_id WHERE ca.alias = lower(:condition)")
CONDITION_IDS = "SELECT condition_id FROM condition_alias WHERE alias = lower(:condition)"
MIN_ENROLLMENT = "s.enrollment >= CAST(:min_enrollment AS INTEGER)"
Q2_WHERE = (f"s.deleted_at IS NULL AND s.phase = :phase AND {MIN_ENROLLMENT} "
            f"AND s.id IN ({CONDITION_STUDIES})")
Q2_ORDER = "ORDER BY s.start_date_sort DESC, s.id DESC LIMIT 50"
ARMS = ("(SELECT json_group_array(json_object('label', a.label, 'arm_type', a.arm_type, "
        "'n_randomized', a.n_randomized)) FROM (SELECT * FROM arm a WHERE a.study_id = s.id "
        "ORDER BY a.position) a) AS arms")
OUTCOMES = (
    "(SELECT json_group_array(json_object('name', o.name, 'instrument', o.instrument, "
    "'results', (SELECT json_group_array(json_object('n', r.n, 'mean', r.mean, 'sd', r.sd)) "
    "FROM (SELECT * FROM outcome_result r WHERE r.outcome_measure_id = o.id "
    "ORDER BY r.position) r), "
    "'effects', (SELECT json_group_array(json_object('value', e.value, 'ci_low', e.ci_low, "
    "'ci_high', e.ci_high, 'origin', e.origin)) FROM (SELECT * FROM effect_estimate e "
    "WHERE e.outcome_measure_id = o.id ORDER BY e.position) e))) "
    "FROM (SELECT * FROM outcome_measure o WHERE o.study_id = s.id ORDER BY o.position) o) "
    "AS outcomes")
TIMEPOINTS = ("(SELECT json_group_array(json_object('label', t.label, 'months', t.months)) "
              "FROM (SELECT * FROM timepoint t WHERE t.study_id = s.id ORDER BY t.position) t) "
              "AS timepoints")
# evidencedb's free text: every word must match, the last as a prefix (app/search.py); for one
# word that is the word, quoted, as a prefix.
WORD_MATCH = "study_fts MATCH '\"' || :word || '\"*'"


def sql_url(sql: str, *params: str) -> str:
    """A Datasette SQL URL template: the SQL's `:name` parameters become {name} placeholders
    in the query string (the SQL itself is percent-encoded, so holds no braces)."""
    url = f"{DB}.json?" + urllib.parse.urlencode({"sql": sql, "_shape": "array"})
    return url + "".join(f"&{name}={{{name}}}" for name in params)


def template_pieces(template: str) -> tuple[list[str], list[str]]:
    """A URL template as its literal pieces and the parameter names between them:
    pieces[0] + value(names[0]) + pieces[1] + … + pieces[-1]."""
    parts = re.split(r"\{(\w+)\}", template)
    return parts[0::2], parts[1::2]


def quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _ds_rows(body: Any) -> list[dict[str, Any]]:
    return body if isinstance(body, list) else body["rows"]


def _keys(system: str, body: Any) -> list[str]:
    rows = _ds_rows(body) if system == "datasette" else body["items"]
    return [r["key"] for r in rows]


def _nested(system: str, body: Any) -> list[Any]:
    """Keys with arm labels and outcome names, results and effect values, per study."""
    out = []
    rows = _ds_rows(body) if system == "datasette" else body["items"]
    for r in rows:
        arms = json.loads(r["arms"]) if system == "datasette" else r["arms"]
        outcomes = (json.loads(r["outcomes"]) if system == "datasette"
                    else r["outcome_measures"])
        item = [r["key"], [a["label"] for a in arms],
                [(o["name"], [(x["n"], x["mean"], x["sd"]) for x in o["results"]],
                  # Computed effects are full-precision floats, which SQLite's JSON prints
                  # to 15 digits: the reported ones are compared.
                  [x["value"] for x in o["effects"] if x["origin"] == "REPORTED"])
                 for o in outcomes]]
        if "timepoints" in r:
            tps = json.loads(r["timepoints"]) if system == "datasette" else r["timepoints"]
            item.append([(t["label"], t["months"]) for t in tps])
        out.append(item)
    return out


def _facets(system: str, body: Any) -> dict[str, dict[str, int]]:
    if system == "datasette":
        out: dict[str, dict[str, int]] = {}
        for r in _ds_rows(body):
            out.setdefault(r["facet"], {})[str(r["value"])] = r["n"]
        return out
    return {name: {str(v["value"]): v["count"] for v in values if v["count"]}
            for name, values in body["facets"].items()}


Axes = Callable[[int], list[tuple[str, Sequence[str]]]]


@dataclass
class Query:
    name: str
    what: str
    evidencedb: str
    datasette: str | None
    normalise_fn: Callable[[str, Any], Any]
    # The parameter space for a table of n studies: each parameter with its values, in the
    # order of the product.
    axes: Axes
    # The one parameter set a cached run repeats (a function of the number of studies).
    cached: Callable[[int], dict[str, str]] = field(repr=False)

    def template(self, system: str) -> str | None:
        return self.datasette if system == "datasette" else self.evidencedb

    def url(self, system: str, params: dict[str, str]) -> str | None:
        template = self.template(system)
        if template is None:
            return None
        pieces, names = template_pieces(template)
        out = [pieces[0]]
        for name, piece in zip(names, pieces[1:], strict=True):
            out += [quote(params[name]), piece]
        return "".join(out)

    def normalise(self, system: str, body: Any) -> Any:
        return self.normalise_fn(system, body)

    def space_size(self, studies: int) -> int:
        size = 1
        for _, values in self.axes(studies):
            size *= len(values)
        return size

    def parameter_sets(self, studies: int, seed: int, purpose: str = "traffic",
                       limit: int = MAX_PARAMETER_SETS) -> Iterator[dict[str, str]]:
        """Distinct parameter sets in a random order fixed by the seed: the whole space
        shuffled, or `limit` of them drawn at random from a larger one."""
        rng = random.Random(f"{purpose}:{seed}:{self.name}")
        axes = self.axes(studies)
        size = self.space_size(studies)
        for index in rng.sample(range(size), min(size, limit)):
            # The index-th set of the product (mixed radix over the axes, the last fastest).
            out: dict[str, str] = {}
            for name, values in reversed(axes):
                index, digit = divmod(index, len(values))
                out[name] = values[digit]
            yield out


def _registry_ids(studies: int) -> list[tuple[str, Sequence[str]]]:
    # bench/generate.py gives study i the key and NCT id NCT{90000000 + i}.
    return [("registry_id", [f"NCT{90000000 + i:08d}" for i in range(studies)])]


def _condition_phase_enrollment(studies: int) -> list[tuple[str, Sequence[str]]]:
    return [("condition", CONDITION_NAMES), ("phase", PHASES),
            ("min_enrollment", MIN_ENROLLMENTS)]


def _condition_enrollment(studies: int) -> list[tuple[str, Sequence[str]]]:
    return [("condition", CONDITION_NAMES), ("min_enrollment", MIN_ENROLLMENTS)]


def _word_phase_enrollment(studies: int) -> list[tuple[str, Sequence[str]]]:
    return [("word", SEARCH_WORDS), ("phase", PHASES), ("min_enrollment", MIN_ENROLLMENTS)]


def _middle_study(studies: int) -> dict[str, str]:
    return {"registry_id": f"NCT{90000000 + studies // 2:08d}"}


def _ptsd_phase3(studies: int) -> dict[str, str]:
    return {"condition": "PTSD", "phase": "PHASE3", "min_enrollment": "50"}


def _ptsd(studies: int) -> dict[str, str]:
    return {"condition": "PTSD", "min_enrollment": "50"}


def _nightmares_phase3(studies: int) -> dict[str, str]:
    return {"word": "nightmares", "phase": "PHASE3", "min_enrollment": "50"}


LIST = ("/api/v1/studies?condition={condition}&phase={phase}&min_enrollment={min_enrollment}"
        "&sort=-start_date&page_size=50")

QUERIES = [
    Query("Q1", "one study by registry id with arms, outcomes and timepoints",
          "/api/v1/studies?registry_id={registry_id}&include=arms,outcomes,timepoints",
          sql_url(f"SELECT s.key, {ARMS}, {OUTCOMES}, {TIMEPOINTS} FROM study s "
                  "JOIN registry_id ri ON ri.study_id = s.id "
                  "WHERE ri.identifier = :registry_id AND s.deleted_at IS NULL", "registry_id"),
          _nested, _registry_ids, _middle_study),
    Query("Q2", "condition, phase, minimum enrollment, newest first, 50 studies",
          LIST,
          sql_url(f"SELECT s.key, s.title, s.start_date, s.enrollment, s.phase, "
                  f"s.overall_status FROM study s WHERE {Q2_WHERE} {Q2_ORDER}",
                  "condition", "phase", "min_enrollment"),
          _keys, _condition_phase_enrollment, _ptsd_phase3),
    Query("Q3", "Q2 with arms and outcomes",
          LIST + "&include=arms,outcomes",
          sql_url(f"SELECT s.key, {ARMS}, {OUTCOMES} FROM study s WHERE {Q2_WHERE} "
                  f"{Q2_ORDER}", "condition", "phase", "min_enrollment"),
          _nested, _condition_phase_enrollment, _ptsd_phase3),
    Query("Q4", "counts by phase and by status for a condition and minimum enrollment (facets)",
          "/api/v1/stats/facets?condition={condition}&min_enrollment={min_enrollment}"
          "&facet=phase&facet=status",
          # Led by the (condition_id, study_id) index, then the study by primary key.
          sql_url(f"SELECT 'phase' AS facet, s.phase AS value, count(*) AS n "
                  f"FROM study_condition sc JOIN study s ON s.id = sc.study_id "
                  f"WHERE sc.condition_id IN ({CONDITION_IDS}) AND s.deleted_at IS NULL "
                  f"AND {MIN_ENROLLMENT} GROUP BY s.phase UNION ALL "
                  f"SELECT 'status', s.overall_status, count(*) "
                  f"FROM study_condition sc JOIN study s ON s.id = sc.study_id "
                  f"WHERE sc.condition_id IN ({CONDITION_IDS}) AND s.deleted_at IS NULL "
                  f"AND {MIN_ENROLLMENT} GROUP BY s.overall_status",
                  "condition", "min_enrollment"),
          _facets, _condition_enrollment, _ptsd),
    Query("Q5", "free text word, phase, minimum enrollment, first 50 by key",
          "/api/v1/studies?q={word}&phase={phase}&min_enrollment={min_enrollment}"
          "&page_size=50",
          sql_url("SELECT s.key FROM study s WHERE s.deleted_at IS NULL AND s.phase = :phase "
                  f"AND {MIN_ENROLLMENT} AND s.id IN "
                  f"(SELECT rowid FROM study_fts WHERE {WORD_MATCH}) "
                  "ORDER BY s.key, s.id LIMIT 50", "word", "phase", "min_enrollment"),
          _keys, _word_phase_enrollment, _nightmares_phase3),
]
