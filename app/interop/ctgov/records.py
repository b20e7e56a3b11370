"""ClinicalTrials.gov API v2 study records: their shape, recognising them, and the report of
what a mapping made of one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

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



@dataclass
class Report:
    """What a mapping used (`mapped`: path → target) and left out (`skipped`: path → reason)."""


    mapped: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def map(self, path: str, target: str) -> None:
        self.mapped.append({"path": path, "target": target})

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append({"path": path, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        return {"mapped": self.mapped, "skipped": self.skipped}
