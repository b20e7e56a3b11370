"""The registry's full dump, and the other places records are read from, one file at a time.

ClinicalTrials.gov publishes every study as one ZIP of API v2 JSON files, one study per
member (`NCT01234567.json`, usually inside a folder). `members` walks what a user names —
JSON files, folders (recursively) and such ZIPs — and yields one file's name and bytes at a
time, so an import holds one record whatever the size of the dump. (The ZIP's directory,
a few hundred bytes per member, is read when the archive is opened, as `zipfile` does.)
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A member larger than this is no study record (the largest real ones are a few MB; a
# record is bounded at 8 million characters of text): it is refused unread.
MAX_MEMBER_BYTES = 64 * 1024 * 1024
_TOO_LARGE = f"larger than {MAX_MEMBER_BYTES} bytes: not a study record"


@dataclass(frozen=True)
class Member:
    """One JSON file: its name (`dump.zip:folder/NCT….json` inside a ZIP), its bytes, whether
    it was named on its own on the command line or is a member of a ZIP, and why it could not
    be read (if so)."""

    name: str
    data: bytes = b""
    named: bool = False
    error: str | None = None
    archived: bool = False


def members(paths: Iterable[str | Path]) -> Iterator[Member]:
    """Every JSON file under `paths`, in order: a file as given, a folder's `*.json` and
    `*.zip` files recursively (sorted), a ZIP's `*.json` members in the archive's order."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                if found.is_file() and found.suffix.lower() in (".json", ".zip"):
                    yield from _file(found, named=False)
        else:
            yield from _file(path, named=True)


def _file(path: Path, *, named: bool) -> Iterator[Member]:
    if path.suffix.lower() == ".zip":
        yield from _archive(path)
        return
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_MEMBER_BYTES + 1)
    except OSError as exc:
        yield Member(str(path), named=named, error=str(exc))
        return
    yield _bounded(str(path), data, named)


def _bounded(name: str, data: bytes, named: bool, *, archived: bool = False) -> Member:
    if len(data) > MAX_MEMBER_BYTES:
        return Member(name, named=named, error=_TOO_LARGE, archived=archived)
    return Member(name, data, named, archived=archived)


def _archive(path: Path) -> Iterator[Member]:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        yield Member(str(path), error=f"not a readable ZIP file: {exc}", archived=True)
        return
    with archive:
        for info in archive.infolist():
            base = info.filename.rsplit("/", 1)[-1]
            # Folders, other files and the resource forks some archivers add (`._x.json`).
            if info.is_dir() or not base.lower().endswith(".json") or base.startswith("._"):
                continue
            name = f"{path}:{info.filename}"
            if info.file_size > MAX_MEMBER_BYTES:
                yield Member(name, error=_TOO_LARGE, archived=True)
                continue
            try:
                with archive.open(info) as handle:
                    data = handle.read(MAX_MEMBER_BYTES + 1)
            except (OSError, zipfile.BadZipFile, EOFError, RuntimeError) as exc:
                yield Member(name, error=f"unreadable in the archive: {exc}", archived=True)
                continue
            yield _bounded(name, data, False, archived=True)


def listed(body: Any) -> list[Any]:
    """The records of a body (one record, or `{"studies": [...]}`) as `records_of` reads
    them, without checking them."""
    if isinstance(body, dict) and "studies" in body and "protocolSection" not in body:
        studies = body["studies"]
        return studies if isinstance(studies, list) else []
    return [body]


def last_update(record: Any) -> str | None:
    """When the registry last posted a change to a record
    (`statusModule.lastUpdatePostDateStruct.date`); None when the record does not say."""
    try:
        date = record["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
    except (KeyError, TypeError):
        return None
    return date if isinstance(date, str) else None


def nct_of(record: Any) -> str | None:
    """A record's NCT id when it has one where the registry puts it (unchecked)."""
    try:
        nct = record["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError):
        return None
    return nct if isinstance(nct, str) else None
