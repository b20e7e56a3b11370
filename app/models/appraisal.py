"""Appraisals of the evidence: a risk-of-bias assessment per effect estimate."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.enums import RiskOfBiasJudgement, RiskOfBiasTool
from app.types import JSONType, UTCDateTime, enum_column, utcnow


class RiskOfBias(Base):
    """One effect estimate's risk of bias (RoB 2 or ROBINS-I): the judgement of each domain
    with its support, the overall judgement, and the sources. `judged_by` is the curator's key
    when a curator judged; null when the judgements are a published assessment's."""

    __tablename__ = "risk_of_bias"

    id: Mapped[int] = mapped_column(primary_key=True)
    effect_estimate_id: Mapped[int] = mapped_column(
        ForeignKey("effect_estimate.id", ondelete="CASCADE"), unique=True)
    tool: Mapped[RiskOfBiasTool] = mapped_column(enum_column(RiskOfBiasTool, "rob_tool"))
    overall: Mapped[RiskOfBiasJudgement] = mapped_column(
        enum_column(RiskOfBiasJudgement, "rob_overall"), index=True)
    # {domain: {"judgement": ..., "support": ...}}
    domains: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # [{"publication": ref, "registry": ..., "source_url": ..., "locator": ...}]
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    published_assessment: Mapped[bool] = mapped_column(Boolean, default=False)
    judged_by: Mapped[int | None] = mapped_column(
        ForeignKey("api_key.id", ondelete="RESTRICT"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
