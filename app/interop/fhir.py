"""FHIR R5 resources rendered from our study documents, as plain JSON-ready dicts.

ResearchStudy: one per study. Evidence: one per effect estimate, id `effect-<effect id>`.
Searchset Bundles page through either with opaque cursors. Codes come from the R5 code systems
named beside each mapping; docs/interop.md explains the choices.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from app import __version__
from app.interop.ctgov import describe_timepoint
from app.interop.fhir_codes import (
    ARM_CODES,
    CS,
    EFFECT_NAMES,
    OBJECTIVE_CODES,
    PHASE_CODES,
    SEARCH_PARAMS,
    STATISTIC_TYPES,
    STATUS_CODES,
)

FHIR_VERSION = "5.0.0"
MEDIA_TYPE = "application/fhir+json"
NCT_SYSTEM = "https://clinicaltrials.gov"
DOI_SYSTEM = "https://doi.org"
PMID_SYSTEM = "https://pubmed.ncbi.nlm.nih.gov"
REGISTRY_SYSTEM = "urn:evidencedb:registry:"
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")



def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _clean(value: Any) -> Any:
    """Drop empty values: FHIR forbids empty strings, arrays and objects."""
    if isinstance(value, dict):
        out = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [v for v in (_clean(x) for x in value) if v not in (None, "", [], {})]
    return value


def _instant(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return str(value.isoformat())
    return str(value) if value else None


def study_id(doc: dict[str, Any]) -> str:
    """The ResearchStudy id: the study key (FHIR ids allow no underscore: it becomes '-')."""
    return str(doc["key"]).replace("_", "-")[:64]


def _identifiers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for r in doc.get("registry_ids") or []:
        if r["registry"] == "NCT":
            out.append({"use": "official", "system": NCT_SYSTEM, "value": r["identifier"]})
        else:
            out.append({"system": REGISTRY_SYSTEM + r["registry"], "value": r["identifier"],
                        "type": {"text": r["registry"]}})
    out.append({"system": "urn:evidencedb:study", "value": doc["key"]})
    return out


def _publication_artifacts(pub: dict[str, Any]) -> list[dict[str, Any]]:
    ident = None
    if pub.get("doi"):
        ident = {"system": DOI_SYSTEM, "value": pub["doi"]}
    elif pub.get("pmid"):
        ident = {"system": PMID_SYSTEM, "value": pub["pmid"]}
    url = (f"https://doi.org/{pub['doi']}" if pub.get("doi")
           else f"https://pubmed.ncbi.nlm.nih.gov/{pub['pmid']}/" if pub.get("pmid")
           else pub.get("url"))
    citation = pub.get("citation") or ". ".join(
        str(x) for x in (pub.get("first_author"), pub.get("title"), pub.get("journal"),
                         pub.get("year")) if x)
    status = pub.get("retraction_status") or "NONE"
    classifiers = [{"text": (pub.get("role") or "").lower().replace("_", " ")}]
    if pub.get("pmid"):
        classifiers.append({"coding": [{"system": PMID_SYSTEM, "code": pub["pmid"],
                                        "display": f"PMID {pub['pmid']}"}]})
    if status != "NONE":
        classifiers.append({"text": status.lower().replace("_", " ")})
    artifacts = [{
        "type": "citation", "label": pub.get("ref"), "display": pub.get("title"),
        "citation": citation, "classifier": classifiers,
        "publicationStatus": "retired" if status == "RETRACTED" else "active",
        "document": {"url": url, "title": pub.get("title")} if url else None,
        "resourceReference": {"identifier": ident, "display": pub.get("title") or citation}
        if ident else None,
    }]
    if status == "RETRACTED":
        notice = pub.get("retraction_notice") or "retraction notice"
        artifacts.append({
            "type": "retracted-by", "label": pub.get("ref"),
            "display": f"Retraction of {pub.get('title') or pub.get('ref')}",
            "citation": "; ".join(x for x in (notice, pub.get("retraction_reason")) if x),
            "publicationDate": str(pub["retraction_date"]) if pub.get("retraction_date")
            else None,
            "resourceReference": {"identifier": ident, "display": notice} if ident else None,
        })
    return artifacts


def research_study(doc: dict[str, Any]) -> dict[str, Any]:
    """One study as an R5 ResearchStudy."""
    enrollment, kind = doc.get("enrollment"), doc.get("enrollment_type")
    status = doc.get("overall_status")
    progress = []
    if status:
        code = STATUS_CODES.get(status)
        state = (_coding("http://hl7.org/fhir/research-study-status", code) if code
                 else {"text": status})
        state["text"] = status
        progress.append({"state": state, "actual": True})
    design = [x for x in (doc.get("study_type"), doc.get("allocation"),
                          doc.get("intervention_model"), doc.get("masking")) if x]
    arms = [_comparison_group(i, a) for i, a in enumerate(doc.get("arms") or [])]
    outcomes = [_outcome_measure(om, doc) for om in doc.get("outcome_measures") or []]
    artifacts = [a for p in doc.get("publications") or [] for a in _publication_artifacts(p)]
    resource = {
        "resourceType": "ResearchStudy", "id": study_id(doc),
        "meta": {"versionId": str(doc.get("version", 1)),
                 "lastUpdated": _instant(doc.get("updated_at"))},
        "identifier": _identifiers(doc),
        "title": doc["title"],
        "label": [{"type": _coding("http://hl7.org/fhir/title-type", "acronym"),
                   "value": doc["acronym"]}] if doc.get("acronym") else None,
        "status": "active",
        "phase": _coding("http://hl7.org/fhir/research-study-phase",
                         PHASE_CODES[doc["phase"]]) if doc.get("phase") else None,
        "studyDesign": [{"text": x} for x in design],
        "condition": [{"text": c} for c in doc.get("conditions") or []],
        "keyword": [{"text": k} for k in doc.get("keywords") or []],
        "region": [{"text": c} for c in doc.get("countries") or []],
        "descriptionSummary": doc.get("summary"),
        "period": {"start": doc.get("start_date"), "end": doc.get("completion_date")},
        "associatedParty": [{
            "name": doc["sponsor"],
            "role": _coding("http://hl7.org/fhir/research-study-party-role", "sponsor")}]
        if doc.get("sponsor") else None,
        "progressStatus": progress,
        "recruitment": {
            "targetNumber": enrollment if kind != "ACTUAL" else None,
            "actualNumber": enrollment if kind == "ACTUAL" else None,
            "eligibility": {"display": doc["population"][:1000]}
            if doc.get("population") else None,
        },
        "comparisonGroup": arms,
        "outcomeMeasure": outcomes,
        "relatedArtifact": artifacts,
        "note": [{"text": doc["notes"]}] if doc.get("notes") else None,
    }
    cleaned: dict[str, Any] = _clean(resource)
    return cleaned


def _comparison_group(i: int, a: dict[str, Any]) -> dict[str, Any]:
    """One arm as a comparison group: its type, description, interventions and size."""
    return {
        "linkId": f"arm-{i + 1}", "name": a["label"],
        "type": _coding("http://hl7.org/fhir/research-study-arm-type",
                        ARM_CODES.get(a["arm_type"], "other-arm-type")),
        "description": "; ".join(x for x in (
            a.get("description"),
            ", ".join((x.get("intervention") or x["name"]) + (f" {x['dose_text']}"
                      if x.get("dose_text") else "") for x in a.get("interventions") or []),
            f"randomized: {a['n_randomized']}" if a.get("n_randomized") is not None else None,
        ) if x),
    }


def _outcome_measure(om: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """One outcome measure with its role, instrument and timepoints."""
    return {
        "name": om["name"],
        "type": [_coding("http://hl7.org/fhir/research-study-objective-type",
                         OBJECTIVE_CODES.get(om["role"], "exploratory"))],
        "description": "; ".join(x for x in (
            om.get("instrument") and f"instrument: {om['instrument']}", om.get("description"),
            _timepoints_text(om, doc)) if x),
    }


def _timepoints_text(om: dict[str, Any], doc: dict[str, Any]) -> str | None:
    tps = {t["label"]: t for t in doc.get("timepoints") or []}
    labels = list(dict.fromkeys([r["timepoint"] for r in om.get("results") or []]
                                + [e["timepoint"] for e in om.get("effects") or []]))
    return "timepoints: " + "; ".join(describe_timepoint(tps[x]) for x in labels
                                      if x in tps) if labels else None


def evidence_id(effect_id: int) -> str:
    return f"effect-{effect_id}"


def _sample_size(doc: dict[str, Any], effect: dict[str, Any]) -> int | None:
    """Participants behind an estimate: the arms' n at its timepoint, else as randomized."""
    arms = [a for a in (effect["experimental_arm"], effect.get("comparator_arm")) if a]
    sizes = []
    for label in arms:
        n = next((r["n"] for om in doc.get("outcome_measures") or []
                  if om["name"] == effect["outcome"] for r in om.get("results") or []
                  if r["arm"] == label and r["timepoint"] == effect["timepoint"]
                  and r.get("n") is not None), None)
        if n is None:
            n = next((a.get("n_randomized") for a in doc.get("arms") or []
                      if a["label"] == label), None)
        if n is None:
            return None
        sizes.append(int(n))
    return sum(sizes)


