"""The recipients of one campaign: its ledger rows listed by number, filtered, and exported.

The list walks ``uq_messages_campaign_recipient`` (campaign_id, to_number), which is already in
number order, and takes its total from the report's figures when the caller has them (no count).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterator

from sqlalchemy import select

from app.extensions import db
from app.models import Campaign, Message
from app.models.base import iso
from app.services.export import csv_lines
from app.services.paging import Page, paginate

_T = Message.__table__
CSV_COLUMNS = ("number", "status", "units", "cost", "currency", "sent_at", "delivered_at", "failed_at",
               "error_code", "error_message")
CSV_BATCH = 1000
MONEY = Decimal("0.0001")


@dataclass(frozen=True)
class RecipientFilter:
    status: str | None = None
    digits: str | None = None  # part of the number, digits only (see number_digits)


def number_digits(text: str | None) -> str | None:
    """What a number search looks for: the digits typed, with a leading international ``00``
    dropped (``0047 912`` finds ``+47912...``). None when nothing was typed; '' when no digits."""
    if text is None or not text.strip():
        return None
    digits = "".join(c for c in text if c.isascii() and c.isdigit())
    return digits[2:] if digits.startswith("00") else digits


def _recipients(campaign: Campaign, flt: RecipientFilter, what):
    # campaign_id (not batch_id): the same rows for a ledger, and its unique index is number order.
    query = select(*what).where(_T.c.campaign_id == campaign.id, _T.c.account_id == campaign.account_id)
    if flt.status:
        query = query.where(_T.c.status == flt.status)
    if flt.digits:
        query = query.where(_T.c.to_number.contains(flt.digits, autoescape=True))
    return query


def recipients(campaign: Campaign, flt: RecipientFilter, page: int, page_size: int,
               total: int | None = None) -> Page:
    """One page of the campaign's messages, by number. ``total``, when the caller knows it (from
    the report's status counts), saves counting the rows again."""
    query = _recipients(campaign, flt, (Message,))
    # A number is unique within a campaign (the ledger's unique index), so it orders on its own,
    # and the index delivers the rows in that order: no sort, however deep the page.
    if total is None:
        return paginate(query, Message.to_number, page=page, page_size=page_size)
    items = db.session.scalars(query.order_by(Message.to_number).offset((page - 1) * page_size).limit(page_size)).all()
    return Page(list(items), total, page, page_size)


def recipient_rows(campaign: Campaign, flt: RecipientFilter) -> Iterator[tuple]:
    """The CSV's rows, by number; times in UTC ISO 8601."""
    columns = (_T.c.to_number, _T.c.status, _T.c.units, _T.c.cost, _T.c.currency, _T.c.sent_at,
               _T.c.delivered_at, _T.c.failed_at, _T.c.error_code, _T.c.error_message)
    query = _recipients(campaign, flt, columns).order_by(_T.c.to_number)
    for number, status, units, cost, currency, sent, delivered, failed, code, message in db.session.execute(
            query.execution_options(yield_per=CSV_BATCH)):
        yield (number, status, units, Decimal(cost).quantize(MONEY), currency, iso(sent), iso(delivered), iso(failed),
               code, message)


def recipients_csv(campaign: Campaign, flt: RecipientFilter) -> Iterator[str]:
    """The recipients as CSV, formula-safe (``export.csv_lines``), a thousand rows at a time."""
    return csv_lines(CSV_COLUMNS, recipient_rows(campaign, flt))

