"""Usage and statistics, counted from the messages themselves in the account's time zone.

Definitions (the README repeats them): an outbound message counts as *sent* in the period of its
``sent_at`` (the carrier accepted it; this is what is billed), as *failed* in the period of its
``failed_at``; an inbound message counts in the period of its ``received_at``. Units are the sent
messages' parts. Cost is units times the account currency's unit price; inbound is free.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from flask import current_app
from sqlalchemy import case, func, select

from app.extensions import db
from app.models import Account, ApiKey, Message, SenderProfile, Status, scoped, utcnow
from app.services.errors import Invalid
from app.sms import cost as unit_cost
from app.sms import get_zone, price_per_unit

_T = Message.__table__


@dataclass(frozen=True)
class Window:
    start: datetime  # aware UTC, inclusive
    end: datetime  # aware UTC, exclusive


def local_window(account: Account, first_day: date, days_after_last: date) -> Window:
    """[first_day 00:00, days_after_last 00:00) in the account's zone, as UTC."""
    zone = get_zone(account.timezone)
    start = datetime.combine(first_day, time(), zone)
    end = datetime.combine(days_after_last, time(), zone)
    return Window(start.astimezone(timezone.utc), end.astimezone(timezone.utc))


def local_today(account: Account) -> date:
    return utcnow().astimezone(get_zone(account.timezone)).date()


_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)
# Months whose local bounds convert to UTC and back without leaving datetime's range (years 1 and
# 9999 overflow in a zone with an offset); nobody bills SMS outside these.
_YEARS = range(1970, 9999)


def parse_period(account: Account, period: str | None) -> tuple[str, date, date]:
    """``YYYY-MM`` (default, also for an empty value: the current month in the account's zone)
    -> (period, first, last day)."""
    if not period:
        today = local_today(account)
        year, month = today.year, today.month
    else:
        match = _PERIOD.fullmatch(period.strip())
        year, month = (int(match[1]), int(match[2])) if match else (0, 0)
        if year not in _YEARS or not 1 <= month <= 12:
            raise Invalid(f"period must be YYYY-MM, e.g. 2025-12, not '{period[:32]}'", code="invalid_period")
    last = calendar.monthrange(year, month)[1]
    return f"{year:04d}-{month:02d}", date(year, month, 1), date(year, month, last)


def counts(account: Account, window: Window) -> dict:
    """Sent, failed, received and units in the window: one query over the messages."""
    def within(column):
        return (column >= window.start) & (column < window.end)

    outbound = _T.c.direction == "OUTBOUND"
    sent = outbound & within(_T.c.sent_at)
    row = db.session.execute(
        select(
            func.count().filter(sent),
            func.coalesce(func.sum(case((sent, _T.c.units), else_=0)), 0),
            func.count().filter(outbound & within(_T.c.failed_at)),
            func.count().filter((_T.c.direction == "INBOUND") & within(_T.c.received_at)),
            func.count().filter(sent & (_T.c.status == Status.DELIVERED)),
        ).where(_T.c.account_id == account.id)
    ).one()
    sent_count, units, failed, received, delivered = (int(v or 0) for v in row)
    return {"messages_sent": sent_count, "units_used": units, "messages_failed": failed,
            "messages_received": received, "delivered": delivered}


def usage(account: Account, period: str | None) -> dict:
    label, first, last = parse_period(account, period)
    figures = counts(account, local_window(account, first, last + timedelta(days=1)))
    prices = current_app.config["SMS_PRICES"]
    total = unit_cost(figures["units_used"], account.currency, prices)
    return {
        "period": label,
        "period_start": first.isoformat(),
        "period_end": last.isoformat(),
        "messages_sent": figures["messages_sent"],
        "messages_received": figures["messages_received"],
        "messages_failed": figures["messages_failed"],
        "units_used": figures["units_used"],
        "cost": float(total),
        "currency": account.currency,
        "price_per_unit": float(price_per_unit(account.currency, prices)),
        "outbound_cost": float(total),
        "inbound_cost": float(Decimal("0")),
    }


def stat_windows(account: Account) -> dict[str, Window]:
    today = local_today(account)
    tomorrow = today + timedelta(days=1)
    return {
        "today": local_window(account, today, tomorrow),
        "this_week": local_window(account, today - timedelta(days=today.weekday()), tomorrow),
        "this_month": local_window(account, today.replace(day=1), tomorrow),
        "last_30_days": local_window(account, today - timedelta(days=29), tomorrow),
    }


def stats(account: Account) -> dict:
    result = {}
    for name, window in stat_windows(account).items():
        figures = counts(account, window)
        sent = figures["messages_sent"]
        result[name] = {
            "messages_sent": sent,
            "messages_received": figures["messages_received"],
            "units_used": figures["units_used"],
            # Share of the messages sent in the window that reached the handset.
            "delivery_rate": round(figures["delivered"] / sent, 4) if sent else 0.0,
        }
    result["status_breakdown"] = status_breakdown(account)
    return result


def status_breakdown(account: Account) -> dict[str, int]:
    rows = db.session.execute(
        select(_T.c.status, func.count()).where(_T.c.account_id == account.id).group_by(_T.c.status)
    )
    return {status: int(n) for status, n in rows}


def service_status(account: Account) -> dict:
    windows = stat_windows(account)
    default = db.session.scalar(scoped(SenderProfile, account.id).where(SenderProfile.is_default.is_(True)))
    has_profiles = default is not None or db.session.scalar(
        select(func.count()).select_from(SenderProfile).where(SenderProfile.account_id == account.id)) > 0
    has_key = db.session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.account_id == account.id, ApiKey.revoked_at.is_(None))
    ) > 0
    last_30 = counts(account, windows["last_30_days"])
    return {
        "active": account.is_active,
        "has_sender_profiles": has_profiles,
        "has_api_key": has_key,
        "default_sender": default,
        "messages_today": counts(account, windows["today"])["messages_sent"],
        "messages_this_month": counts(account, windows["this_month"])["messages_sent"],
        "messages_sent_30d": last_30["messages_sent"],
        "messages_received_30d": last_30["messages_received"],
    }
