"""Study documents as JSON-ready dicts, assembled from a page of study rows.

Every nested part is read with one query per table for the whole page (`study_id IN …`), so
a page costs the same number of statements whatever it holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.queries import direct
from app.queries import documents as q
from app.schemas.appraisal import status as rob_status
from app.schemas.appraisal import summary
from app.schemas.filters import LIST_ITEM_KEYS, META_FIELDS, STUDY_FIELDS
from app.schemas.study import StudyCreate
from app.services import reads, semantics

# The rows of a page, by statement.
Fetched = dict[direct.Direct, list[Any]]
ALL_PARTS = frozenset({"arms", "outcomes", "timepoints", "publications", "effects"})

PUBLICATION_FIELDS = ("doi", "pmid", "title", "journal", "year", "volume", "pages",
                      "first_author", "citation", "url", "retraction_status", "retraction_date",
                      "retraction_notice", "retraction_reason")
ARM_FIELDS = ("label", "arm_type", "description", "n_randomized", "n_completed")
TIMEPOINT_FIELDS = ("label", "role", "anchor", "months", "months_min", "months_max",
                    "months_mean", "months_sd", "months_since_baseline",
                    "months_after_treatment", "n_assessed", "n_eligible", "controlled",
                    "is_follow_up", "notes")
OUTCOME_FIELDS = ("name", "instrument", "role", "unit", "lower_is_better", "description",
                  "notes")
RESULT_FIELDS = ("n", "mean", "sd", "se", "change_mean", "change_sd", "change_se", "ci_low",
                 "ci_high", "count", "denominator", "percent", "count_derived", "raw", "notes",
                 "retracted")
EFFECT_FIELDS = ("effect_type", "value", "ci_low", "ci_high", "ci_level", "se", "p_value",
                 "p_value_relation", "analysis_population", "as_reported", "notes", "origin",
                 "inputs", "retracted")


def study_columns(doc: StudyCreate) -> dict[str, Any]:
    """The study row's document fields (the nested parts are rows of their own)."""
    row = {name: getattr(doc, name) for name in STUDY_FIELDS}
    row["countries"] = list(doc.countries)
    row["conflicts"] = [c.model_dump(exclude_none=True) for c in doc.conflicts] or None
    return row


def clocks_of(r: Any) -> dict[str, Any]:
    """A timepoint's place on both clocks (read-only in documents)."""
    return {name: None if getattr(r, f"{column}_clock") is None else {
        "months": getattr(r, f"{column}_clock"), "min": getattr(r, f"{column}_clock_min"),
        "max": getattr(r, f"{column}_clock_max"),
        "from": getattr(r, f"{column}_clock_source")}
        for name, column in (("since_baseline", "baseline"), ("after_treatment", "treatment"))}


def list_item_keys() -> tuple[str, ...]:
    return LIST_ITEM_KEYS


def _group(rows: Iterable[Any], key: str = "study_id") -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        out[getattr(row, key)].append(row)
    return out


def _pick(row: Any, fields: Iterable[str]) -> dict[str, Any]:
    # A SQLAlchemy row (the page's study rows) is read by key: several times faster than by
    # attribute. The part rows are named tuples, whose attributes are fast.
    mapping = getattr(row, "_mapping", None)
    if mapping is not None:
        return {f: mapping[f] for f in fields}
    return {f: getattr(row, f) for f in fields}


class Sources:
    """The provenance rows of a page of studies, handed out by what they source."""

    def __init__(self, rows: list[Any], refs: dict[tuple[int, int], str]):
        self._by: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        by = self._by
        # A page can hold thousands of sources: one pass, by position (q.SOURCES's columns).
        for study, publication, registry, url, locator, arm, timepoint, result, effect in rows:
            item = {"publication": None if publication is None else refs.get((study, publication)),
                    "registry": registry, "source_url": url, "locator": locator}
            if arm is not None:
                by[("arm", arm)].append(item)
            elif timepoint is not None:
                by[("timepoint", timepoint)].append(item)
            elif result is not None:
                by[("result", result)].append(item)
            elif effect is not None:
                by[("effect", effect)].append(item)
            else:
                by[("study", study)].append(item)

    def of(self, kind: str, ident: int) -> list[dict[str, Any]]:
        return self._by.get((kind, ident), [])