def _p_text(effect: dict[str, Any]) -> str | None:
    if effect.get("p_value") is None:
        return None
    relation = effect.get("p_value_relation") or "="
    return f"p {relation} {effect['p_value']:g}"


def _statistic_text(effect_name: str, effect: dict[str, Any]) -> str:
    """The statistic in words; a comparison reported by its p-value alone says so."""
    if effect.get("value") is None:
        return f"{effect_name}: no estimate reported, {_p_text(effect) or 'no p-value'}"
    return f"{effect_name} {effect['value']:g}"


def _as_printed(effect: dict[str, Any]) -> str | None:
    """The source's own figures when it printed the contrast the other way round."""
    printed = effect.get("as_reported")
    if not printed:
        return None
    ci = (f" ({printed['ci_low']:g} to {printed['ci_high']:g})"
          if printed.get("ci_low") is not None and printed.get("ci_high") is not None else "")
    return (f"as printed, comparator vs experimental: {printed['value']:g}{ci}; "
            f"{printed.get('reason') or ''}").rstrip("; ")


def _attribute_estimates(effect: dict[str, Any]) -> list[dict[str, Any]]:
    """An estimate's CI, standard error and p-value as attribute estimates."""
    estimates: list[dict[str, Any]] = []
    if effect.get("ci_low") is not None and effect.get("ci_high") is not None:
        estimates.append({
            "type": _coding(CS + "attribute-estimate-type", "C53324", "Confidence interval"),
            "level": effect.get("ci_level") or 0.95,
            "range": {"low": {"value": effect["ci_low"]}, "high": {"value": effect["ci_high"]}},
        })
    if effect.get("se") is not None:
        estimates.append({
            "type": _coding(CS + "attribute-estimate-type", "C53322", "Standard error"),
            "quantity": {"value": effect["se"]}})
    if effect.get("p_value") is not None:
        quantity: dict[str, Any] = {"value": effect["p_value"]}
        if effect.get("p_value_relation") in ("<", ">"):
            quantity["comparator"] = effect["p_value_relation"]
        estimates.append({"type": _coding(CS + "attribute-estimate-type", "C44185", "P-value"),
                          "quantity": quantity})
    return estimates


