"""API keys for tests, and the ring of every key made so leak guards can look for them."""

from __future__ import annotations

from app.db import make_engine, make_sessionmaker
from app.enums import Role
from app.services import keys

# Every key a test creates; the leak guards fail a test when one shows up in a log or response.
KEYRING: list[str] = []


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def leaked(text_: str) -> list[str]:
    """The keys of KEYRING found in `text_`, named by their prefix only."""
    return [f"key {t[:keys.PREFIX_LENGTH]}…" for t in KEYRING if t in text_]


def committed_key(url: str, role: Role | str = Role.CURATOR, name: str = "test key") -> str:
    """A new key stored (committed) in the database at `url`; the token is returned once."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            _, token = keys.create(session, name=name, role=Role(str(role).upper()))
    finally:
        engine.dispose()
    KEYRING.append(token)
    return token
