"""Importing many registry records in one run: the registry's full dump, folders and files.

Records are read one file at a time (app.interop.ctgov.dump), in transactions of
`batch_size` files. Which of a batch's records name a stored study, and from which version
of the record it was imported, is read in one statement per batch. Files whose records all
name no study (the first import of a dump: almost all of them) are created together by
app.services.import_batch: fitted, validated and stored exactly as the single write stores
them, but planned in memory and inserted a table at a time. Every other file (an update, a
record met earlier in the batch, an NCT id that names a curated study: the 409 rule) is
written by the importer's single-write path inside a SAVEPOINT of its own, after what the
batch held back before it; when the batched write fails, its files are written that way
too. So a refused file is rolled back alone and reported by name while the others import,
and a stopped run keeps every committed batch.

While a batch is written, a worker process parses and maps the records of the next one
(mapping is pure CPU); one batch is ahead at most, so memory stays flat whatever the size
of the dump.

A record whose study was imported from a record the registry last updated on the same date
is skipped as unchanged: re-importing a dump writes nothing, and a rerun after a stop goes
quickly through what the stopped run stored. A file named on its own (not found in a folder
or a ZIP) is imported as given, as `POST /import/ctgov` does, even when unchanged.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol, TextIO

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.db import begin_write
from app.errors import ProblemError
from app.interop.ctgov import dump
from app.interop.ctgov.dump import Member, listed
from app.services import batch_gc, import_batch, importer, rendered, workers
from app.services.import_batch import New
from app.services.importer import ImportResult
from app.services.writes import WriteRequest
from app.types import utcnow

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
    batched: int = 0  # of the created: by the batched write
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


@dataclass
class _File:
    """One file of a batch and what became of it: its records written, skipped unchanged,
    or the file refused; `new` are its records when the batch creates them together."""

    member: Member
    body: Any = None
    refused: _Refused | None = None
    skipped: int = 0
    mapped: importer.Mapped | None = None  # mapped ahead, by the worker
    unmappable: _Refused | None = None  # why mapping ahead refused it
    new: list[New] | None = None
    results: list[ImportResult] = field(default_factory=list)


def run(sessions: sessionmaker[Session], sources: Iterable[Member], listener: Listener,
        batch_size: int = BATCH_SIZE, *, batched: bool = True, worker: bool = True) -> Tally:
    """Import every record of `sources` (see the module docstring); the tally at the end.
    Without `batched`, every record is written one by one (what the batched write is
    compared with); without `worker`, records are mapped in this process."""
    tally = Tally()
    # The command line has no curator key: its writes are audited without an actor.
    req = WriteRequest(actor_id=None, method="CLI", path="import-ctgov")  # type: ignore[arg-type]
    files = iter(sources)
    mapper = _Mapper(sessions) if worker else None
    ahead: tuple[list[_File], Future[list[Any]] | None] | None = None
    try:
        with batch_gc.batch_collection() as after_batch:
            while True:
                batch = list(islice(files, max(batch_size, 1)))
                read = [_read(m) for m in batch]
                # The next batch is mapped while this one is written: one batch ahead at most.
                nxt = (read, mapper.ahead(read) if mapper else None) if read else None
                if ahead is not None:
                    _write(sessions, *ahead, req, tally, listener, batched)
                    after_batch()
                if nxt is None:
                    return tally
                ahead = nxt
    finally:
        if mapper is not None:
            mapper.close()


def _write(sessions: sessionmaker[Session], read: list[_File],
           mapping: Future[list[Any]] | None, req: WriteRequest, tally: Tally,
           listener: Listener, batched: bool) -> None:
    if mapping is not None:
        for f, result in zip(read, mapping.result(), strict=True):
            if isinstance(result, list):
                f.mapped = [(record, *m) for record, m in zip(listed(f.body), result,
                                                              strict=True)]
            elif result is not None:
                f.unmappable = _Refused(*result)
    with sessions() as session:
        begin_write(session)
        started = utcnow()
        _Batch(session, req, tally, listener, batched).write(read)
        rendered.refresh(session, started)
        session.commit()


class _Mapper:
    """A worker process that maps the records of the next batch while this process writes
    the current one; started when a batch first has records to map (a rerun of an
    imported dump has none)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.pool: ProcessPoolExecutor | None = None

    def ahead(self, read: list[_File]) -> Future[list[Any]] | None:
        """The worker's mapping of the files of a batch that look stale now (the writer
        checks again)."""
        with self.sessions() as session:
            dates = importer.stored_dates(session, _ncts(read))
        wanted = [f.member.data if f.refused is None and any(_stale(f, dates)) else None
                  for f in read]
        if not any(wanted):
            return None
        if self.pool is None:
            # Spawned: the worker holds none of this process's database connections.
            self.pool = workers.pool()
        return self.pool.submit(map_files, wanted)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def map_files(datas: list[bytes | None]) -> list[Any]:
    """In the worker: each file's records mapped (`importer.map_records`) as (document,
    report, where) triples, or why it is refused; None for a file not asked for."""
    out: list[Any] = []
    with batch_gc.batch_collection(every=1) as after_batch:
        for data in datas:
            _map_file(data, out)
        after_batch()
    return out


