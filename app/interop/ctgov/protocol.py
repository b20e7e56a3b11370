"""Record → document, the protocol section: identity, status, sponsor, summary, conditions,
design, eligibility, countries and references."""

from __future__ import annotations

import re
from typing import Any

from app.interop.ctgov.base import MapperBase
from app.interop.ctgov.records import MAX_NAME, MAX_SHORT, MAX_TEXT, PHASES, SECONDARY_ID_REGISTRY
from app.interop.ctgov.text import clip, partial_date


def one_phase(listed: Any) -> str | None:
    """Our one phase for the registry's list of phases; None when they make no single one."""
    phases = sorted(x for x in listed or [] if x in PHASES)
    if len(phases) == 1:
        return str(phases[0])
    if phases == ["PHASE1", "PHASE2"]:
        return "PHASE1_PHASE2"
    if phases == ["PHASE2", "PHASE3"]:
        return "PHASE2_PHASE3"
    return None


class ProtocolMapping(MapperBase):
    def identification(self) -> None:
        m, p = self.module("identificationModule"), "protocolSection.identificationModule"
        d = self.doc
        d["key"] = self.nct
        d["title"] = clip(m.get("briefTitle") or m.get("officialTitle"), MAX_TEXT)
        self.report.map(f"{p}.nctId", "key, registry_ids[NCT]")
        self.report.map(f"{p}.briefTitle", "title")
        if m.get("officialTitle") and m.get("officialTitle") != d["title"]:
            self.notes.append(f"Official title: {m['officialTitle']}")
            self.report.map(f"{p}.officialTitle", "notes")
        if m.get("acronym"):
            d["acronym"] = clip(m["acronym"], MAX_SHORT)
            self.report.map(f"{p}.acronym", "acronym")
        ids = [{"registry": "NCT", "identifier": self.nct}]
        seen = {("NCT", self.nct)}

        def add(registry: str, identifier: Any, path: str) -> None:
            ident = clip(str(identifier), MAX_SHORT) if identifier else None
            if ident and (registry, ident) not in seen:
                seen.add((registry, ident))
                ids.append({"registry": registry, "identifier": ident})
                self.report.map(path, f"registry_ids[{registry}]")

        org = m.get("orgStudyIdInfo")
        if isinstance(org, dict):
            add("PROTOCOL", org.get("id"), f"{p}.orgStudyIdInfo.id")
        for i, info in enumerate(m.get("secondaryIdInfos") or []):
            if not isinstance(info, dict):
                continue
            kind = str(info.get("type") or "OTHER")
            registry = (SECONDARY_ID_REGISTRY.get(kind) if kind != "REGISTRY"
                        else clip(str(info.get("domain") or "REGISTRY"), MAX_SHORT))
            add(registry or kind[:MAX_SHORT], info.get("id"), f"{p}.secondaryIdInfos[{i}]")
        for i, alias in enumerate(m.get("nctIdAliases") or []):
            add("NCT", alias, f"{p}.nctIdAliases[{i}]")
        d["registry_ids"] = ids
        if m.get("organization"):
            self.report.skip(f"{p}.organization", "the lead sponsor is mapped instead")

    def status(self) -> None:
        m, p = self.module("statusModule"), "protocolSection.statusModule"
        if m.get("overallStatus"):
            self.doc["overall_status"] = m["overallStatus"]
            self.report.map(f"{p}.overallStatus", "overall_status")
        if m.get("lastKnownStatus"):
            self.notes.append(f"Last known status: {m['lastKnownStatus']}")
            self.report.map(f"{p}.lastKnownStatus", "notes")
        if m.get("whyStopped"):
            self.notes.append(f"Why stopped: {m['whyStopped']}")
            self.report.map(f"{p}.whyStopped", "notes")
        for struct, target in (("startDateStruct", "start_date"),
                               ("completionDateStruct", "completion_date")):
            value = partial_date(m.get(struct))
            if value:
                self.doc[target] = value
                kind = m[struct].get("type")
                self.report.map(f"{p}.{struct}.date", f"{target} (precision kept: {value})")
                if kind:
                    self.notes.append(f"{target.replace('_', ' ')} {value} is {kind.lower()}")
                    self.report.map(f"{p}.{struct}.type", "notes")
            elif m.get(struct):
                self.report.skip(f"{p}.{struct}", "not a YYYY, YYYY-MM or YYYY-MM-DD date")
        if m.get("primaryCompletionDateStruct"):
            self.report.skip(f"{p}.primaryCompletionDateStruct",
                             "kept in the stored record; no column for it")

    def sponsor(self) -> None:
        p = "protocolSection.sponsorCollaboratorsModule"
        m = self.module("sponsorCollaboratorsModule")
        lead = m.get("leadSponsor")
        if isinstance(lead, dict) and lead.get("name"):
            self.doc["sponsor"] = clip(lead["name"], MAX_NAME)
            self.report.map(f"{p}.leadSponsor.name", "sponsor")
        if m.get("collaborators"):
            names = ", ".join(str(c.get("name")) for c in m["collaborators"]
                              if isinstance(c, dict) and c.get("name"))
            if names:
                self.notes.append(f"Collaborators: {names}")
                self.report.map(f"{p}.collaborators", "notes")

    def description(self) -> None:
        m, p = self.module("descriptionModule"), "protocolSection.descriptionModule"
        if m.get("briefSummary"):
            self.doc["summary"] = clip(m["briefSummary"], MAX_TEXT)
            self.report.map(f"{p}.briefSummary", "summary")
        if m.get("detailedDescription"):
            self.report.skip(f"{p}.detailedDescription",
                             "kept in the stored record; the brief summary is mapped")

    def conditions(self) -> None:
        m, p = self.module("conditionsModule"), "protocolSection.conditionsModule"
        conditions: list[str] = []
        seen: set[str] = set()
        for i, name in enumerate(m.get("conditions") or []):
            name = clip(str(name), MAX_NAME)
            if name and name.casefold() not in seen:
                seen.add(name.casefold())
                conditions.append(name)
                self.report.map(f"{p}.conditions[{i}]", f"conditions: {name}")
        self.doc["conditions"] = conditions
        keywords: list[str] = []
        for i, word in enumerate(m.get("keywords") or []):
            word = clip(str(word), MAX_NAME)
            if word:
                keywords.append(word)
                self.report.map(f"{p}.keywords[{i}]", "keywords")
        self.doc["keywords"] = keywords

    def design(self) -> None:
        m, p = self.module("designModule"), "protocolSection.designModule"
        raw = m.get("designInfo")
        info: dict[str, Any] = raw if isinstance(raw, dict) else {}
        kind = m.get("studyType")
        allocation = info.get("allocation")
        model = info.get("interventionModel")
        if kind == "OBSERVATIONAL":
            study_type = "OBSERVATIONAL"
        elif allocation == "RANDOMIZED":
            study_type = "RCT"
        elif model == "SINGLE_GROUP" or allocation == "NA":
            study_type = "SINGLE_GROUP"
        elif allocation == "NON_RANDOMIZED":
            study_type = "NON_RANDOMIZED"
        elif kind == "EXPANDED_ACCESS":
            study_type = "SINGLE_GROUP"
            self.notes.append("Expanded access record")
        else:
            study_type = "SINGLE_GROUP" if kind == "INTERVENTIONAL" else "OBSERVATIONAL"
        self.doc["study_type"] = study_type
        self.report.map(f"{p}.studyType", f"study_type ({study_type}, with designInfo)")
        phase = one_phase(m.get("phases"))
        if phase:
            self.doc["phase"] = phase
            self.report.map(f"{p}.phases", f"phase ({phase})")
        elif m.get("phases"):
            self.report.skip(f"{p}.phases", f"no single phase for {m['phases']}")
        for key, target in (("allocation", "allocation"), ("interventionModel",
                                                             "intervention_model"),
                            ("primaryPurpose", "primary_purpose")):
            if info.get(key):
                self.doc[target] = info[key]
                self.report.map(f"{p}.designInfo.{key}", target)
        masking = info.get("maskingInfo")
        if isinstance(masking, dict) and masking.get("masking"):
            self.doc["masking"] = masking["masking"]
            self.report.map(f"{p}.designInfo.maskingInfo.masking", "masking")
            if masking.get("whoMasked"):
                self.notes.append("Masked: " + ", ".join(map(str, masking["whoMasked"])))
                self.report.map(f"{p}.designInfo.maskingInfo.whoMasked", "notes")
        for key in ("observationalModel", "timePerspective"):
            if info.get(key):
                self.notes.append(f"{key}: {info[key]}")
                self.report.map(f"{p}.designInfo.{key}", "notes")
        enrollment = m.get("enrollmentInfo")
        if isinstance(enrollment, dict) and isinstance(enrollment.get("count"), int):
            self.doc["enrollment"] = enrollment["count"]
            self.report.map(f"{p}.enrollmentInfo.count", "enrollment")
            if enrollment.get("type") in ("ACTUAL", "ESTIMATED"):
                self.doc["enrollment_type"] = enrollment["type"]
                self.report.map(f"{p}.enrollmentInfo.type", "enrollment_type")

    def eligibility(self) -> None:
        m, p = self.module("eligibilityModule"), "protocolSection.eligibilityModule"
        if not m:
            return
        ages = " to ".join(str(m[k]) for k in ("minimumAge", "maximumAge") if m.get(k))
        parts = []
        if m.get("sex"):
            parts.append(f"Sex: {m['sex']}")
        if ages:
            parts.append(f"Ages: {ages}")
        if "healthyVolunteers" in m:
            parts.append("Healthy volunteers: " + ("yes" if m["healthyVolunteers"] else "no"))
        text = "; ".join(parts)
        if m.get("studyPopulation"):
            text = f"{m['studyPopulation']}\n{text}".strip()
        if m.get("eligibilityCriteria"):
            text = f"{text}\n\n{m['eligibilityCriteria']}".strip()
        if text:
            clipped = clip(text, MAX_TEXT)
            self.doc["population"] = clipped
            self.report.map(p, "population (eligibility summary and criteria)")
            if clipped and len(clipped) < len(text.strip()):
                self.report.skip(f"{p}.eligibilityCriteria",
                                 f"cut at {MAX_TEXT} characters in population; whole in the "
                                 "stored record")

    def locations(self) -> None:
        m, p = self.module("contactsLocationsModule"), "protocolSection.contactsLocationsModule"
        countries = []
        for loc in m.get("locations") or []:
            if isinstance(loc, dict) and loc.get("country"):
                countries.append(clip(str(loc["country"]), MAX_NAME))
        self.doc["countries"] = list(dict.fromkeys(c for c in countries if c))
        if countries:
            self.report.map(f"{p}.locations[].country", "countries")
        for key in ("centralContacts", "overallOfficials"):
            if m.get(key):
                self.report.skip(f"{p}.{key}", "people's contact details are not stored")

    def references(self) -> None:
        m, p = self.module("referencesModule"), "protocolSection.referencesModule"
        publications: list[dict[str, Any]] = []
        results_seen = False
        for i, ref in enumerate(m.get("references") or []):
            if not isinstance(ref, dict):
                continue
            path = f"{p}.references[{i}]"
            kind = ref.get("type")
            if kind == "BACKGROUND":
                self.report.skip(path, "background reading, not a report of this study")
                continue
            pmid = str(ref.get("pmid")) if ref.get("pmid") else None
            citation = clip(ref.get("citation"), MAX_TEXT)
            if not (pmid or citation):
                self.report.skip(path, "neither a PMID nor a citation")
                continue
            pub: dict[str, Any] = {"ref": f"pmid-{pmid}" if pmid else f"ref-{i + 1}"}
            if kind == "RESULT" and not results_seen:
                pub["role"] = "PRIMARY_RESULTS"
                results_seen = True
            else:
                pub["role"] = "SECONDARY"
            if pmid and re.match(r"^[0-9]{1,9}$", pmid):
                pub["pmid"] = pmid
            if citation:
                pub["citation"] = citation
                doi = re.search(r"doi:\s*(10\.\d{4,9}/\S+?)\.?(?:\s|$)", citation)
                if doi:
                    pub["doi"] = doi.group(1)
                year = re.search(r"\.\s((?:19|20)\d{2})\b", citation)
                if year:
                    pub["year"] = int(year.group(1))
            retractions = [r for r in ref.get("retractions") or [] if isinstance(r, dict)]
            if retractions:
                pub["retraction_status"] = "RETRACTED"
                pub["retraction_notice"] = "; ".join(
                    f"retraction PMID {r.get('pmid')}" + (f" ({r['source']})"
                                                          if r.get("source") else "")
                    for r in retractions)
                self.report.map(f"{path}.retractions", "publications[].retraction_status")
            if any(x["ref"] == pub["ref"] for x in publications):
                self.report.skip(path, "the same reference is listed twice")
                continue
            publications.append(pub)
            self.report.map(path, f"publications: {pub['ref']} ({pub['role']})")
        self.doc["publications"] = publications
        for key in ("seeAlsoLinks", "availIpds"):
            if m.get(key):
                self.report.skip(f"{p}.{key}", "links are kept in the stored record only")
