"""ClinicalTrials.gov API v2 study records and our study document, both ways.

`to_document` maps one v2 record to a study document (the `POST /studies` body) and a mapping
report: every part of the record it used (`mapped`: path → target) and every part it left out
with the reason (`skipped`: path → reason). Every number it maps is sourced to the registry
record, with a locator naming the place in the record. It never touches the database.

Registry results feed the same evidence model as curated studies: a measure counted in
participants, or given as the percentage of participants, becomes per-arm `count` (or the
printed `percent`) over the group's analysed number; a registry analysis becomes a contrast in
our direction (experimental minus, or over, comparator: the rule is stated above `_roles`);
time frames become timepoints with months since baseline and, where the record makes it clear,
a role.

`from_document` renders one of our study documents in the v2 module shapes, for curated studies
that have no stored registry record.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from app.schemas.common import partial_date_sort_key
from app.schemas.study import count_from_percent
from app.spreadsheet import spreadsheet_safe

NCT_ID = re.compile(r"^NCT\d{8}$")
REGISTRY_URL = "https://clinicaltrials.gov/study/{nct}"
DAYS_PER_MONTH = 365.25 / 12
# A registry time frame in weeks becomes months with 12/52: a year of 52 weeks in 12 months.
MONTHS_PER_WEEK = 12 / 52
MONTHS_PER_UNIT = {"hour": 1 / (24 * DAYS_PER_MONTH), "day": 1 / DAYS_PER_MONTH,
                   "week": MONTHS_PER_WEEK, "month": 1.0, "year": 12.0}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
                "eighteen": 18, "twenty-four": 24, "thirty-six": 36}
TOP_LEVEL = ("protocolSection", "resultsSection", "annotationSection", "documentSection",
             "derivedSection", "hasResults")
PROTOCOL_MODULES = ("identificationModule", "statusModule", "sponsorCollaboratorsModule",
                    "oversightModule", "descriptionModule", "conditionsModule", "designModule",
                    "armsInterventionsModule", "outcomesModule", "eligibilityModule",
                    "contactsLocationsModule", "referencesModule", "ipdSharingStatementModule")
SECONDARY_ID_REGISTRY = {"EUDRACT_NUMBER": "EudraCT", "CTIS": "CTIS", "NIH": "NIH",
                         "FDA": "FDA", "VA": "VA", "CDC": "CDC", "AHRQ": "AHRQ",
                         "SAMHSA": "SAMHSA", "OTHER_GRANT": "GRANT", "OTHER": "OTHER"}
ARM_TYPES = ("EXPERIMENTAL", "PLACEBO_COMPARATOR", "ACTIVE_COMPARATOR", "SHAM_COMPARATOR",
             "NO_INTERVENTION", "OTHER")
INTERVENTION_TYPES = ("DRUG", "BEHAVIORAL", "BIOLOGICAL", "COMBINATION_PRODUCT", "DEVICE",
                      "DIAGNOSTIC_TEST", "DIETARY_SUPPLEMENT", "GENETIC", "PROCEDURE",
                      "RADIATION", "OTHER")
INTERVENTION_PREFIX = {"DRUG": "Drug", "BEHAVIORAL": "Behavioral", "BIOLOGICAL": "Biological",
                       "COMBINATION_PRODUCT": "Combination Product", "DEVICE": "Device",
                       "DIAGNOSTIC_TEST": "Diagnostic Test", "DIETARY_SUPPLEMENT":
                       "Dietary Supplement", "GENETIC": "Genetic", "PROCEDURE": "Procedure",
                       "RADIATION": "Radiation", "OTHER": "Other"}
OUTCOME_ROLES = {"PRIMARY": "PRIMARY", "SECONDARY": "SECONDARY", "OTHER_PRE_SPECIFIED": "OTHER",
                 "POST_HOC": "OTHER"}
PHASES = {"EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA"}
MAX_NAME, MAX_SHORT, MAX_TEXT = 500, 100, 20_000


class NotAStudyRecord(ValueError):
    """The JSON is not a ClinicalTrials.gov API v2 study record."""


# ------------------------------------------------------------------ recognising records


def records_of(body: Any) -> list[dict[str, Any]]:
    """The v2 study records in a request body: one record, or `{"studies": [...]}`."""
    if _looks_legacy(body):
        raise NotAStudyRecord(
            "this is a record in the retired pre-v2 ClinicalTrials.gov format "
            "(FullStudiesResponse); fetch the study from the API v2 "
            "(/api/v2/studies/{nctId}) and import that")
    if isinstance(body, dict) and "studies" in body and "protocolSection" not in body:
        studies = body["studies"]
        if not isinstance(studies, list) or not studies:
            raise NotAStudyRecord('"studies" must be a non-empty list of v2 study records')
        for i, record in enumerate(studies):
            check_record(record, f"studies[{i}]")
        return studies
    check_record(body, "record")
    return [body]


LEGACY_KEYS = ("FullStudiesResponse", "StudyFieldsResponse", "FullStudies", "ProtocolSection")


def _looks_legacy(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    study = body.get("Study")
    return any(k in body for k in LEGACY_KEYS) or (
        isinstance(study, dict) and "ProtocolSection" in study)


def check_record(record: Any, where: str = "record") -> None:
    if _looks_legacy(record):
        raise NotAStudyRecord(f"{where}: a record in the retired pre-v2 format")
    if not isinstance(record, dict) or not isinstance(record.get("protocolSection"), dict):
        raise NotAStudyRecord(f"{where}: not a ClinicalTrials.gov API v2 study record "
                              "(no protocolSection)")
    ident = record["protocolSection"].get("identificationModule")
    nct = ident.get("nctId") if isinstance(ident, dict) else None
    if not isinstance(nct, str) or not NCT_ID.match(nct):
        raise NotAStudyRecord(f"{where}: protocolSection.identificationModule.nctId is "
                              "missing or not an NCT id")
    if not isinstance(ident.get("briefTitle") or ident.get("officialTitle"), str):
        raise NotAStudyRecord(f"{where}: the record has no title")


def nct_id(record: dict[str, Any]) -> str:
    return str(record["protocolSection"]["identificationModule"]["nctId"])


# ------------------------------------------------------------------ small parsers


def parse_number(raw: Any) -> float | None:
    """A registry number printed as text (".33", "1,024", "-2.13"); None when it is not one."""
    if raw is None:
        return None
    text = str(raw).strip().replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def parse_p_value(raw: Any) -> tuple[float, str] | None:
    """`"<0.0001"` → (0.0001, "<"); `"0.03"` → (0.03, "=")."""
    if raw is None:
        return None
    text = str(raw).strip().replace(" ", "")
    relation = "="
    for sign, rel in (("<=", "<"), ("≤", "<"), ("<", "<"), (">=", ">"), ("≥", ">"), (">", ">"),
                      ("=", "=")):
        if text.startswith(sign):
            relation, text = rel, text[len(sign):]
            break
    text = re.sub(r"^[pP][<=>]*", "", text)
    value = parse_number(text)
    if value is None or not 0 <= value <= 1:
        return None
    return value, relation


_UNITS = r"(hours?|hrs?|days?|weeks?|wks?|months?|mos?|years?|yrs?)"
_DURATION = re.compile(
    rf"(?P<n>\d+(?:\.\d+)?|{'|'.join(sorted(NUMBER_WORDS, key=len, reverse=True))})"
    rf"[\s-]*(?P<u>{_UNITS})\b|\b(?P<u2>{_UNITS})\s*(?P<n2>\d+(?:\.\d+)?)",
    re.IGNORECASE)


def _unit(word: str) -> str:
    word = word.lower()
    for unit, prefixes in (("hour", ("h",)), ("day", ("d",)), ("week", ("w",)),
                           ("month", ("mo",)), ("year", ("y",))):
        if word.startswith(prefixes):
            return unit
    raise ValueError(word)


def parse_time_frame(text: str) -> tuple[float, str] | None:
    """The duration a registry time frame states, in months, with what it read.

    The last duration wins ("Baseline to Week 24" → week 24); None when no duration is stated.
    """
    matches = list(_DURATION.finditer(text))
    if not matches:
        return None
    m = matches[-1]
    number = m.group("n") or m.group("n2")
    unit = _unit(m.group("u") or m.group("u2"))
    value = NUMBER_WORDS.get(number.lower()) if not number[0].isdigit() else float(number)
    if value is None:
        return None
    months = round(float(value) * MONTHS_PER_UNIT[unit], 4)
    return months, f"{number} {unit}"


_AFTER_TREATMENT = re.compile(r"\b(?:after|post|following)\s+(?:the\s+)?end[\s-]of[\s-]treatment",
                              re.IGNORECASE)


def _anchor(text: str) -> str | None:
    """What a time frame's duration counts from: the end of treatment only when the text says
    the duration follows it ("6 months after end of treatment"); "End of treatment (Week 12)"
    counts from baseline like every other registry time frame."""
    low = text.lower()
    if _AFTER_TREATMENT.search(low):
        return "END_OF_TREATMENT"
    if "baseline" in low:
        return "BASELINE"
    if "randomi" in low:
        return "RANDOMIZATION"
    return None


# A time frame that is baseline and nothing else: "Baseline", "Day 1 (baseline)", "Week 0".
_BASELINE_ONLY = re.compile(
    r"(?:at|the|baseline|visit|day\s*[01]|week\s*0|month\s*0|"
    r"pre-?(?:dose|treatment|randomi[sz]ation)|and|or|[\s(),./:-])*", re.IGNORECASE)
_END_OF_TREATMENT = re.compile(r"\bend[\s-]of[\s-]treatment\b", re.IGNORECASE)
# Words that make a time frame a window ("up to Week 32") rather than an assessment at a time.
_WINDOW = re.compile(r"\b(?:up\s+to|through|throughout|during|within|until|over|across)\b",
                     re.IGNORECASE)


def timepoint_role(label: str, months: float | None, primary: bool,
                   primary_months: set[float]) -> tuple[str, str] | None:
    """The role a registry time frame plays, and why; None unless the text makes it clear.

    BASELINE: the time frame names baseline and nothing after it. PRIMARY_ENDPOINT: it is the
    time frame of a primary outcome, or an assessment (not a window such as "up to Week 32") at
    the same month since baseline as one. END_OF_TREATMENT: it names the end of treatment
    (and no time after it).
    """
    if "baseline" in label.lower() and _BASELINE_ONLY.fullmatch(label):
        return "BASELINE", "the time frame is baseline"
    if primary:
        return "PRIMARY_ENDPOINT", "the time frame of a primary outcome"
    if months is not None and months in primary_months and not _WINDOW.search(label):
        return "PRIMARY_ENDPOINT", (f"assessed at month {months:g}, the time of a primary "
                                    "outcome")
    if _END_OF_TREATMENT.search(label) and not _AFTER_TREATMENT.search(label):
        return "END_OF_TREATMENT", "the time frame names the end of treatment"
    return None


def _clip(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value[:limit] if value else None


def _fold(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.casefold())


def _date(struct: Any) -> str | None:
    if isinstance(struct, dict) and isinstance(struct.get("date"), str):
        value = struct["date"]
        if re.match(r"^\d{4}(-\d{2}(-\d{2})?)?$", value):
            return value
    return None


# ------------------------------------------------------------------ v2 record → document


@dataclass
class Report:
    mapped: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def map(self, path: str, target: str) -> None:
        self.mapped.append({"path": path, "target": target})

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append({"path": path, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        return {"mapped": self.mapped, "skipped": self.skipped}


def _unique_label(label: str, taken: set[str]) -> str:
    candidate, n = label, 2
    while candidate.casefold() in taken:
        suffix = f" ({n})"
        candidate = label[: MAX_NAME - len(suffix)] + suffix
        n += 1
    taken.add(candidate.casefold())
    return candidate


class _Mapper:
    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        self.ps: dict[str, Any] = record["protocolSection"]
        self.nct = nct_id(record)
        self.report = Report()
        self.url = REGISTRY_URL.format(nct=self.nct)
        self.notes: list[str] = []
        self.doc: dict[str, Any] = {}

    def source(self, locator: str) -> dict[str, Any]:
        return {"registry": self.nct, "source_url": self.url, "locator": locator[:MAX_NAME]}

    def module(self, name: str) -> dict[str, Any]:
        value = self.ps.get(name)
        return value if isinstance(value, dict) else {}

    # -- protocol section

    def identification(self) -> None:
        m, p = self.module("identificationModule"), "protocolSection.identificationModule"
        d = self.doc
        d["key"] = self.nct
        d["title"] = _clip(m.get("briefTitle") or m.get("officialTitle"), MAX_TEXT)
        self.report.map(f"{p}.nctId", "key, registry_ids[NCT]")
        self.report.map(f"{p}.briefTitle", "title")
        if m.get("officialTitle") and m.get("officialTitle") != d["title"]:
            self.notes.append(f"Official title: {m['officialTitle']}")
            self.report.map(f"{p}.officialTitle", "notes")
        if m.get("acronym"):
            d["acronym"] = _clip(m["acronym"], MAX_SHORT)
            self.report.map(f"{p}.acronym", "acronym")
        ids = [{"registry": "NCT", "identifier": self.nct}]
        seen = {("NCT", self.nct)}

        def add(registry: str, identifier: Any, path: str) -> None:
            ident = _clip(str(identifier), MAX_SHORT) if identifier else None
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
                        else _clip(str(info.get("domain") or "REGISTRY"), MAX_SHORT))
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
            value = _date(m.get(struct))
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
            self.doc["sponsor"] = _clip(lead["name"], MAX_NAME)
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
            self.doc["summary"] = _clip(m["briefSummary"], MAX_TEXT)
            self.report.map(f"{p}.briefSummary", "summary")
        if m.get("detailedDescription"):
            self.report.skip(f"{p}.detailedDescription",
                             "kept in the stored record; the brief summary is mapped")

    def conditions(self) -> None:
        m, p = self.module("conditionsModule"), "protocolSection.conditionsModule"
        conditions: list[str] = []
        seen: set[str] = set()
        for i, name in enumerate(m.get("conditions") or []):
            name = _clip(str(name), MAX_NAME)
            if name and name.casefold() not in seen:
                seen.add(name.casefold())
                conditions.append(name)
                self.report.map(f"{p}.conditions[{i}]", f"conditions: {name}")
        self.doc["conditions"] = conditions
        keywords: list[str] = []
        for i, word in enumerate(m.get("keywords") or []):
            word = _clip(str(word), MAX_NAME)
            if word:
                keywords.append(word)
                self.report.map(f"{p}.keywords[{i}]", "keywords")
        self.doc["keywords"] = keywords

    def design(self) -> None:
        m, p = self.module("designModule"), "protocolSection.designModule"
        info = m.get("designInfo") if isinstance(m.get("designInfo"), dict) else {}
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
        phases = [x for x in (m.get("phases") or []) if x in PHASES]
        phase = None
        if phases == ["NA"]:
            phase = "NA"
        elif len(phases) == 1:
            phase = phases[0]
        elif sorted(phases) == ["PHASE1", "PHASE2"]:
            phase = "PHASE1_PHASE2"
        elif sorted(phases) == ["PHASE2", "PHASE3"]:
            phase = "PHASE2_PHASE3"
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
            clipped = _clip(text, MAX_TEXT)
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
                countries.append(_clip(str(loc["country"]), MAX_NAME))
        self.doc["countries"] = list(dict.fromkeys(c for c in countries if c))
        if countries:
            self.report.map(f"{p}.locations[].country", "countries")
        for key in ("centralContacts", "overallOfficials"):
            if m.get(key):
                self.report.skip(f"{p}.{key}", "people's contact details are not stored")

    def references(self) -> None:
        m, p = self.module("referencesModule"), "protocolSection.referencesModule"
        publications = []
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
            citation = _clip(ref.get("citation"), MAX_TEXT)
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

    # -- arms, interventions, outcomes

    def arms(self) -> None:
        m, p = self.module("armsInterventionsModule"), "protocolSection.armsInterventionsModule"
        interventions = [x for x in m.get("interventions") or [] if isinstance(x, dict)]
        by_ref: dict[str, dict[str, Any]] = {}
        for x in interventions:
            prefix = INTERVENTION_PREFIX.get(str(x.get("type")), "Other")
            by_ref[f"{prefix}: {x.get('name')}".casefold()] = x
            by_ref[str(x.get("name")).casefold()] = x
        arms: list[dict[str, Any]] = []
        self.arm_labels: set[str] = set()
        linked: set[int] = set()
        paths: dict[str, str] = {}
        for i, group in enumerate(m.get("armGroups") or []):
            if not isinstance(group, dict) or not group.get("label"):
                continue
            label = _unique_label(_clip(str(group["label"]), MAX_NAME) or f"Group {i + 1}",
                                  self.arm_labels)
            arm_type = group.get("type") if group.get("type") in ARM_TYPES else "OTHER"
            arm: dict[str, Any] = {"label": label, "arm_type": arm_type,
                                   "interventions": []}
            if group.get("description"):
                arm["description"] = _clip(group["description"], MAX_TEXT)
            names = []
            for ref in group.get("interventionNames") or []:
                x = by_ref.get(str(ref).casefold())
                if x is not None:
                    names.append(x)
            for x in interventions:
                if group["label"] in (x.get("armGroupLabels") or []):
                    names.append(x)
            for x in {id(x): x for x in names}.values():
                linked.add(id(x))
                entry: dict[str, Any] = {"name": _clip(str(x["name"]), MAX_NAME)}
                if x.get("type") in INTERVENTION_TYPES:
                    entry["type"] = x["type"]
                if x.get("description"):
                    entry["notes"] = _clip(x["description"], MAX_TEXT)
                arm["interventions"].append(entry)
            arms.append(arm)
            paths[label] = f"{p}.armGroups[{i}]"
            self.report.map(f"{p}.armGroups[{i}]", f"arms: {label} ({arm_type}, "
                            f"{len(arm['interventions'])} interventions)")
        for i, x in enumerate(interventions):
            if id(x) not in linked:
                if not arms:
                    arms.append({"label": _unique_label("All participants", self.arm_labels),
                                 "arm_type": "OTHER", "interventions": []})
                if len(arms) == 1:
                    arms[0]["interventions"].append(
                        {"name": _clip(str(x["name"]), MAX_NAME),
                         **({"type": x["type"]} if x.get("type") in INTERVENTION_TYPES else {})})
                    self.report.map(f"{p}.interventions[{i}]",
                                    f"arms: {arms[0]['label']} (the only group)")
                else:
                    self.report.skip(f"{p}.interventions[{i}]", "linked to no arm group")
            elif x.get("otherNames"):
                self.report.skip(f"{p}.interventions[{i}].otherNames",
                                 "synonyms are curated in the vocabulary, not taken from "
                                 "registry records")
        self.doc["arms"] = arms
        self.inert_comparators(paths)

    def inert_comparators(self, paths: dict[str, str]) -> None:
        """An arm registered as EXPERIMENTAL or OTHER whose every intervention is a placebo,
        vehicle or sham is stored as the comparator it is, when another arm gives something
        else: which arm is the comparator decides the direction of every contrast."""
        arms = self.doc["arms"]
        kinds = {a["label"]: _inert_kind([x["name"] for x in a["interventions"]]) for a in arms}
        if not any(kinds[a["label"]] is None and a["interventions"] for a in arms):
            return
        for arm in arms:
            kind = kinds[arm["label"]]
            if kind is None or arm["arm_type"] not in ("EXPERIMENTAL", "OTHER"):
                continue
            registered, arm["arm_type"] = arm["arm_type"], kind
            names = ", ".join(repr(x["name"]) for x in arm["interventions"])
            note = (f"ClinicalTrials.gov registers the arm {arm['label']!r} as {registered}; "
                    f"it gives only {names}, so it is stored as {kind}")
            arm["notes"] = _clip(note, MAX_TEXT)
            self.notes.append(note)
            self.report.map(f"{paths[arm['label']]}.type",
                            f"arms: {arm['label']} {kind} (registered {registered}; every "
                            "intervention is a placebo, vehicle or sham)")

    def _arm_for_group(self, title: str, description: str | None) -> str:
        """The arm a result group stands for: same label, else same letters and digits,
        else one containing the other; an unmatched group becomes an arm of its own."""
        arms = self.doc["arms"]
        for test in (lambda a: a["label"].casefold() == title.casefold(),
                     lambda a: _fold(a["label"]) == _fold(title),
                     lambda a: _fold(a["label"]) and (_fold(a["label"]) in _fold(title)
                                                     or _fold(title) in _fold(a["label"]))):
            hits = [a for a in arms if test(a)]
            if len(hits) == 1:
                return str(hits[0]["label"])
        label = _unique_label(_clip(title, MAX_NAME) or "Group", self.arm_labels)
        arm: dict[str, Any] = {"label": label, "arm_type": "OTHER", "interventions": []}
        if description:
            arm["description"] = _clip(description, MAX_TEXT)
        arms.append(arm)
        return label

    def participant_flow(self) -> None:
        """Arm sizes from the participant flow: STARTED in the first period as randomized,
        COMPLETED in the last period as completed."""
        results = self.record.get("resultsSection")
        flow = results.get("participantFlowModule") if isinstance(results, dict) else None
        if not isinstance(flow, dict):
            return
        base = "resultsSection.participantFlowModule"
        groups = {g["id"]: self._arm_for_group(str(g.get("title") or g["id"]),
                                               g.get("description"))
                  for g in flow.get("groups") or [] if isinstance(g, dict) and g.get("id")}
        periods = [p for p in flow.get("periods") or [] if isinstance(p, dict)]
        arms = {a["label"]: a for a in self.doc["arms"]}
        for target, kind, index in (("n_randomized", "STARTED", 0),
                                    ("n_completed", "COMPLETED", len(periods) - 1)):
            if not periods:
                break
            milestones = periods[index].get("milestones") or []
            for mi, milestone in enumerate(milestones):
                if not isinstance(milestone, dict) or milestone.get("type") != kind:
                    continue
                path = f"{base}.periods[{index}].milestones[{mi}]"
                for a in milestone.get("achievements") or []:
                    number = parse_number(a.get("numSubjects")) if isinstance(a, dict) else None
                    if a.get("groupId") not in groups or number is None or number < 0 \
                            or number != int(number):
                        continue
                    arm = arms[groups[a["groupId"]]]
                    arm[target] = int(number)
                    arm.setdefault("sources", [])
                    if not any(x["locator"] == path for x in arm["sources"]):
                        arm["sources"].append(self.source(path))
                self.report.map(path, f"arms[].{target} ({kind} in period "
                                      f"{periods[index].get('title') or index + 1!r})")
                break

    def timepoint(self, time_frame: str | None, path: str) -> str:
        text = (time_frame or "").strip() or "time frame not stated"
        label = _clip(text, MAX_NAME) or "time frame not stated"
        if label.casefold() in self.timepoints:
            return str(self.timepoints[label.casefold()]["label"])
        tp: dict[str, Any] = {"label": label, "sources": [self.source(path)]}
        parsed = parse_time_frame(text)
        anchor = _anchor(text)
        if anchor:
            tp["anchor"] = anchor
        if parsed is not None:
            tp["months"] = parsed[0]
            # A registry time frame counts from the start of the study (baseline), unless it
            # says that it counts from the end of treatment.
            if anchor != "END_OF_TREATMENT":
                tp["months_since_baseline"] = parsed[0]
            self.report.map(path, f"timepoints: {label!r} ({parsed[1]} = {parsed[0]} months"
                                  + (" since baseline)" if anchor != "END_OF_TREATMENT"
                                     else " after the end of treatment)"))
        else:
            self.report.skip(path, f"time frame {label!r} states no duration: "
                                   "timepoint kept without months")
        self.timepoints[label.casefold()] = tp
        return label

    def timepoint_roles(self, primary_frames: set[str]) -> None:
        """Roles of the timepoints (`timepoint_role`), once every time frame is known."""
        primary = [self.timepoints[f] for f in primary_frames if f in self.timepoints]
        primary_months = {t["months_since_baseline"] for t in primary
                          if t.get("months_since_baseline") is not None}
        for key, tp in self.timepoints.items():
            found = timepoint_role(tp["label"], tp.get("months_since_baseline"),
                                   key in primary_frames, primary_months)
            if found is None:
                continue
            tp["role"], why = found
            if tp["role"] == "BASELINE":
                tp["months_since_baseline"] = 0
            self.report.map(tp["sources"][0]["locator"],
                            f"timepoints: {tp['label']!r} role {tp['role']} ({why})")

    def outcomes(self) -> None:
        self.timepoints: dict[str, dict[str, Any]] = {}
        self.outcome_names: set[str] = set()
        measures: list[dict[str, Any]] = []
        results = self.record.get("resultsSection")
        om_module = results.get("outcomeMeasuresModule") if isinstance(results, dict) else None
        result_measures = (om_module or {}).get("outcomeMeasures") or []
        covered: set[str] = set()
        primary = [om for om in result_measures
                   if isinstance(om, dict) and om.get("type") == "PRIMARY"]
        primary += self.module("outcomesModule").get("primaryOutcomes") or []
        primary_frames = {(_clip(str(o["timeFrame"]), MAX_NAME) or "").casefold()
                          for o in primary if isinstance(o, dict) and o.get("timeFrame")}
        for i, om in enumerate(result_measures):
            if isinstance(om, dict) and om.get("title"):
                covered.add(_fold(om["title"]))
                measures.extend(self.result_measure(i, om))
        if isinstance(results, dict) and isinstance(results.get("adverseEventsModule"), dict):
            measures.extend(self.adverse_events(results["adverseEventsModule"]))
        m, p = self.module("outcomesModule"), "protocolSection.outcomesModule"
        for key, role in (("primaryOutcomes", "PRIMARY"), ("secondaryOutcomes", "SECONDARY"),
                          ("otherOutcomes", "OTHER")):
            for i, o in enumerate(m.get(key) or []):
                path = f"{p}.{key}[{i}]"
                if not isinstance(o, dict) or not o.get("measure"):
                    continue
                if _fold(o["measure"]) in covered:
                    self.report.map(path, "outcome_measures (with the posted results)")
                    continue
                name = _unique_label(_clip(o["measure"], MAX_NAME) or "Outcome",
                                     self.outcome_names)
                measure: dict[str, Any] = {"name": name, "role": role}
                if o.get("description"):
                    measure["description"] = _clip(o["description"], MAX_TEXT)
                if o.get("timeFrame"):
                    self.timepoint(o["timeFrame"], f"{path}.timeFrame")
                    measure["notes"] = _clip(f"Time frame: {o['timeFrame']}", MAX_TEXT)
                measures.append(measure)
                self.report.map(path, f"outcome_measures: {name} ({role})")
        self.doc["outcome_measures"] = measures
        self.timepoint_roles(primary_frames)
        self.doc["timepoints"] = list(self.timepoints.values())
        if isinstance(results, dict):
            for key in ("baselineCharacteristicsModule", "moreInfoModule"):
                if results.get(key):
                    self.report.skip(f"resultsSection.{key}",
                                     "kept in the stored record; not mapped to evidence tables")

    def adverse_events(self, ae: dict[str, Any]) -> list[dict[str, Any]]:
        """Participants with deaths, serious and other adverse events per group: SAFETY
        outcomes with a count and denominator per arm."""
        base = "resultsSection.adverseEventsModule"
        groups = [g for g in ae.get("eventGroups") or [] if isinstance(g, dict) and g.get("id")]
        if not groups:
            return []
        tp = self.timepoint(ae.get("timeFrame"), f"{base}.timeFrame")
        arms = {g["id"]: self._arm_for_group(str(g.get("title") or g["id"]),
                                             g.get("description")) for g in groups}
        out = []
        for prefix, title in (("deaths", "All-cause mortality"),
                              ("serious", "Participants with serious adverse events"),
                              ("other", "Participants with other (not serious) adverse "
                                        "events")):
            results = []
            for i, g in enumerate(groups):
                affected = parse_number(g.get(f"{prefix}NumAffected"))
                at_risk = parse_number(g.get(f"{prefix}NumAtRisk"))
                if (affected is None or at_risk is None or affected < 0
                        or affected != int(affected) or at_risk != int(at_risk)
                        or affected > at_risk):
                    continue
                results.append({
                    "arm": arms[g["id"]], "timepoint": tp, "count": int(affected),
                    "denominator": int(at_risk), "n": int(at_risk),
                    "raw": f"{g.get(f'{prefix}NumAffected')}/{g.get(f'{prefix}NumAtRisk')}",
                    "sources": [self.source(f"{base}.eventGroups[{i}].{prefix}NumAffected")]})
            if not results:
                continue
            name = _unique_label(title, self.outcome_names)
            out.append({"name": name, "role": "SAFETY", "unit": "participants",
                        "lower_is_better": True, "results": results})
            self.report.map(f"{base}.eventGroups[].{prefix}NumAffected",
                            f"outcome_measures: {name!r} (SAFETY, {len(results)} results)")
        for key in ("seriousEvents", "otherEvents"):
            if ae.get(key):
                self.report.skip(f"{base}.{key}", "events by term are kept in the stored "
                                                  "record; the counts per group are mapped")
        return out

    def result_measure(self, i: int, om: dict[str, Any]) -> list[dict[str, Any]]:
        base = f"resultsSection.outcomeMeasuresModule.outcomeMeasures[{i}]"
        role = OUTCOME_ROLES.get(str(om.get("type")), "OTHER")
        tp = self.timepoint(om.get("timeFrame"), f"{base}.timeFrame")
        groups = {g["id"]: self._arm_for_group(str(g.get("title") or g["id"]),
                                               g.get("description"))
                  for g in om.get("groups") or [] if isinstance(g, dict) and g.get("id")}
        unit = om.get("unitOfMeasure")
        change = "change" in str(om.get("title", "")).lower()
        param = str(om.get("paramType") or "")
        dispersion = str(om.get("dispersionType") or "")
        denoms = _denoms(om.get("denoms"))
        percentages = is_percent_of_participants(param, str(unit or ""), str(om.get("title")))
        classes = [c for c in om.get("classes") or [] if isinstance(c, dict)]
        cells = [(ci, c, ki, k) for ci, c in enumerate(classes)
                 for ki, k in enumerate(c.get("categories") or []) if isinstance(k, dict)]
        split = len(cells) > 1
        out: list[dict[str, Any]] = []
        for ci, cls, ki, cat in cells or [(0, {}, 0, {})]:
            title = str(om["title"])
            if split:
                extra = " — ".join(x for x in (cls.get("title"), cat.get("title")) if x)
                title = f"{title} — {extra or f'class {ci + 1}, category {ki + 1}'}"
            name = _unique_label(_clip(title, MAX_NAME) or "Outcome", self.outcome_names)
            measure: dict[str, Any] = {"name": name, "role": role, "results": [],
                                       "effects": []}
            if unit:
                measure["unit"] = _clip(str(unit), MAX_SHORT)
            if om.get("description"):
                measure["description"] = _clip(om["description"], MAX_TEXT)
            note = [f"Registry parameter: {param}" + (f", dispersion: {dispersion}"
                                                     if dispersion else "")]
            if om.get("populationDescription"):
                note.append(f"Analysis population: {om['populationDescription']}")
            measure["notes"] = _clip("\n".join(note), MAX_TEXT)
            class_denoms = _denoms(cls.get("denoms")) or denoms
            for mi, meas in enumerate(cat.get("measurements") or []):
                if not isinstance(meas, dict) or meas.get("groupId") not in groups:
                    continue
                loc = f"{base}.classes[{ci}].categories[{ki}].measurements[{mi}]"
                result = _result(meas, param, dispersion, change, unit,
                                 class_denoms.get(meas["groupId"]), percentages)
                result.update(arm=groups[meas["groupId"]], timepoint=tp,
                              sources=[self.source(loc)])
                measure["results"].append(result)
                if percentages:
                    self.percentage_report(result, meas, loc)
            out.append(measure)
        target = f"outcome_measures: {str(om['title'])!r}"
        if split:
            target += ", one per class and category: " + ", ".join(repr(x["name"]) for x in out)
        self.report.map(base, f"{target} ({role}, "
                              f"{sum(len(x['results']) for x in out)} results)")
        for ai, analysis in enumerate(om.get("analyses") or []):
            path = f"{base}.analyses[{ai}]"
            if split:
                self.report.skip(path, "the measure has several classes or categories and the "
                                       "analysis does not say which one it compares")
                continue
            titles = {g["id"]: str(g.get("title") or g["id"]) for g in om.get("groups") or []
                      if isinstance(g, dict) and g.get("id")}
            by_arm = {r["arm"]: r for r in out[0]["results"]}
            effect, reason = self.effect(analysis, groups, titles, by_arm, tp, path)
            if effect is None:
                self.report.skip(path, reason)
            else:
                out[0]["effects"].append(effect)
                self.report.map(path, f"effects: {effect['effect_type']} {reason} "
                                      f"in {out[0]['name']!r}")
        return out

    def percentage_report(self, result: dict[str, Any], meas: dict[str, Any],
                          loc: str) -> None:
        """Say what became of a percentage of participants that gives no count."""
        percent, n = result.get("percent"), result.get("denominator")
        if percent is None:
            self.report.skip(f"{loc}.value", f"{meas.get('value')!r} is not a percentage "
                                              "from 0 to 100: kept in raw")
        elif n is None:
            self.report.skip(f"{loc}.value", f"{percent}% without the group's analysed "
                                              "number: no count")
        elif count_from_percent(percent, n) is None:
            self.report.skip(f"{loc}.value", f"{percent}% of {n}: no single count prints as "
                                              "it, so none is derived")

    def effect(self, a: Any, groups: dict[str, str], titles: dict[str, str],
               results: dict[str, dict[str, Any]], tp: str, path: str
               ) -> tuple[dict[str, Any] | None, str]:
        """One registry analysis as a contrast in our direction (the rule is stated above
        `_roles`): the effect and a few words on it for the report, or None and why not."""
        if not isinstance(a, dict):
            return None, "not an analysis object"
        param = str(a.get("paramType") or "")
        effect_type, scale = effect_type_of(param)
        if effect_type is None:
            return None, (f"parameter {param!r} is not an effect measure we store"
                          if param else "the analysis states no parameter")
        if scale != 1 and results and all(
                _proportion(r) is None and (r.get("mean") is not None
                                            or r.get("change_mean") is not None)
                for r in results.values()):
            # A percentage difference between group means (of a measure in percent) is a
            # mean difference, not a difference of proportions.
            effect_type, scale = "MEAN_DIFFERENCE", 1
        if effect_type in STANDARDIZED:
            return None, (f"parameter {param!r} is a standardized difference: ours is positive "
                          "when it favours the experimental arm, and the registry does not say "
                          "which direction of the outcome is better")
        ids = [g for g in dict.fromkeys(a.get("groupIds") or []) if g in groups]
        if len(ids) != 2:
            return None, "an effect estimate compares exactly two groups"
        value = parse_number(a.get("paramValue"))
        p = parse_p_value(a.get("pValue"))
        if value is None and p is None:
            return None, (f"parameter value {a.get('paramValue')!r} is not a number and no "
                          "p-value is given")
        low, high = parse_number(a.get("ciLowerLimit")), parse_number(a.get("ciUpperLimit"))
        level = parse_number(a.get("ciPctValue")) or 0
        has_ci = (value is not None and low is not None and high is not None and low <= high
                  and a.get("ciNumSides") != "ONE_SIDED" and 0 < level < 100)
        if effect_type == "RISK_DIFFERENCE" and scale == 1 and any(
                x is not None and abs(x) > 1 for x in (value, low, high)):
            scale = 0.01  # a difference of proportions beyond ±1 is in percentage points
        ratio = effect_type in ("RISK_RATIO", "ODDS_RATIO")
        limits = (value, low, high) if has_ci else (value,)
        if ratio and any(x is not None and x <= 0 for x in limits):
            return None, f"a {param} and its CI must be greater than 0"

        first, second = groups[ids[0]], groups[ids[1]]
        roles = _roles(first, second, self.doc["arms"])
        printed = _printed_order(a, ([titles.get(ids[0], first), first],
                                     [titles.get(ids[1], second), second]))
        guess = roles or (first, second)
        agrees = None if value is None else _agrees(
            effect_type, value * scale,
            _group_contrast(effect_type, results.get(guess[0]), results.get(guess[1])))
        by_values = None if agrees is None else guess[0] if agrees else guess[1]
        minuend, how = None, ""
        if printed is not None:
            minuend = first if printed[0] else second
            how = f"the registry's {printed[1]} says {printed[2]!r}"
        elif by_values is not None:
            minuend = by_values
            how = "the group values of this measure give the printed estimate only that way"
        if roles is not None:
            experimental, comparator = roles
        elif minuend is not None:
            experimental, comparator = minuend, second if minuend == first else first
        else:
            experimental, comparator = first, second
        op = "over" if ratio else "minus"
        effect: dict[str, Any] = {
            "experimental_arm": experimental, "comparator_arm": comparator, "timepoint": tp,
            "effect_type": effect_type, "sources": [self.source(path)]}
        ours = (value * scale if value is not None else None,
                low * scale if has_ci and low is not None else None,
                high * scale if has_ci and high is not None else None)
        if has_ci:
            effect["ci_level"] = level / 100
        if ours[0] is None:
            direction = "only a p-value was reported"
            described = f"p {a.get('pValue')} (no estimate)"
        elif minuend == comparator:
            reason = (f"ClinicalTrials.gov printed {param} {a.get('paramValue')} as "
                      f"{comparator} {op} {experimental}: {how}")
            effect["as_reported"] = {
                "orientation": "COMPARATOR_VS_EXPERIMENTAL", "value": ours[0],
                **({"ci_low": ours[1], "ci_high": ours[2]} if has_ci else {}),
                "reason": _clip(reason, MAX_TEXT)}
            direction = (f"printed as {comparator} {op} {experimental} ({how}); stored as "
                         f"{experimental} {op} {comparator}")
            described = f"{a.get('paramValue')} as printed, stored re-expressed"
        else:
            effect["value"] = ours[0]
            if has_ci:
                effect["ci_low"], effect["ci_high"] = ours[1], ours[2]
            direction = (f"{experimental} {op} {comparator}, as {how}" if minuend is not None
                         else f"the registry does not say which group is {op} which, and the "
                              "group values do not settle it: the value is kept as printed "
                              f"(it may be {comparator} {op} {experimental})")
            described = f"{ours[0]:g}"
        if str(a.get("dispersionType")) == "STANDARD_ERROR_OF_MEAN" and not ratio:
            se = parse_number(a.get("dispersionValue"))
            if se is not None and se >= 0:
                effect["se"] = se * scale
        if p is not None:
            effect["p_value"], effect["p_value_relation"] = p
        notes = [f"Registry analysis: {param} {a.get('paramValue')}"
                 + (f" ({a.get('ciPctValue')}% CI {a.get('ciLowerLimit')} to "
                    f"{a.get('ciUpperLimit')})" if a.get("ciLowerLimit") is not None else "")
                 + (f", p {a.get('pValue')}" if a.get("pValue") else "")]
        for key, label in (("statisticalMethod", "method"),
                           ("estimateComment", "estimate comment"),
                           ("groupDescription", "group description"),
                           ("nonInferiorityType", "hypothesis"),
                           ("nonInferiorityComment", "non-inferiority comment")):
            if a.get(key):
                notes.append(f"{label}: {a[key]}")
        notes.append(f"direction: {direction}")
        if printed is not None and by_values is not None and by_values != minuend:
            notes.append("the group values of this measure give the estimate the other way "
                         "round; the registry's words are followed")
        if scale != 1:
            notes.append("percentage points converted to a proportion")
        if ratio and a.get("dispersionValue") is not None:
            notes.append(f"{a.get('dispersionType')} {a['dispersionValue']} is kept here only: "
                         "the registry does not say on which scale")
        effect["notes"] = _clip("; ".join(notes), MAX_TEXT)
        return effect, described

    def run(self) -> tuple[dict[str, Any], Report]:
        self.identification()
        self.status()
        self.sponsor()
        self.description()
        self.conditions()
        self.design()
        self.eligibility()
        self.locations()
        self.references()
        self.arms()
        self.participant_flow()
        self.outcomes()
        self.doc["sources"] = [self.source("protocolSection")]
        if self.notes:
            self.doc["notes"] = _clip("\n".join(self.notes), MAX_TEXT)
        for key in ("oversightModule", "ipdSharingStatementModule"):
            if self.ps.get(key):
                self.report.skip(f"protocolSection.{key}", "kept in the stored record only")
        for key in ("derivedSection", "documentSection", "annotationSection"):
            if self.record.get(key):
                self.report.skip(key, "kept in the stored record; derived or documents, "
                                      "not evidence")
        return self.doc, self.report


_INERT = re.compile(r"\b(?:placebos?|vehicle|sham)\b", re.IGNORECASE)
_COMBINED = re.compile(r"\+|&|\b(?:plus|and|with|combined|add-on)\b", re.IGNORECASE)


def _inert_kind(names: list[str]) -> str | None:
    """PLACEBO_COMPARATOR (SHAM_COMPARATOR) when every intervention named is a placebo or
    vehicle (a sham) and none is combined with something else; else None."""
    if not names or any(not _INERT.search(n) or _COMBINED.search(n) for n in names):
        return None
    if all(re.search(r"\bsham\b", n, re.IGNORECASE) for n in names):
        return "SHAM_COMPARATOR"
    return "PLACEBO_COMPARATOR"


def _denoms(denoms: Any) -> dict[str, int]:
    """Participants per group from a denoms list (the 'Participants' unit first)."""
    out: dict[str, int] = {}
    for d in denoms or []:
        if not isinstance(d, dict) or str(d.get("units", "")).lower() != "participants":
            continue
        for c in d.get("counts") or []:
            value = parse_number(c.get("value")) if isinstance(c, dict) else None
            if value is not None and value >= 0 and value == int(value):
                out[c["groupId"]] = int(value)
    return out


_PERCENT_UNIT = re.compile(r"%|\bper\s?cent|\bpercentage", re.IGNORECASE)
_PEOPLE = (r"\b(?:participants?|patients?|subjects?|people|persons?|individuals?|children|"
           r"adults?|women|men|infants?|responders?)\b")
_BARE_PERCENT = re.compile(r"\s*(?:%|percent|per cent|percentage|percentages)?\s*(?:\(%\))?\s*",
                           re.IGNORECASE)
_PERCENT_OF_PEOPLE = re.compile(rf"\b(?:percent(?:age)?|proportion|%)\s+of\s+(?:all\s+)?"
                                rf"{_PEOPLE}", re.IGNORECASE)
_PRINTED_PERCENT = re.compile(r"^(100(\.0{1,6})?|[0-9]{1,2}(\.[0-9]{1,6})?)$")


def is_percent_of_participants(param: str, unit: str, title: str) -> bool:
    """Whether a measure gives, per group, the percentage of participants with something: a
    NUMBER whose unit is a percentage of participants ("Percentage of participants", "% of
    patients"), or a bare percentage ("percent", "%") in a measure titled as one."""
    if param.upper() != "NUMBER" or not _PERCENT_UNIT.search(unit):
        return False
    if re.search(_PEOPLE, unit, re.IGNORECASE):
        return True
    return bool(_BARE_PERCENT.fullmatch(unit) and _PERCENT_OF_PEOPLE.search(title))


def printed_percent(raw: Any) -> str | None:
    """A registry percentage as printed, in the form our `percent` takes ("10.3", ".5" as
    "0.5"); None when it is not a percentage from 0 to 100 with at most six decimals."""
    text = str(raw).strip() if raw is not None else ""
    if text.startswith("."):
        text = "0" + text
    return text if _PRINTED_PERCENT.match(text) else None


def _result(meas: dict[str, Any], param: str, dispersion: str, change: bool,
            unit: Any, n: int | None, percentages: bool = False) -> dict[str, Any]:
    value = parse_number(meas.get("value"))
    spread = parse_number(meas.get("spread"))
    low, high = parse_number(meas.get("lowerLimit")), parse_number(meas.get("upperLimit"))
    raw = str(meas.get("value", ""))
    if meas.get("spread") is not None:
        raw += f" ± {meas['spread']}"
    if meas.get("lowerLimit") is not None or meas.get("upperLimit") is not None:
        raw += f" ({meas.get('lowerLimit')} to {meas.get('upperLimit')})"
    if unit:
        raw += f" {unit}"
    if meas.get("comment"):
        raw += f" [{meas['comment']}]"
    result: dict[str, Any] = {"raw": raw.strip()[:MAX_TEXT] or "not given"}
    if n is not None:
        result["n"] = n
    param, disp, unit_text = param.upper(), dispersion.lower(), str(unit or "").lower()
    if param in ("MEAN", "LEAST_SQUARES_MEAN", "GEOMETRIC_MEAN") and value is not None:
        result["change_mean" if change else "mean"] = value
        if spread is not None and spread >= 0:
            if "standard deviation" in disp:
                result["change_sd" if change else "sd"] = spread
            elif "standard error" in disp:
                result["change_se" if change else "se"] = spread
        if "confidence interval" in disp and low is not None and high is not None and low <= high:
            result["ci_low"], result["ci_high"] = low, high
    elif percentages:
        # The count is never computed here: with the group's analysed number the write derives
        # it, when exactly one integer prints as this percentage.
        percent = printed_percent(meas.get("value"))
        if percent is not None:
            result["percent"] = percent
            if n is not None:
                result["denominator"] = n
    elif (param in ("NUMBER", "COUNT_OF_PARTICIPANTS", "COUNT_OF_UNITS") and value is not None
          and value >= 0 and value == int(value) and not _PERCENT_UNIT.search(unit_text)
          and ("participant" in unit_text or param == "COUNT_OF_PARTICIPANTS")):
        result["count"] = int(value)
        if n is not None and n >= value:
            result["denominator"] = n
    return result


# Phrases of a registry analysis parameter, checked in order (the first that occurs decides):
# our effect type (None: skipped) and the factor its value is scaled by.
_EFFECT_PHRASES: tuple[tuple[tuple[str, ...], str | None, float], ...] = (
    (("hazard",), None, 1),
    (("odds ratio",), "ODDS_RATIO", 1),
    (("risk ratio", "relative risk"), "RISK_RATIO", 1),
    (("risk difference",), "RISK_DIFFERENCE", 1),
    (("percentage difference", "difference in percentage"), "RISK_DIFFERENCE", 0.01),
    (("hedges",), "HEDGES_G", 1),
    (("cohen",), "COHENS_D", 1),
    (("standardized mean difference", "standardised mean difference"), "SMD", 1),
    (("mean difference",), "MEAN_DIFFERENCE", 1),
)


def effect_type_of(param: str) -> tuple[str | None, float]:
    """Our effect type for a registry analysis parameter, and the factor its value is scaled by.

    Hazard ratios, slopes and other parameters have no effect type here and are skipped.
    """
    low = param.lower()
    for phrases, effect_type, scale in _EFFECT_PHRASES:
        if any(phrase in low for phrase in phrases):
            return effect_type, scale
    return None, 1


# ------------------------------------------------------------------ registry analyses
#
# The direction of a registry analysis. ClinicalTrials.gov gives an analysis the groups it
# compares (`groupIds`) and the estimate (`paramType`, `paramValue`), but no field for which
# group was subtracted from (or divided by) which: `groupIds` follow the order of the groups in
# the measure, not the direction of the estimate (NCT02210780 lists placebo first and prints
# dupilumab minus placebo), and the registry asks submitters to state the direction in words,
# in the estimate comment ("Dupilumab 300 mg qw vs. Placebo qw"). The rule:
#
# 1. Roles. The comparator is the arm typed as one (placebo, active or sham comparator, no
#    intervention), else the one named like a control (placebo, vehicle, sham, control, usual
#    or standard care, waitlist, no treatment); the other arm is experimental.
# 2. The printed order. The first statement that names both groups on either side of "vs",
#    "versus", "minus", "over", "against", "compared to/with", "relative to", "divided by",
#    " - " or " / ", read in the estimate comment, then the group description, the
#    non-inferiority comment, the statistical comment, the other analysis description and the
#    p-value comment. The group named first is the minuend (the numerator of a ratio). A group
#    is named by its title or arm label, else by a word of it (4 letters or more) that the other
#    group's title lacks. A text naming both orders says nothing.
# 3. Without such a statement, the group values of the measure (means, change means, counts or
#    percentages) decide when they give the printed estimate one way (within a quarter of its
#    size; ratios on the log scale) and not the other.
# 4. When neither arm is a comparator by (1), the group printed first is stored as experimental.
# 5. Printed comparator first: stored re-expressed, with the printed estimate in `as_reported`
#    and the statement that tells it as the reason. When nothing tells the direction, the value
#    is kept as printed and the notes say so.
#
# Every analysis keeps the registry's wording (parameter, estimate comment, group description,
# method, hypothesis) in its notes.

STANDARDIZED = ("COHENS_D", "HEDGES_G", "SMD")
_COMPARATOR_WORDS = ("placebo", "vehicle", "sham", "control", "usual care", "standard care",
                     "standard of care", "waitlist", "wait-list", "wait list", "no treatment",
                     "no intervention")
_COMPARATOR_TYPES = ("PLACEBO_COMPARATOR", "ACTIVE_COMPARATOR", "SHAM_COMPARATOR",
                     "NO_INTERVENTION")
_ANALYSIS_TEXTS = (("estimateComment", "estimate comment"),
                   ("groupDescription", "group description"),
                   ("nonInferiorityComment", "non-inferiority comment"),
                   ("statisticalComment", "statistical comment"),
                   ("otherAnalysisDescription", "analysis description"),
                   ("pValueComment", "p-value comment"))
_CONNECTOR = re.compile(
    r"(?:^|[\s(\[])(?:vs\.?|v\.|versus|minus|over|against|compared\s+(?:to|with)|"
    r"relative\s+to|divided\s+by)(?=$|[\s)\]])|(?:^|\s)[-\u2013\u2212/\u00f7](?:\s|$)",
    re.IGNORECASE)
# A gap that holds another clause cannot join two names into one statement.
_CLAUSE_BREAK = re.compile(r"[;=]|(?<!vs)(?<!\bv)\.\s", re.IGNORECASE)
MAX_GAP = 40


def _roles(first: str, second: str, arms: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(experimental, comparator) of two arms by type, else by a control-like name; None when
    that does not single out one comparator."""
    types = {a["label"]: a["arm_type"] for a in arms}
    for test in (lambda label: types.get(label) in _COMPARATOR_TYPES,
                 lambda label: any(w in label.lower() for w in _COMPARATOR_WORDS)):
        one, two = test(first), test(second)
        if one != two:
            return (second, first) if one else (first, second)
        if one and two:
            return None
    return None


def _spans(text: str, names: list[str], others: list[str]) -> list[tuple[int, int]]:
    """Where `text` names a group: its title or label, else a word of them the other lacks."""
    low = text.casefold()
    spans = {m.span() for n in names if n for m in re.finditer(re.escape(n.casefold()), low)}
    if not spans:
        taken = {w for o in others for w in re.findall(r"\w+", o.casefold())}
        words = {w for n in names for w in re.findall(r"\w+", n.casefold())
                 if len(w) >= 4 and not w.isdigit() and w not in taken}
        spans = {m.span() for w in words for m in re.finditer(rf"\b{re.escape(w)}\b", low)}
    return sorted(spans)


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(s[0] <= span[0] and span[1] <= s[1] and s != span for s in spans)


def stated_order(text: str, a: list[str], b: list[str]) -> tuple[bool, str] | None:
    """Whether `text` prints group `a` before group `b` around a connector ("A vs. B"): True
    for a first, False for b first, with the words that say it; None when it says neither or
    both. `a` and `b` are the names of each group (title, arm label)."""
    in_a, in_b = _spans(text, a, b), _spans(text, b, a)
    in_a, in_b = ([s for s in in_a if not _inside(s, in_b)],
                  [s for s in in_b if not _inside(s, in_a)])
    found: dict[bool, str] = {}
    for a_first, before, after in ((True, in_a, in_b), (False, in_b, in_a)):
        for s in before:
            for t in after:
                gap = text[s[1]:t[0]]
                if (s[1] <= t[0] and len(gap) <= MAX_GAP and _CONNECTOR.search(gap)
                        and not _CLAUSE_BREAK.search(gap)):
                    found.setdefault(a_first, text[s[0]:t[1]])
    if len(found) != 1:
        return None
    [(a_first, words)] = found.items()
    return a_first, words


def _printed_order(a: dict[str, Any], names: tuple[list[str], list[str]]
                   ) -> tuple[bool, str, str] | None:
    """The first analysis text that states the order of its two groups: (first group printed
    first, which text, the words)."""
    for key, label in _ANALYSIS_TEXTS:
        text = a.get(key)
        if isinstance(text, str) and text.strip():
            found = stated_order(text, *names)
            if found is not None:
                return found[0], label, found[1]
    return None


def _proportion(r: dict[str, Any] | None) -> float | None:
    if r is None:
        return None
    if r.get("count") is not None and r.get("denominator"):
        return float(r["count"]) / r["denominator"]
    if r.get("percent") is not None:
        return float(r["percent"]) / 100
    return None


def _group_contrast(effect_type: str, e: dict[str, Any] | None, c: dict[str, Any] | None
                    ) -> float | None:
    """The contrast of two group results, first minus (log: over) second; None without one."""
    if e is None or c is None:
        return None
    if effect_type == "MEAN_DIFFERENCE":
        for key in ("change_mean", "mean"):
            if e.get(key) is not None and c.get(key) is not None:
                return float(e[key]) - float(c[key])
        return None
    pe, pc = _proportion(e), _proportion(c)
    if pe is None or pc is None:
        return None
    if effect_type == "RISK_DIFFERENCE":
        return pe - pc
    if effect_type == "RISK_RATIO":
        return math.log(pe / pc) if pe > 0 and pc > 0 else None
    if 0 < pe < 1 and 0 < pc < 1:
        return math.log(pe / (1 - pe)) - math.log(pc / (1 - pc))
    return None


def _agrees(effect_type: str, printed: float, contrast: float | None) -> bool | None:
    """True when the printed estimate is the group contrast as given, False when it is the
    contrast the other way round, None when the group values cannot tell."""
    if contrast is None or contrast == 0:
        return None
    if effect_type in ("RISK_RATIO", "ODDS_RATIO"):
        printed = math.log(printed)
    if printed == 0:
        return None
    for as_given, target in ((True, contrast), (False, -contrast)):
        if abs(printed - target) <= 0.25 * abs(target):
            return as_given
    return None


def to_document(record: dict[str, Any]) -> tuple[dict[str, Any], Report]:
    """A study document and mapping report for one checked v2 record."""
    return _Mapper(record).run()


# ------------------------------------------------------------------ document → v2 record

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
    return tp["label"] + (f" ({'; '.join(parts)})" if parts else "")


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
    outcomes: dict[str, list[dict[str, Any]]] = {"PRIMARY": [], "SECONDARY": [], "OTHER": []}
    for om in doc.get("outcome_measures") or []:
        frames = list(dict.fromkeys(
            [r["timepoint"] for r in om.get("results") or []]
            + [e["timepoint"] for e in om.get("effects") or []]))
        key = om["role"] if om["role"] in ("PRIMARY", "SECONDARY") else "OTHER"
        outcomes[key].append({"measure": om["name"], "description": om.get("description"),
                              "timeFrame": _frames(frames, doc) or None})
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
        "armsInterventionsModule": {"armGroups": arm_groups,
                                    "interventions": list(interventions.values())},
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
        classes = []
        for frame in frames:
            measurements = []
            for r in results:
                if r["timepoint"] != frame:
                    continue
                value = next((r[k] for k in ("mean", "change_mean", "count") if r.get(k)
                              is not None), None)
                spread = next((r[k] for k in ("sd", "change_sd", "se", "change_se")
                               if r.get(k) is not None), None)
                measurements.append(_drop_empty({
                    "groupId": group_of[r["arm"]],
                    "value": str(value) if value is not None else r.get("raw"),
                    "spread": str(spread) if spread is not None else None,
                    "lowerLimit": str(r["ci_low"]) if r.get("ci_low") is not None else None,
                    "upperLimit": str(r["ci_high"]) if r.get("ci_high") is not None else None,
                }))
            classes.append({"title": _frames([frame], doc),
                            "categories": [{"measurements": measurements}]})
        analyses = []
        for e in effects:
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
            analyses.append(_drop_empty({
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
            }))
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


def start_sort_key(record: dict[str, Any]) -> int:
    status = record.get("protocolSection", {}).get("statusModule", {})
    return partial_date_sort_key(_date(status.get("startDateStruct")))


# ------------------------------------------------------------------ CSV

CSV_COLUMNS = ("NCT Number", "Study Title", "Study URL", "Acronym", "Study Status",
               "Study Results", "Conditions", "Interventions", "Sponsor", "Phases",
               "Enrollment", "Study Type", "Start Date", "Completion Date", "Locations")


def csv_row(record: dict[str, Any]) -> list[str]:
    """One study as ClinicalTrials.gov's CSV download lays it out (a subset of its columns)."""
    ps = record.get("protocolSection", {})
    ident, status = ps.get("identificationModule", {}), ps.get("statusModule", {})
    design = ps.get("designModule", {})
    interventions = ps.get("armsInterventionsModule", {}).get("interventions") or []
    locations = ps.get("contactsLocationsModule", {}).get("locations") or []
    enrollment = design.get("enrollmentInfo", {}).get("count")
    nct = ident.get("nctId", "")
    return [spreadsheet_safe(cell) for cell in (
        nct, ident.get("briefTitle", ""), REGISTRY_URL.format(nct=nct),
        ident.get("acronym", ""), status.get("overallStatus", ""),
        "YES" if record.get("hasResults") else "NO",
        "|".join(ps.get("conditionsModule", {}).get("conditions") or []),
        "|".join(f"{INTERVENTION_PREFIX.get(x.get('type'), 'Other').upper()}: {x.get('name')}"
                 for x in interventions),
        ps.get("sponsorCollaboratorsModule", {}).get("leadSponsor", {}).get("name", ""),
        "|".join(design.get("phases") or []),
        "" if enrollment is None else str(enrollment),
        design.get("studyType", ""),
        (status.get("startDateStruct") or {}).get("date", ""),
        (status.get("completionDateStruct") or {}).get("date", ""),
        "|".join(", ".join(str(loc[k]) for k in ("facility", "city", "country") if loc.get(k))
                 for loc in locations if isinstance(loc, dict)),
    )]
