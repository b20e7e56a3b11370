"""Record → document: `to_document` maps one v2 record to a study document (the
`POST /studies` body) and a mapping report: every part of the record it used (`mapped`: path →
target) and every part it left out with the reason (`skipped`: path → reason). Every number it
maps is sourced to the registry record, with a locator naming the place in the record. It never
touches the database.

Registry results feed the same evidence model as curated studies: a measure counted in
participants, or given as the percentage of participants, becomes per-arm `count` (or the
printed `percent`) over the group's analysed number; a registry analysis becomes a contrast in
our direction (experimental minus, or over, comparator: the rule is stated in `analyses`);
time frames become timepoints with months since baseline and, where the record makes it clear,
a role.
"""

from __future__ import annotations

from typing import Any

from app.interop.ctgov.outcomes import OutcomeMapping
from app.interop.ctgov.protocol import ProtocolMapping
from app.interop.ctgov.records import MAX_TEXT, Report
from app.interop.ctgov.text import clip


class RecordMapper(ProtocolMapping, OutcomeMapping):
    """Every part of a record, in the order the document needs them."""

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
            self.doc["notes"] = clip("\n".join(self.notes), MAX_TEXT)
        for key in ("oversightModule", "ipdSharingStatementModule"):
            if self.ps.get(key):
                self.report.skip(f"protocolSection.{key}", "kept in the stored record only")
        for key in ("derivedSection", "documentSection", "annotationSection"):
            if self.record.get(key):
                self.report.skip(key, "kept in the stored record; derived or documents, "
                                      "not evidence")
        return self.doc, self.report


def to_document(record: dict[str, Any]) -> tuple[dict[str, Any], Report]:
    """A study document and mapping report for one checked v2 record."""
    return RecordMapper(record).run()
