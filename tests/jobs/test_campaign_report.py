"""The campaign report read from a known ledger: message rows written straight into the database,
so every figure below is counted by hand from the rows."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from app.extensions import db
from app.models import Campaign, CampaignStatus, Message, Status, new_id
from app.services import campaign_report as report_service
from app.services import campaign_recipients
from app.services.campaign_recipients import RecipientFilter, number_digits
from app.services.campaign_report import bucket_start, bucket_starts, bucket_width

UTC = timezone.utc
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # 10:00 in Oslo
_numbers = iter(range(10**6))


def make_campaign(account, status=CampaignStatus.COMPLETED, started_at=T0, ended_at=T0 + timedelta(minutes=40),
                  name="Spring sale") -> Campaign:
    final = {CampaignStatus.COMPLETED: "completed_at", CampaignStatus.CANCELLED: "cancelled_at"}.get(status)
    campaign = Campaign(account_id=account.id, name=name, body="Hi {first_name|there}", timezone=account.timezone,
                        status=status, started_at=started_at, **({final: ended_at} if final else {}))
    db.session.add(campaign)
    db.session.commit()
    return campaign


def add(campaign, status, count=1, *, account_id=None, units=1, number=None, **columns) -> list[str]:
    """``count`` ledger rows of ``campaign`` in ``status``; cost is 0.50 per unit."""
    rows = [{
        "id": new_id(), "account_id": account_id or campaign.account_id, "batch_id": campaign.id,
        "campaign_id": campaign.id, "direction": "OUTBOUND", "message_type": "PLAIN", "from_number": "Acme",
        "to_number": number or f"+4791{next(_numbers):06d}", "body": "Hi", "encoding": "GSM-7", "units": units,
        "status": status, "created_at": T0, "attempts": 1, "provider": "simulator",
        "cost": Decimal("0.50") * units, "currency": "NOK", **columns,
    } for _ in range(count)]
    db.session.execute(insert(Message.__table__), rows)
    db.session.commit()
    return [r["id"] for r in rows]


def delivered_after(campaign, seconds, **columns):
    return add(campaign, Status.DELIVERED, sent_at=T0, delivered_at=T0 + timedelta(seconds=seconds), **columns)


FORMULA = '=HYPERLINK("http://evil.example","click")'


def known_ledger(account, other_account=None) -> Campaign:
    """17 messages in every status, with the figures asserted in ``test_figures_of_a_known_ledger``."""
    campaign = make_campaign(account)
    for seconds in (5, 10, 30, 90, 400):
        delivered_after(campaign, seconds, number=f"+4790000{seconds:03d}")
    delivered_after(campaign, 4000, units=2, number="+4790004000")
    # Delivered before its acceptance was recorded: no send time, so no time to delivery.
    add(campaign, Status.DELIVERED, delivered_at=T0 + timedelta(seconds=20), number="+4790000999")
    add(campaign, Status.SENT, 2, sent_at=T0)
    add(campaign, Status.FAILED, 2, sent_at=T0, failed_at=T0 + timedelta(seconds=50),
        error_code="UNKNOWN_SUBSCRIBER", error_message="Unknown subscriber")
    # Refused by the provider: never sent, so not billed.
    add(campaign, Status.FAILED, failed_at=T0 + timedelta(seconds=1), error_code="REJECTED", error_message=FORMULA,
        number="+4790000666")
    add(campaign, Status.SENDING, sending_at=T0)
    add(campaign, Status.QUEUED, queued_at=T0)
    add(campaign, Status.SCHEDULED, 2)
    add(campaign, Status.CANCELLED, cancelled_at=T0)
    if other_account is not None:
        # Another tenant's row claiming the campaign's batch: never counted.
        add(campaign, Status.DELIVERED, 3, account_id=other_account.id, sent_at=T0, delivered_at=T0)
    return campaign


def test_figures_of_a_known_ledger(account, other_account):
    campaign = known_ledger(account, other_account[0])

    report = report_service.report(campaign, "Europe/Oslo")

    assert report.statuses == {"DELIVERED": 7, "SENT": 2, "SENDING": 1, "QUEUED": 1, "SCHEDULED": 2, "FAILED": 3,
                               "CANCELLED": 1}
    assert list(report.statuses) == list(report_service.STATUSES)
    # The campaign is COMPLETED, so its 2 SENT messages are no longer awaited: "sent, no delivery report".
    assert (report.recipients, report.delivered, report.failed, report.in_flight, report.unreported) == (17, 7, 3, 2, 2)
    assert report.delivery_rate == pytest.approx(7 / 12)  # delivered / (delivered + failed + sent)
    # Billed: the 6 delivered with a send time (one of 2 units), 2 sent, 2 failed after sending.
    assert report.units == 11 and report.costs == [("NOK", Decimal("5.5000"))]
    # Planned: everything but the cancelled one.
    assert report.planned_units == 17 and report.planned_costs == [("NOK", Decimal("8.5000"))]
    assert report.latency.buckets == [("< 10 s", 1), ("10 s – 1 min", 2), ("1 – 5 min", 1), ("5 min – 1 h", 1),
                                      ("≥ 1 h", 1)]
    assert report.latency.measured == 6
    assert report.latency.median == pytest.approx(60.0)  # (30 + 90) / 2
    assert report.live is False and report.timeline is None


def test_failure_reasons_most_frequent_first(account):
    campaign = known_ledger(account)
    reasons = report_service.failure_reasons(campaign)
    assert [(r.error_code, r.error_message, r.count) for r in reasons] == [
        ("UNKNOWN_SUBSCRIBER", "Unknown subscriber", 2), ("REJECTED", FORMULA, 1)]


@pytest.mark.parametrize("latencies, median", [
    ([7], 7.0),
    ([3, 1, 2], 2.0),
    ([1, 2, 3, 100], 2.5),
    ([61, 3599, 3600, 3601], 3599.5),
])
def test_median_time_to_delivery(account, latencies, median):
    campaign = make_campaign(account)
    for seconds in latencies:
        delivered_after(campaign, seconds)
    assert report_service.report(campaign, "UTC").latency.median == pytest.approx(median)


def test_latency_bucket_bounds_are_exclusive_above(account):
    campaign = make_campaign(account)
    for seconds in (0, 9.999, 10, 59.999, 60, 299, 300, 3599, 3600, 86400):
        delivered_after(campaign, seconds)
    counts = [n for _, n in report_service.report(campaign, "UTC").latency.buckets]
    assert counts == [2, 2, 2, 2, 2]


def test_an_empty_campaign_reports_zeros(account):
    campaign = make_campaign(account, CampaignStatus.DRAFT, started_at=None)
    report = report_service.report(campaign, "Europe/Oslo", timeline=True)
    assert report.recipients == 0 and report.delivery_rate is None and report.latency.median is None
    assert report.costs == [] and report.units == 0
    assert report.timeline.starts == [] and report.timeline.delivered == []


# -- over time ----------------------------------------------------------------------------------

def test_timeline_in_minutes_for_a_short_campaign_in_the_accounts_zone(account):
    campaign = make_campaign(account, ended_at=T0 + timedelta(minutes=40))
    add(campaign, Status.DELIVERED, 2, sent_at=T0, delivered_at=T0 + timedelta(seconds=30))
    add(campaign, Status.DELIVERED, sent_at=T0, delivered_at=T0 + timedelta(minutes=5, seconds=10))
    add(campaign, Status.FAILED, failed_at=T0 + timedelta(minutes=5, seconds=59))
    add(campaign, Status.DELIVERED, sent_at=T0, delivered_at=T0 + timedelta(minutes=39))
    add(campaign, Status.SENT, sent_at=T0 + timedelta(minutes=20))  # not an outcome: not on the timeline

    timeline = report_service.report(campaign, "Europe/Oslo", timeline=True).timeline

    assert (timeline.seconds, timeline.unit) == (60, "minute")
    assert timeline.starts == [T0 + timedelta(minutes=m) for m in range(40)]
    assert timeline.labels[:2] == ["10:00", "10:01"] and timeline.labels[-1] == "10:39"
    assert timeline.delivered[0] == 2 and timeline.delivered[5] == 1 and timeline.delivered[39] == 1
    assert sum(timeline.delivered) == 4
    assert timeline.failed[5] == 1 and sum(timeline.failed) == 1


def test_timeline_in_local_hours_with_a_half_hour_offset(account):
    start = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)  # 05:30 in Kolkata
    campaign = make_campaign(account, started_at=start, ended_at=start + timedelta(hours=36))
    add(campaign, Status.DELIVERED, sent_at=start, delivered_at=start + timedelta(minutes=10))  # 05:40 local
    add(campaign, Status.DELIVERED, sent_at=start, delivered_at=start + timedelta(minutes=35))  # 06:05 local
    add(campaign, Status.FAILED, failed_at=start + timedelta(hours=35, minutes=59))  # 17:29 local next day

    timeline = report_service.report(campaign, "Asia/Kolkata", timeline=True).timeline

    assert timeline.unit == "hour"
    # Local hours: 05:00-06:00 in Kolkata starts at 23:30 UTC.
    assert timeline.starts[0] == start - timedelta(minutes=30) and timeline.starts[1] == start + timedelta(minutes=30)
    assert all(b - a == timedelta(hours=1) for a, b in zip(timeline.starts, timeline.starts[1:]))
    assert timeline.labels[:3] == ["2026-11-20 05:00", "2026-11-20 06:00", "2026-11-20 07:00"]
    assert timeline.delivered[:2] == [1, 1] and sum(timeline.delivered) == 2
    assert timeline.labels[-1] == "2026-11-21 17:00" and timeline.failed[-1] == 1


def test_timeline_in_local_days_across_a_dst_change(account):
    start = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    campaign = make_campaign(account, started_at=start, ended_at=datetime(2026, 10, 30, 12, 0, tzinfo=UTC))
    # 00:30 CEST and 23:30 CET: the first and last half hour of the 25-hour 25 October in Oslo.
    add(campaign, Status.DELIVERED, sent_at=start, delivered_at=datetime(2026, 10, 24, 22, 30, tzinfo=UTC))
    add(campaign, Status.DELIVERED, sent_at=start, delivered_at=datetime(2026, 10, 25, 22, 30, tzinfo=UTC))
    add(campaign, Status.FAILED, failed_at=datetime(2026, 10, 30, 11, 0, tzinfo=UTC))

    timeline = report_service.report(campaign, "Europe/Oslo", timeline=True).timeline

    assert timeline.unit == "day"
    assert timeline.labels == [f"2026-10-{d}" for d in range(20, 31)]
    day = timeline.labels.index("2026-10-25")
    assert timeline.starts[day] == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    assert timeline.starts[day + 1] == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    assert timeline.delivered[day] == 2 and sum(timeline.delivered) == 2
    assert timeline.failed[-1] == 1


def test_a_live_campaigns_timeline_runs_to_now(account):
    campaign = make_campaign(account, CampaignStatus.SENDING)
    add(campaign, Status.DELIVERED, sent_at=T0, delivered_at=T0 + timedelta(minutes=2))
    add(campaign, Status.QUEUED, queued_at=T0)

    report = report_service.report(campaign, "UTC", timeline=True, now=T0 + timedelta(minutes=9, seconds=30))

    assert report.live is True
    assert report.timeline.starts == [T0 + timedelta(minutes=m) for m in range(10)]
    assert report.timeline.delivered == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("status, in_flight, live", [
    (CampaignStatus.SENDING, False, True),
    (CampaignStatus.PAUSED, True, True),  # released messages are still on their way
    (CampaignStatus.PAUSED, False, False),
    (CampaignStatus.COMPLETED, False, False),
    (CampaignStatus.CANCELLED, True, False),
])
def test_live_while_sending_or_paused_with_messages_on_their_way(account, status, in_flight, live):
    campaign = make_campaign(account, status)
    add(campaign, Status.SENT if in_flight else Status.DELIVERED, sent_at=T0, delivered_at=None if in_flight else T0)
    # Within REPORT_WAIT_HOURS of the send: the SENT one is still awaited (tests/jobs/test_report_wait.py: after it).
    assert report_service.report(campaign, "UTC", now=T0 + timedelta(hours=1)).live is live


@pytest.mark.parametrize("span, finest, width", [
    (0, 60, 60),
    (59 * 60, 60, 60),  # 60 one-minute buckets
    (60 * 60, 60, 300),
    (4 * 3600, 60, 300),
    (5 * 3600, 60, 900),
    (14 * 3600, 60, 900),
    (15 * 3600, 60, 3600),
    (59 * 3600, 60, 3600),
    (60 * 3600, 60, 86400),
    (400 * 86400, 60, 86400),  # days however long
    (60, 900, 900),  # never finer than the database grouped
])
def test_bucket_width_is_the_smallest_showing_at_most_60_buckets(span, finest, width):
    assert bucket_width(span, finest) == width


OSLO, KOLKATA = ZoneInfo("Europe/Oslo"), ZoneInfo("Asia/Kolkata")


@pytest.mark.parametrize("instant, width, zone, start", [
    (datetime(2026, 11, 20, 9, 7, 59, tzinfo=UTC), 60, OSLO, datetime(2026, 11, 20, 9, 7, tzinfo=UTC)),
    (datetime(2026, 11, 20, 9, 7, 59, tzinfo=UTC), 300, OSLO, datetime(2026, 11, 20, 9, 5, tzinfo=UTC)),
    (datetime(2026, 11, 20, 9, 7, 59, tzinfo=UTC), 900, KOLKATA, datetime(2026, 11, 20, 9, 0, tzinfo=UTC)),
    (datetime(2026, 11, 20, 9, 7, tzinfo=UTC), 3600, KOLKATA, datetime(2026, 11, 20, 8, 30, tzinfo=UTC)),
    (datetime(2026, 11, 20, 9, 7, tzinfo=UTC), 3600, OSLO, datetime(2026, 11, 20, 9, 0, tzinfo=UTC)),
    (datetime(2026, 11, 20, 23, 30, tzinfo=UTC), 86400, OSLO, datetime(2026, 11, 20, 23, 0, tzinfo=UTC)),
    (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), 86400, OSLO, datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),  # 23 h day
])
def test_bucket_start(instant, width, zone, start):
    assert bucket_start(instant, width, zone) == start


def test_bucket_starts_over_the_hour_clocks_go_back():
    # 25 October 2026, Oslo: 02:00-03:00 happens twice; both are buckets of their own.
    starts = bucket_starts(datetime(2026, 10, 24, 23, 0, tzinfo=UTC), datetime(2026, 10, 25, 2, 0, tzinfo=UTC),
                           3600, OSLO)
    assert starts == [datetime(2026, 10, 24, 23, 0, tzinfo=UTC) + timedelta(hours=h) for h in range(4)]
    assert [s.astimezone(OSLO).strftime("%H:%M%z") for s in starts] == ["01:00+0200", "02:00+0200", "02:00+0100",
                                                                        "03:00+0100"]


# -- recipients ------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, digits", [
    (None, None), ("", None), ("   ", None), ("9123", "9123"), ("+47 912 34", "4791234"),
    ("0047 912", "47912"), ("abc", ""), ("٩١٢", ""),  # other scripts' digits are not a phone number's
])
def test_number_digits(typed, digits):
    assert number_digits(typed) == digits


def test_recipients_by_number_filtered_and_paged(account, other_account):
    campaign = known_ledger(account, other_account[0])

    everyone = campaign_recipients.recipients(campaign, RecipientFilter(), 1, 5)
    assert everyone.total == 17
    numbers = [m.to_number for m in everyone.items]
    assert numbers == sorted(numbers) and len(numbers) == 5
    second = campaign_recipients.recipients(campaign, RecipientFilter(), 2, 5)
    assert not {m.id for m in second.items} & {m.id for m in everyone.items}

    failed = campaign_recipients.recipients(campaign, RecipientFilter(status=Status.FAILED), 1, 50)
    assert failed.total == 3 and {m.status for m in failed.items} == {Status.FAILED}

    found = campaign_recipients.recipients(campaign, RecipientFilter(digits="4790000"), 1, 50)
    assert sorted(m.to_number for m in found.items) == ["+4790000005", "+4790000010", "+4790000030",
                                                        "+4790000090", "+4790000400", "+4790000666",
                                                        "+4790000999"]
    both = campaign_recipients.recipients(campaign, RecipientFilter(status=Status.FAILED, digits="666"), 1, 50)
    assert [m.to_number for m in both.items] == ["+4790000666"]


def test_recipient_rows_for_the_csv(account):
    campaign = make_campaign(account)
    delivered_after(campaign, 5, number="+4790000001", units=2)
    add(campaign, Status.FAILED, failed_at=T0, error_code="REJECTED", error_message="No", number="+4790000002")

    rows = list(campaign_recipients.recipient_rows(campaign, RecipientFilter()))

    assert rows == [
        ("+4790000001", "DELIVERED", 2, Decimal("1.0000"), "NOK", "2026-11-20T09:00:00Z", "2026-11-20T09:00:05Z",
         None, None, None),
        ("+4790000002", "FAILED", 1, Decimal("0.5000"), "NOK", None, None, "2026-11-20T09:00:00Z", "REJECTED", "No"),
    ]
