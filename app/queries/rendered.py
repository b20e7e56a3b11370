"""The statements of the rendered study parts (app.services.rendered)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Insert, Select, Table, TextClause, and_, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite

from app.models import Study, StudyRender
from app.queries.direct import Direct, in_ids

_r = StudyRender.__table__.c
_s = Study.__table__.c
_RENDER = cast(Table, StudyRender.__table__)

# Every list document has these; the others only when `include=` names them.
BASE = ("registry_ids", "conditions", "interventions")
# In the order a document holds them (app.services.documents adds them in this order).
PARTS = ("publications", "arms", "timepoints", "outcome_measures", "effects")


@lru_cache(maxsize=64)
def pieces(parts: tuple[str, ...]) -> Direct:
    """A page's rendered base and `parts` (names from PARTS), with the version and format
    they were rendered at."""
    columns = [_r.study_id, _r.version, _r.format, *(_r[name] for name in BASE + parts)]
    return Direct(select(*columns).where(in_ids(_r.study_id)))


def upsert(dialect: str, rows: list[dict[str, Any]]) -> Insert:
    """Store these renders, replacing older ones of the same studies (never a newer one: a
    slower writer that rendered an earlier version leaves the later one in place)."""
    stmt: Any = (postgresql.insert(_RENDER) if dialect == "postgresql"
                 else sqlite.insert(_RENDER)).values(rows)
    return cast(Insert, stmt.on_conflict_do_update(
        index_elements=[_r.study_id],
        set_={name: stmt.excluded[name] for name in ("version", "format", *BASE, *PARTS)},
        where=_r.version <= stmt.excluded.version))


def stale(after_id: int, limit: int, fmt: str) -> Select[Any]:
    """Live studies after `after_id` whose render is missing, of another version or of
    another format, by id."""
    return (select(_s.id).outerjoin(_RENDER, _r.study_id == _s.id)
            .where(_s.id > after_id, _s.deleted_at.is_(None),
                   or_(_r.study_id.is_(None), _r.version != _s.version, _r.format != fmt))
            .order_by(_s.id).limit(limit))


def written_since(at: Any) -> Select[Any]:
    """The live studies written at or after `at` (every write moves `updated_at`)."""
    return select(_s.id).where(and_(_s.updated_at >= at, _s.deleted_at.is_(None)))


def seq_scans(allowed: str) -> TextClause:
    """PostgreSQL: allow sequential scans ('on') or not ('off') for the rest of the
    transaction; answers the setting it had."""
    return text("SELECT current_setting('enable_seqscan'), "
                "set_config('enable_seqscan', :allowed, true)").bindparams(allowed=allowed)
