"""Study parts rendered when the study is written, spliced into list pages.

A page of studies with their arms and outcomes spends most of its time building documents in
Python (bench/page_parts.py). Each study's nested parts are therefore also kept as the JSON a
list document holds (`study_render`), written in the transaction that writes the study: the
bulk load and the registry import with each batch, every curation write (`refresh`) for the
studies it moved to a new version, and `evidencedb render` for whatever is missing. A page
splices the stored bytes (orjson `Fragment`) for each study whose render is of its current
version and of the running code's format, and assembles the others live, so a stale or
missing render costs speed, never correctness. A study's own read (`GET /studies/{key}`)
splices them the same way, around the few parts only it has.

The format is a digest of the application's source and the schema's revision: a render
made by other code, or before a migration, is not used.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.orm import Session

from app.db import begin_write
from app.queries import documents as qd
from app.queries import rendered as q
from app.queries import writes as qw
from app.services import documents, reads

_DUMP = orjson.OPT_NON_STR_KEYS  # as app.api.responses.JSONBytes encodes answers
# `include=` names and the document keys they add.
_KEYS = {"publications": "publications", "arms": "arms", "timepoints": "timepoints",
         "outcomes": "outcome_measures", "effects": "effects"}
CHUNK = 200


@lru_cache
def format_token() -> str:
    """What renders made by this code at this schema revision are marked with."""
    from app import migrations

    digest = hashlib.sha256((migrations.head_revision() or "").encode())
    package = Path(documents.__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def row_of(study_id: int, version: int, doc: dict[str, Any]) -> dict[str, Any]:
    """The render of a list document with every part (`documents.ALL_PARTS`), each part's
    JSON compressed (zlib at its fastest level: a study's parts shrink from about 20 KB to 4,
    and a page of 50 with arms and outcomes takes about a millisecond to expand)."""
    return {"study_id": study_id, "version": version, "format": format_token(),
            **{name: zlib.compress(orjson.dumps(doc[name], option=_DUMP), 1)
               for name in q.BASE + q.PARTS}}


def build(session: Session, ids: Iterable[int]) -> list[dict[str, Any]]:
    """The renders of these studies as they stand in the session's transaction.

    On PostgreSQL, sequential scans are off while it reads: it reads by id through indexes
    only, and during a bulk load (no statistics until its end) the planner otherwise scans
    whole tables for a few hundred studies (1.5 s a statement at 90,000 loaded studies)."""
    ids = sorted(set(ids))
    out: list[dict[str, Any]] = []
    postgresql = session.get_bind().dialect.name == "postgresql"
    before = session.execute(q.seq_scans("off")).scalar() if postgresql and ids else None
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(qw.studies_by_id(ids[start:start + CHUNK])).all()
        docs = documents.assemble(session, rows, documents.ALL_PARTS)
        out += [row_of(r.id, r.version, doc) for r, doc in zip(rows, docs, strict=True)]
    if before is not None:
        session.execute(q.seq_scans(before))
    return out


def save(session: Session, built: list[dict[str, Any]]) -> None:
    """Store renders (`build`), never over a later version's."""
    dialect = session.get_bind().dialect.name
    for start in range(0, len(built), CHUNK):
        session.execute(q.upsert(dialect, built[start:start + CHUNK]))


def store(session: Session, ids: Iterable[int]) -> int:
    """Render these studies as they stand in the session's transaction."""
    built = build(session, ids)
    save(session, built)
    return len(built)


def store_apart(session: Session, ids: list[int]) -> None:
    """Render these committed studies outside any write: built in a read transaction, stored
    in a short write one. On SQLite, where a read transaction that then writes fails at once
    if another writer committed meanwhile, this is how a renderer works beside a live
    service or a bulk load."""
    built = build(session, ids)
    session.rollback()
    begin_write(session)
    save(session, built)
    session.commit()


def refresh(session: Session, since: Any) -> int:
    """Render the studies written since `since` (a write's start), in its transaction."""
    return store(session, session.scalars(q.written_since(since)).all())


def fill(session: Session, *, commit: bool = True) -> int:
    """Render every live study whose render is missing or not current, a chunk per
    transaction (`commit`, see `store_apart`) or all in the caller's; the number found
    stale."""
    done, after, fmt = 0, 0, format_token()
    while ids := list(session.scalars(q.stale(after, CHUNK, fmt))):
        if commit:
            store_apart(session, ids)
        else:
            store(session, ids)
        done += len(ids)
        after = ids[-1]
    return done


def assemble(session: Session, rows: Sequence[Any], include: Iterable[str]
             ) -> list[dict[str, Any]]:
    """`documents.assemble(session, rows, include)` for a list page, with the rendered parts
    spliced in where they are current."""
    if not rows:
        return []
    wanted = set(include)
    # In the order of q.PARTS, as a document holds them.
    parts = tuple(key for name, key in _KEYS.items() if name in wanted)
    statement = q.pieces(parts)
    got = {x.study_id: x for x in reads.rows(session, statement, [r.id for r in rows])}
    fmt = format_token()
    fresh: dict[int, Any] = {}
    behind = []
    for r in rows:
        x = got.get(r.id)
        if x is not None and x.version == r.version and x.format == fmt:
            fresh[r.id] = x
        else:
            behind.append(r)
    live = dict(zip((r.id for r in behind), documents.assemble(session, behind, wanted),
                    strict=True))
    out = []
    names = q.BASE + parts
    for r in rows:
        x = fresh.get(r.id)
        if x is None:
            out.append(live[r.id])
            continue
        doc = documents.head(r)
        for name in names:
            doc[name] = orjson.Fragment(zlib.decompress(getattr(x, name)))
        doc.update(documents.tail(r))
        out.append(doc)
    return out


_DETAIL_EXTRAS = (qd.KEYWORDS, qd.RELATIONS, qd.REFERENCED_BY, qd.STUDY_SOURCES)


def detail(session: Session, row: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A study's detail document (`documents.assemble(..., detail=True)`) from its render, or
    None when the render is not current: the document with every part as values (what the
    flags are computed from), and the rendered parts as their stored JSON, to answer with.

    The render, the keywords, the relations and the study's own sources are read together (on
    PostgreSQL in one round trip)."""
    statement = q.pieces(q.PARTS)
    got = reads.fetch(session, [row.id], [statement, *_DETAIL_EXTRAS])
    x = next(iter(got[statement]), None)
    if x is None or x.version != row.version or x.format != format_token():
        return None
    stored = {name: zlib.decompress(getattr(x, name)) for name in q.BASE + q.PARTS}
    values = {name: orjson.loads(data) for name, data in stored.items()}
    # In the order documents.assemble adds them.
    doc = documents.head(row)
    doc.update({name: values[name] for name in q.BASE})
    documents.add_detail_extras(got, {row.id: doc})
    refs = {(row.id, p["id"]): p["ref"] for p in values["publications"]}
    doc["sources"] = documents.Sources(got[qd.STUDY_SOURCES], refs).of("study", row.id)
    doc.update({name: values[name] for name in q.PARTS})
    doc.update(documents.tail(row))
    return doc, {name: orjson.Fragment(data) for name, data in stored.items()}
