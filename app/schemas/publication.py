"""What a curator sends to record a retraction (or a lesser notice) of a publication."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from app.schemas.common import ApiModel, Text


class RetractionCreate(ApiModel):
    date: dt.date = Field(description="date of the notice, YYYY-MM-DD")
    notice: Text = Field(description="the notice as published, or where to find it")
    reason: Text | None = None
    status: Literal["RETRACTED", "EXPRESSION_OF_CONCERN", "CORRECTED"] = Field(
        "RETRACTED", description="RETRACTED flows to the results this publication sources")
