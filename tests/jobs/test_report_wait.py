"""Campaigns complete even when the carrier never reports: a SENT message older than
``REPORT_WAIT_HOURS`` counts as settled for its campaign's completion, stays SENT, and the
campaign's report shows it as "sent, no delivery report"."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.jobs.ticker import run_tick
from app.models import Campaign, CampaignStatus, Message, Status
from app.providers.base import Report as CarrierReport
from app.services import campaign_report, campaign_run, campaigns
from app.services.campaign_run import counts_as_settled
from app.services.delivery import apply_reports
from app.services.simulator import deliver_due_reports
from tests.jobs.test_campaign_report import add, make_campaign
from app.services.groups import create_group
from tests.jobs.test_campaign_run import add_contacts, draft, ledger, numbers, reload

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WAIT = timedelta(hours=72)
JUST = timedelta(seconds=1)
SILENT = "7"  # of the audience's 30 numbers (+4792000001 ...), 3 end in it


@pytest.fixture
def audience(account):
    customers = create_group(account, "Customers")
    add_contacts(account, customers, numbers(30))
    return customers


@pytest.mark.parametrize("status, sent_at, settled", [
    (Status.DELIVERED, NOW, True),
    (Status.FAILED, None, True),  # refused by the provider: never sent
    (Status.CANCELLED, None, True),
    (Status.SENT, NOW, False),  # just accepted
    (Status.SENT, NOW - WAIT + JUST, False),
    (Status.SENT, NOW - WAIT, False),  # older than the wait, not as old as it
    (Status.SENT, NOW - WAIT - JUST, True),
    (Status.SENT, NOW - 10 * WAIT, True),
    (Status.SENT, None, False),  # cannot happen (SENT stamps sent_at); never taken as old
    (Status.SENDING, NOW - 10 * WAIT, False),  # the reconciler's, not the wait's
    (Status.QUEUED, None, False),
    (Status.SCHEDULED, None, False),
])
def test_counts_as_settled(status, sent_at, settled):
    assert counts_as_settled(status, sent_at, NOW, WAIT) is settled


@pytest.mark.parametrize("hours, wait", [(72, WAIT), (0.001, timedelta(seconds=3.6)), (0.5, timedelta(minutes=30))])
def test_report_wait_reads_fractional_hours(app, ctx, monkeypatch, hours, wait):
    monkeypatch.setitem(app.config, "REPORT_WAIT_HOURS", hours)
    assert campaign_run.report_wait() == wait


def test_report_wait_from_the_environment(monkeypatch):
    from app.config import load

    monkeypatch.setenv("REPORT_WAIT_HOURS", "0.001")
    assert load()["REPORT_WAIT_HOURS"] == 0.001
    monkeypatch.delenv("REPORT_WAIT_HOURS")
    assert load()["REPORT_WAIT_HOURS"] == 72.0


# A hand-written ledger for each case: (status, sent_at) rows; the database must answer what
# counts_as_settled answers for every row.
LEDGERS = {
    "all delivered": [(Status.DELIVERED, NOW - JUST)],
    "silent, waited out": [(Status.DELIVERED, NOW), (Status.SENT, NOW - WAIT - JUST)],
    "silent, still awaited": [(Status.DELIVERED, NOW), (Status.SENT, NOW - WAIT + JUST)],
    "one of two silent still awaited": [(Status.SENT, NOW - 2 * WAIT), (Status.SENT, NOW - JUST)],
    "all silent, waited out": [(Status.SENT, NOW - 2 * WAIT), (Status.SENT, NOW - WAIT - JUST)],
    "held": [(Status.SENT, NOW - 2 * WAIT), (Status.SCHEDULED, None)],
    "sending for long": [(Status.SENDING, None), (Status.FAILED, NOW)],
    "queued": [(Status.QUEUED, None)],
}


@pytest.mark.parametrize("name", LEDGERS)
def test_completion_agrees_with_counts_as_settled(account, name):
    rows = LEDGERS[name]
    campaign = make_campaign(account, CampaignStatus.SENDING, started_at=NOW - 3 * WAIT)
    campaign.materialized_at = NOW - 3 * WAIT
    db.session.commit()
    for status, sent_at in rows:
        add(campaign, status, sent_at=sent_at)
    expected = all(counts_as_settled(status, sent_at, NOW, WAIT) for status, sent_at in rows)

    assert campaign_run.complete_finished(campaign.id, now=NOW) == int(expected)
    assert reload(campaign.id).status == (CampaignStatus.COMPLETED if expected else CampaignStatus.SENDING)
    assert ledger(campaign.id) == {s: n for s, n in _counts(rows).items()}  # no message moved


def _counts(rows) -> dict:
    counts: dict = {}
    for status, _ in rows:
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_only_the_campaigns_own_messages_count(account):
    """Another campaign's silent message does not hold this one open, nor the reverse."""
    done = make_campaign(account, CampaignStatus.SENDING, name="Done")
    waiting = make_campaign(account, CampaignStatus.SENDING, name="Waiting")
    for campaign in (done, waiting):
        campaign.materialized_at = NOW - 3 * WAIT
    db.session.commit()
    add(done, Status.SENT, sent_at=NOW - WAIT - JUST)
    add(waiting, Status.SENT, sent_at=NOW - JUST)

    assert campaign_run.complete_finished(now=NOW) == 1
    assert (reload(done.id).status, reload(waiting.id).status) == (CampaignStatus.COMPLETED, CampaignStatus.SENDING)


# -- through the engine ------------------------------------------------------------------------

