"""Study documents as JSON-ready dicts, assembled from a page of study rows.

Every nested part is read with one query per table for the whole page (`study_id IN …`), so
a page costs the same number of statements whatever it holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.models import (
    Arm,
    ArmIntervention,
    EffectEstimate,
    Intervention,
    OutcomeMeasure,
    OutcomeResult,
    Provenance,
    Publication,
    RegistryId,
    Study,
    StudyCondition,
    StudyKeyword,
    StudyPublication,
    StudyRelation,
    Timepoint,
)
from app.schemas.study import StudyCreate
from app.services import semantics

STUDY_FIELDS = (
    "key", "title", "acronym", "study_type", "phase", "overall_status", "allocation",
    "intervention_model", "masking", "primary_purpose", "start_date", "completion_date",
    "enrollment", "enrollment_type", "treatment_end_months", "population", "summary",
    "sponsor", "countries", "notes", "conflicts",
)
META_FIELDS = ("retracted", "has_results", "follow_up_months_max", "version", "created_at",
               "updated_at")
LIST_EXTRA = ("registry_ids", "conditions", "interventions")
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


# The statements are built once: each page only binds its ids.
_IDS = bindparam("ids", expanding=True)
_p, _rid, _sc = Provenance.__table__.c, RegistryId.__table__.c, StudyCondition.__table__.c
_ai, _iv, _kw = ArmIntervention.__table__.c, Intervention.__table__.c, StudyKeyword.__table__.c
_rel, _st = StudyRelation.__table__.c, Study.__table__.c
_sp, _arm, _tp = StudyPublication.__table__.c, Arm.__table__.c, Timepoint.__table__.c
_om, _ee, _res = (OutcomeMeasure.__table__.c, EffectEstimate.__table__.c,
                  OutcomeResult.__table__.c)

SOURCES = select(Provenance.__table__).where(_p.study_id.in_(_IDS)).order_by(_p.id)
REGISTRY_IDS = (select(_rid.study_id, _rid.registry, _rid.identifier)
                .where(_rid.study_id.in_(_IDS)).order_by(_rid.id))
CONDITIONS = (select(_sc.study_id, _sc.label).where(_sc.study_id.in_(_IDS))
              .order_by(_sc.study_id, _sc.position))
INTERVENTION_NAMES = (select(_ai.study_id, _iv.name)
                      .join(Intervention.__table__, _iv.id == _ai.intervention_id)
                      .where(_ai.study_id.in_(_IDS))
                      .order_by(_ai.study_id, _ai.arm_id, _ai.position))
KEYWORDS = (select(_kw.study_id, _kw.keyword).where(_kw.study_id.in_(_IDS))
            .order_by(_kw.position))
RELATIONS = (select(_rel.study_id, _rel.relation_type, _st.key)
             .join(Study.__table__, _st.id == _rel.target_study_id)
             .where(_rel.study_id.in_(_IDS)).order_by(_rel.id))
REFERENCED_BY = (select(_rel.target_study_id, _rel.relation_type, _st.key)
                 .join(Study.__table__, _st.id == _rel.study_id)
                 .where(_rel.target_study_id.in_(_IDS), _st.deleted_at.is_(None))
                 .order_by(_rel.id))
PUBLICATIONS = (select(_sp.study_id, _sp.ref, _sp.role, _sp.publication_id,
                       Publication.__table__)
                .join(Publication.__table__, Publication.__table__.c.id == _sp.publication_id)
                .where(_sp.study_id.in_(_IDS)).order_by(_sp.study_id, _sp.position))
ARMS = select(Arm.__table__).where(_arm.study_id.in_(_IDS)).order_by(_arm.study_id,
                                                                     _arm.position)
TIMEPOINTS = select(Timepoint.__table__).where(_tp.study_id.in_(_IDS)).order_by(
    _tp.study_id, _tp.position)
ARM_INTERVENTIONS = (select(ArmIntervention.__table__,
                            _iv.name.label("intervention_name"),
                            _iv.type.label("intervention_type"))
                     .join(Intervention.__table__, _iv.id == _ai.intervention_id)
                     .where(_ai.study_id.in_(_IDS)).order_by(_ai.arm_id, _ai.position))
OUTCOME_MEASURES = select(OutcomeMeasure.__table__).where(_om.study_id.in_(_IDS)).order_by(
    _om.study_id, _om.position)
EFFECTS = select(EffectEstimate.__table__).where(_ee.study_id.in_(_IDS)).order_by(
    _ee.outcome_measure_id, _ee.position, _ee.id)
RESULTS = (select(OutcomeResult.__table__).where(_res.outcome_measure_id.in_(_IDS))
           .order_by(_res.outcome_measure_id, _res.position))


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
    return STUDY_FIELDS + LIST_EXTRA + META_FIELDS


def _group(rows: Iterable[Any], key: str = "study_id") -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        out[getattr(row, key)].append(row)
    return out


def _pick(row: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {f: getattr(row, f) for f in fields}


class _Sources:
    """The provenance rows of a page of studies, handed out by what they source."""

    def __init__(self, session: Session, ids: list[int], refs: dict[tuple[int, int], str]):
        rows = session.execute(SOURCES, {"ids": ids}).all()
        self._by: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            item = {"publication": refs.get((r.study_id, r.publication_id))
                    if r.publication_id is not None else None,
                    "registry": r.registry_record, "source_url": r.source_url,
                    "locator": r.locator}
            for column, kind in ((r.arm_id, "arm"), (r.timepoint_id, "timepoint"),
                                 (r.outcome_result_id, "result"),
                                 (r.effect_estimate_id, "effect")):
                if column is not None:
                    self._by[(kind, column)].append(item)
                    break
            else:
                self._by[("study", r.study_id)].append(item)

    def of(self, kind: str, ident: int) -> list[dict[str, Any]]:
        return self._by.get((kind, ident), [])


def assemble(session: Session, rows: list[Mapping[str, Any]] | list[Any],
             parts: frozenset[str] | set[str] = frozenset(), *, detail: bool = False
             ) -> list[dict[str, Any]]:
    """Render study rows (all study columns) as documents with the requested nested parts."""
    if not rows:
        return []
    ids = [r.id for r in rows]
    docs: dict[int, dict[str, Any]] = {}
    for r in rows:
        doc = _pick(r, STUDY_FIELDS)
        doc["countries"] = list(r.countries or [])
        doc["conflicts"] = list(r.conflicts or [])
        docs[r.id] = doc

    bound = {"ids": ids}
    reg = _group(session.execute(REGISTRY_IDS, bound).all())
    cond = _group(session.execute(CONDITIONS, bound).all())
    ints = _group(session.execute(INTERVENTION_NAMES, bound).all())
    for sid, doc in docs.items():
        doc["registry_ids"] = [{"registry": x.registry, "identifier": x.identifier}
                               for x in reg.get(sid, [])]
        doc["conditions"] = [x.label for x in cond.get(sid, [])]
        doc["interventions"] = list(dict.fromkeys(x.name for x in ints.get(sid, [])))

    if detail:
        parts = ALL_PARTS
        _add_detail_extras(session, ids, docs)
    if parts:
        _add_parts(session, ids, docs, set(parts), detail)

    for r in rows:
        doc = docs[r.id]
        doc.update(_pick(r, META_FIELDS))
    return [docs[i] for i in ids]


def _add_detail_extras(session: Session, ids: list[int], docs: dict[int, dict[str, Any]]) -> None:
    bound = {"ids": ids}
    keywords = _group(session.execute(KEYWORDS, bound).all())
    outgoing = _group(session.execute(RELATIONS, bound).all())
    incoming = _group(session.execute(REFERENCED_BY, bound).all(), key="target_study_id")
    for sid, doc in docs.items():
        doc["keywords"] = [x.keyword for x in keywords.get(sid, [])]
        doc["relations"] = [{"relation_type": x.relation_type, "target": x.key}
                            for x in outgoing.get(sid, [])]
        doc["referenced_by"] = [{"relation_type": x.relation_type, "study": x.key}
                                for x in incoming.get(sid, [])]


def _add_parts(session: Session, ids: list[int], docs: dict[int, dict[str, Any]],
               parts: set[str], detail: bool) -> None:
    bound = {"ids": ids}
    pub_rows = session.execute(PUBLICATIONS, bound).all()
    refs = {(r.study_id, r.publication_id): r.ref for r in pub_rows}
    sources = _Sources(session, ids, refs)
    if detail:
        for sid, doc in docs.items():
            doc["sources"] = sources.of("study", sid)
    if "publications" in parts:
        grouped = _group(pub_rows)
        for sid, doc in docs.items():
            doc["publications"] = [
                {"ref": r.ref, "role": r.role, "id": r.publication_id,
                 **_pick(r, PUBLICATION_FIELDS)} for r in grouped.get(sid, [])]

    arm_rows = session.execute(ARMS, bound).all()
    arm_label = {r.id: r.label for r in arm_rows}
    tp_rows = session.execute(TIMEPOINTS, bound).all()
    tp_by_id = {r.id: r for r in tp_rows}

    if "arms" in parts:
        arm_ints = _group(session.execute(ARM_INTERVENTIONS, bound).all(), key="arm_id")
        grouped = _group(arm_rows)
        for sid, doc in docs.items():
            doc["arms"] = [{
                **_pick(r, ARM_FIELDS),
                "interventions": [{
                    "name": x.label, "intervention": x.intervention_name,
                    "type": x.intervention_type, "dose_mg": x.dose_mg,
                    "dose_text": x.dose_text, "sessions": x.sessions, "notes": x.notes,
                } for x in arm_ints.get(r.id, [])],
                "notes": r.notes,
                "sources": sources.of("arm", r.id),
            } for r in grouped.get(sid, [])]
    if "timepoints" in parts:
        grouped = _group(tp_rows)
        for sid, doc in docs.items():
            doc["timepoints"] = [{**_pick(r, TIMEPOINT_FIELDS), "clocks": clocks_of(r),
                                  "sources": sources.of("timepoint", r.id)}
                                 for r in grouped.get(sid, [])]
    if not parts & {"outcomes", "effects"}:
        return
    om_rows = session.execute(OUTCOME_MEASURES, bound).all()
    om_by_id = {r.id: r for r in om_rows}
    eff_rows = session.execute(EFFECTS, bound).all()
    effects = _group(eff_rows, key="outcome_measure_id")

    def effect_doc(x: Any) -> dict[str, Any]:
        return {"experimental_arm": arm_label[x.experimental_arm_id],
                "comparator_arm": arm_label.get(x.comparator_arm_id),
                "timepoint": tp_by_id[x.timepoint_id].label,
                **_pick(x, EFFECT_FIELDS),
                **semantics.of_row(x, om_by_id[x.outcome_measure_id].lower_is_better),
                "sources": sources.of("effect", x.id)}

    if "outcomes" in parts:
        results = _group(session.execute(RESULTS, {"ids": [r.id for r in om_rows]}).all(),
                         key="outcome_measure_id")
        grouped = _group(om_rows)
        for sid, doc in docs.items():
            doc["outcome_measures"] = [{
                **_pick(r, OUTCOME_FIELDS),
                "results": [{"arm": arm_label[x.arm_id],
                             "timepoint": tp_by_id[x.timepoint_id].label,
                             **_pick(x, RESULT_FIELDS), "sources": sources.of("result", x.id)}
                            for x in results.get(r.id, [])],
                "effects": [effect_doc(x) for x in effects.get(r.id, [])],
            } for r in grouped.get(sid, [])]
    if "effects" in parts:
        grouped_eff = _group(eff_rows)
        for sid, doc in docs.items():
            doc["effects"] = [{
                "outcome": om_by_id[x.outcome_measure_id].name,
                "instrument": om_by_id[x.outcome_measure_id].instrument,
                "timepoint_months": tp_by_id[x.timepoint_id].baseline_clock,
                "timepoint_months_after_treatment": tp_by_id[x.timepoint_id].treatment_clock,
                **effect_doc(x),
            } for x in grouped_eff.get(sid, [])]