def assemble(session: Session, rows: Sequence[Any],
             parts: frozenset[str] | set[str] = frozenset(), *, detail: bool = False
             ) -> list[dict[str, Any]]:
    """Render study rows (all study columns) as documents with the requested nested parts."""
    if not rows:
        return []
    ids = [r.id for r in rows]
    if detail:
        parts = ALL_PARTS
    got = reads.fetch(session, ids, _statements(set(parts), detail))
    docs = {r.id: head(r) for r in rows}

    reg = _group(got[q.REGISTRY_IDS])
    cond = _group(got[q.CONDITIONS])
    ints = _group(got[q.INTERVENTION_NAMES])
    for sid, doc in docs.items():
        doc["registry_ids"] = [{"registry": x.registry, "identifier": x.identifier}
                               for x in reg.get(sid, [])]
        doc["conditions"] = [x.label for x in cond.get(sid, [])]
        doc["interventions"] = list(dict.fromkeys(x.name for x in ints.get(sid, [])))

    if detail:
        add_detail_extras(got, docs)
    if parts:
        _add_parts(got, docs, set(parts), detail)

    for r in rows:
        docs[r.id].update(tail(r))
    return [docs[i] for i in ids]


def head(r: Any) -> dict[str, Any]:
    """A document's first fields, from its study row (all study columns)."""
    doc = _pick(r, STUDY_FIELDS)
    doc["countries"] = list(r.countries or [])
    doc["conflicts"] = list(r.conflicts or [])
    return doc


def tail(r: Any) -> dict[str, Any]:
    """A document's last fields (what the study row says about its version and flags)."""
    return _pick(r, META_FIELDS)


def _statements(parts: set[str], detail: bool) -> list[direct.Direct]:
    """Every statement a page with these parts reads (sent together: see direct.fetch)."""
    wanted = [q.REGISTRY_IDS, q.CONDITIONS, q.INTERVENTION_NAMES]
    if detail:
        wanted += [q.KEYWORDS, q.RELATIONS, q.REFERENCED_BY]
    if parts:
        wanted += [q.PUBLICATIONS, q.SOURCES, q.ARMS, q.TIMEPOINTS]
    if "arms" in parts:
        wanted.append(q.ARM_INTERVENTIONS)
    if parts & {"outcomes", "effects"}:
        wanted += [q.OUTCOME_MEASURES, q.EFFECTS]
    if "outcomes" in parts:
        wanted.append(q.RESULTS)
    return wanted


def add_detail_extras(got: Fetched, docs: dict[int, dict[str, Any]]) -> None:
    """A detail document's keywords, relations and the studies that refer to it."""
    keywords = _group(got[q.KEYWORDS])
    outgoing = _group(got[q.RELATIONS])
    incoming = _group(got[q.REFERENCED_BY], key="target_study_id")
    for sid, doc in docs.items():
        doc["keywords"] = [x.keyword for x in keywords.get(sid, [])]
        doc["relations"] = [{"relation_type": x.relation_type, "target": x.key}
                            for x in outgoing.get(sid, [])]
        doc["referenced_by"] = [{"relation_type": x.relation_type, "study": x.key}
                                for x in incoming.get(sid, [])]


