"""Query-string parsing shared by the list endpoints: paging and message filters."""
from __future__ import annotations

import re
from datetime import datetime, time, timezone

from flask import request

from app.models import Status
from app.services.errors import Invalid
from app.services.messages import MessageFilter
from app.sms import normalize_number
from app.sms.errors import InvalidNumber

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# The offset (page - 1) * page_size must fit the databases' 64-bit integers; far beyond any real
# listing, and a bigger page number is a client bug worth a clear 422 rather than a 500.
MAX_PAGE = 1_000_000_000


def _positive_int(name: str, raw: str, maximum: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"{name} must be a whole number, not '{raw[:32]}'", code="invalid_query") from None
    if value < 1:
        raise Invalid(f"{name} must be at least 1", code="invalid_query")
    if maximum is not None and value > maximum:
        raise Invalid(f"{name} must be at most {maximum}", code="invalid_query")
    return value


def paging() -> tuple[int, int]:
    """``page`` (1-based) and ``page_size`` or ``per_page`` (capped at 500)."""
    page = _positive_int("page", request.args.get("page", "1"), MAX_PAGE)
    raw_size = request.args.get("page_size") or request.args.get("per_page") or str(DEFAULT_PAGE_SIZE)
    size = min(_positive_int("page_size", raw_size), MAX_PAGE_SIZE)
    return page, size


def page_envelope(key: str, items: list, page) -> dict:
    return {key: items, "total": page.total, "page": page.page, "page_size": page.page_size,
            "per_page": page.page_size, "has_more": page.has_more}


def _statuses(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    wanted = tuple(s.strip().upper() for s in raw.split(",") if s.strip())
    unknown = [s for s in wanted if s not in Status.ALL]
    if unknown:
        raise Invalid(f"Unknown status {', '.join(unknown)}; use one of {', '.join(Status.ALL)}", code="invalid_query")
    return wanted


def _direction(raw: str | None) -> str | None:
    if not raw:
        return None
    value = raw.strip().upper()
    if value not in ("OUTBOUND", "INBOUND"):
        raise Invalid("direction must be OUTBOUND or INBOUND", code="invalid_query")
    return value


def _datetime(name: str, raw: str | None, end_of_day: bool = False) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise Invalid(f"{name} must be an ISO 8601 date or date-time, not '{raw[:40]}'", code="invalid_query") from None
    if end_of_day and "T" not in raw.upper() and " " not in raw.strip():  # a bare date includes the whole day
        value = datetime.combine(value.date(), time.max)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # year 1 or 9999 with an offset: outside datetime's range in UTC
        raise Invalid(f"{name} is out of range: '{raw[:40]}'", code="invalid_query") from None


# Only the extended form YYYY-MM-DD counts as a date: fromisoformat also reads "basic" dates
# (20260101), and an 8-digit Norwegian number such as 40010112 would then be taken as a date.
_EXTENDED_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _looks_like_date(raw: str) -> bool:
    text = raw.strip()
    if not _EXTENDED_DATE.match(text):
        return False
    try:
        datetime.fromisoformat(text)
        return True
    except ValueError:
        return False


def message_filter(region: str) -> MessageFilter:
    """Filters of ``GET /messages``. ``to`` is both a phone number and the end of the ``from``/``to``
    date range in the docs; a value that reads as a date is taken as the date."""
    args = request.args
    to = args.get("to")
    to_is_date = bool(to) and _looks_like_date(to)
    date_to = args.get("date_to") or (to if to_is_date else None)
    number = args.get("to_number") or args.get("number") or (to if to and not to_is_date else None)
    if number:
        # An unencoded "+" in a query string arrives as a space (curl ...?to=+4799999999).
        number = "+" + number[1:] if number.startswith(" ") else number
        try:
            number = normalize_number(number, region)
        except InvalidNumber as exc:
            raise Invalid(exc.message, code="invalid_query") from None
    return MessageFilter(
        statuses=_statuses(args.get("status")),
        direction=_direction(args.get("direction")),
        customer_ref=args.get("customer_ref") or None,
        batch_id=args.get("batch_id") or None,
        campaign_id=args.get("campaign_id") or None,
        number=number,
        created_from=_datetime("from", args.get("date_from") or args.get("from")),
        created_to=_datetime("to", date_to, end_of_day=True),
    )
