"""ClinicalTrials.gov API v2 study records: their shape, recognising them, and the report of
what a mapping made of one."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, TypedDict

from app.enums import ArmType, InterventionType, Phase

NCT_ID = re.compile(r"^NCT\d{8}$")
REGISTRY_URL = "https://clinicaltrials.gov/study/{nct}"

TOP_LEVEL = ("protocolSection", "resultsSection", "annotationSection", "documentSection",
             "derivedSection", "hasResults")
PROTOCOL_MODULES = ("identificationModule", "statusModule", "sponsorCollaboratorsModule",
                    "oversightModule", "descriptionModule", "conditionsModule", "designModule",
                    "armsInterventionsModule", "outcomesModule", "eligibilityModule",
                    "contactsLocationsModule", "referencesModule", "ipdSharingStatementModule")
SECONDARY_ID_REGISTRY = {"EUDRACT_NUMBER": "EudraCT", "CTIS": "CTIS", "NIH": "NIH",
                         "FDA": "FDA", "VA": "VA", "CDC": "CDC", "AHRQ": "AHRQ",
                         "SAMHSA": "SAMHSA", "OTHER_GRANT": "GRANT", "OTHER": "OTHER"}

# The registry's display names of intervention types ("Drug: MDMA").
INTERVENTION_PREFIX = {"DRUG": "Drug", "BEHAVIORAL": "Behavioral", "BIOLOGICAL": "Biological",
                       "COMBINATION_PRODUCT": "Combination Product", "DEVICE": "Device",
                       "DIAGNOSTIC_TEST": "Diagnostic Test", "DIETARY_SUPPLEMENT":
                       "Dietary Supplement", "GENETIC": "Genetic", "PROCEDURE": "Procedure",
                       "RADIATION": "Radiation", "OTHER": "Other"}
OUTCOME_ROLES = {"PRIMARY": "PRIMARY", "SECONDARY": "SECONDARY", "OTHER_PRE_SPECIFIED": "OTHER",
                 "POST_HOC": "OTHER"}
# The phases a registry record lists one by one (ours combine two into PHASE1_PHASE2 …).
PHASES = frozenset(Phase) - {Phase.PHASE1_PHASE2, Phase.PHASE2_PHASE3}
ARM_TYPES = frozenset(ArmType)
INTERVENTION_TYPES = frozenset(InterventionType)
MAX_NAME, MAX_SHORT, MAX_TEXT = 500, 100, 20_000



class NotAStudyRecord(ValueError):
    """The JSON is not a ClinicalTrials.gov API v2 study record."""


class OutOfBounds(NotAStudyRecord):
    """A record nested deeper, or with more or longer parts, than any real record has, or
    holding a value no store can keep (a lone surrogate, a NUL, a number out of range)."""

    def __init__(self, message: str, loc: list[str | int]) -> None:
        super().__init__(message)
        self.loc = loc


# Bounds of what an import may hold, far above real registry records (whose deepest part,
# a measurement in an outcome class category, is 12 levels down).
MAX_DEPTH = 24
MAX_LIST_ITEMS = 10_000
MAX_PARTS = 250_000
MAX_STRING = 100_000
MAX_TEXT_TOTAL = 8_000_000
MAX_RECORDS = 1000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_INT_RANGE = 2 ** 63


def _unstorable(value: Any) -> str | None:
    """Why a scalar cannot be stored and served as JSON; None when it can."""
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            return f"a text longer than {MAX_STRING} characters"
        if _UNSTORABLE.search(value):
            return "a NUL character or a lone surrogate"
    elif isinstance(value, bool) or value is None:
        return None
    elif isinstance(value, int) and not -_INT_RANGE <= value < _INT_RANGE:
        return "an integer out of the 64-bit range"
    elif isinstance(value, float) and not math.isfinite(value):
        return "a number that is not finite"
    elif isinstance(value, float) and abs(value) >= _INT_RANGE:
        # PostgreSQL keeps JSON numbers exact and gives 1e20 back as a 21-digit integer.
        return "a number out of the 64-bit range"
    return None


def check_bounds(body: Any) -> None:
    """Refuse a body beyond the bounds above, before anything reads it as a record: one walk,
    no recursion, stopping at the first part out of bounds."""
    stack: list[tuple[Any, list[str | int]]] = [(body, [])]
    parts = text = 0
    while stack:
        value, loc = stack.pop()
        parts += 1
        if len(loc) > MAX_DEPTH:
            raise OutOfBounds(f"nested more than {MAX_DEPTH} levels deep", loc[:MAX_DEPTH])
        if parts > MAX_PARTS:
            raise OutOfBounds(f"more than {MAX_PARTS} values in one request", loc)
        if isinstance(value, dict):
            for key, item in value.items():
                text += len(key)
                if (why := _unstorable(key)) is not None:
                    raise OutOfBounds(f"a key holds {why}", loc)
                stack.append((item, [*loc, key]))
        elif isinstance(value, list):
            if len(value) > MAX_LIST_ITEMS:
                raise OutOfBounds(f"a list of {len(value)} items (at most {MAX_LIST_ITEMS})",
                                  loc)
            stack.extend((item, [*loc, i]) for i, item in enumerate(value))
        else:
            text += len(value) if isinstance(value, str) else 0
            if (why := _unstorable(value)) is not None:
                raise OutOfBounds(f"the value is {why}", loc)
        if text > MAX_TEXT_TOTAL:
            raise OutOfBounds(f"more than {MAX_TEXT_TOTAL} characters of text", loc)


# ------------------------------------------------------------------ recognising records


def records_of(body: Any) -> list[dict[str, Any]]:
    """The v2 study records in a request body: one record, or `{"studies": [...]}`, each
    within the bounds above."""
    check_bounds(body)
    if _looks_legacy(body):
        raise NotAStudyRecord(
            "this is a record in the retired pre-v2 ClinicalTrials.gov format "
            "(FullStudiesResponse); fetch the study from the API v2 "
            "(/api/v2/studies/{nctId}) and import that")
    if isinstance(body, dict) and "studies" in body and "protocolSection" not in body:
        studies = body["studies"]
        if not isinstance(studies, list) or not studies:
            raise NotAStudyRecord('"studies" must be a non-empty list of v2 study records')
        if len(studies) > MAX_RECORDS:
            raise OutOfBounds(f"at most {MAX_RECORDS} records in one import", ["studies"])
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
    """Refuse what is not a v2 study record with an NCT id and a title."""
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
    """The NCT id of a checked record."""
    return str(record["protocolSection"]["identificationModule"]["nctId"])



class MappedPart(TypedDict):
    """A part of a record and where it went in the study document."""

    path: str
    target: str


class SkippedPart(TypedDict):
    """A part of a record left out of the study document, and why."""

    path: str
    reason: str


@dataclass
class Report:
    """What a mapping used (`mapped`: path → target) and left out (`skipped`: path → reason)."""

    mapped: list[MappedPart] = field(default_factory=list)
    skipped: list[SkippedPart] = field(default_factory=list)

    def map(self, path: str, target: str) -> None:
        self.mapped.append({"path": path, "target": target})

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append({"path": path, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        return {"mapped": self.mapped, "skipped": self.skipped}
