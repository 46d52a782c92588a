"""The monthly usage report managers read: totals, cost in every currency, the month before for
comparison, and the figures by campaign, by sender profile and by day; plus its CSV files.

Every figure comes from ``usage_rollup.rows``, the same daily rows ``GET /v1/sms/usage`` and
``/stats`` add up, so the page and the API can never disagree (and the page stays fast: closed days
are read from rollups, only today is counted).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Iterator

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Account, Campaign, SenderProfile, utcnow
from app.services import usage_rollup
from app.services.export import csv_lines
from app.services.usage import local_today, parse_period
from app.services.usage_rollup import Figures
from app.sms import cost as unit_cost
from app.sms import costs_in_all_currencies, price_per_unit

DIRECT_SENDS = "Direct sends (API and Send page)"
DELETED_CAMPAIGN = "Deleted campaign"
NO_SENDER_PROFILE = "No sender profile"


@dataclass(frozen=True)
class Line:
    """One row of a breakdown: a campaign or a sender profile (``key`` None: none of them)."""
    key: str | None
    label: str
    figures: Figures
    cost: Decimal
    detail: str = ""  # the sender id of a profile
    linkable: bool = False  # a campaign that still exists


@dataclass(frozen=True)
class Day:
    day: date
    figures: Figures
    cost: Decimal


@dataclass(frozen=True)
class Change:
    """This month against the month before. ``percent`` is None when there is nothing to compare
    with (the month before had none) or the figure is a rate (its difference is in points)."""
    label: str
    current: float
    previous: float
    difference: float
    percent: float | None
    unit: str = ""


@dataclass(frozen=True)
class Report:
    period: str
    first: date
    last: date
    previous_period: str
    next_period: str | None  # None for the current month: nothing to see after it
    currency: str
    price: Decimal
    totals: Figures
    cost: Decimal
    costs: list[tuple[str, Decimal]]  # account currency first
    previous: Figures
    previous_cost: Decimal
    changes: list[Change]
    by_campaign: list[Line]
    by_sender: list[Line]
    by_day: list[Day]


def build(account: Account, month: str | None, now: datetime | None = None) -> Report:
    """The report for ``month`` (``YYYY-MM``; empty: this month). Raises Invalid for anything else."""
    now = now or utcnow()
    period, first, last = parse_period(account, month, name="Month")
    before = first - timedelta(days=1)
    previous_first = before.replace(day=1)
    run = usage_rollup.days(account, previous_first, last, now)
    per_day = {day: figures for (day,), figures in run.by("day").items()}
    previous = sum((f for day, f in per_day.items() if day < first), Figures())
    totals = sum((f for day, f in per_day.items() if day >= first), Figures())
    prices = current_app.config["SMS_PRICES"]

    def money(units: int) -> Decimal:
        return unit_cost(units, account.currency, prices)

    after = last + timedelta(days=1)
    return Report(
        period=period, first=first, last=last, previous_period=before.strftime("%Y-%m"),
        next_period=after.strftime("%Y-%m") if after <= local_today(account, now) else None,
        currency=account.currency, price=price_per_unit(account.currency, prices),
        totals=totals, cost=money(totals.units),
        costs=costs_in_all_currencies(totals.units, prices, first=account.currency),
        previous=previous, previous_cost=money(previous.units),
        changes=_changes(totals, previous, money(totals.units), money(previous.units), account.currency),
        by_campaign=_by_campaign(account, run.by("campaign_id", first=first), money),
        by_sender=_by_sender(account, run.by("sender_profile_id", first=first), money),
        by_day=_by_day(first, last, per_day, money),
    )


def _changes(now: Figures, before: Figures, cost: Decimal, cost_before: Decimal, currency: str) -> list[Change]:
    def change(label, current, previous, unit=""):
        difference = current - previous
        percent = round(difference / previous * 100, 1) if previous else None
        return Change(label, current, previous, difference, percent, unit)

    rate = Change("Delivery rate", now.delivery_rate * 100, before.delivery_rate * 100,
                  round((now.delivery_rate - before.delivery_rate) * 100, 2), None, "%")
    return [change("Messages sent", now.sent, before.sent), change("Messages received", now.received, before.received),
            change("Messages failed", now.failed, before.failed), change("Units", now.units, before.units),
            change("Cost", cost, cost_before, currency), rate]


def _outbound(figures: Figures) -> bool:
    return bool(figures.sent or figures.failed)


def _ordered(lines: list[Line]) -> list[Line]:
    return sorted(lines, key=lambda line: (-line.figures.units, -line.figures.sent, line.label.lower()))


def _by_campaign(account: Account, grouped: dict[tuple, Figures], money) -> list[Line]:
    """Outbound figures by campaign; messages outside campaigns together as "direct sends"."""
    sums = {key: f for (key,), f in grouped.items() if _outbound(f)}
    ids = [key for key in sums if key is not None]
    names = dict(db.session.execute(select(Campaign.id, Campaign.name).where(
        Campaign.account_id == account.id, Campaign.id.in_(ids))).all()) if ids else {}
    lines = [Line(key, DIRECT_SENDS if key is None else names.get(key, DELETED_CAMPAIGN), f, money(f.units),
                  linkable=key in names) for key, f in sums.items()]
    return _ordered(lines)


def _by_sender(account: Account, grouped: dict[tuple, Figures], money) -> list[Line]:
    sums = {key: f for (key,), f in grouped.items() if _outbound(f)}
    ids = [key for key in sums if key is not None]
    profiles = {pid: (name, sender_id) for pid, name, sender_id in db.session.execute(
        select(SenderProfile.id, SenderProfile.name, SenderProfile.sender_id).where(
            SenderProfile.account_id == account.id, SenderProfile.id.in_(ids)))} if ids else {}
    lines = [Line(key, profiles.get(key, (NO_SENDER_PROFILE, ""))[0], f, money(f.units),
                  detail=profiles.get(key, ("", ""))[1]) for key, f in sums.items()]
    return _ordered(lines)


def _by_day(first: date, last: date, sums: dict[date, Figures], money) -> list[Day]:
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [Day(day, sums.get(day, Figures()), money(sums.get(day, Figures()).units)) for day in days]


# -- JSON and CSV ----------------------------------------------------------------------------------

def _figures_json(figures: Figures, cost: Decimal) -> dict:
    return {"sent": figures.sent, "delivered": figures.delivered, "failed": figures.failed,
            "received": figures.received, "units": figures.units, "cost": float(cost),
            "delivery_rate": figures.delivery_rate}


def as_json(report: Report) -> dict:
    """What the page's chart draws: the month by day, with its totals and the month before."""
    return {
        "period": report.period,
        "previous_period": report.previous_period,
        "currency": report.currency,
        "totals": _figures_json(report.totals, report.cost),
        "previous": _figures_json(report.previous, report.previous_cost),
        "days": [{"date": d.day.isoformat(), **_figures_json(d.figures, d.cost)} for d in report.by_day],
    }


DAY_COLUMNS = ("date", "messages_sent", "messages_delivered", "messages_failed", "messages_received", "units",
               "cost", "currency")
CAMPAIGN_COLUMNS = ("campaign", "campaign_id", "messages_sent", "messages_delivered", "messages_failed", "units",
                    "cost", "currency")
CSV_KINDS = ("day", "campaign")


def csv_file(report: Report, by: str) -> Iterator[str]:
    """The by-day or by-campaign figures as CSV (formula-safe cells, see ``export``)."""
    if by == "campaign":
        rows = ((line.label, line.key or "", line.figures.sent, line.figures.delivered, line.figures.failed,
                 line.figures.units, line.cost, report.currency) for line in report.by_campaign)
        return csv_lines(CAMPAIGN_COLUMNS, rows)
    rows = ((d.day.isoformat(), d.figures.sent, d.figures.delivered, d.figures.failed, d.figures.received,
             d.figures.units, d.cost, report.currency) for d in report.by_day)
    return csv_lines(DAY_COLUMNS, rows)
