"""The registry's `fields` parameter: piece names (`NCTId`, `BriefTitle`), area paths
(`protocolSection.identificationModule.nctId`), sections and modules (`protocolSection`,
`IdentificationModule`), and, for CSV, the registry's column titles ("NCT Number").

A JSON answer keeps only the requested parts of each record, in the record's own nesting (a
list keeps, of each element, the requested keys); a CSV answer has one column per requested
title, or the column that holds a requested piece.
"""

from __future__ import annotations

import re
from typing import Any

from app.interop.ctgov.records import PROTOCOL_MODULES, TOP_LEVEL

RESULTS_MODULES = ("participantFlowModule", "baselineCharacteristicsModule",
                   "outcomeMeasuresModule", "adverseEventsModule", "moreInfoModule")
DOCUMENT_MODULES = ("largeDocumentModule",)
DERIVED_MODULES = ("conditionBrowseModule", "interventionBrowseModule", "miscInfoModule")
MODULES = {"protocolSection": PROTOCOL_MODULES, "resultsSection": RESULTS_MODULES,
           "documentSection": DOCUMENT_MODULES, "derivedSection": DERIVED_MODULES}

_P = "protocolSection."
# The registry's piece names for the parts of a record we hold or pass through.
PIECES: dict[str, str] = {
    "NCTId": _P + "identificationModule.nctId",
    "OrgStudyId": _P + "identificationModule.orgStudyIdInfo.id",
    "SecondaryId": _P + "identificationModule.secondaryIdInfos.id",
    "BriefTitle": _P + "identificationModule.briefTitle",
    "OfficialTitle": _P + "identificationModule.officialTitle",
    "Acronym": _P + "identificationModule.acronym",
    "OverallStatus": _P + "statusModule.overallStatus",
    "StartDate": _P + "statusModule.startDateStruct.date",
    "PrimaryCompletionDate": _P + "statusModule.primaryCompletionDateStruct.date",
    "CompletionDate": _P + "statusModule.completionDateStruct.date",
    "StudyFirstPostDate": _P + "statusModule.studyFirstPostDateStruct.date",
    "ResultsFirstPostDate": _P + "statusModule.resultsFirstPostDateStruct.date",
    "ResultsFirstSubmitDate": _P + "statusModule.resultsFirstSubmitDate",
    "LastUpdatePostDate": _P + "statusModule.lastUpdatePostDateStruct.date",
    "LeadSponsorName": _P + "sponsorCollaboratorsModule.leadSponsor.name",
    "LeadSponsorClass": _P + "sponsorCollaboratorsModule.leadSponsor.class",
    "CollaboratorName": _P + "sponsorCollaboratorsModule.collaborators.name",
    "BriefSummary": _P + "descriptionModule.briefSummary",
    "DetailedDescription": _P + "descriptionModule.detailedDescription",
    "Condition": _P + "conditionsModule.conditions",
    "Keyword": _P + "conditionsModule.keywords",
    "StudyType": _P + "designModule.studyType",
    "Phase": _P + "designModule.phases",
    "DesignAllocation": _P + "designModule.designInfo.allocation",
    "DesignInterventionModel": _P + "designModule.designInfo.interventionModel",
    "DesignPrimaryPurpose": _P + "designModule.designInfo.primaryPurpose",
    "DesignMasking": _P + "designModule.designInfo.maskingInfo.masking",
    "DesignWhoMasked": _P + "designModule.designInfo.maskingInfo.whoMasked",
    "EnrollmentCount": _P + "designModule.enrollmentInfo.count",
    "EnrollmentType": _P + "designModule.enrollmentInfo.type",
    "ArmGroupLabel": _P + "armsInterventionsModule.armGroups.label",
    "ArmGroupType": _P + "armsInterventionsModule.armGroups.type",
    "InterventionType": _P + "armsInterventionsModule.interventions.type",
    "InterventionName": _P + "armsInterventionsModule.interventions.name",
    "PrimaryOutcomeMeasure": _P + "outcomesModule.primaryOutcomes.measure",
    "PrimaryOutcomeDescription": _P + "outcomesModule.primaryOutcomes.description",
    "PrimaryOutcomeTimeFrame": _P + "outcomesModule.primaryOutcomes.timeFrame",
    "SecondaryOutcomeMeasure": _P + "outcomesModule.secondaryOutcomes.measure",
    "SecondaryOutcomeDescription": _P + "outcomesModule.secondaryOutcomes.description",
    "SecondaryOutcomeTimeFrame": _P + "outcomesModule.secondaryOutcomes.timeFrame",
    "OtherOutcomeMeasure": _P + "outcomesModule.otherOutcomes.measure",
    "OtherOutcomeDescription": _P + "outcomesModule.otherOutcomes.description",
    "OtherOutcomeTimeFrame": _P + "outcomesModule.otherOutcomes.timeFrame",
    "EligibilityCriteria": _P + "eligibilityModule.eligibilityCriteria",
    "HealthyVolunteers": _P + "eligibilityModule.healthyVolunteers",
    "Sex": _P + "eligibilityModule.sex",
    "MinimumAge": _P + "eligibilityModule.minimumAge",
    "MaximumAge": _P + "eligibilityModule.maximumAge",
    "StdAge": _P + "eligibilityModule.stdAges",
    "StudyPopulation": _P + "eligibilityModule.studyPopulation",
    "LocationFacility": _P + "contactsLocationsModule.locations.facility",
    "LocationCity": _P + "contactsLocationsModule.locations.city",
    "LocationState": _P + "contactsLocationsModule.locations.state",
    "LocationZip": _P + "contactsLocationsModule.locations.zip",
    "LocationCountry": _P + "contactsLocationsModule.locations.country",
    "ReferencePMID": _P + "referencesModule.references.pmid",
    "ReferenceType": _P + "referencesModule.references.type",
    "ReferenceCitation": _P + "referencesModule.references.citation",
    "LargeDocLabel": "documentSection.largeDocumentModule.largeDocs.label",
    "LargeDocFilename": "documentSection.largeDocumentModule.largeDocs.filename",
    "HasResults": "hasResults",
}
_PIECES = {k.casefold(): v for k, v in PIECES.items()}
_AREAS = {**{s.casefold(): s for s in TOP_LEVEL},
          **{m.casefold(): f"{s}.{m}" for s, mods in MODULES.items() for m in mods}}
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class UnknownField(ValueError):
    """A `fields` value that names no part of a v2 record."""


