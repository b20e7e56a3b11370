"""Document → record: one of our study documents (as `GET /studies/{key}` returns it) in the
v2 module shapes, for curated studies that have no stored registry record."""

from __future__ import annotations

from typing import Any

from app.interop.ctgov.records import INTERVENTION_PREFIX
from app.interop.ctgov.text import partial_date
from app.schemas.common import partial_date_sort_key

EFFECT_PARAM = {"COHENS_D": "Cohen's d", "HEDGES_G": "Hedges' g",
                "SMD": "Standardized Mean Difference", "MEAN_DIFFERENCE": "Mean Difference",
                "RISK_RATIO": "Risk Ratio (RR)", "ODDS_RATIO": "Odds Ratio (OR)",
                "RISK_DIFFERENCE": "Risk Difference (RD)"}


def describe_timepoint(tp: dict[str, Any]) -> str:
    """A timepoint as registry-style time-frame text: label, months and anchor."""
    months = tp.get("months")
    parts = []
    if months is not None:
        parts.append(f"{months:g} months")
    elif tp.get("months_min") is not None and tp.get("months_max") is not None:
        mean = tp.get("months_mean")
        parts.append(f"{tp['months_min']:g} to {tp['months_max']:g} months"
                     + (f" (mean {mean:g})" if mean is not None else ""))
    elif tp.get("months_mean") is not None:
        parts.append(f"mean {tp['months_mean']:g} months")
    if parts and tp.get("anchor"):
        parts[-1] += " after " + str(tp["anchor"]).lower().replace("_", " ")
    if tp.get("is_follow_up"):
        parts.append("follow-up")
    return str(tp["label"]) + (f" ({'; '.join(parts)})" if parts else "")


def _frames(labels: list[str], doc: dict[str, Any]) -> str:
    tps = {t["label"]: t for t in doc.get("timepoints") or []}
    return "; ".join(describe_timepoint(tps[x]) if x in tps else x for x in labels)


