"""The demo account ``make run`` seeds: a login, a key, and an audience to try a campaign on."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Account, Contact, Group, Message
from app.providers.simulator import summary
from app.services import campaign_run, campaigns, demo
from app.services.accounts import authenticate
from app.services.campaigns import CampaignSpec
from app.services.simulator import deliver_due_reports


def test_the_demo_audience_takes_a_campaign_with_one_failure(ctx, run_jobs, monkeypatch):
    monkeypatch.setitem(ctx.config, "SIMULATOR_REPORT_LATENCY_MS", 0)
    email, password, key = demo.seed("demo-password-1")
    user = authenticate(email, password)
    account, account_id = user.account, user.account_id
    group = db.session.scalar(select(Group).where(Group.account_id == account.id))
    assert group.name == "Demo customers"

    spec = CampaignSpec(name="Try", message="Hi {first_name|there}!", group_ids=(group.id,))
    preview = campaigns.preview(account, spec)
    assert preview.recipients == len(demo.DEMO_PEOPLE) and preview.skipped == {}

    campaign = campaigns.create(account, spec)
    cid = campaign.id
    campaigns.send_now(account, campaign)
    run_jobs()
    deliver_due_reports()
    campaign_run.complete_finished()
    account = db.session.get(Account, account_id)  # the jobs released the session
    progress = campaigns.progress(campaigns.get_campaign(account, cid))
    assert progress["DELIVERED"] == len(demo.DEMO_PEOPLE) - 1 and progress["FAILED"] == 1
    assert summary()["duplicates"] == 0
    bodies = set(db.session.scalars(select(Message.body).where(Message.campaign_id == cid)))
    assert {"Hi there!", "Hi Ada!", "Hi Bjørn!"} <= bodies


def test_seeding_again_adds_no_second_directory(ctx):
    demo.seed("demo-password-1")
    demo.seed("demo-password-2")
    assert db.session.scalar(select(func.count()).select_from(Contact)) == len(demo.DEMO_PEOPLE)
