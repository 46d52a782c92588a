"""Pure SMS domain rules: encoding/part counting, phone numbers, prices,
scheduling and sender IDs.

This package deliberately imports nothing from Flask, SQLAlchemy, Redis,
HTTP libraries or the rest of ``app``: it is plain functions over values,
so it is fast, trivially testable and reusable by the API, the dashboard
and the dispatch workers alike.
"""

from .encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    MAX_CHARACTERS,
    Segments,
    basic_gsm7_parts,
    count_segments,
    suggest_gsm_replacements,
    validate_message,
)
from .errors import (
    InvalidMessage,
    InvalidNumber,
    InvalidSenderId,
    InvalidTimezone,
    ScheduleError,
    SmsError,
    UnknownCurrency,
)
from .phone import is_e164, normalize_number
from .pricing import (
    CURRENCIES,
    DEFAULT_PRICES,
    cost,
    costs_in_all_currencies,
    parse_prices,
    price_per_unit,
)
from .schedule import ScheduleTime, get_zone, local_to_utc, resolve_schedule, to_local
from .sender import SenderId, parse_sender_id
from .merge import FIELDS as MERGE_FIELDS, Template, parse_template
from .window import SendWindow, parse_window

__all__ = [
    "CURRENCIES",
    "MERGE_FIELDS",
    "SendWindow",
    "Template",
    "parse_template",
    "parse_window",
    "DEFAULT_PRICES",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MAX_CHARACTERS",
    "InvalidMessage",
    "InvalidNumber",
    "InvalidSenderId",
    "InvalidTimezone",
    "ScheduleError",
    "ScheduleTime",
    "Segments",
    "SenderId",
    "SmsError",
    "UnknownCurrency",
    "basic_gsm7_parts",
    "cost",
    "costs_in_all_currencies",
    "count_segments",
    "get_zone",
    "is_e164",
    "local_to_utc",
    "normalize_number",
    "parse_prices",
    "parse_sender_id",
    "price_per_unit",
    "resolve_schedule",
    "suggest_gsm_replacements",
    "to_local",
    "validate_message",
]