def _phases(phase: str | None) -> list[str]:
    if not phase:
        return []
    if phase == "PHASE1_PHASE2":
        return ["PHASE1", "PHASE2"]
    if phase == "PHASE2_PHASE3":
        return ["PHASE2", "PHASE3"]
    return [phase]


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _drop_empty(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def from_document(doc: dict[str, Any]) -> dict[str, Any]:
    """Our study document (as `GET /studies/{key}` returns it) in the v2 record shape."""
    ids = doc.get("registry_ids") or []
    nct = next((r["identifier"] for r in ids if r["registry"] == "NCT"), doc["key"])
    org = next((r["identifier"] for r in ids if r["registry"] == "PROTOCOL"), None)
    secondary = [{"id": r["identifier"], "type": "OTHER", "domain": r["registry"]}
                 for r in ids if r["registry"] not in ("NCT",) and r["identifier"] != org]
    arms = doc.get("arms") or []
    outcomes = _protocol_outcomes(doc)
    design_info = {"allocation": doc.get("allocation"),
                   "interventionModel": doc.get("intervention_model"),
                   "primaryPurpose": doc.get("primary_purpose"),
                   "maskingInfo": {"masking": doc.get("masking")}}
    protocol = {
        "identificationModule": {
            "nctId": nct, "orgStudyIdInfo": {"id": org}, "secondaryIdInfos": secondary,
            "briefTitle": doc.get("title"), "acronym": doc.get("acronym")},
        "statusModule": {
            "overallStatus": doc.get("overall_status"),
            "startDateStruct": {"date": doc.get("start_date")},
            "completionDateStruct": {"date": doc.get("completion_date")}},
        "sponsorCollaboratorsModule": {"leadSponsor": {"name": doc.get("sponsor")}},
        "descriptionModule": {"briefSummary": doc.get("summary")},
        "conditionsModule": {"conditions": doc.get("conditions"),
                             "keywords": doc.get("keywords")},
        "designModule": {
            "studyType": "OBSERVATIONAL" if doc.get("study_type") == "OBSERVATIONAL"
            else "INTERVENTIONAL",
            "phases": _phases(doc.get("phase")), "designInfo": design_info,
            "enrollmentInfo": {"count": doc.get("enrollment"),
                               "type": doc.get("enrollment_type")}},
        "armsInterventionsModule": _arms_interventions(arms),
        "outcomesModule": {"primaryOutcomes": outcomes["PRIMARY"],
                           "secondaryOutcomes": outcomes["SECONDARY"],
                           "otherOutcomes": outcomes["OTHER"]},
        "eligibilityModule": {"studyPopulation": doc.get("population")},
        "contactsLocationsModule": {"locations": [{"country": c}
                                                  for c in doc.get("countries") or []]},
        "referencesModule": {"references": [_reference(p)
                                            for p in doc.get("publications") or []]},
    }
    record: dict[str, Any] = {"protocolSection": _drop_empty(protocol)}
    results = _results_section(doc)
    if results:
        record["resultsSection"] = results
    record["hasResults"] = bool(results)
    return record


def _arms_interventions(arms: list[dict[str, Any]]) -> dict[str, Any]:
    """Arm groups naming their interventions, and each intervention once with its groups."""
    interventions: dict[str, dict[str, Any]] = {}
    for arm in arms:
        for x in arm.get("interventions") or []:
            name = x.get("intervention") or x["name"]
            entry = interventions.setdefault(name.casefold(), {
                "type": x.get("type") or "OTHER", "name": name, "armGroupLabels": []})
            if arm["label"] not in entry["armGroupLabels"]:
                entry["armGroupLabels"].append(arm["label"])
    arm_groups = [{
        "label": a["label"], "type": a["arm_type"], "description": a.get("description"),
        "interventionNames": [
            f"{INTERVENTION_PREFIX.get(x.get('type') or 'OTHER', 'Other')}: "
            f"{x.get('intervention') or x['name']}" for x in a.get("interventions") or []],
    } for a in arms]
    return {"armGroups": arm_groups, "interventions": list(interventions.values())}


def _protocol_outcomes(doc: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Outcome measures by registry role, with the time frames their numbers were taken at."""
    outcomes: dict[str, list[dict[str, Any]]] = {"PRIMARY": [], "SECONDARY": [], "OTHER": []}
    for om in doc.get("outcome_measures") or []:
        frames = list(dict.fromkeys(
            [r["timepoint"] for r in om.get("results") or []]
            + [e["timepoint"] for e in om.get("effects") or []]))
        key = om["role"] if om["role"] in ("PRIMARY", "SECONDARY") else "OTHER"
        outcomes[key].append({"measure": om["name"], "description": om.get("description"),
                              "timeFrame": _frames(frames, doc) or None})
    return outcomes


def _reference(pub: dict[str, Any]) -> dict[str, Any]:
    citation = pub.get("citation") or ". ".join(str(x) for x in (
        pub.get("first_author"), pub.get("title"), pub.get("journal"), pub.get("year"))
        if x) + (f". doi: {pub['doi']}" if pub.get("doi") else "")
    ref: dict[str, Any] = {"pmid": pub.get("pmid"),
                           "type": "RESULT" if pub.get("role") != "PROTOCOL" else "BACKGROUND",
                           "citation": citation}
    if pub.get("retraction_status") == "RETRACTED":
        ref["retractions"] = [{"source": pub.get("retraction_notice") or "retracted"}]
    return ref


def _results_section(doc: dict[str, Any]) -> dict[str, Any] | None:
    arms = doc.get("arms") or []
    group_of = {a["label"]: f"OG{i:03d}" for i, a in enumerate(arms)}
    measures = []
    for om in doc.get("outcome_measures") or []:
        # A registry record carries what was reported, not the effects we compute.
        effects = [e for e in om.get("effects") or [] if e.get("origin") != "COMPUTED"]
        results = om.get("results") or []
        if not results and not effects:
            continue
        used = list(dict.fromkeys(
            [r["arm"] for r in results]
            + [x for e in effects for x in (e["experimental_arm"], e["comparator_arm"]) if x]))
        frames = list(dict.fromkeys([r["timepoint"] for r in results]
                                    + [e["timepoint"] for e in effects]))
        classes = [{"title": _frames([frame], doc),
                    "categories": [{"measurements": _measurements(results, frame, group_of)}]}
                   for frame in frames]
        analyses = [_analysis(e, group_of, doc) for e in effects]
        measures.append(_drop_empty({
            "type": om["role"] if om["role"] in ("PRIMARY", "SECONDARY") else
            "OTHER_PRE_SPECIFIED",
            "title": om["name"], "description": om.get("description"),
            "unitOfMeasure": om.get("unit"), "timeFrame": _frames(frames, doc),
            "groups": [{"id": group_of[label], "title": label} for label in used],
            "classes": classes, "analyses": analyses,
        }))
    if not measures:
        return None
    return {"outcomeMeasuresModule": {"outcomeMeasures": measures}}


def _measurements(results: list[dict[str, Any]], frame: str, group_of: dict[str, str]
                  ) -> list[dict[str, Any]]:
    """The group values of one measure at one time frame."""
    out = []
    for r in results:
        if r["timepoint"] != frame:
            continue
        value = next((r[k] for k in ("mean", "change_mean", "count") if r.get(k)
                      is not None), None)
        spread = next((r[k] for k in ("sd", "change_sd", "se", "change_se")
                       if r.get(k) is not None), None)
        out.append(_drop_empty({
            "groupId": group_of[r["arm"]],
            "value": str(value) if value is not None else r.get("raw"),
            "spread": str(spread) if spread is not None else None,
            "lowerLimit": str(r["ci_low"]) if r.get("ci_low") is not None else None,
            "upperLimit": str(r["ci_high"]) if r.get("ci_high") is not None else None,
        }))
    return out


def _analysis(e: dict[str, Any], group_of: dict[str, str], doc: dict[str, Any]
              ) -> dict[str, Any]:
    """One reported effect as a registry analysis."""
    groups = [group_of[e["experimental_arm"]]]
    if e.get("comparator_arm"):
        groups.append(group_of[e["comparator_arm"]])
    p = e.get("p_value")
    rel = e.get("p_value_relation") or "="
    # The registry states an estimate's direction in its comment: ours is always
    # experimental minus (or over) comparator.
    order = (f"{e['experimental_arm']} vs. {e['comparator_arm']}"
             if e.get("comparator_arm") else None)
    comment = "; ".join(x for x in (order, e.get("notes")) if x)
    analysis: dict[str, Any] = _drop_empty({
        "groupIds": groups, "paramType": EFFECT_PARAM[e["effect_type"]],
        "paramValue": str(e["value"]) if e.get("value") is not None else None,
        "ciPctValue": (str(round(e["ci_level"] * 100, 4)).removesuffix(".0")
                       if e.get("ci_level") and e.get("ci_low") is not None else None),
        "ciNumSides": "TWO_SIDED" if e.get("ci_low") is not None else None,
        "ciLowerLimit": str(e["ci_low"]) if e.get("ci_low") is not None else None,
        "ciUpperLimit": str(e["ci_high"]) if e.get("ci_high") is not None else None,
        "pValue": (f"{'' if rel == '=' else rel}{p}" if p is not None else None),
        "groupDescription": f"Time frame: {_frames([e['timepoint']], doc)}",
        "estimateComment": comment or None,
    })
    return analysis


def start_sort_key(record: dict[str, Any]) -> int:
    status = record.get("protocolSection", {}).get("statusModule", {})
    return partial_date_sort_key(partial_date(status.get("startDateStruct")))
