"""The registry's CSV download: one study a row, under the registry's column titles, each
cell written as the registry writes it (several values joined by `|`). Every cell is
spreadsheet-safe (app.spreadsheet)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.interop.ctgov.fields import PIECES, UnknownField, path_of
from app.interop.ctgov.records import INTERVENTION_PREFIX, REGISTRY_URL
from app.spreadsheet import spreadsheet_safe

Record = dict[str, Any]


def _get(record: Record, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _module(record: Record, name: str) -> dict[str, Any]:
    return _dict(_get(record, f"protocolSection.{name}"))


def _items(value: Any) -> list[Any]:
    return [x for x in value if x is not None] if isinstance(value, list) else []


def _join(values: Any) -> str:
    return "|".join(str(x) for x in _items(values))


def _parts(item: Any, keys: tuple[str, ...]) -> str:
    if not isinstance(item, dict):
        return ""
    return ", ".join(str(item[k]) for k in keys if item.get(k) not in (None, ""))


def _outcomes(kind: str) -> Callable[[Record], str]:
    def cell(record: Record) -> str:
        items = _module(record, "outcomesModule").get(kind)
        return "|".join(_parts(o, ("measure", "description", "timeFrame"))
                        for o in _items(items))
    return cell


def _interventions(record: Record) -> str:
    items = _items(_module(record, "armsInterventionsModule").get("interventions"))
    return "|".join(f"{INTERVENTION_PREFIX.get(str(x.get('type')), 'Other').upper()}: "
                    f"{x.get('name')}" for x in items if isinstance(x, dict))


def _age(record: Record) -> str:
    m = _module(record, "eligibilityModule")
    low, high = m.get("minimumAge"), m.get("maximumAge")
    text = (f"{low} to {high}" if low and high else f"{low} and older" if low
            else f"up to {high}" if high else "")
    groups = ", ".join(str(x) for x in _items(m.get("stdAges")))
    return f"{text} ({groups})".strip() if groups else text


def _design(record: Record) -> str:
    info = _dict(_module(record, "designModule").get("designInfo"))
    masking = _dict(info.get("maskingInfo"))
    who = ", ".join(str(x) for x in _items(masking.get("whoMasked")))
    parts = [("Allocation", info.get("allocation")),
             ("Intervention Model", info.get("interventionModel")),
             ("Masking", f"{masking['masking']} ({who})" if who and masking.get("masking")
              else masking.get("masking")),
             ("Primary Purpose", info.get("primaryPurpose"))]
    return "|".join(f"{label}: {value}" for label, value in parts if value)


def _other_ids(record: Record) -> str:
    m = _module(record, "identificationModule")
    org = _dict(m.get("orgStudyIdInfo")).get("id")
    ids = [org] + [x.get("id") for x in _items(m.get("secondaryIdInfos")) if isinstance(x, dict)]
    return "|".join(str(x) for x in ids if x)


def _by_path(path: str) -> Callable[[Record], str]:
    def cell(record: Record) -> str:
        value = _get(record, path)
        if isinstance(value, list):
            return _join(value)
        return "" if value is None else str(value)
    return cell


def _joined(path: str, keys: tuple[str, ...]) -> Callable[[Record], str]:
    def cell(record: Record) -> str:
        return "|".join(_parts(x, keys) for x in _items(_get(record, path)))
    return cell


def _names(path: str) -> Callable[[Record], str]:
    return _joined(path, ("name",))


def _url(record: Record) -> str:
    return REGISTRY_URL.format(nct=_get(record, PIECES["NCTId"]) or "")


# The registry's columns, in its order: title, the pieces it is made of, how to write it.
COLUMNS: tuple[tuple[str, tuple[str, ...], Callable[[Record], str]], ...] = (
    ("NCT Number", ("NCTId",), _by_path(PIECES["NCTId"])),
    ("Study Title", ("BriefTitle",), _by_path(PIECES["BriefTitle"])),
    ("Study URL", ("NCTId",), _url),
    ("Acronym", ("Acronym",), _by_path(PIECES["Acronym"])),
    ("Study Status", ("OverallStatus",), _by_path(PIECES["OverallStatus"])),
    ("Brief Summary", ("BriefSummary",), _by_path(PIECES["BriefSummary"])),
    ("Study Results", ("HasResults",), lambda r: "YES" if r.get("hasResults") else "NO"),
    ("Conditions", ("Condition",), _by_path(PIECES["Condition"])),
    ("Interventions", ("InterventionType", "InterventionName"), _interventions),
    ("Primary Outcome Measures", ("PrimaryOutcomeMeasure", "PrimaryOutcomeDescription",
                                  "PrimaryOutcomeTimeFrame"), _outcomes("primaryOutcomes")),
    ("Secondary Outcome Measures", ("SecondaryOutcomeMeasure", "SecondaryOutcomeDescription",
                                    "SecondaryOutcomeTimeFrame"),
     _outcomes("secondaryOutcomes")),
    ("Other Outcome Measures", ("OtherOutcomeMeasure", "OtherOutcomeDescription",
                                "OtherOutcomeTimeFrame"), _outcomes("otherOutcomes")),
    ("Sponsor", ("LeadSponsorName",), _by_path(PIECES["LeadSponsorName"])),
    ("Collaborators", ("CollaboratorName",),
     _names("protocolSection.sponsorCollaboratorsModule.collaborators")),
    ("Sex", ("Sex",), _by_path(PIECES["Sex"])),
    ("Age", ("MinimumAge", "MaximumAge", "StdAge"), _age),
    ("Phases", ("Phase",), _by_path(PIECES["Phase"])),
    ("Enrollment", ("EnrollmentCount",), _by_path(PIECES["EnrollmentCount"])),
    ("Funder Type", ("LeadSponsorClass",), _by_path(PIECES["LeadSponsorClass"])),
    ("Study Type", ("StudyType",), _by_path(PIECES["StudyType"])),
    ("Study Design", ("DesignAllocation", "DesignInterventionModel", "DesignMasking",
                      "DesignWhoMasked", "DesignPrimaryPurpose"), _design),
    ("Other IDs", ("OrgStudyId", "SecondaryId"), _other_ids),
    ("Start Date", ("StartDate",), _by_path(PIECES["StartDate"])),
    ("Primary Completion Date", ("PrimaryCompletionDate",),
     _by_path(PIECES["PrimaryCompletionDate"])),
    ("Completion Date", ("CompletionDate",), _by_path(PIECES["CompletionDate"])),
    ("First Posted", ("StudyFirstPostDate",), _by_path(PIECES["StudyFirstPostDate"])),
    ("Results First Posted", ("ResultsFirstPostDate",),
     _by_path(PIECES["ResultsFirstPostDate"])),
    ("Last Update Posted", ("LastUpdatePostDate",), _by_path(PIECES["LastUpdatePostDate"])),
    ("Locations", ("LocationFacility", "LocationCity", "LocationState", "LocationZip",
                   "LocationCountry"),
     _joined("protocolSection.contactsLocationsModule.locations",
             ("facility", "city", "state", "zip", "country"))),
    ("Study Documents", ("LargeDocLabel", "LargeDocFilename"),
     _joined("documentSection.largeDocumentModule.largeDocs", ("label", "filename"))),
)
CSV_COLUMNS = tuple(title for title, _, _ in COLUMNS)
_BY_TITLE = {title.casefold(): title for title in CSV_COLUMNS}
_CELLS = {title: cell for title, _, cell in COLUMNS}
_PATHS = {title: [PIECES[p] for p in pieces] for title, pieces, _ in COLUMNS}


def columns_for(fields: list[str]) -> list[str]:
    """The CSV columns `fields` asks for, in its order: a column by its title, else every
    column holding a requested piece, module or section; all columns when none is given."""
    if not fields:
        return list(CSV_COLUMNS)
    out: list[str] = []
    for field in fields:
        if field.casefold() in _BY_TITLE:
            found = [_BY_TITLE[field.casefold()]]
        else:
            path = path_of(field)
            found = [t for t, paths in _PATHS.items()
                     if any(p == path or p.startswith(path + ".") for p in paths)]
            if not found:
                raise UnknownField(f"field {field!r} is in no column of the CSV download")
        out += [t for t in found if t not in out]
    return out


def csv_row(record: Record, columns: list[str] | None = None) -> list[str]:
    """One study as the registry's CSV download lays it out."""
    return [spreadsheet_safe(_CELLS[title](record)) for title in columns or CSV_COLUMNS]
