"""Usage figures by local day, read from rollups for closed days and counted live for the rest.

Why: usage pages, ``GET /v1/sms/usage`` and ``/stats`` add up a month (or 30 days) of messages. A
GROUP BY over a month of an account with a million messages takes a quarter of a second on
PostgreSQL, and grows with the traffic; the same figures summed from one row per day, campaign and
sender profile take a few milliseconds (``bench/usage_page.py``).

Definitions (those of ``app.services.usage``): a message counts as *sent* on the local day of its
``sent_at``, *failed* on that of its ``failed_at``, *received* on that of its ``received_at``;
*units* are the sent messages' parts; *delivered* counts the day's sent messages whose status is
DELIVERED. Cost is units times the account's price, computed when read (never stored, so a price
or currency change shows at once, as it always has in the API).

Design:

* A rollup is keyed by (account, time zone, local day). Days are the account's local days, so the
  zone is part of the key: when an account changes its time zone, the days of the new zone are
  simply other rollups (counted on first read); those of the old zone stay valid for the old zone.
* A day is *closed* once it ended ``CLOSE_AFTER`` ago (time for transactions that stamped a time
  of that day to commit, and for clocks that are a little behind). Every figure but *delivered* is
  keyed by the event's own timestamp, which is stamped once with the time it happens and never
  changes: after the day closed, no sent, failed or received message can join or leave it. So a
  closed day is counted once (``usage_daily`` rows per campaign and sender profile, plus a
  ``usage_rollups`` row saying it was counted), on the first read that needs it, and read from the
  rollup ever after. Days that are not closed (today, and yesterday shortly after midnight) are
  counted live on every read; so are days before the account existed, which normally have no
  traffic, so that no request can make the database store rollups for arbitrary centuries.
* *Delivered* is the exception: it is counted by the day the message was sent, but a delivery
  report may arrive after that day closed. The rollup records how many of the day's sent messages
  were still waiting for their report (``unsettled``). A day with none is final. A day with some is
  counted again when read, at most every ``REFRESH``, until it is ``SETTLE`` old (a carrier gives up
  on a message after its validity period, at most a few days; a report after that can only be a
  failure, which changes no delivered figure). So a late report shows within a minute.
* The API (``usage``, ``stats``, ``status``) and the dashboard read the same figures through
  ``days``, so they always agree; and each closed day equals a live count over the messages
  (``count_day``), which is how the rollup was made. Reads add the stored rows up in the database
  (by day, by campaign, by sender profile, or in total) and add today's live rows to them.
* Counting is a day at a time through partial indexes on (account_id, sent_at / failed_at /
  received_at) (``app.models.usage``), so a day costs what its own traffic costs, whatever the size
  of the table. The first read of a fresh month, or after a time zone change, counts its closed
  days once; every later read sums stored rows and counts today.
* Concurrent readers may count the same day at once: the rollup row is inserted with ON CONFLICT
  DO NOTHING and only the writer whose insert took stores figures; a refresh deletes the old
  rollup only if it is still the one it read (its ``computed_at``). What is stored is committed.
* Back-dating messages (an import of old traffic, a manual UPDATE) bypasses the rule that events
  are stamped when they happen: call ``forget(account_id)`` afterwards and the days are recounted.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import delete, exists, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db
from app.models import Account, Message, Status, UsageDaily, UsageRollup, utcnow
from app.sms import get_zone

CLOSE_AFTER = timedelta(minutes=15)
REFRESH = timedelta(minutes=1)
SETTLE = timedelta(days=3)

_M = Message.__table__
_D = UsageDaily.__table__
_R = UsageRollup.__table__


@dataclass(frozen=True, slots=True)
class Figures:
    sent: int = 0
    units: int = 0
    delivered: int = 0
    failed: int = 0
    received: int = 0

    def __add__(self, other: "Figures") -> "Figures":
        # Spelled out: a month of rows is summed several ways per page, and astuple() is slow.
        return Figures(self.sent + other.sent, self.units + other.units, self.delivered + other.delivered,
                       self.failed + other.failed, self.received + other.received)

    @property
    def delivery_rate(self) -> float:
        """Share of the sent messages that reached the handset, as the API rounds it."""
        return round(self.delivered / self.sent, 4) if self.sent else 0.0


@dataclass(frozen=True, slots=True)
class Row:
    """The figures of one local day for one campaign (None: outside campaigns) and sender profile."""
    day: date
    campaign_id: str | None
    sender_profile_id: str | None
    figures: Figures


def total(rows) -> Figures:
    return sum((row.figures for row in rows), Figures())


def day_window(zone, day: date) -> tuple[datetime, datetime]:
    """[day 00:00, next day 00:00) in ``zone``, as UTC."""
    start = datetime.combine(day, time(), zone).astimezone(timezone.utc)
    end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(timezone.utc)
    return start, end


KEYS = ("day", "campaign_id", "sender_profile_id")  # what figures can be grouped by
FIELDS = ("sent", "units", "delivered", "failed", "received")


@dataclass(frozen=True)
class Days:
    """A run of the account's local days, ready to be added up: closed days in stored rollups
    (``stored``: first and last day, or None), the others counted live (``live``)."""
    account_id: str
    zone: str
    stored: tuple[date, date] | None
    live: list[Row]

    def by(self, *keys: str, first: date | None = None, last: date | None = None) -> dict[tuple, Figures]:
        """Figures grouped by ``keys`` (of ``KEYS``; none: one total under ``()``), over the days
        from ``first`` to ``last`` within the run. The stored part is added up by the database."""
        unknown = set(keys) - set(KEYS)
        if unknown:
            raise ValueError(f"cannot group by {sorted(unknown)}")
        found = self._stored_by(keys, first, last)
        for row in self.live:
            if (first is None or row.day >= first) and (last is None or row.day <= last):
                key = tuple(getattr(row, k) for k in keys)
                found[key] = found.get(key, Figures()) + row.figures
        return found

    def total(self, first: date | None = None, last: date | None = None) -> Figures:
        return self.by(first=first, last=last).get((), Figures())

    def _stored_by(self, keys: tuple[str, ...], first: date | None, last: date | None) -> dict[tuple, Figures]:
        if self.stored is None:
            return {}
        start = max(first, self.stored[0]) if first else self.stored[0]
        end = min(last, self.stored[1]) if last else self.stored[1]
        if start > end:
            return {}
        columns = [_D.c[k] for k in keys]
        query = (select(*columns, *(func.sum(_D.c[f]) for f in FIELDS))
                 .where(_D.c.account_id == self.account_id, _D.c.zone == self.zone, _D.c.day.between(start, end))
                 .group_by(*columns))
        found = {}
        for row in db.session.execute(query).all():
            figures = Figures(*(int(v or 0) for v in row[len(keys):]))
            if figures != Figures():  # no stored day at all still yields one empty total
                found[tuple(row[:len(keys)])] = figures
        return found


def days(account: Account, first: date, last: date, now: datetime | None = None) -> Days:
    """The account's local days ``first`` to ``last`` (inclusive): closed days rolled up (counted
    and stored, and committed, first if need be), the others counted now."""
    now = now or utcnow()
    zone = get_zone(account.timezone)
    run = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    born = account.created_at.astimezone(zone).date()
    # Closed days since the account exists: a contiguous run, with live days on either side.
    stored = [d for d in run if d >= born and day_window(zone, d)[1] + CLOSE_AFTER <= now]
    if stored:
        _ensure(account.id, account.timezone, zone, stored, now)
    live = [d for d in run if not stored or not stored[0] <= d <= stored[-1]]
    return Days(account.id, account.timezone, (stored[0], stored[-1]) if stored else None,
                _live(account.id, zone, live, now))


def rows(account: Account, first: date, last: date, now: datetime | None = None) -> list[Row]:
    """Every day, campaign and sender profile with traffic, one row each."""
    found = days(account, first, last, now).by(*KEYS)
    return [Row(day, campaign_id, profile_id, figures) for (day, campaign_id, profile_id), figures in found.items()]


def count_day(account_id: str, zone, day: date) -> tuple[list[Row], int]:
    """A live count of one local day over the messages, and how many of the day's sent messages
    still wait for a delivery report."""
    start, end = day_window(zone, day)

    def within(column):
        return (column >= start) & (column < end)

    outbound = _M.c.direction == "OUTBOUND"
    sent = outbound & within(_M.c.sent_at)
    query = (
        select(_M.c.campaign_id, _M.c.sender_profile_id,
               func.count().filter(sent),
               func.coalesce(func.sum(_M.c.units).filter(sent), 0),
               func.count().filter(sent & (_M.c.status == Status.DELIVERED)),
               func.count().filter(outbound & within(_M.c.failed_at)),
               func.count().filter((_M.c.direction == "INBOUND") & within(_M.c.received_at)),
               func.count().filter(sent & _M.c.status.notin_(sorted(Status.FINAL))))
        # The OR of the three ranges is what lets each partial index find its rows.
        .where(_M.c.account_id == account_id,
               or_(within(_M.c.sent_at), within(_M.c.failed_at), within(_M.c.received_at)))
        .group_by(_M.c.campaign_id, _M.c.sender_profile_id)
    )
    found, unsettled = [], 0
    for campaign_id, profile_id, *values in db.session.execute(query):
        *figures, waiting = (int(v or 0) for v in values)
        unsettled += waiting
        if any(figures):
            found.append(Row(day, campaign_id, profile_id, Figures(*figures)))
    return found, unsettled


def forget(account_id: str) -> None:
    """Drop the account's rollups (every zone): the next reads count the days again."""
    db.session.execute(delete(_R).where(_R.c.account_id == account_id))
    db.session.commit()


