"""The state one record's mapping shares: the record, the document it builds, the report,
and the labels already taken."""

from __future__ import annotations

from typing import Any

from app.interop.ctgov.records import MAX_NAME, REGISTRY_URL, Report, nct_id


def unique_label(label: str, taken: set[str]) -> str:
    """`label`, or `label (2)`, `label (3)` … when it is taken (case-insensitively)."""
    candidate, n = label, 2
    while candidate.casefold() in taken:
        suffix = f" ({n})"
        candidate = label[: MAX_NAME - len(suffix)] + suffix
        n += 1
    taken.add(candidate.casefold())
    return candidate


class MapperBase:
    """One checked v2 record on its way to a study document."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        self.ps: dict[str, Any] = record["protocolSection"]
        self.nct = nct_id(record)
        self.report = Report()
        self.url = REGISTRY_URL.format(nct=self.nct)
        self.notes: list[str] = []
        self.doc: dict[str, Any] = {}
        self.arm_labels: set[str] = set()
        self.timepoints: dict[str, dict[str, Any]] = {}
        self.outcome_names: set[str] = set()

    def source(self, locator: str) -> dict[str, Any]:
        """The registry record as the source of a number, at `locator`."""
        return {"registry": self.nct, "source_url": self.url, "locator": locator[:MAX_NAME]}

    def module(self, name: str) -> dict[str, Any]:
        """A protocol-section module, or {} when the record has none."""
        value = self.ps.get(name)
        return value if isinstance(value, dict) else {}
