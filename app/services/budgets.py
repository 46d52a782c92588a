"""Spending budgets: an account's monthly limit and a campaign's cap, both in the account currency,
and both hard stops (reaching one stops sending, it does not merely warn).

What counts ("committed"): the cost of every outbound message the account has accepted, less
what was cancelled. A direct send (API, Send page, campaign test) is charged when it is accepted,
in the month of its ``created_at``; a campaign message when its slice is released to the
carrier, in the month of its ``queued_at`` (a campaign's held ledger is not spent until then).
Months are calendar months in the account's zone. This is the cost ``send`` writes on each row
(parts x unit price); the usage report bills the same rows once the carrier has them.

The limit is never passed, also under concurrency: ``AccountSpend`` holds the committed figure
per account and month, and every acceptance adds its cost with a conditional UPDATE in its own
transaction. Only accounts with a limit keep that figure, so sends of accounts without one cost
nothing extra; setting or changing a limit rebuilds the month from the messages (``recompute``).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import case, delete, func, select, update

from app.extensions import db
from app.models import Account, AccountSpend, Campaign, CampaignStatus, Message, Status, utcnow
from app.services import audit
from app.services.errors import ServiceError
from app.sms import price_per_unit
from app.sms.budget import Level, level, money, month_bounds, month_of

_MSG = Message.__table__
_SPEND = AccountSpend.__table__
_ACCOUNTS = Account.__table__
ZERO = Decimal("0")
# The beginnings of the notes a budget writes on a campaign it pauses: how the banner finds them.
CAP_NOTE = "Reached its spending cap of "
LIMIT_NOTE = "The account reached its monthly spending limit of "


class SpendingLimitReached(ServiceError):
    status = 402
    code = "spending_limit_reached"


# -- the committed figure -------------------------------------------------------------------------

def unit_price(account: Account) -> Decimal:
    return price_per_unit(account.currency, current_app.config["SMS_PRICES"])


def current_month(account: Account, now: datetime | None = None) -> str:
    return month_of(now or utcnow(), account.timezone)


def _charged_at():
    """When a message was charged: accepted (direct sends) or released (campaign messages)."""
    return case((_MSG.c.campaign_id.is_(None), _MSG.c.created_at), else_=_MSG.c.queued_at)


def ledger_total(account: Account, month: str) -> Decimal:
    """The month's committed cost counted from the messages themselves."""
    start, end = month_bounds(month, account.timezone)
    charged = _charged_at()
    total = db.session.scalar(
        select(func.coalesce(func.sum(_MSG.c.cost), 0)).where(
            _MSG.c.account_id == account.id, _MSG.c.direction == "OUTBOUND", _MSG.c.status != Status.CANCELLED,
            charged >= start, charged < end))
    return Decimal(total or 0)


def _ensure_month(account: Account, month: str) -> None:
    """The month's row, counted from the ledger the first time (a new month, or a limit just set).
    A racing request may insert it first; either count is right, since every acceptance after it
    adds to the row."""
    from app.services.contacts import insert_ignoring_duplicates  # contacts imports messages, which imports us
    exists_ = db.session.scalar(select(_SPEND.c.month).where(_SPEND.c.account_id == account.id,
                                                             _SPEND.c.month == month))
    if exists_ is None:
        insert_ignoring_duplicates(_SPEND, [{"account_id": account.id, "month": month,
                                             "committed": ledger_total(account, month), "updated_at": utcnow()}])


def _lock_month(account: Account, month: str) -> Decimal:
    """Take the month's row for this transaction (a no-op UPDATE: the row lock on PostgreSQL, the
    write lock on SQLite) and read its committed figure, which nobody can change until we commit."""
    _ensure_month(account, month)
    where = (_SPEND.c.account_id == account.id, _SPEND.c.month == month)
    db.session.execute(update(_SPEND).where(*where).values(committed=_SPEND.c.committed))
    return Decimal(db.session.scalar(select(_SPEND.c.committed).where(*where)))


def committed(account: Account, now: datetime | None = None) -> Decimal:
    """This month's committed figure (from the ledger when the account keeps no row for it)."""
    month = current_month(account, now)
    found = db.session.scalar(select(_SPEND.c.committed).where(_SPEND.c.account_id == account.id,
                                                               _SPEND.c.month == month))
    return Decimal(found) if found is not None else ledger_total(account, month)


def recompute(account: Account, now: datetime | None = None) -> Decimal:
    """Rebuild this month's figure from the messages, holding the row so no acceptance slips in
    between the count and the write (the count is a statement of its own, after the lock, so on
    PostgreSQL it sees everything committed before the lock was granted). The caller commits."""
    month = current_month(account, now)
    _lock_month(account, month)
    total = ledger_total(account, month)
    db.session.execute(update(_SPEND).where(_SPEND.c.account_id == account.id, _SPEND.c.month == month)
                       .values(committed=total, updated_at=utcnow()))
    return total


