"""The registry's CSV download: one study a row, under the registry's column titles."""

from __future__ import annotations

from typing import Any

from app.interop.ctgov.records import INTERVENTION_PREFIX, REGISTRY_URL
from app.spreadsheet import spreadsheet_safe

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
