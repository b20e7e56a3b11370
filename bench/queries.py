"""The benchmark queries, as each system asks them, and how their answers are compared."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DB = "/datasette"  # the database name Datasette gives datasette.db

PTSD_STUDIES = ("SELECT sc.study_id FROM study_condition sc JOIN condition_alias ca "
                "ON ca.condition_id = sc.condition_id WHERE ca.alias = 'ptsd'")
PTSD_CONDITION = "SELECT condition_id FROM condition_alias WHERE alias = 'ptsd'"
Q2_WHERE = (f"s.deleted_at IS NULL AND s.phase = 'PHASE3' AND s.enrollment >= 50 "
            f"AND s.id IN ({PTSD_STUDIES})")
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


def sql_url(sql: str, **params: str) -> str:
    """A Datasette SQL URL; parameter values may be {placeholders}, filled in per run."""
    url = f"{DB}.json?" + urllib.parse.urlencode({"sql": sql, "_shape": "array"})
    url = url.replace("{", "{{").replace("}", "}}")
    return url + "".join(f"&{name}={value}" for name, value in params.items())


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


@dataclass
class Query:
    name: str
    what: str
    evidencedb: str
    datasette: str | None
    normalise_fn: Callable[[str, Any], Any]

    def url(self, system: str, params: dict[str, Any]) -> str | None:
        template = self.datasette if system == "datasette" else self.evidencedb
        return None if template is None else template.format(**params)

    def normalise(self, system: str, body: Any) -> Any:
        return self.normalise_fn(system, body)


QUERIES = [
    Query("Q1", "one study by registry id with arms, outcomes and timepoints",
          "/api/v1/studies?registry_id={registry_id}&include=arms,outcomes,timepoints",
          sql_url(f"SELECT s.key, {ARMS}, {OUTCOMES}, {TIMEPOINTS} FROM study s "
                  "JOIN registry_id ri ON ri.study_id = s.id "
                  "WHERE ri.identifier = :id AND s.deleted_at IS NULL", id="{registry_id}"),
          _nested),
    Query("Q2", "PTSD, phase 3, enrollment >= 50, newest first, 50 studies",
          "/api/v1/studies?condition=PTSD&phase=PHASE3&min_enrollment=50&sort=-start_date"
          "&page_size=50",
          sql_url(f"SELECT s.key, s.title, s.start_date, s.enrollment, s.phase, "
                  f"s.overall_status FROM study s WHERE {Q2_WHERE} {Q2_ORDER}"),
          _keys),
    Query("Q3", "Q2 with arms and outcomes",
          "/api/v1/studies?condition=PTSD&phase=PHASE3&min_enrollment=50&sort=-start_date"
          "&page_size=50&include=arms,outcomes",
          sql_url(f"SELECT s.key, {ARMS}, {OUTCOMES} FROM study s WHERE {Q2_WHERE} "
                  f"{Q2_ORDER}"),
          _nested),
    Query("Q4", "counts by phase and by status for PTSD (facets)",
          "/api/v1/stats/facets?condition=PTSD&facet=phase&facet=status",
          # Led by the (condition_id, study_id) index, then the study by primary key.
          sql_url(f"SELECT 'phase' AS facet, s.phase AS value, count(*) AS n "
                  f"FROM study_condition sc JOIN study s ON s.id = sc.study_id "
                  f"WHERE sc.condition_id IN ({PTSD_CONDITION}) AND s.deleted_at IS NULL "
                  f"GROUP BY s.phase UNION ALL "
                  f"SELECT 'status', s.overall_status, count(*) "
                  f"FROM study_condition sc JOIN study s ON s.id = sc.study_id "
                  f"WHERE sc.condition_id IN ({PTSD_CONDITION}) AND s.deleted_at IS NULL "
                  f"GROUP BY s.overall_status"),
          _facets),
    Query("Q5", "free text 'nightmares', first 50 by key",
          "/api/v1/studies?q=nightmares&page_size=50",
          sql_url("SELECT s.key FROM study s WHERE s.deleted_at IS NULL AND s.id IN "
                  "(SELECT rowid FROM study_fts WHERE study_fts MATCH '\"nightmares\"*') "
                  "ORDER BY s.key, s.id LIMIT 50"),
          _keys),
]
