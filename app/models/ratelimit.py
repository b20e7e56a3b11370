"""Request counts per identity and time window, shared by every worker and replica."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class RateLimitBucket(Base):
    """How much of one window's budget an identity (`key:<id>` or `addr:<address>`) has
    been granted; workers claim it in leases, so this row changes once per lease, not per
    request."""

    __tablename__ = "rate_limit_bucket"

    identity: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    used: Mapped[int] = mapped_column(Integer)