class _Parts:
    """The nested parts of a page of study documents, added part by part with one
    statement per table for the whole page."""

    def __init__(self, got: Fetched, docs: dict[int, dict[str, Any]], detail: bool) -> None:
        self.got, self.docs = got, docs
        self.pub_rows = got[q.PUBLICATIONS]
        refs = {(r.study_id, r.publication_id): r.ref for r in self.pub_rows}
        self.sources = Sources(got[q.SOURCES], refs)
        if detail:
            for sid, doc in docs.items():
                doc["sources"] = self.sources.of("study", sid)
        self.arm_rows = got[q.ARMS]
        self.arm_label = {r.id: r.label for r in self.arm_rows}
        self.tp_rows = got[q.TIMEPOINTS]
        self.tp_by_id = {r.id: r for r in self.tp_rows}
        self.om_by_id: dict[int, Any] = {}

    def publications(self) -> None:
        grouped = _group(self.pub_rows)
        for sid, doc in self.docs.items():
            doc["publications"] = [
                {"ref": r.ref, "role": r.role, "id": r.publication_id,
                 **_pick(r, PUBLICATION_FIELDS)} for r in grouped.get(sid, [])]

    def arms(self) -> None:
        arm_ints = _group(self.got[q.ARM_INTERVENTIONS], key="arm_id")
        grouped = _group(self.arm_rows)
        for sid, doc in self.docs.items():
            doc["arms"] = [{
                **_pick(r, ARM_FIELDS),
                "interventions": [{
                    "name": x.label, "intervention": x.intervention_name,
                    "type": x.intervention_type, "dose_mg": x.dose_mg,
                    "dose_text": x.dose_text, "sessions": x.sessions, "notes": x.notes,
                } for x in arm_ints.get(r.id, [])],
                "notes": r.notes,
                "sources": self.sources.of("arm", r.id),
            } for r in grouped.get(sid, [])]

    def timepoints(self) -> None:
        grouped = _group(self.tp_rows)
        for sid, doc in self.docs.items():
            doc["timepoints"] = [{**_pick(r, TIMEPOINT_FIELDS), "clocks": clocks_of(r),
                                  "sources": self.sources.of("timepoint", r.id)}
                                 for r in grouped.get(sid, [])]

    def effect(self, x: Any) -> dict[str, Any]:
        return {"experimental_arm": self.arm_label[x.experimental_arm_id],
                "comparator_arm": self.arm_label.get(x.comparator_arm_id),
                "timepoint": self.tp_by_id[x.timepoint_id].label,
                **_pick(x, EFFECT_FIELDS),
                **semantics.of_row(x, self.om_by_id[x.outcome_measure_id].lower_is_better),
                "sources": self.sources.of("effect", x.id),
                "risk_of_bias": summary(x.rob_tool, x.rob_overall, x.rob_domains),
                "risk_of_bias_status": rob_status(x.rob_tool)}

    def outcomes(self, parts: set[str]) -> None:
        om_rows = self.got[q.OUTCOME_MEASURES]
        self.om_by_id = {r.id: r for r in om_rows}
        eff_rows = self.got[q.EFFECTS]
        if "outcomes" in parts:
            self.measures(om_rows, _group(eff_rows, key="outcome_measure_id"))
        if "effects" in parts:
            grouped = _group(eff_rows)
            for sid, doc in self.docs.items():
                doc["effects"] = [self.flat_effect(x) for x in grouped.get(sid, [])]

    def measures(self, om_rows: Sequence[Any], effects: dict[int, list[Any]]) -> None:
        results = _group(self.got[q.RESULTS], key="outcome_measure_id")
        grouped = _group(om_rows)
        for sid, doc in self.docs.items():
            doc["outcome_measures"] = [{
                **_pick(r, OUTCOME_FIELDS),
                "results": [{"arm": self.arm_label[x.arm_id],
                             "timepoint": self.tp_by_id[x.timepoint_id].label,
                             **_pick(x, RESULT_FIELDS),
                             "sources": self.sources.of("result", x.id)}
                            for x in results.get(r.id, [])],
                "effects": [self.effect(x) for x in effects.get(r.id, [])],
            } for r in grouped.get(sid, [])]

    def flat_effect(self, x: Any) -> dict[str, Any]:
        measure, timepoint = self.om_by_id[x.outcome_measure_id], self.tp_by_id[x.timepoint_id]
        return {"outcome": measure.name, "instrument": measure.instrument,
                "timepoint_months": timepoint.baseline_clock,
                "timepoint_months_after_treatment": timepoint.treatment_clock,
                **self.effect(x)}


def _add_parts(got: Fetched, docs: dict[int, dict[str, Any]], parts: set[str],
               detail: bool) -> None:
    page = _Parts(got, docs, detail)
    if "publications" in parts:
        page.publications()
    if "arms" in parts:
        page.arms()
    if "timepoints" in parts:
        page.timepoints()
    if parts & {"outcomes", "effects"}:
        page.outcomes(parts)
