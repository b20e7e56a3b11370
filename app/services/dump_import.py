"""Importing many registry records in one run: the registry's full dump, folders and files.

Records are read one file at a time (app.interop.ctgov.dump) and written by the importer's
single-write path, each with its audit entry, its stored record and its flags, in
transactions of `batch_size` files; each file is written inside a SAVEPOINT, so a refused
file (it does not map, or names a curated study: the 409 rule) is rolled back alone and
reported by name while the others import. A stopped run keeps every committed batch.

A record whose study was imported from a record the registry last updated on the same date
is skipped as unchanged: re-importing a dump writes nothing, and a rerun after a stop goes
quickly through what the stopped run stored. A file named on its own (not found in a folder
or a ZIP) is imported as given, as `POST /import/ctgov` does, even when unchanged.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol, TextIO

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.db import begin_write
from app.errors import ProblemError
from app.interop.ctgov.dump import Member, listed
from app.services import importer
from app.services.importer import ImportResult
from app.services.writes import WriteRequest

BATCH_SIZE = 200


@dataclass
class Tally:
    """What a run did so far: records created, updated and skipped unchanged, files refused
    (a refused file writes none of its records) and files read."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    files: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def records(self) -> int:
        return self.created + self.updated + self.unchanged

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def counts(self) -> str:
        return (f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.refused} refused")

    def summary(self) -> str:
        seconds = self.elapsed()
        rate = self.records / seconds if seconds > 0 else 0.0
        return f"{self.counts()} in {seconds:.1f} s ({rate:.0f} records/s)"


class Listener(Protocol):
    """Who hears about a run as it goes (the command line prints)."""

    def written(self, member: Member, result: ImportResult) -> None: ...

    def refused(self, member: Member, why: str, status: int | None) -> None: ...

    def progress(self, tally: Tally) -> None: ...


class _Refused(Exception):
    def __init__(self, why: str, status: int | None = None) -> None:
        super().__init__(why)
        self.status = status


def run(sessions: sessionmaker[Session], sources: Iterable[Member], listener: Listener,
        batch_size: int = BATCH_SIZE) -> Tally:
    """Import every record of `sources` (see the module docstring); the tally at the end."""
    tally = Tally()
    # The command line has no curator key: its writes are audited without an actor.
    req = WriteRequest(actor_id=None, method="CLI", path="import-ctgov")  # type: ignore[arg-type]
    files = iter(sources)
    while batch := list(islice(files, max(batch_size, 1))):
        with sessions() as session:
            begin_write(session)
            for member in batch:
                _member(session, member, req, tally, listener)
                listener.progress(tally)
            session.commit()
    return tally


def _member(session: Session, member: Member, req: WriteRequest, tally: Tally,
            listener: Listener) -> None:
    tally.files += 1
    try:
        results, skipped = _import_member(session, member, req)
    except _Refused as exc:
        tally.refused += 1
        listener.refused(member, str(exc), exc.status)
        return
    tally.unchanged += skipped
    for result in results:
        if result.created:
            tally.created += 1
        else:
            tally.updated += 1
        listener.written(member, result)


def _import_member(session: Session, member: Member, req: WriteRequest
                   ) -> tuple[list[ImportResult], int]:
    """The records of one file written in a SAVEPOINT (all of them, or none when one is
    refused), and how many were skipped unchanged."""
    if member.error is not None:
        raise _Refused(member.error)
    try:
        body = orjson.loads(member.data)
    except ValueError as exc:
        raise _Refused(f"not JSON: {exc}") from None
    stale = [member.named or not importer.unchanged(session, r) for r in listed(body)]
    skipped = stale.count(False)
    if stale and not any(stale):
        return [], skipped
    results: list[ImportResult] = []
    try:
        with session.begin_nested():
            for (record, doc, report, where), write in zip(importer.map_records(body), stale,
                                                          strict=True):
                if write:
                    results.append(
                        importer.import_one(session, record, doc, report, where, req))
    except ProblemError as exc:
        raise _Refused(exc.detail, exc.status) from None
    except IntegrityError as exc:
        raise _Refused(f"the database refused it: {exc.orig}", 409) from None
    return results, skipped


class ConsoleReport:
    """Prints a run: a line per record written from a JSON file (as before dumps were
    read; a ZIP's members are only counted), every refusal with its file's name, and
    progress: a live line when the error stream is a terminal, else
    a line every `every` files."""

    def __init__(self, every: int = 1000, out: TextIO = sys.stdout,
                 err: TextIO = sys.stderr) -> None:
        self.every, self.out, self.err = max(every, 1), out, err
        self._live: Any = None
        self._update: Callable[[Tally], None] | None = None
        if err.isatty():
            self._start_live()

    def _start_live(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        live = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=Console(file=self.err), transient=True)
        task = live.add_task("reading", total=None)
        live.start()
        self._live = live
        self._update = lambda t: live.update(task, description=f"{t.files} files: {t.counts()}")

    def written(self, member: Member, result: ImportResult) -> None:
        if not member.archived:
            report = result.report
            print(f"{member.name}: {result.nct_id} {result.action} as {result.key} "
                  f"(version {result.version}; {len(report['mapped'])} mapped, "
                  f"{len(report['skipped'])} skipped)", file=self.out)

    def refused(self, member: Member, why: str, status: int | None) -> None:
        message = f"{member.name}: refused{'' if status is None else f' ({status})'}: {why}"
        if self._live is not None:
            self._live.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=self.err)

    def progress(self, tally: Tally) -> None:
        if self._update is not None:
            self._update(tally)
        elif tally.files % self.every == 0:
            print(f"{tally.files} files: {tally.counts()} ({tally.elapsed():.0f} s)",
                  file=self.err, flush=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