# -- live days -------------------------------------------------------------------------------------

def _live(account_id: str, zone, days: list[date], now: datetime) -> list[Row]:
    """Counted now, a day at a time. Apart from today (and yesterday, just after midnight), such
    days are the rest of this month or days before the account existed, which normally have no
    traffic at all: one look at a run of them saves a query per day."""
    today = now.astimezone(zone).date()
    recent = [d for d in days if today - timedelta(days=1) <= d <= today]
    found = [row for day in recent for row in count_day(account_id, zone, day)[0]]
    for run in _runs([d for d in days if d not in recent]):
        if len(run) == 1 or _any_event(account_id, day_window(zone, run[0])[0], day_window(zone, run[-1])[1]):
            found += [row for day in run for row in count_day(account_id, zone, day)[0]]
    return found


def _runs(days: list[date]) -> list[list[date]]:
    """Consecutive days in runs: [1, 2, 5, 6] -> [[1, 2], [5, 6]]."""
    runs: list[list[date]] = []
    for day in days:
        if runs and day == runs[-1][-1] + timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _any_event(account_id: str, start: datetime, end: datetime) -> bool:
    def hit(column):
        return exists().where(_M.c.account_id == account_id, column >= start, column < end)

    return bool(db.session.scalar(select(or_(hit(_M.c.sent_at), hit(_M.c.failed_at), hit(_M.c.received_at)))))


