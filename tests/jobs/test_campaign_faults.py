"""Campaign fault injection with real worker processes: a worker killed with SIGKILL while a
20,000-recipient campaign is being released, or while its ledger is being written, and a pause
and resume half-way. Every recipient must still get exactly one message: the ledger is unique per
recipient, releasing is a conditional UPDATE, claims are atomic, and the carrier de-duplicates by
our reference."""
from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import func, insert, select

from app.extensions import db
from app.models import Campaign, CampaignStatus, Contact, Message, Status, group_members, new_id
from app.providers.simulator import summary
from app.services import campaigns
from app.services.campaigns import CampaignSpec
from app.services.groups import create_group
from tests.jobs.conftest import wait_until

pytestmark = pytest.mark.slow

RECIPIENTS = 20_000
SLICE = 1000
FINISH_TIMEOUT = 180
TICK_SECONDS = 0.5  # as in worker_env
# Fast enough to finish well inside the timeout, slow enough that the fault lands half-way. A
# short run lock lets the tick replace a killed run within seconds instead of the default 30.
WORKER = {"CAMPAIGN_SLICE_SIZE": str(SLICE), "DISPATCH_BATCH_SIZE": "250", "SIMULATOR_SUBMIT_LATENCY_MS": "20",
          "CAMPAIGN_LOCK_SECONDS": "3"}


def _campaign(account, count: int = RECIPIENTS) -> Campaign:
    """A draft to ``count`` contacts of one group (inserted in bulk), with varied merge fields."""
    group = create_group(account, "Everyone")
    names = ["Ada", "Bjørn", None, "Kari", "Ola"]
    for start in range(0, count, 5000):
        rows = [{"id": new_id(), "account_id": account.id, "type": "person", "tags": [],
                 "name": f"{names[i % 5] or 'Contact'} {i}", "first_name": names[i % 5],
                 "company_name": f"Firma {i % 97}", "phone_number": f"+479{2000001 + i:07d}"}
                for i in range(start, min(count, start + 5000))]
        db.session.execute(insert(Contact.__table__), rows)
        db.session.execute(insert(group_members), [{"group_id": group.id, "contact_id": r["id"]} for r in rows])
    db.session.commit()
    spec = CampaignSpec(name="Fault test", message="Hi {first_name|there}, news from {company_name}",
                        group_ids=(group.id,))
    return campaigns.create(account, spec)


def _fresh(campaign_id: str) -> Campaign:
    db.session.rollback()  # a new snapshot: the workers write from other processes
    db.session.expire_all()
    return db.session.get(Campaign, campaign_id)


def _ledger(campaign_id: str) -> Counter:
    """Statuses of the campaign's messages; held ones (SCHEDULED without a time) count as HELD."""
    db.session.rollback()
    rows = db.session.execute(
        select(Message.status, Message.scheduled_at.is_(None), func.count())
        .where(Message.campaign_id == campaign_id).group_by(Message.status, Message.scheduled_at.is_(None)))
    return Counter({("HELD" if status == Status.SCHEDULED and held else status): n for status, held, n in rows})


def _under_way(campaign_id: str):
    """True once some messages are delivered and many are still held. Fails if the campaign got
    past that point before we could interfere: the test would then prove nothing."""

    def check():
        counts = _ledger(campaign_id)
        assert counts[Status.DELIVERED] < RECIPIENTS // 2, f"too late to interfere: {dict(counts)}"
        return counts if counts[Status.DELIVERED] >= 500 and counts["HELD"] >= RECIPIENTS // 4 else None

    return check


def _completed(campaign_id: str):
    return lambda: _fresh(campaign_id).status == CampaignStatus.COMPLETED


def _assert_each_recipient_once(campaign_id: str) -> None:
    db.session.rollback()
    rows, distinct = db.session.execute(
        select(func.count(), func.count(Message.to_number.distinct())).where(Message.campaign_id == campaign_id)).one()
    assert rows == distinct == RECIPIENTS
    assert _ledger(campaign_id) == {Status.DELIVERED: RECIPIENTS}
    assert summary() == {"submissions": RECIPIENTS, "unique_references": RECIPIENTS, "duplicates": 0}
    campaign = _fresh(campaign_id)
    assert campaign.status == CampaignStatus.COMPLETED and campaign.recipients == RECIPIENTS


def test_worker_killed_while_the_campaign_is_released(account, start_worker):
    campaign = _campaign(account)
    cid = campaign.id
    first = start_worker(**WORKER)
    campaigns.send_now(account, campaign)

    wait_until(_under_way(cid), timeout=60, interval=0.05, what="the campaign to get under way")
    first.kill()
    after_kill = _ledger(cid)
    print(f"after kill: {dict(after_kill)}")
    assert after_kill["HELD"] and after_kill[Status.DELIVERED] < RECIPIENTS

    start_worker(**WORKER)
    wait_until(_completed(cid), timeout=FINISH_TIMEOUT, interval=0.5, what="the campaign to complete")
    _assert_each_recipient_once(cid)


def _ledger_half_written(campaign_id: str):
    """True once some ledger rows are committed but the ledger is not finished."""

    def check():
        campaign = _fresh(campaign_id)
        assert campaign.materialized_at is None, "the ledger was finished before the kill; make it bigger"
        written = db.session.scalar(select(func.count()).where(Message.campaign_id == campaign_id))
        return written if written else None

    return check


def test_worker_killed_while_the_ledger_is_written(account, start_worker):
    campaign = _campaign(account)
    cid = campaign.id
    first = start_worker(**WORKER)
    campaigns.send_now(account, campaign)

    written = wait_until(_ledger_half_written(cid), timeout=60, interval=0.005, what="the first ledger rows")
    first.kill()
    campaign = _fresh(cid)
    print(f"killed with {written} ledger rows written; materialized_at {campaign.materialized_at}")
    assert campaign.materialized_at is None and campaign.status == CampaignStatus.SENDING

    start_worker(**WORKER)
    wait_until(_completed(cid), timeout=FINISH_TIMEOUT, interval=0.5, what="the campaign to complete")
    _assert_each_recipient_once(cid)


def _settled_while_paused(campaign_id: str):
    """The released messages are all delivered and only held ones are left."""

    def check():
        counts = _ledger(campaign_id)
        return counts if set(counts) <= {Status.DELIVERED, "HELD"} else None

    return check


def test_pause_holds_the_rest_and_resume_finishes(account, start_worker):
    campaign = _campaign(account)
    cid = campaign.id
    start_worker(**WORKER)
    campaigns.send_now(account, campaign)

    wait_until(_under_way(cid), timeout=60, interval=0.05, what="the campaign to get under way")
    campaigns.pause(_fresh(cid))
    held_at_pause = _ledger(cid)["HELD"]

    # What was released goes out; nothing more is released, however many ticks go by (at most
    # the one slice the run may have been releasing as the pause landed).
    settled = wait_until(_settled_while_paused(cid), timeout=60, interval=0.2, what="the released ones delivered")
    print(f"held at pause {held_at_pause}; paused ledger {dict(settled)}")
    for _ in range(3):
        time.sleep(2 * TICK_SECONDS)
        assert _ledger(cid) == settled
    assert held_at_pause - SLICE <= settled["HELD"] <= held_at_pause
    assert settled["HELD"] > 0
    assert _fresh(cid).status == CampaignStatus.PAUSED

    campaigns.resume(_fresh(cid))
    wait_until(_completed(cid), timeout=FINISH_TIMEOUT, interval=0.5, what="the campaign to complete")
    _assert_each_recipient_once(cid)

