"""ClinicalTrials.gov API v2 study records and our study document, both ways.

By direction: `records` recognises a v2 record (and holds the registry's vocabulary),
`text` reads the registry's printed text (numbers, time frames, dates, percentages),
`inbound` maps a record to a study document (with `protocol`, `arms`, `outcomes` and
`analyses` for the parts of a record), `outbound` renders a study document as a record, and
`fields` reads the registry's `fields` parameter and `csvfile` lays records out as the
registry's CSV download.
"""

from app.interop.ctgov.csvfile import CSV_COLUMNS, columns_for, csv_row
from app.interop.ctgov.fields import PIECES, UnknownField
from app.interop.ctgov.inbound import to_document
from app.interop.ctgov.outbound import describe_timepoint, from_document, start_sort_key
from app.interop.ctgov.records import (
    NCT_ID,
    PROTOCOL_MODULES,
    REGISTRY_URL,
    TOP_LEVEL,
    NotAStudyRecord,
    Report,
    check_record,
    nct_id,
    records_of,
)
from app.interop.ctgov.text import (
    effect_type_of,
    is_percent_of_participants,
    parse_number,
    parse_p_value,
    parse_time_frame,
    printed_percent,
    timepoint_role,
)

__all__ = ["CSV_COLUMNS", "NCT_ID", "PIECES", "PROTOCOL_MODULES", "REGISTRY_URL",
           "TOP_LEVEL", "NotAStudyRecord", "Report", "UnknownField", "check_record",
           "columns_for", "csv_row", "describe_timepoint",
           "effect_type_of", "from_document", "is_percent_of_participants", "nct_id",
           "parse_number", "parse_p_value", "parse_time_frame", "printed_percent",
           "records_of", "start_sort_key", "timepoint_role", "to_document"]