# -- rollups ---------------------------------------------------------------------------------------

def _ensure(account_id: str, zone_name: str, zone, days: list[date], now: datetime) -> None:
    """Count and store the days that have no rollup yet, or whose delivered figure may have grown."""
    known = {
        day: (computed_at, unsettled) for day, computed_at, unsettled in db.session.execute(
            select(_R.c.day, _R.c.computed_at, _R.c.unsettled).where(
                _R.c.account_id == account_id, _R.c.zone == zone_name, _R.c.day.between(days[0], days[-1])))
    }
    todo = [(day, known.get(day)) for day in days if _needs_count(zone, day, known.get(day), now)]
    for day, old in todo:
        _store(account_id, zone_name, zone, day, old, now)
    if todo:
        db.session.commit()


def _needs_count(zone, day: date, known: tuple[datetime, int] | None, now: datetime) -> bool:
    if known is None:
        return True
    computed_at, unsettled = known
    settled = unsettled == 0 or computed_at >= day_window(zone, day)[1] + SETTLE
    return not settled and computed_at <= now - REFRESH


def _store(account_id: str, zone_name: str, zone, day: date, old: tuple[datetime, int] | None,
           now: datetime) -> None:
    key = (_R.c.account_id == account_id, _R.c.zone == zone_name, _R.c.day == day)
    if old is not None:
        # Only the reader that still sees the rollup it read replaces it (its rows go with it).
        if db.session.execute(delete(_R).where(*key, _R.c.computed_at == old[0]).returning(_R.c.day)).first() is None:
            return
    found, unsettled = count_day(account_id, zone, day)
    claimed = db.session.execute(_insert_new_rollup().values(
        account_id=account_id, zone=zone_name, day=day, computed_at=now, unsettled=unsettled).returning(_R.c.day))
    if claimed.first() is None:
        return  # another reader stored this day just now
    if found:
        db.session.execute(insert(UsageDaily), [
            {"account_id": account_id, "zone": zone_name, "day": day, "campaign_id": row.campaign_id,
             "sender_profile_id": row.sender_profile_id, **asdict(row.figures)} for row in found])


def _insert_new_rollup():
    dialect = db.session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(_R)
    return statement.on_conflict_do_nothing()
