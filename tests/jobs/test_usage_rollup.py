"""Usage rollups: a closed day is counted once, stored, and equals a live count over the messages;
today is counted live; a day is recounted only while its delivered figure may still grow; the time
zone is part of the key. Messages are written straight into the table with the times they would
have been stamped with, and ``now`` is given, so every case is exact whatever the date."""
from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select, update

from app.extensions import db
from app.models import Account, Message, Status, UsageDaily, UsageRollup, new_id
from app.services import senders, usage_rollup
from app.services.usage_rollup import CLOSE_AFTER, REFRESH, SETTLE, Figures, count_day

UTC = timezone.utc
OSLO = ZoneInfo("Europe/Oslo")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # 14:00 in Oslo, 08:00 in New York
TODAY = date(2026, 6, 15)
_numbers = itertools.count(1)


def at(day: date, hour: int, minute: int = 0, zone=OSLO) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


@pytest.fixture
def acme(account):
    """The ``account`` fixture, existing since January (days before an account existed are never stored)."""
    db.session.execute(update(Account).where(Account.id == account.id)
                       .values(created_at=datetime(2026, 1, 1, tzinfo=UTC)))
    db.session.commit()
    return db.session.get(Account, account.id)


def add(account, *, sent=None, failed=None, received=None, status=None, units=1, campaign_id=None,
        sender_profile_id=None) -> str:
    """One message with the stamps it would have: outbound unless ``received``."""
    inbound = received is not None
    status = status or (Status.RECEIVED if inbound else Status.FAILED if failed else Status.DELIVERED)
    message_id = new_id()
    db.session.execute(insert(Message.__table__).values(
        id=message_id, account_id=account.id, direction="INBOUND" if inbound else "OUTBOUND", message_type="PLAIN",
        from_number="Acme", to_number=f"+4791{next(_numbers):06d}", body="Hi", encoding="GSM-7", units=units, status=status,
        created_at=min(t for t in (sent, failed, received) if t is not None) - timedelta(seconds=1),
        sent_at=sent, failed_at=failed, received_at=received,
        delivered_at=sent if status == Status.DELIVERED else None, campaign_id=campaign_id, batch_id=campaign_id,
        sender_profile_id=sender_profile_id, currency="NOK", attempts=1))
    db.session.commit()
    return message_id


def by_day(account, first: date, last: date, now=NOW) -> dict[date, Figures]:
    found: dict[date, Figures] = {}
    for row in usage_rollup.rows(account, first, last, now):
        found[row.day] = found.get(row.day, Figures()) + row.figures
    return found


def live(account, day: date, zone=OSLO) -> Figures:
    return usage_rollup.total(count_day(account.id, zone, day)[0])


def rollups(account, zone="Europe/Oslo") -> dict[date, tuple[datetime, int]]:
    db.session.expire_all()
    return {r.day: (r.computed_at, r.unsettled) for r in db.session.scalars(
        select(UsageRollup).where(UsageRollup.account_id == account.id, UsageRollup.zone == zone))}


def test_closed_days_are_stored_once_and_equal_a_live_count(acme):
    d1, d2 = date(2026, 6, 10), date(2026, 6, 11)
    add(acme, sent=at(d1, 9), units=2)
    add(acme, sent=at(d1, 23, 59), units=3)  # the last minute of the day, local time
    add(acme, sent=at(d2, 0, 0))  # the first of the next
    add(acme, sent=at(d1, 10), failed=at(d2, 8), status=Status.FAILED)  # sent one day, failed the next
    add(acme, failed=at(d2, 9))  # refused by the carrier: failed, never sent
    add(acme, received=at(d2, 12))
    figures = by_day(acme, d1, d2)
    assert figures == {d1: Figures(sent=3, units=6, delivered=2, failed=0, received=0),
                       d2: Figures(sent=1, units=1, delivered=1, failed=2, received=1)}
    assert figures == {d1: live(acme, d1), d2: live(acme, d2)}
    stored = rollups(acme)
    assert set(stored) == {d1, d2} and all(unsettled == 0 for _, unsettled in stored.values())

    # Read again later: the rollup is what is read, not a new count (a message back-dated into the
    # closed day behind the rollup's back does not show), and it is not written again.
    add(acme, sent=at(d1, 12))
    assert by_day(acme, d1, d2, NOW + timedelta(days=3)) == figures
    assert rollups(acme) == stored
    assert db.session.scalar(select(func.count()).select_from(UsageDaily)) == 2  # one row per day here

    usage_rollup.forget(acme.id)  # what a back-dating import must do
    assert by_day(acme, d1, d2)[d1] == live(acme, d1) == Figures(sent=4, units=7, delivered=3)


def test_today_is_counted_live_and_never_stored(acme):
    add(acme, sent=at(TODAY, 9))
    assert by_day(acme, TODAY, TODAY) == {TODAY: Figures(sent=1, units=1, delivered=1)}
    add(acme, sent=at(TODAY, 13, 30), units=2)
    assert by_day(acme, TODAY, TODAY) == {TODAY: Figures(sent=2, units=3, delivered=2)}
    assert rollups(acme) == {}


@pytest.mark.parametrize("after_midnight, stored", [
    (timedelta(0), False),
    (CLOSE_AFTER - timedelta(seconds=1), False),  # still counted live: late commits may land in it
    (CLOSE_AFTER, True),
])
def test_a_day_closes_a_while_after_midnight(acme, after_midnight, stored):
    yesterday = TODAY - timedelta(days=1)
    add(acme, sent=at(yesterday, 23, 59))
    now = at(TODAY, 0) + after_midnight
    assert by_day(acme, yesterday, yesterday, now) == {yesterday: Figures(sent=1, units=1, delivered=1)}
    assert (yesterday in rollups(acme)) is stored


