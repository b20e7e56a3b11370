"""The study selects the services read: a filter's studies, a page of them, a study by key,
a sort's column and cursor value. The filter itself becomes SQL in app.queries.study_filter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select

from app.models import Study
from app.queries.pagination import NOT_ISSUED, InvalidPageToken, keyset_bound
from app.queries.study_filter import Term, shape_of, study_conditions, where_of
from app.schemas.filters import StudyFilter

_S = Study.__table__.c


# Made once: an expression is immutable, and making the two `coalesce` calls on each request
# cost more than reading the page's stored parts.
_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "key": Study.__table__.c.key,
    "start_date": Study.__table__.c.start_date_sort,
    "completion_date": func.coalesce(Study.__table__.c.completion_date, ""),
    "enrollment": func.coalesce(Study.__table__.c.enrollment, -1),
    "title": Study.__table__.c.title,
    "updated_at": Study.__table__.c.updated_at,
}


def sort_column(sort: str) -> tuple[ColumnElement[Any], bool]:
    """The column a sort name orders by (never null) and whether it descends."""
    return _SORT_COLUMNS[sort.removeprefix("-")], sort.startswith("-")


# What a list document or an export is built from: every study column but the stored registry
# record (tens of kilobytes of JSON for an imported study, which only a study's own read uses)
# and the search text.
_DOCUMENT_COLUMNS = tuple(c for c in Study.__table__.c
                          if c.name not in ("source_record", "search_text"))


# Made once (a SELECT of 30 columns costs about as much to make as its WHERE terms); each
# page adds its terms to a copy.
_DOCUMENT_SELECT = select(*_DOCUMENT_COLUMNS)


def study_select(f: StudyFilter, dialect: str) -> Select[Any]:
    """SELECT the columns a document is built from (`_DOCUMENT_COLUMNS`) for the studies a
    filter matches (unordered)."""
    return _DOCUMENT_SELECT.where(*study_conditions(f, dialect))


_PAGE_SHAPES = 512
_pages: dict[tuple[Any, ...], Select[Any]] = {}


def page_select(filter_terms: list[Term], dialect: str, sort: str, as_filters: frozenset[str],
                after: bool) -> Select[Any]:
    """The keyset page statement of a study list (`study_select` of the terms, with the sort
    value as `_sort`), its values bound: given by `term_values` and
    `pagination.keyset_values`. Made once per shape: making it costs more than running it
    for a single study, and its SQL is then compiled once too."""
    key = (dialect, sort, as_filters, after, shape_of(filter_terms))
    stmt = _pages.get(key)
    if stmt is None:
        column, descending = sort_column(sort)
        stmt = keyset_bound(
            _DOCUMENT_SELECT.where(*where_of(filter_terms, bound=True, as_filters=as_filters))
            .add_columns(column.label("_sort")), column, _S.id, descending, after)
        if len(_pages) >= _PAGE_SHAPES:
            _pages.clear()
        _pages[key] = stmt
    return stmt


def study_ids_select(f: StudyFilter, dialect: str) -> Select[Any]:
    return select(Study.id).where(*study_conditions(f, dialect))


def count_select(f: StudyFilter, dialect: str) -> Select[Any]:
    return select(func.count()).select_from(Study).where(*study_conditions(f, dialect))


def sort_value(sort: str, value: Any) -> Any:
    """A page token's sort value as the sort column holds it; a value no token of ours
    holds for this sort is an InvalidPageToken."""
    name = sort.removeprefix("-")
    if name in ("start_date", "enrollment"):
        valid = isinstance(value, int) and not isinstance(value, bool)
    else:
        valid = isinstance(value, str)
    if valid and name == "updated_at":
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            valid = False
    if not valid:
        raise InvalidPageToken(NOT_ISSUED)
    return value


def sample_size(ids: Select[Any], limit: int) -> Select[Any]:
    """How many of a membership's study ids there are, counting no further than `limit`."""
    return select(func.count()).select_from(ids.limit(limit).subquery())


def study_row(key: str) -> Select[Any]:
    """The study row of a key, deleted or not."""
    return select(Study.__table__).where(Study.key == key)

