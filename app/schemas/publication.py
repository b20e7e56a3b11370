"""What a curator sends to record a retraction (or a lesser notice) of a publication."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from app.schemas.common import ApiModel, Text


def _date_text(value: Any) -> Any:
    """A date is written as YYYY-MM-DD: a number is not read as seconds since 1970."""
    if isinstance(value, int | float):
        raise ValueError("a date is written YYYY-MM-DD, not as a number")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_date_text)]


class RetractionCreate(ApiModel):
    date: IsoDate = Field(description="date of the notice, YYYY-MM-DD")
    notice: Text = Field(description="the notice as published, or where to find it")
    reason: Text | None = None
    status: Literal["RETRACTED", "EXPRESSION_OF_CONCERN", "CORRECTED"] = Field(
        "RETRACTED", description="RETRACTED flows to the results this publication sources")