def test_a_late_delivery_report_shows_within_the_refresh_and_a_settled_day_is_final(acme):
    day = date(2026, 6, 12)
    waiting = add(acme, sent=at(day, 23, 50), status=Status.SENT)
    add(acme, sent=at(day, 12))
    first_read = at(day + timedelta(days=1), 1)
    assert by_day(acme, day, day, first_read)[day] == Figures(sent=2, units=2, delivered=1)
    assert rollups(acme)[day] == (first_read, 1)

    db.session.execute(update(Message).where(Message.id == waiting)
                       .values(status=Status.DELIVERED, delivered_at=first_read + timedelta(seconds=10)))
    db.session.commit()
    assert by_day(acme, day, day, first_read + REFRESH / 2)[day].delivered == 1  # not yet recounted
    second_read = first_read + REFRESH
    assert by_day(acme, day, day, second_read)[day] == Figures(sent=2, units=2, delivered=2) == live(acme, day)
    assert rollups(acme)[day] == (second_read, 0)

    # Settled: nothing left waiting, so the day is never counted again.
    assert by_day(acme, day, day, second_read + timedelta(days=1)) == {day: live(acme, day)}
    assert rollups(acme)[day] == (second_read, 0)


def test_a_day_still_waiting_for_reports_after_the_settle_time_is_final(acme):
    day = date(2026, 6, 1)
    add(acme, sent=at(day, 10), status=Status.SENT)  # a carrier that never reports
    late = at(day + timedelta(days=1), 0) + SETTLE + timedelta(hours=1)
    assert by_day(acme, day, day, late)[day] == Figures(sent=1, units=1)
    assert rollups(acme)[day] == (late, 1)
    assert by_day(acme, day, day, late + timedelta(days=5))
    assert rollups(acme)[day] == (late, 1)  # not counted again


def test_the_time_zone_is_part_of_the_key(acme):
    day = date(2026, 6, 10)
    # 02:30 UTC on the 11th: the 11th in Oslo (04:30), still the 10th in New York (22:30)
    add(acme, sent=datetime(2026, 6, 11, 2, 30, tzinfo=UTC))
    add(acme, sent=datetime(2026, 6, 10, 12, 0, tzinfo=UTC))
    nxt = day + timedelta(days=1)
    assert by_day(acme, day, nxt) == {day: Figures(1, 1, 1), nxt: Figures(1, 1, 1)}

    acme.timezone = "America/New_York"
    db.session.commit()
    assert by_day(acme, day, nxt) == {day: Figures(2, 2, 2)} == {day: live(acme, day, NEW_YORK)}
    assert set(rollups(acme, "America/New_York")) == {day, nxt}
    assert set(rollups(acme, "Europe/Oslo")) == {day, nxt}  # kept, and right again if the zone comes back

    acme.timezone = "Europe/Oslo"
    db.session.commit()
    assert by_day(acme, day, nxt) == {day: Figures(1, 1, 1), nxt: Figures(1, 1, 1)}


def test_days_before_the_account_existed_are_counted_but_not_stored(acme):
    day = date(2025, 12, 31)
    add(acme, sent=at(day, 12))
    assert by_day(acme, day, date(2026, 1, 2)) == {day: Figures(1, 1, 1)}
    assert set(rollups(acme)) == {date(2026, 1, 1), date(2026, 1, 2)}


def test_rows_split_by_campaign_and_sender_profile(acme):
    day = date(2026, 6, 3)
    profile = senders.create_profile(acme, "Support", "+4790000001")
    campaign_id = new_id()
    add(acme, sent=at(day, 9), campaign_id=campaign_id, sender_profile_id=profile.id, units=2)
    add(acme, sent=at(day, 10), campaign_id=campaign_id, sender_profile_id=profile.id)
    add(acme, sent=at(day, 11))
    found = {(r.campaign_id, r.sender_profile_id): r.figures for r in usage_rollup.rows(acme, day, day, NOW)}
    assert found == {(campaign_id, profile.id): Figures(2, 3, 2), (None, None): Figures(1, 1, 1)}

    # Deleting the profile sets its messages' profile to NULL; the stored rows follow.
    other = senders.create_profile(acme, "Other", "+4790000002", is_default=True)
    senders.delete_profile(acme, profile.id)
    assert other.id
    found = {(r.campaign_id, r.sender_profile_id): r.figures for r in usage_rollup.rows(acme, day, day, NOW)}
    live_rows = {(r.campaign_id, r.sender_profile_id): r.figures for r in count_day(acme.id, OSLO, day)[0]}
    assert found == live_rows == {(campaign_id, None): Figures(2, 3, 2), (None, None): Figures(1, 1, 1)}


def test_a_day_another_reader_just_stored_is_not_stored_twice(acme):
    day = date(2026, 6, 4)
    add(acme, sent=at(day, 9))
    usage_rollup._store(acme.id, "Europe/Oslo", OSLO, day, None, NOW)
    usage_rollup._store(acme.id, "Europe/Oslo", OSLO, day, None, NOW)  # as a racing reader would
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(UsageDaily)) == 1
    assert by_day(acme, day, day) == {day: Figures(1, 1, 1)}


def test_figures_are_the_account_own(acme, other_account):
    globex, _ = other_account
    db.session.execute(update(Account).where(Account.id == globex.id)
                       .values(created_at=datetime(2026, 1, 1, tzinfo=UTC)))
    db.session.commit()
    day = date(2026, 6, 5)
    add(acme, sent=at(day, 9))
    add(db.session.get(Account, globex.id), sent=at(day, 9), units=5)
    add(db.session.get(Account, globex.id), sent=at(TODAY, 9), units=5)
    assert by_day(acme, day, TODAY) == {day: Figures(1, 1, 1)}
