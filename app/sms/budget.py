"""Pure budget rules: calendar months in a zone, what fits in what is left, how close a limit is.

Amounts are Decimals in one currency; nothing here knows about accounts or the database.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Iterable

from .schedule import get_zone

# The share of the monthly limit at which the dashboard starts warning.
WARNING_SHARE = Decimal("0.8")
# The largest limit or cap anyone may set: the columns hold 10 digits before the point.
MAX_AMOUNT = Decimal("9999999999.99")
_CENT = Decimal("0.01")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)


def month_of(moment: datetime, zone: str) -> str:
    """``YYYY-MM`` of the calendar month ``moment`` (aware) falls in, in ``zone``."""
    local = moment.astimezone(get_zone(zone))
    return f"{local.year:04d}-{local.month:02d}"


def month_bounds(month: str, zone: str) -> tuple[datetime, datetime]:
    """The UTC instants where the local month ``YYYY-MM`` starts and where the next one starts."""
    match = _MONTH.fullmatch(month)
    if not match:
        raise ValueError(f"month must be YYYY-MM, not {month!r}")
    year, number = int(match[1]), int(match[2])
    after = (year + 1, 1) if number == 12 else (year, number + 1)
    tz = get_zone(zone)
    start = datetime(year, number, 1, tzinfo=tz).astimezone(timezone.utc)
    end = datetime(after[0], after[1], 1, tzinfo=tz).astimezone(timezone.utc)
    return start, end


def parse_amount(text) -> Decimal | None:
    """A limit or cap as typed: empty means none; else a non-negative amount with at most two
    decimals. Raises ValueError with a message for the person who typed it."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    try:
        amount = Decimal(str(text).strip())
    except InvalidOperation:
        raise ValueError("Enter an amount such as 500 or 499.50") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("The amount must be zero or more")
    # Before quantize, which cannot represent a huge amount in cents (InvalidOperation).
    if amount > MAX_AMOUNT:
        raise ValueError(f"The amount must be at most {MAX_AMOUNT}")
    if amount != amount.quantize(_CENT):
        raise ValueError("Use at most two decimals")
    return amount.quantize(_CENT)


def money(amount: Decimal, currency: str) -> str:
    """``500.00 NOK``: how amounts appear in notes and errors."""
    return f"{Decimal(amount).quantize(_CENT, rounding=ROUND_HALF_UP)} {currency}"


def fitting(costs: Iterable[Decimal], room: Decimal | None) -> tuple[int, Decimal]:
    """How many of ``costs``, taken in order, fit in ``room`` (None: unlimited), and their total.
    Stops at the first that does not fit, so a slice is always a prefix: released in the order it
    would have been anyway, and nobody later in the line is sent before somebody earlier."""
    count, total = 0, Decimal("0")
    for cost in costs:
        if room is not None and total + cost > room:
            break
        count, total = count + 1, total + cost
    return count, total


@dataclass(frozen=True)
class Level:
    """Where an account stands against its monthly limit."""

    state: str  # "none" (no limit), "ok", "warning" (80 % or more), "reached"
    share: float  # committed / limit, 0 without a limit

    @property
    def blocks(self) -> bool:
        return self.state == "reached"


def level(committed: Decimal, limit: Decimal | None, smallest_cost: Decimal) -> Level:
    """Reached means not even the cheapest message (one part) fits any more: sending has stopped."""
    if limit is None:
        return Level("none", 0.0)
    share = float(committed / limit) if limit > 0 else 1.0
    if committed + smallest_cost > limit:
        return Level("reached", share)
    if limit > 0 and committed >= limit * WARNING_SHARE:
        return Level("warning", share)
    return Level("ok", share)
