"""Usage and statistics, counted from the messages themselves in the account's time zone.

Definitions (the README repeats them): an outbound message counts as *sent* in the period of its
``sent_at`` (the carrier accepted it; this is what is billed), as *failed* in the period of its
``failed_at``; an inbound message counts in the period of its ``received_at``. Units are the sent
messages' parts. Cost is units times the account currency's unit price; inbound is free.

Every period here is a run of whole local days, so the figures are sums of daily figures, which
``usage_rollup`` keeps for closed days and counts live for today: the dashboard's usage page reads
the same rows and always shows the same numbers.
"""
from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import Account, ApiKey, Message, SenderProfile, scoped, utcnow
from app.services import usage_rollup
from app.services.errors import Invalid
from app.services.usage_rollup import Figures
from app.sms import cost as unit_cost
from app.sms import get_zone, price_per_unit

_T = Message.__table__


def local_today(account: Account, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(get_zone(account.timezone)).date()


_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)
# Months whose local bounds convert to UTC and back without leaving datetime's range (years 1 and
# 9999 overflow in a zone with an offset); nobody bills SMS outside these.
_YEARS = range(1970, 9999)


def parse_period(account: Account, period: str | None, name: str = "period") -> tuple[str, date, date]:
    """``YYYY-MM`` (default, also for an empty value: the current month in the account's zone)
    -> (period, first, last day). ``name`` is what the error message calls the value."""
    if not period:
        today = local_today(account)
        year, month = today.year, today.month
    else:
        match = _PERIOD.fullmatch(period.strip())
        year, month = (int(match[1]), int(match[2])) if match else (0, 0)
        if year not in _YEARS or not 1 <= month <= 12:
            raise Invalid(f"{name} must be YYYY-MM, e.g. 2025-12, not '{period[:32]}'", code="invalid_period")
    last = calendar.monthrange(year, month)[1]
    return f"{year:04d}-{month:02d}", date(year, month, 1), date(year, month, last)


def figures(account: Account, first: date, last: date, now: datetime | None = None) -> Figures:
    """The account's figures over the local days ``first`` to ``last``."""
    return usage_rollup.days(account, first, last, now).total()


def usage(account: Account, period: str | None) -> dict:
    label, first, last = parse_period(account, period)
    found = figures(account, first, last)
    prices = current_app.config["SMS_PRICES"]
    total = unit_cost(found.units, account.currency, prices)
    return {
        "period": label,
        "period_start": first.isoformat(),
        "period_end": last.isoformat(),
        "messages_sent": found.sent,
        "messages_received": found.received,
        "messages_failed": found.failed,
        "units_used": found.units,
        "cost": float(total),
        "currency": account.currency,
        "price_per_unit": float(price_per_unit(account.currency, prices)),
        "outbound_cost": float(total),
        "inbound_cost": float(Decimal("0")),
    }


def stat_days(today: date) -> dict[str, tuple[date, date]]:
    """The statistics windows, as first and last local day (all end today)."""
    return {
        "today": (today, today),
        "this_week": (today - timedelta(days=today.weekday()), today),
        "this_month": (today.replace(day=1), today),
        "last_30_days": (today - timedelta(days=29), today),
    }


def window_figures(account: Account, names: tuple[str, ...] | None = None) -> dict[str, Figures]:
    """Figures for the statistics windows (all of them, or ``names``), from one read of the days."""
    now = utcnow()
    windows = stat_days(local_today(account, now))
    if names is not None:
        windows = {name: windows[name] for name in names}
    first = min(start for start, _ in windows.values())
    last = max(end for _, end in windows.values())
    by_day = usage_rollup.days(account, first, last, now).by("day")
    return {name: sum((f for (day,), f in by_day.items() if start <= day <= end), Figures())
            for name, (start, end) in windows.items()}


def stats(account: Account) -> dict:
    result = {}
    for name, found in window_figures(account).items():
        result[name] = {
            "messages_sent": found.sent,
            "messages_received": found.received,
            "units_used": found.units,
            # Share of the messages sent in the window that reached the handset.
            "delivery_rate": found.delivery_rate,
        }
    result["status_breakdown"] = status_breakdown(account)
    return result


def status_breakdown(account: Account) -> dict[str, int]:
    rows = db.session.execute(
        select(_T.c.status, func.count()).where(_T.c.account_id == account.id).group_by(_T.c.status)
    )
    return {status: int(n) for status, n in rows}


def service_status(account: Account) -> dict:
    default = db.session.scalar(scoped(SenderProfile, account.id).where(SenderProfile.is_default.is_(True)))
    has_profiles = default is not None or db.session.scalar(
        select(func.count()).select_from(SenderProfile).where(SenderProfile.account_id == account.id)) > 0
    has_key = db.session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.account_id == account.id, ApiKey.revoked_at.is_(None))
    ) > 0
    windows = window_figures(account, ("today", "this_month", "last_30_days"))
    return {
        "active": account.is_active,
        "has_sender_profiles": has_profiles,
        "has_api_key": has_key,
        "default_sender": default,
        "messages_today": windows["today"].sent,
        "messages_this_month": windows["this_month"].sent,
        "messages_sent_30d": windows["last_30_days"].sent,
        "messages_received_30d": windows["last_30_days"].received,
    }
