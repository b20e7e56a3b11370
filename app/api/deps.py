"""Request-scoped dependencies: the database session and query models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
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
