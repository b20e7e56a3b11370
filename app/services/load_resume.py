"""Resuming a bulk load: which lines of a file earlier runs committed, read from the audit
entries of their batches (each names its first and last line and the file's SHA-256)."""

from __future__ import annotations

import bisect
import hashlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEntry


@dataclass
class Loaded:
    """The lines of a file that earlier runs committed, as the (first, last) line of each
    batch (every line between them was loaded or blank), and the studies they created."""

    ranges: list[tuple[int, int]] = field(default_factory=list)
    studies: int = 0

    def __contains__(self, line_no: object) -> bool:
        if not isinstance(line_no, int):
            return False
        i = bisect.bisect_right(self.ranges, (line_no, sys.maxsize)) - 1
        return i >= 0 and self.ranges[i][0] <= line_no <= self.ranges[i][1]


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def loaded_lines(session: Session, source: str, sha256: str) -> Loaded:
    """What earlier loads of this very file (same name, same digest) committed, read from
    their batches' audit entries."""
    found = Loaded()
    entries: Iterable[Any] = session.execute(select(AuditEntry.changes).where(
        AuditEntry.action == "bulk-load", AuditEntry.entity == "study",
        AuditEntry.entity_key == source[:200])).scalars()
    for changes in entries:
        if isinstance(changes, dict) and changes.get("sha256") == sha256:
            first, last = changes["lines"]
            found.ranges.append((int(first), int(last)))
            found.studies += len(changes["created"])
    found.ranges.sort()
    return found