def path_of(field: str) -> str:
    """The record path a `fields` value names: a piece, a section or module, or a path."""
    fold = field.casefold()
    if fold in _PIECES:
        return _PIECES[fold]
    if fold in _AREAS:
        return _AREAS[fold]
    parts = field.split(".")
    if (len(parts) > 1 and parts[0] in MODULES and parts[1] in MODULES[parts[0]]
            and all(_KEY.match(p) for p in parts[2:])):
        return field
    raise UnknownField(f"unknown field {field!r}: give piece names (NCTId, BriefTitle, "
                       "OverallStatus), sections or modules (protocolSection, "
                       "IdentificationModule) or paths (protocolSection.statusModule)")


def _tree(paths: list[str]) -> dict[str, Any]:
    """The requested paths as a tree; None marks a part kept whole."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        *inner, last = path.split(".")
        for part in inner:
            if node.get(part, {}) is None:
                break
            node = node.setdefault(part, {})
        else:
            node[last] = None
    return tree


_NOTHING = object()


def _prune(value: Any, tree: dict[str, Any] | None) -> Any:
    if tree is None:
        return value
    if isinstance(value, list):
        kept = [p for v in value if (p := _prune(v, tree)) is not _NOTHING]
        return kept or _NOTHING
    if isinstance(value, dict):
        out = {k: p for k, v in value.items()
               if k in tree and (p := _prune(v, tree[k])) is not _NOTHING}
        return out or _NOTHING
    return _NOTHING


def select(record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Only the requested parts of a record, nested as in the record (the stored record is
    never changed: the answer is built of new dicts)."""
    if not fields:
        return record
    kept = _prune(record, _tree([path_of(f) for f in fields]))
    return {} if kept is _NOTHING else dict(kept)


def check(fields: list[str]) -> None:
    """Refuse a `fields` value that names no part of a record."""
    for field in fields:
        path_of(field)
