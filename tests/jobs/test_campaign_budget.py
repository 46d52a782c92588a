"""Campaigns against their spending cap and the account's monthly limit, with the jobs run for real
(``run_jobs``): the release stops at the budget and pauses the campaign saying why, a resume
without more budget pauses again at once, and after raising it every recipient gets exactly one
message."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Account, AccountSpend, Campaign, CampaignStatus, Message, Status
from app.providers.simulator import summary
from app.services import budgets, campaign_run, campaigns
from app.services.campaigns import CampaignSpec
from app.services.errors import Conflict
from app.services.groups import create_group
from app.services.simulator import deliver_due_reports
from tests.jobs.test_campaign_run import add_contacts, numbers

CAP_NOTE = "Reached its spending cap of 9.90 NOK. Raise the cap and resume to send to the rest."
LIMIT_NOTE = ("The account reached its monthly spending limit of 4.95 NOK. Raise the limit on the Budget page and "
              "resume, or resume next month.")


@pytest.fixture
def audience(account):
    customers = create_group(account, "Customers")
    add_contacts(account, customers, numbers(30))
    return customers


@pytest.fixture(autouse=True)
def small_slices(settings):
    # Slices of 4 at 0.99 NOK a message: a cap of 9.90 (10 messages) falls inside the third slice.
    settings(SIMULATOR_REPORT_LATENCY_MS=0, CAMPAIGN_SLICE_SIZE=4, DISPATCH_BATCH_SIZE=4)


def start(account, audience, cap=None) -> str:
    campaign = campaigns.create(account, CampaignSpec(name="Spring sale", message="Hi {first_name|there}, 20% off",
                                                      group_ids=(audience.id,), spend_cap=cap))
    campaigns.send_now(account, campaign)
    return campaign.id


def finish(run_jobs) -> None:
    run_jobs()
    deliver_due_reports()
    campaign_run.complete_finished()


def ledger(cid: str) -> Counter:
    db.session.expire_all()
    return Counter(db.session.scalars(select(Message.status).where(Message.campaign_id == cid)))


def reload(cid: str) -> Campaign:
    db.session.expire_all()
    return db.session.get(Campaign, cid)


def fresh(account) -> Account:
    # Jobs run in this context release the session afterwards, detaching what the test holds.
    return db.session.get(Account, db.inspect(account).identity[0])


def sent_to(cid: str) -> Counter:
    """How many messages each number was handed to the carrier in (queued at some point)."""
    return Counter(db.session.scalars(select(Message.to_number).where(Message.campaign_id == cid,
                                                                      Message.queued_at.is_not(None))))


def test_the_cap_pauses_the_campaign_and_raising_it_finishes_it(account, audience, run_jobs):
    cid = start(account, audience, cap=Decimal("9.90"))
    finish(run_jobs)
    campaign = reload(cid)
    assert campaign.status == CampaignStatus.PAUSED and campaign.note == CAP_NOTE
    assert ledger(cid) == {Status.DELIVERED: 10, Status.SCHEDULED: 20}  # 8 in two slices, then 2 of 4
    assert budgets.released_cost(cid) == Decimal("9.90")

    # Resumed without a higher cap: refused, still paused with the same note, nothing released.
    with pytest.raises(Conflict, match="Not resumed: Reached its spending cap") as refused:
        campaigns.resume(reload(cid))
    assert refused.value.status == 409 and refused.value.code == "budget_reached"
    assert reload(cid).status == CampaignStatus.PAUSED and reload(cid).note == CAP_NOTE
    finish(run_jobs)
    assert ledger(cid) == {Status.DELIVERED: 10, Status.SCHEDULED: 20}

    campaigns.change_cap(fresh(account), reload(cid), Decimal("29.70"))
    campaigns.resume(reload(cid))
    finish(run_jobs)
    campaign = reload(cid)
    assert campaign.status == CampaignStatus.COMPLETED and campaign.note is None
    assert ledger(cid) == {Status.DELIVERED: 30}
    assert set(sent_to(cid).values()) == {1} and len(sent_to(cid)) == 30
    assert summary()["duplicates"] == 0


def test_the_monthly_limit_pauses_the_campaign_and_is_never_passed(account, audience, run_jobs):
    budgets.set_limit(account, Decimal("4.95"))  # five messages
    cid = start(account, audience)
    finish(run_jobs)
    campaign = reload(cid)
    assert campaign.status == CampaignStatus.PAUSED and campaign.note == LIMIT_NOTE
    assert ledger(cid) == {Status.DELIVERED: 5, Status.SCHEDULED: 25}
    assert db.session.scalar(select(AccountSpend.committed)) == Decimal("4.95")
    assert budgets.paused_by_budget(fresh(account).id) == [campaign]

    with pytest.raises(Conflict, match="Not resumed: The account reached its monthly spending limit"):
        campaigns.resume(reload(cid))
    assert reload(cid).status == CampaignStatus.PAUSED and reload(cid).note == LIMIT_NOTE

    # Paused by hand meanwhile (no note): a refused resume says why all the same, for the banner.
    db.session.execute(update(Campaign).where(Campaign.id == cid).values(note=None))
    db.session.commit()
    with pytest.raises(Conflict):
        campaigns.resume(reload(cid))
    assert reload(cid).status == CampaignStatus.PAUSED and reload(cid).note == LIMIT_NOTE
    assert budgets.paused_by_budget(fresh(account).id) == [reload(cid)]

    budgets.set_limit(fresh(account), Decimal("100"))
    campaigns.resume(reload(cid))
    finish(run_jobs)
    assert reload(cid).status == CampaignStatus.COMPLETED
    assert ledger(cid) == {Status.DELIVERED: 30} and summary()["duplicates"] == 0
    # The incremental figure and the one counted from the ledger agree.
    assert db.session.scalar(select(AccountSpend.committed)) == budgets.ledger_total(
        fresh(account), budgets.current_month(fresh(account))) == Decimal("29.70")


def test_a_campaign_and_direct_sends_share_the_limit(account, audience, run_jobs):
    from app.services.send import SendRequest, send

    budgets.set_limit(account, Decimal("4.95"))
    send(account, SendRequest(message="hi", to=("+4790000001", "+4790000002")))  # 1.98
    cid = start(account, audience)
    finish(run_jobs)
    assert ledger(cid)[Status.DELIVERED] == 3 and reload(cid).status == CampaignStatus.PAUSED


def test_cancelling_gives_back_what_was_released_but_not_sent(account, audience):
    budgets.set_limit(account, Decimal("100"))
    cid = start(account, audience)
    campaign_run.write_ledger(reload(cid))
    assert campaign_run.release(cid, 4) == 4  # charged, still QUEUED (no job has run)
    assert db.session.scalar(select(AccountSpend.committed)) == Decimal("3.96")
    campaigns.cancel(reload(cid))
    assert db.session.scalar(select(AccountSpend.committed)) == Decimal("0")
    assert db.session.scalar(select(func.count()).where(Message.status == Status.CANCELLED)) == 30


def test_a_cap_of_zero_releases_nothing(account, audience, run_jobs):
    cid = start(account, audience, cap=Decimal("0"))
    finish(run_jobs)
    assert reload(cid).status == CampaignStatus.PAUSED
    assert ledger(cid) == {Status.SCHEDULED: 30}


def test_the_preview_says_when_the_campaign_would_not_fit(account, audience):
    budgets.set_limit(account, Decimal("10"))
    warnings = budgets.preview_warnings(account, Decimal("5"), Decimal("29.70"))
    assert warnings == [
        "This campaign costs 29.70 NOK, more than its spending cap of 5.00 NOK: it will pause when the cap is "
        "reached.",
        "Only 10.00 NOK of the monthly spending limit of 10.00 NOK is left: this campaign (29.70 NOK) will pause "
        "when the limit is reached.",
    ]
    assert budgets.preview_warnings(account, Decimal("50"), Decimal("9.90")) == []
