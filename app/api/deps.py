"""Request-scoped dependencies: the database session and query models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

READ_METHODS = frozenset({"GET", "HEAD"})


def get_session(request: Request) -> Iterator[Session]:
    """A session for this request: GET and HEAD read from the read replica when
    EVIDENCEDB_READ_DATABASE_URL names one; every other method works on the primary (and, on
    SQLite, takes the write lock when its transaction begins). So GET routes never write."""
    state = request.app.state
    factory = state.read_sessionmaker if request.method in READ_METHODS else state.sessionmaker
    with factory() as session:
        try:
            yield session
        except Exception:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_session)]


def next_page_url(request: Request, token: str | None) -> str | None:
    if token is None:
        return None
    return str(request.url.include_query_params(page_token=token))
