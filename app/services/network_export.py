"""Effect estimates in the layouts R users load straight into their tools.

`metafor`: one row per estimate with `yi` (the pooling scale: log for ratios), `vi` = SE² and
`sei`, its study, arms, outcome, instrument and timepoint — `rma(yi, vi, data = …)` pools it.
`netmeta`: the pairwise layout `TE`, `seTE`, `treat1`, `treat2`, `studlab` — treatments are
the network's nodes (intervention sets, merged as `merge` says) and TE is treat1 minus treat2
— `netmeta(TE, seTE, treat1, treat2, studlab, data = …)` fits it.

The rows are what /network-meta-analysis would read: between-arm contrasts with a usable
standard error, the reported estimate of a comparison rather than our computation of it,
retracted estimates only with `include_retracted=true`. Nothing is pooled here, so several
effect types or several estimates per study are all exported: the reader chooses.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy.orm import Session

from app.schemas.network import EffectsExportParams
from app.services import network, pooling
from app.spreadsheet import spreadsheet_safe

METAFOR = ("study", "estimate_id", "experimental_arm", "comparator_arm", "outcome",
           "instrument", "timepoint", "timepoint_months", "effect_type", "value", "ci_low",
           "ci_high", "yi", "vi", "sei", "se_source", "origin", "retracted")
NETMETA = ("studlab", "treat1", "treat2", "TE", "seTE", "effect_type", "outcome",
           "instrument", "timepoint", "experimental_arm", "comparator_arm", "estimate_id")


def _metafor_row(e: network.Entry) -> dict[str, Any]:
    r = e.row
    return {"study": r.study_key, "estimate_id": r.id, "experimental_arm": r.experimental_arm,
            "comparator_arm": r.comparator_arm, "outcome": r.outcome,
            "instrument": r.instrument, "timepoint": r.timepoint,
            "timepoint_months": r.timepoint_months, "effect_type": r.effect_type,
            "value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high, "yi": e.y,
            "vi": e.se ** 2, "sei": e.se, "se_source": e.se_source, "origin": r.origin,
            "retracted": "true" if r.retracted else "false"}


def _netmeta_row(e: network.Entry) -> dict[str, Any]:
    r = e.row
    return {"studlab": r.study_key, "treat1": e.first, "treat2": e.second, "TE": e.y,
            "seTE": e.se, "effect_type": r.effect_type, "outcome": r.outcome,
            "instrument": r.instrument, "timepoint": r.timepoint,
            "experimental_arm": r.experimental_arm, "comparator_arm": r.comparator_arm,
            "estimate_id": r.id}


def effects_csv(session: Session, params: EffectsExportParams) -> str:
    """The chosen estimates as CSV in the requested layout."""
    rows, details = network.chosen(session, params)
    arms = network.study_arms(session, rows)
    excluded: list[dict[str, Any]] = []
    entries = pooling.reported_first(
        network.usable(rows, params, details, arms, excluded), excluded,
        params.max_risk_of_bias)
    columns: tuple[str, ...] = METAFOR
    shaped = [_metafor_row(e) for e in entries]
    if params.layout == "netmeta":
        entries, _ = network.assign_nodes(entries, params, excluded, [])
        columns, shaped = NETMETA, [_netmeta_row(e) for e in entries]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in shaped:
        writer.writerow([spreadsheet_safe("" if row[c] is None else row[c]) for c in columns])
    return out.getvalue()
