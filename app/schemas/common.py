"""Base model, shared field types and the response envelopes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

MAX_ITEMS = 1000


def _no_nul(value: str) -> str:
    """Text a database can store: no NUL character and no lone surrogate (PostgreSQL refuses
    both; a surrogate half is not a character in UTF-8 at all)."""
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("lone surrogate characters are not allowed") from None
    return value


INT64 = (-(2**63), 2**63 - 1)


def _json_storable(value: Any) -> Any:
    """A free-form JSON document any JSON encoder and database can hold: integers within 64
    bits, text without lone surrogates (JSON itself allows both)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                _no_surrogate(key)
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            _no_surrogate(item)
        elif isinstance(item, int) and not INT64[0] <= item <= INT64[1]:
            raise ValueError("integers must fit in 64 bits")
    return value


def _no_surrogate(value: str) -> None:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("lone surrogate characters are not allowed") from None


# Declared for clients and fuzzers: stored text holds no NUL (the validator above enforces it).
NO_NUL = Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})

# A free-form JSON object (a merge patch, say), checked for what no encoder can write.
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_storable)]
# Text a client sends to be compared with or stored beside ours; the length is the caller's.
PlainText = Annotated[str, AfterValidator(_no_nul), NO_NUL]
# One free-text filter value (a name, identifier or search term), as compared with stored text.
FilterText = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_nul), NO_NUL]

# A name to look for: as FilterText, with something besides white space in it (white space
# around it is dropped; a blank one is refused).
SearchTerm = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_no_nul),
    Field(json_schema_extra={"pattern": "^\\s*[^\\s\\u0000][^\\u0000]*$"}),
]
# The next_page_token of the page before, passed back as it came (opaque; base64url); empty
# asks for the first page.
PageToken = Annotated[str, StringConstraints(max_length=2000),
                      Field(json_schema_extra={"pattern": "^[A-Za-z0-9_-]*$"},
                            description="the next_page_token of the page before, as it came")]

Text = Annotated[str, StringConstraints(min_length=1, max_length=20_000), AfterValidator(_no_nul),
                 NO_NUL]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_no_nul), NO_NUL,
]
Short = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_no_nul), NO_NUL,
]
Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
Url = Annotated[
    str, StringConstraints(max_length=2000, pattern=r"^https?://[^\s\x00]+$"),
    AfterValidator(_no_nul),
]
Count = Annotated[int, Field(ge=0, le=100_000_000)]
Months = Annotated[float, Field(ge=0, le=1200)]

_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _check_partial_date(value: str) -> str:
    m = _PARTIAL_DATE.match(value)
    if not m:
        raise ValueError("expected a date as YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    try:
        dt.date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"impossible date: {exc}") from None
    return value


PartialDate = Annotated[str, AfterValidator(_check_partial_date)]


def partial_date_sort_key(value: str | None) -> int:
    """YYYYMMDD as an integer, missing parts as 00; 0 when unknown (sorts last descending)."""
    if not value:
        return 0
    parts = value.split("-")
    year = int(parts[0])
    month = int(parts[1]) if len(parts) > 1 else 0
    day = int(parts[2]) if len(parts) > 2 else 0
    return year * 10_000 + month * 100 + day


_Item = TypeVar("_Item")

# A list of at most MAX_ITEMS items, empty when left out: `synonyms: ItemList[Name]`.
ItemList = Annotated[list[_Item], Field(default_factory=list, max_length=MAX_ITEMS)]


def Items(item: Any) -> Any:  # noqa: N802 - reads like a type
    """A list of at most MAX_ITEMS items (the call form of ItemList, which type checkers
    cannot follow: new code writes `ItemList[X]`)."""
    return Annotated[list[item], Field(default_factory=list, max_length=MAX_ITEMS)]


class ApiModel(BaseModel):
    """Strict input: unknown fields, NaN and Infinity are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, use_enum_values=False)


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_page_token: str | None = None
    total_count: int | None = None


class ProblemDetail(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None