def _effect_artifacts(doc: dict[str, Any], effect: dict[str, Any]) -> list[dict[str, Any]]:
    """The publications an estimate cites (each once), then its registry sources."""
    pubs = {p["ref"]: p for p in doc.get("publications") or []}
    cited = [pubs[s["publication"]] for s in effect.get("sources") or []
             if s.get("publication") in pubs]
    artifacts = [a for p in {p["ref"]: p for p in cited}.values()
                 for a in _publication_artifacts(p)]
    artifacts += [{"type": "derived-from", "label": s.get("registry") or s.get("locator"),
                   "display": s.get("locator"),
                   "document": {"url": s["source_url"]} if s.get("source_url") else None}
                  for s in effect.get("sources") or [] if not s.get("publication")]
    return artifacts


def evidence(doc: dict[str, Any], effect: dict[str, Any], effect_id: int) -> dict[str, Any]:
    """One effect estimate of a study as an R5 Evidence resource."""
    code, display = STATISTIC_TYPES[effect["effect_type"]]
    estimates = _attribute_estimates(effect)
    n = _sample_size(doc, effect)
    timepoint: dict[str, Any] = next((t for t in doc.get("timepoints") or []
                      if t["label"] == effect["timepoint"]), {})
    when = describe_timepoint(timepoint) if timepoint else effect["timepoint"]
    comparator = effect.get("comparator_arm")
    outcome = effect["outcome"] + (f" ({effect['instrument']})" if effect.get("instrument")
                                   else "")
    artifacts = _effect_artifacts(doc, effect)
    cite_as = "; ".join(a["citation"] for a in artifacts
                        if a["type"] == "citation" and a.get("citation"))
    effect_name = EFFECT_NAMES[effect["effect_type"]]
    title = (f"{effect_name} on {outcome}: {effect['experimental_arm']}"
             + (f" vs {comparator}" if comparator else " (within group)") + f", {when}")
    resource = {
        "resourceType": "Evidence", "id": evidence_id(effect_id),
        "meta": {"versionId": str(doc.get("version", 1)),
                 "lastUpdated": _instant(doc.get("updated_at"))},
        "identifier": [{"system": "urn:evidencedb:effect-estimate", "value": str(effect_id)}],
        "title": title[:1000],
        "status": "retired" if effect.get("retracted") else "active",
        "citeAsMarkdown": cite_as or None,
        "relatedArtifact": artifacts + [{
            "type": "derived-from", "label": doc["key"], "display": doc["title"],
            "resourceReference": {"reference": f"ResearchStudy/{study_id(doc)}"}}],
        "variableDefinition": [
            {"variableRole": _coding(CS + "variable-role", "population"),
             "description": doc.get("population") or ", ".join(doc.get("conditions") or [])
             or doc["title"]},
            {"variableRole": _coding(CS + "variable-role", "exposure"),
             "description": effect["experimental_arm"]},
            {"variableRole": _coding(CS + "variable-role", "referenceExposure"),
             "description": comparator} if comparator else None,
            {"variableRole": _coding(CS + "variable-role", "measuredVariable"),
             "description": f"{outcome} at {when}"},
        ],
        "statistic": [{
            "description": _statistic_text(effect_name, effect),
            "statisticType": {**_coding(CS + "statistic-type", code, display),
                              "text": effect_name},
            "quantity": {"value": effect["value"]} if effect.get("value") is not None
            else None,
            "sampleSize": {"numberOfParticipants": n} if n is not None else None,
            "attributeEstimate": estimates,
            "note": [{"text": x} for x in (effect.get("notes"), _as_printed(effect)) if x],
        }],
        "note": [{"text": "retracted: every source of this estimate is retracted"}]
        if effect.get("retracted") else None,
    }
    cleaned: dict[str, Any] = _clean(resource)
    return cleaned