def _map_file(data: bytes | None, out: list[Any]) -> None:
    if data is None:
        out.append(None)
        return
    try:
        mapped = importer.map_records(orjson.loads(data))
    except ProblemError as exc:
        out.append((exc.detail, exc.status))
    except ValueError:
        out.append(None)
    else:
        out.append([m[1:] for m in mapped])


def _ncts(files: list[_File]) -> list[str]:
    return [nct for f in files if f.refused is None for r in listed(f.body)
            if (nct := dump.nct_of(r)) is not None]


def _stale(f: _File, dates: importer.Dates) -> list[bool]:
    """Which of a file's records are to be written (not skipped as unchanged)."""
    return [f.member.named or not importer.unchanged(dates, r) for r in listed(f.body)]


def _read(member: Member) -> _File:
    if member.error is not None:
        return _File(member, refused=_Refused(member.error))
    try:
        return _File(member, orjson.loads(member.data))
    except ValueError as exc:
        return _File(member, refused=_Refused(f"not JSON: {exc}"))


class _Batch:
    """The files of one transaction, in order. Files whose records all name no stored study
    are held back and created together (`import_batch`); a file that writes otherwise (an
    update, a refusal by the 409 rule, an NCT id met earlier in the batch) first writes what
    is held back, so that every file sees what the files before it wrote."""

    def __init__(self, session: Session, req: WriteRequest, tally: Tally,
                 listener: Listener, batched: bool = True) -> None:
        self.session, self.req, self.tally, self.listener = session, req, tally, listener
        self.batched = batched
        self.held: list[_File] = []
        self.claimed: set[str | None] = set()
        self.dates: importer.Dates = {}

    def write(self, files: list[_File]) -> None:
        self.dates = importer.stored_dates(self.session, _ncts(files))
        for f in files:
            self._file(f)
        self._flush()

    def _file(self, f: _File) -> None:
        if f.refused is not None:
            self.held.append(f)
            return
        records = listed(f.body)
        ncts = [dump.nct_of(r) for r in records]
        if self.claimed.intersection(ncts):
            self._flush()
        stale = _stale(f, self.dates)
        f.skipped = stale.count(False)
        if stale and not any(stale):
            self.held.append(f)
            return
        try:
            if f.unmappable is not None:
                raise f.unmappable
            mapped = f.mapped if f.mapped is not None else importer.map_records(f.body)
        except ProblemError as exc:
            f.refused = _Refused(exc.detail, exc.status)
        except _Refused as exc:
            f.refused = exc
        if f.refused is not None:
            self.held.append(f)
            return
        if self.batched and mapped and all(stale) and not any(n in self.dates for n in ncts):
            f.new = [New(*m) for m in mapped]
            self.claimed.update(ncts)
            self.held.append(f)
            return
        self._flush()
        self._one_by_one(f, mapped, stale)
        self._done(f)

    def _one_by_one(self, f: _File, mapped: importer.Mapped, stale: list[bool]) -> None:
        """The file's records written in a SAVEPOINT (all of them, or none when one is
        refused)."""
        try:
            with self.session.begin_nested():
                for (record, doc, report, where), write in zip(mapped, stale, strict=True):
                    if write:
                        f.results.append(importer.import_one(self.session, record, doc,
                                                             report, where, self.req))
        except ProblemError as exc:
            f.results, f.refused = [], _Refused(exc.detail, exc.status)
        except IntegrityError as exc:
            f.results, f.refused = [], _Refused(f"the database refused it: {exc.orig}", 409)
        self._written(f)

    def _written(self, f: _File) -> None:
        """Later files of the batch see the records this one wrote as stored."""
        written = {r.nct_id for r in f.results}
        for record in listed(f.body):
            if (nct := dump.nct_of(record)) in written and nct is not None:
                self.dates[nct] = (True, dump.last_update(record))

    def _flush(self) -> None:
        held, self.held = self.held, []
        self.claimed = set()
        new = [f for f in held if f.new]
        if new:
            self._create(new)
        for f in held:
            self._done(f)

    def _create(self, files: list[_File]) -> None:
        try:
            with self.session.begin_nested():
                results = import_batch.create(
                    self.session, [n for f in files for n in f.new or []], self.req)
        except Exception:  # noqa: BLE001 - whatever failed, the one-by-one path reports it
            for f in files:
                self._one_by_one(f, importer.map_records(f.body), [True] * len(f.new or []))
            return
        self.tally.batched += len(results)
        for f in files:
            f.results, results = results[:len(f.new or [])], results[len(f.new or []):]
            self._written(f)

    def _done(self, f: _File) -> None:
        tally, listener = self.tally, self.listener
        tally.files += 1
        if f.refused is not None:
            tally.refused += 1
            listener.refused(f.member, str(f.refused), f.refused.status)
        else:
            tally.unchanged += f.skipped
            for result in f.results:
                if result.created:
                    tally.created += 1
                else:
                    tally.updated += 1
                listener.written(f.member, result)
        listener.progress(tally)


class ConsoleReport:
    """Prints a run: a line per record written from a JSON file (as before dumps were
    read; a ZIP's members are only counted), every refusal with its file's name, and
    progress: a live line when the error stream is a terminal, else
    a line every `every` files."""

    def __init__(self, every: int = 1000, out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        # The streams as they are when the run starts (not when this module was imported).
        out, err = out or sys.stdout, err or sys.stderr
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
