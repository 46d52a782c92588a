"""A campaign scheduled for a wall time starts at exactly that UTC instant, across daylight saving
changes, and its send window opens at the window's next opening; everything with an injected
clock (``now=``), so the tests mean the same on any day they run."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Campaign, CampaignStatus, Message, Status
from app.services import campaign_run, campaigns
from app.services.campaigns import CampaignSpec
from app.services.errors import Invalid
from app.services.groups import create_group
from app.services.simulator import deliver_due_reports
from app.sms import ScheduleError, get_zone, parse_window
from tests.jobs.test_campaign_run import add_contacts, numbers

_S = CampaignStatus
SECOND = timedelta(seconds=1)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.fixture
def group(account):
    customers = create_group(account, "Customers")
    add_contacts(account, customers, numbers(5))
    return customers


def draft(account, group, **changes) -> Campaign:
    spec = CampaignSpec(name="Spring sale", message="Hi {first_name|there}", group_ids=(group.id,))
    return campaigns.create(account, CampaignSpec(**{**spec.__dict__, **changes}))


def fresh(campaign_id: str) -> Campaign:
    db.session.expire_all()
    return db.session.get(Campaign, campaign_id)


# Wall times around the 2027 clock changes: Europe/Oslo springs forward 2027-03-28 02:00 -> 03:00
# and falls back 2027-10-31 03:00 -> 02:00; America/New_York on 2027-03-14 and 2027-11-07.
ON_TIME = [
    # zone, wall time, the clock when scheduling, the instant it must start
    ("Europe/Oslo", "2027-03-27T09:00", "2027-03-20T12:00", "2027-03-27T08:00"),  # CET, the day before
    ("Europe/Oslo", "2027-03-28T09:00", "2027-03-20T12:00", "2027-03-28T07:00"),  # CEST, the day of the change
    ("Europe/Oslo", "2027-03-29T09:00", "2027-03-20T12:00", "2027-03-29T07:00"),  # the day after
    ("Europe/Oslo", "2027-03-28T03:00", "2027-03-20T12:00", "2027-03-28T01:00"),  # right after the jump
    ("Europe/Oslo", "2027-10-30T09:00", "2027-10-20T12:00", "2027-10-30T07:00"),  # CEST, the day before
    ("Europe/Oslo", "2027-10-31T09:00", "2027-10-20T12:00", "2027-10-31T08:00"),  # CET, the day of the change
    ("Europe/Oslo", "2027-11-01T09:00", "2027-10-20T12:00", "2027-11-01T08:00"),  # the day after
    ("America/New_York", "2027-03-13T09:00", "2027-03-01T12:00", "2027-03-13T14:00"),  # EST
    ("America/New_York", "2027-03-14T09:00", "2027-03-01T12:00", "2027-03-14T13:00"),  # EDT
    ("America/New_York", "2027-11-06T09:00", "2027-11-01T12:00", "2027-11-06T13:00"),  # EDT
    ("America/New_York", "2027-11-07T09:00", "2027-11-01T12:00", "2027-11-07T14:00"),  # EST
    ("Asia/Tokyo", "2027-03-28T09:00", "2027-03-20T12:00", "2027-03-28T00:00"),  # no DST at all
    ("Europe/Oslo", "2027-03-28T09:00+02:00", "2027-03-20T12:00", "2027-03-28T07:00"),  # an explicit offset
]


@pytest.mark.parametrize("zone, wall, now, instant", ON_TIME)
def test_starts_at_exactly_the_instant_of_its_wall_time(account, group, zone, wall, now, instant):
    campaign = draft(account, group)
    cid = campaign.id
    campaign, note = campaigns.schedule(account, campaign, wall, zone, now=utc(now))
    assert note is None
    assert (campaign.status, campaign.scheduled_at, campaign.timezone) == (_S.SCHEDULED, utc(instant), zone)

    assert campaign_run.start_due(now=utc(instant) - SECOND) == []
    assert fresh(cid).status == _S.SCHEDULED
    assert campaign_run.start_due(now=utc(instant)) == [cid]
    campaign = fresh(cid)
    assert (campaign.status, campaign.started_at) == (_S.SENDING, utc(instant))
    assert campaign_run.start_due(now=utc(instant) + SECOND) == []  # started once


AMBIGUOUS = [
    # The wall time occurs twice (clocks go back): the first occurrence is taken, and said so.
    ("Europe/Oslo", "2027-10-31T02:30", "2027-10-20T12:00", "2027-10-31T00:30", "2027-10-31T00:30:00Z"),
    ("America/New_York", "2027-11-07T01:30", "2027-11-01T12:00", "2027-11-07T05:30", "2027-11-07T05:30:00Z"),
]


@pytest.mark.parametrize("zone, wall, now, instant, shown", AMBIGUOUS)
def test_an_ambiguous_wall_time_takes_the_first_occurrence_with_a_note(account, group, zone, wall, now, instant,
                                                                       shown):
    campaign = draft(account, group)
    cid = campaign.id
    campaign, note = campaigns.schedule(account, campaign, wall, zone, now=utc(now))
    assert campaign.scheduled_at == utc(instant)
    assert note and "occurs twice" in note and zone in note and shown in note and "first occurrence" in note
    assert campaign_run.start_due(now=utc(instant) - SECOND) == []
    assert campaign_run.start_due(now=utc(instant)) == [cid]


REFUSED = [
    # zone, wall time, the clock, what the error must say
    ("Europe/Oslo", "2027-03-28T02:30", "2027-03-20T12:00", "2027-03-28 02:30 does not exist in Europe/Oslo"),
    ("Europe/Oslo", "2027-03-28T02:00", "2027-03-20T12:00", "2027-03-28 02:00 does not exist in Europe/Oslo"),
    ("America/New_York", "2027-03-14T02:30", "2027-03-01T12:00",
     "2027-03-14 02:30 does not exist in America/New_York"),
    # More than 30 days (SCHEDULE_MAX_DAYS) ahead; 30 days and a minute is one minute too many.
    ("Europe/Oslo", "2027-05-01T09:00", "2027-03-20T12:00", "at most 30 days ahead"),
    ("UTC", "2027-04-19T12:01", "2027-03-20T12:00", "at most 30 days ahead"),
    # In the past, by a minute or by a year.
    ("Europe/Oslo", "2027-03-29T08:59", "2027-03-29T07:00", "in the past (2027-03-29T06:59:00Z)"),
    ("Europe/Oslo", "2026-03-29T09:00", "2027-03-29T07:00", "in the past"),
]


@pytest.mark.parametrize("zone, wall, now, message", REFUSED)
def test_a_time_that_does_not_exist_or_is_out_of_range_is_refused(account, group, zone, wall, now, message):
    campaign = draft(account, group)
    with pytest.raises(ScheduleError) as caught:
        campaigns.schedule(account, campaign, wall, zone, now=utc(now))
    assert message in caught.value.message
    assert caught.value.code == "invalid_schedule"
    campaign = fresh(campaign.id)
    assert (campaign.status, campaign.scheduled_at) == (_S.DRAFT, None)


def test_exactly_thirty_days_ahead_is_accepted(account, group):
    campaign, _ = campaigns.schedule(account, draft(account, group), "2027-04-19T12:00", "UTC",
                                     now=utc("2027-03-20T12:00"))
    assert campaign.scheduled_at == utc("2027-04-19T12:00")


def test_the_present_instant_is_refused_as_passed(account, group):
    campaign = draft(account, group)
    with pytest.raises(Invalid) as caught:
        campaigns.schedule(account, campaign, "2027-03-29T09:00", "Europe/Oslo", now=utc("2027-03-29T07:00"))
    assert caught.value.code == "invalid_schedule" and "passed" in caught.value.message
    assert fresh(campaign.id).status == _S.DRAFT


@pytest.mark.parametrize("first, second", [
    ("2027-03-29T09:00", "2027-03-30T09:00"),  # later
    ("2027-03-30T09:00", "2027-03-28T09:00"),  # earlier, across the change
])
def test_reschedule_moves_the_start(account, group, first, second):
    zone, now = get_zone("Europe/Oslo"), utc("2027-03-20T12:00")
    campaign = draft(account, group)
    cid = campaign.id
    campaigns.schedule(account, campaign, first, "Europe/Oslo", now=now)
    campaign, _ = campaigns.schedule(account, fresh(cid), second, now=now)  # its own zone by default
    moved = datetime.fromisoformat(second).replace(tzinfo=zone).astimezone(timezone.utc)
    assert campaign.scheduled_at == moved

    old = datetime.fromisoformat(first).replace(tzinfo=zone).astimezone(timezone.utc)
    if old < moved:
        assert campaign_run.start_due(now=old) == []
    assert campaign_run.start_due(now=moved - SECOND) == []
    assert campaign_run.start_due(now=moved) == [cid]


@pytest.mark.parametrize("stop, status", [
    (campaigns.unschedule, _S.DRAFT),
    (campaigns.cancel, _S.CANCELLED),
])
def test_unschedule_and_cancel_stop_it_from_starting(account, group, stop, status):
    campaign = draft(account, group)
    cid = campaign.id
    campaign, _ = campaigns.schedule(account, campaign, "2027-03-29T09:00", "Europe/Oslo",
                                     now=utc("2027-03-20T12:00"))
    stop(campaign)
    assert fresh(cid).status == status
    for later in (utc("2027-03-29T07:00"), utc("2027-04-30T00:00")):
        assert campaign_run.start_due(now=later) == []
    assert fresh(cid).status == status


# -- send windows ------------------------------------------------------------------------------

WINDOWS = [
    # zone, window start and end, a moment it is closed, the instant it next opens
    ("Europe/Oslo", "09:00", "17:00", "2027-03-27T20:00", "2027-03-28T07:00"),  # over the spring-forward night
    ("Europe/Oslo", "09:00", "17:00", "2027-10-30T18:00", "2027-10-31T08:00"),  # over the fall-back night
    ("Europe/Oslo", "20:00", "08:00", "2027-03-28T12:00", "2027-03-28T18:00"),  # over midnight, after the change
    ("Europe/Oslo", "20:00", "08:00", "2027-10-31T12:00", "2027-10-31T19:00"),
    ("America/New_York", "09:00", "17:00", "2027-03-13T23:00", "2027-03-14T13:00"),
    ("America/New_York", "09:00", "17:00", "2027-11-06T22:00", "2027-11-07T14:00"),
]


def ledger(campaign_id: str) -> Counter:
    db.session.expire_all()
    return Counter(db.session.scalars(select(Message.status).where(Message.campaign_id == campaign_id)))


@pytest.mark.parametrize("zone, start, end, closed, opens", WINDOWS)
def test_a_closed_window_releases_nothing_until_it_opens(account, group, settings, zone, start, end, closed, opens):
    settings(SIMULATOR_REPORT_LATENCY_MS=0)
    campaign = draft(account, group, timezone=zone, window_start=start, window_end=end)
    cid = campaign.id
    assert parse_window(start, end).next_open(utc(closed), get_zone(zone)) == utc(opens)
    # Scheduled by instant (an explicit offset), so the campaign keeps its zone for the window.
    campaigns.schedule(account, campaign, closed + "+00:00", zone, now=utc(closed) - timedelta(days=1))
    assert campaign_run.start_due(now=utc(closed)) == [cid]

    # Closed: the run writes the ledger but releases nothing, and the tick gives it no new run.
    outcome = campaign_run.run(cid, now=utc(closed))
    assert outcome["dispatched"] == 0 and not outcome["completed"]
    assert ledger(cid) == {Status.SCHEDULED: 5}
    for now in (utc(closed), utc(opens) - SECOND):
        assert not campaign_run._may_release(cid, now)
        assert campaign_run.runs_to_resume(now=now) == []

    # Open at exactly the next opening: the tick would resume it, and the run sends everything.
    assert campaign_run._may_release(cid, utc(opens))
    assert campaign_run.runs_to_resume(now=utc(opens)) == [cid]
    assert campaign_run.run(cid, now=utc(opens))["dispatched"] == 5
    deliver_due_reports()
    assert campaign_run.complete_finished(cid) == 1
    assert ledger(cid) == {Status.DELIVERED: 5}
    assert fresh(cid).status == _S.COMPLETED