def reserve(account: Account, amount: Decimal, now: datetime | None = None) -> None:
    """Add ``amount`` to this month's figure if it stays within the limit, in the caller's
    transaction; otherwise roll the transaction back and refuse with a 402 saying why. The
    condition reads the limit in the same statement, so a limit lowered meanwhile also holds."""
    if account.monthly_spend_limit is None:
        return
    month = current_month(account, now)
    # The month's row exists but for the first acceptance of a month: try the UPDATE first and
    # create the row only when it found none, so the usual send makes one statement, not two.
    moved = _add_within_limit(account, month, amount)
    if moved is None:
        _ensure_month(account, month)
        moved = _add_within_limit(account, month, amount)
    if moved:
        return
    spent = committed(account, now)
    db.session.rollback()
    raise SpendingLimitReached(limit_message(account, spent, amount))


def _add_within_limit(account: Account, month: str, amount: Decimal) -> bool | None:
    """True: added; False: it would pass the limit; None: the month has no row yet. The limit is
    read in the same statement, so a limit lowered meanwhile holds too."""
    limit = select(_ACCOUNTS.c.monthly_spend_limit).where(_ACCOUNTS.c.id == account.id).scalar_subquery()
    row = (_SPEND.c.account_id == account.id, _SPEND.c.month == month)
    moved = db.session.execute(
        update(_SPEND).where(*row, _added(amount) <= func.coalesce(limit, _added(amount)))
        .values(committed=_added(amount), updated_at=utcnow())).rowcount
    if moved:
        return True
    return False if db.session.scalar(select(_SPEND.c.month).where(*row)) is not None else None


def limit_message(account: Account, spent: Decimal, amount: Decimal) -> str:
    limit, currency = account.monthly_spend_limit, account.currency
    left = max(limit - spent, ZERO)
    return (f"This send would pass the account's monthly spending limit of {money(limit, currency)}: "
            f"{money(spent, currency)} is spent this month, {money(left, currency)} is left, and this send "
            f"costs {money(amount, currency)}. Nothing was sent; an admin or manager can raise the limit.")


def give_back(account: Account, rows) -> None:
    """Return the cost of cancelled messages (rows with cost, created_at, queued_at, campaign_id)
    to the months they were charged in; held campaign messages were never charged. In the
    caller's transaction. Months without a row (no limit then) have nothing to return to."""
    months: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        charged = row.created_at if row.campaign_id is None else row.queued_at
        if charged is not None and row.cost:
            months[month_of(charged, account.timezone)] += Decimal(row.cost)
    for month, amount in months.items():
        db.session.execute(update(_SPEND).where(_SPEND.c.account_id == account.id, _SPEND.c.month == month)
                           .values(committed=case((_SPEND.c.committed > amount, _SPEND.c.committed - amount),
                                                  else_=ZERO), updated_at=utcnow()))


# Columns ``give_back`` needs, for a cancelling UPDATE ... RETURNING.
GIVE_BACK_COLUMNS = (_MSG.c.cost, _MSG.c.created_at, _MSG.c.queued_at, _MSG.c.campaign_id)


# -- setting the limit and reading where the account stands ----------------------------------------

def set_limit(account: Account, limit: Decimal | None) -> Decimal:
    """Set (or with None remove) the monthly limit and rebuild this month's figure; commits."""
    previous = account.monthly_spend_limit
    account.monthly_spend_limit = limit
    db.session.flush()
    if limit is None:
        # Kept only while there is a limit: a figure nobody updates any more must not be read later.
        db.session.execute(delete(_SPEND).where(_SPEND.c.account_id == account.id))
    total = recompute(account) if limit is not None else committed(account)
    if previous != limit:
        audit.record(account.id, "account.spend_limit_changed", "account", account.id,
                     previous=_text(previous), limit=_text(limit), currency=account.currency)
    db.session.commit()
    return total


def set_cap(campaign: Campaign, cap: Decimal | None, currency: str | None = None) -> None:
    """Set a campaign's cap in the caller's transaction (the caller commits); audited when it
    changes an existing campaign (a new one's cap is part of its creation)."""
    if campaign.spend_cap == cap:
        return
    if campaign.id is not None:
        audit.record(campaign.account_id, "campaign.spend_cap_changed", "campaign", campaign.id,
                     previous=_text(campaign.spend_cap), cap=_text(cap), currency=currency)
    campaign.spend_cap = cap


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


@dataclass(frozen=True)
class Standing:
    """Where the account stands this month, for the budget page and the banner."""

    month: str
    currency: str
    limit: Decimal | None
    committed: Decimal
    level: Level

    @property
    def left(self) -> Decimal | None:
        return None if self.limit is None else max(self.limit - self.committed, ZERO)

    @property
    def percent(self) -> int:
        return round(self.level.share * 100)


def standing(account: Account, now: datetime | None = None) -> Standing:
    spent = committed(account, now)
    return Standing(current_month(account, now), account.currency, account.monthly_spend_limit, spent,
                    level(spent, account.monthly_spend_limit, unit_price(account)))