def bundle(resources: list[dict[str, Any]], base: str, self_url: str, next_url: str | None,
           total: int | None) -> dict[str, Any]:
    """A searchset Bundle of one page."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    out: dict[str, Any] = {
        "resourceType": "Bundle", "type": "searchset",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(), "link": links,
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                   "search": {"mode": "match"}} for r in resources],
    }
    if total is not None:
        out["total"] = total
    cleaned: dict[str, Any] = _clean(out)
    return cleaned


def capability_statement(base: str) -> dict[str, Any]:
    """What this read-only FHIR R5 server offers."""
    return {
        "resourceType": "CapabilityStatement", "id": "evidencedb",
        "status": "active", "date": dt.date.today().isoformat(), "kind": "instance",
        "name": "EvidencedbFhir", "title": "evidencedb FHIR R5 read API",
        "software": {"name": "evidencedb", "version": __version__},
        "implementation": {"description": "Clinical-trial evidence as ResearchStudy and "
                                          "Evidence resources", "url": base},
        "fhirVersion": FHIR_VERSION, "format": [MEDIA_TYPE, "json"],
        "rest": [{
            "mode": "server",
            "resource": [{
                "type": kind,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [{"name": n, "type": t, "documentation": d}
                                for n, t, d in params],
            } for kind, params in SEARCH_PARAMS.items()],
        }],
    }


def operation_outcome(status: int, detail: str) -> dict[str, Any]:
    code = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 410: "deleted",
            422: "invalid"}.get(status, "exception")
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": detail}]}