def _silent_campaign(account, audience, run_jobs, settings) -> tuple[str, datetime]:
    """A campaign sent to the 30 numbers of ``audience`` by the simulator, which never reports on
    those ending in SILENT; returns its id and the last send time of its silent messages."""
    settings(SIMULATOR_REPORT_LATENCY_MS=0, SIMULATOR_SILENT_SUFFIXES=SILENT)
    campaign = draft(account, audience)
    cid = campaign.id
    campaigns.send_now(account, campaign)
    run_jobs()
    deliver_due_reports()
    last_sent = db.session.scalar(select(Message.sent_at).where(Message.campaign_id == cid, Message.status == Status.SENT)
                                  .order_by(Message.sent_at.desc()).limit(1))
    return cid, last_sent


def test_a_campaign_with_silent_recipients_completes_after_the_wait(account, audience, run_jobs, settings):
    cid, last_sent = _silent_campaign(account, audience, run_jobs, settings)
    assert ledger(cid) == {Status.DELIVERED: 27, Status.SENT: 3}
    assert reload(cid).status == CampaignStatus.SENDING  # the run ended with three still awaited

    assert campaign_run.complete_finished(now=last_sent + WAIT - JUST) == 0
    assert reload(cid).status == CampaignStatus.SENDING
    assert campaign_run.complete_finished(now=last_sent + WAIT + JUST) == 1

    campaign = reload(cid)
    assert campaign.status == CampaignStatus.COMPLETED and campaign.completed_at == last_sent + WAIT + JUST
    assert ledger(cid) == {Status.DELIVERED: 27, Status.SENT: 3}  # no report came: they stay SENT
    silent = db.session.scalars(select(Message.to_number).where(Message.campaign_id == cid,
                                                                Message.status == Status.SENT)).all()
    assert sorted(silent) == ["+4792000007", "+4792000017", "+4792000027"]


def test_the_report_calls_them_sent_without_a_delivery_report(account, audience, run_jobs, settings):
    cid, last_sent = _silent_campaign(account, audience, run_jobs, settings)

    awaited = campaign_report.report(reload(cid), "UTC", now=last_sent + WAIT - JUST)
    assert (awaited.in_flight, awaited.unreported, awaited.live) == (3, 0, True)
    overdue = campaign_report.report(reload(cid), "UTC", now=last_sent + WAIT + JUST)
    assert (overdue.in_flight, overdue.unreported, overdue.live) == (0, 3, True)  # still SENDING until a tick

    campaign_run.complete_finished(now=last_sent + WAIT + JUST)
    done = campaign_report.report(reload(cid), "UTC", now=last_sent + WAIT + JUST)
    assert (done.in_flight, done.unreported, done.live) == (0, 3, False)
    assert done.statuses[Status.SENT] == 3 and done.delivery_rate == pytest.approx(27 / 30)  # not delivered


def test_a_later_tick_completes_it_once_the_wait_has_passed(account, audience, run_jobs, settings):
    """Nothing happens to the campaign when the wait ends: the tick has to look again by itself."""
    cid, _ = _silent_campaign(account, audience, run_jobs, settings)
    assert run_tick()["campaigns_completed"] == 0
    assert reload(cid).status == CampaignStatus.SENDING

    # As if the wait had passed: the silent messages were accepted longer ago than it.
    db.session.execute(update(Message).where(Message.campaign_id == cid, Message.status == Status.SENT)
                       .values(sent_at=datetime.now(UTC) - WAIT - timedelta(minutes=1)))
    db.session.commit()
    assert run_tick()["campaigns_completed"] == 1
    assert reload(cid).status == CampaignStatus.COMPLETED
    assert ledger(cid) == {Status.DELIVERED: 27, Status.SENT: 3}


def test_a_fractional_wait_and_a_late_report(account, audience, run_jobs, settings):
    """REPORT_WAIT_HOURS in fractions (as the fault suite sets it); a report that comes after the
    campaign completed still moves its message on, and the campaign stays COMPLETED."""
    cid, last_sent = _silent_campaign(account, audience, run_jobs, settings)
    settings(REPORT_WAIT_HOURS=0.5)
    assert campaign_run.complete_finished(now=last_sent + timedelta(minutes=29)) == 0
    assert campaign_run.complete_finished(now=last_sent + timedelta(minutes=31)) == 1

    late = db.session.scalars(select(Message).where(Message.campaign_id == cid, Message.status == Status.SENT)).first()
    apply_reports("simulator", [CarrierReport(status=Status.DELIVERED, reference=late.id,
                                              provider_message_id=late.provider_message_id)])
    db.session.commit()
    assert ledger(cid) == {Status.DELIVERED: 28, Status.SENT: 2}
    campaign = db.session.get(Campaign, cid)
    assert campaign.status == CampaignStatus.COMPLETED
    assert campaign_report.report(campaign, "UTC").unreported == 2


def test_the_campaign_page_shows_a_completed_campaign_as_done(account, audience, run_jobs, settings):
    """Its progress bar: the SENT messages a COMPLETED campaign stopped waiting for are done."""
    from app.dashboard.campaigns import _progress

    cid, last_sent = _silent_campaign(account, audience, run_jobs, settings)
    assert (_progress(reload(cid))["settled"], _progress(reload(cid))["percent"]) == (27, 90)
    campaign_run.complete_finished(now=last_sent + WAIT + JUST)
    progress = _progress(reload(cid))
    assert (progress["settled"], progress["total"], progress["percent"]) == (30, 30, 100)
    assert progress["counts"][Status.SENT] == 3  # still listed as sent