def paused_by_budget(account_id: str, limit: int = 5) -> list[Campaign]:
    """Campaigns a budget has paused (newest first): the note it wrote says so."""
    return list(db.session.scalars(
        select(Campaign).where(Campaign.account_id == account_id, Campaign.status == CampaignStatus.PAUSED,
                               Campaign.note.startswith(CAP_NOTE) | Campaign.note.startswith(LIMIT_NOTE))
        .order_by(Campaign.paused_at.desc()).limit(limit)))


# -- campaigns -------------------------------------------------------------------------------------

def released_cost(campaign_id: str) -> Decimal:
    """What the campaign has released to the carrier so far (cancelled messages cost nothing)."""
    total = db.session.scalar(select(func.coalesce(func.sum(_MSG.c.cost), 0)).where(
        _MSG.c.batch_id == campaign_id, _MSG.c.queued_at.is_not(None), _MSG.c.status != Status.CANCELLED))
    return Decimal(total or 0)


@dataclass(frozen=True)
class Room:
    """How much a campaign may still release now, and the note to pause it with when that runs out."""

    amount: Decimal
    note: str
    month: str | None  # the account's month this release is charged to (None: no account limit)


def cap_note(cap: Decimal, currency: str) -> str:
    return f"{CAP_NOTE}{money(cap, currency)}. Raise the cap and resume to send to the rest."


def limit_note(limit: Decimal, currency: str) -> str:
    return (f"{LIMIT_NOTE}{money(limit, currency)}. Raise the limit on the Budget page and resume, "
            "or resume next month.")


def campaign_room(account: Account, campaign_id: str, cap: Decimal | None, now: datetime) -> Room | None:
    """None when neither a cap nor a limit applies. With a limit, the month's row is locked until
    the caller commits, so the release and its charge cannot race a send."""
    rooms = []
    if cap is not None:
        rooms.append((cap - released_cost(campaign_id), cap_note(cap, account.currency), None))
    if account.monthly_spend_limit is not None:
        month = current_month(account, now)
        spent = _lock_month(account, month)
        rooms.append((account.monthly_spend_limit - spent, limit_note(account.monthly_spend_limit, account.currency),
                      month))
    if not rooms:
        return None
    amount, note, _ = min(rooms, key=lambda r: r[0])
    month = next((r[2] for r in rooms if r[2]), None)
    return Room(max(amount, ZERO), note, month)


def charge(account: Account, month: str, amount: Decimal) -> None:
    """Add a released slice to the month's figure; its row is already locked (``campaign_room``)."""
    db.session.execute(update(_SPEND).where(_SPEND.c.account_id == account.id, _SPEND.c.month == month)
                       .values(committed=_added(amount), updated_at=utcnow()))


def charge_regardless(account: Account, amount: Decimal, now: datetime | None = None) -> None:
    """Count a message no limit may refuse: the one confirmation an opt-out gets, which the
    person is owed whatever the account's budget. Call it before the row is added, so a month
    counted from the ledger here does not count the new row twice."""
    if account.monthly_spend_limit is None:
        return
    month = current_month(account, now)
    _ensure_month(account, month)
    charge(account, month, amount)


def _added(amount: Decimal):
    # Rounded to the ledger's 4 decimals: SQLite keeps these columns as floating point, and a sum
    # that lands a hair above the limit must not refuse a send that fits it exactly.
    return func.round(_SPEND.c.committed + amount, 4)


def blocked_note(account: Account, campaign: Campaign, now: datetime | None = None) -> str | None:
    """The pause note when not even the cheapest held message of the campaign fits its cap or the
    limit any more: resuming it could release nothing."""
    if campaign.spend_cap is None and account.monthly_spend_limit is None:
        return None
    room = campaign_room(account, campaign.id, campaign.spend_cap, now or utcnow())
    cheapest = db.session.scalar(select(func.min(_MSG.c.cost)).where(
        _MSG.c.batch_id == campaign.id, _MSG.c.status == Status.SCHEDULED, _MSG.c.scheduled_at.is_(None)))
    if room is None or cheapest is None or Decimal(cheapest) <= room.amount:
        return None
    return room.note


def preview_warnings(account: Account, cap: Decimal | None, cost: Decimal) -> list[str]:
    """What the cost preview says when the campaign would not fit its cap or this month's limit."""
    currency, warnings = account.currency, []
    if cap is not None and cost > cap:
        warnings.append(f"This campaign costs {money(cost, currency)}, more than its spending cap of "
                        f"{money(cap, currency)}: it will pause when the cap is reached.")
    if account.monthly_spend_limit is not None:
        left = max(account.monthly_spend_limit - committed(account), ZERO)
        if cost > left:
            warnings.append(f"Only {money(left, currency)} of the monthly spending limit of "
                            f"{money(account.monthly_spend_limit, currency)} is left: this campaign "
                            f"({money(cost, currency)}) will pause when the limit is reached.")
    return warnings
