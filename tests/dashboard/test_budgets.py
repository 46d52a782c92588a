"""The budget in the dashboard: the /budget page and its fragment, the form that sets the monthly
limit (CSRF, roles, tenant isolation), the banner every page shows while a budget stops sending,
the campaign's cap (composer and campaign page), and the send page's refusal."""
from __future__ import annotations

import html as html_lib
from decimal import Decimal

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import Account, Campaign, CampaignStatus, Message, utcnow
from app.services import budgets, campaigns
from app.services.groups import create_group
from app.services.send import SendRequest, send
from tests.dashboard.conftest import fresh, full_page, htmx_fragment
from tests.dashboard.test_send import submit


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def spend(account, recipients: int) -> None:
    send(account, SendRequest(message="hi", to=tuple(f"+4790{i:06d}" for i in range(1, recipients + 1))))


# -- the page --------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["admin", "manager"])
def test_the_page_shows_this_months_spend_against_the_limit(login_as, account, role):
    spend(account, 2)
    budgets.set_limit(account, Decimal("10"))
    browser = login_as(role)
    page = full_page(browser.get("/budget"))
    assert 'id="budget-committed">1.98 NOK<' in page and 'id="budget-limit">10.00 NOK<' in page
    assert "8.02 NOK (20 % used)" in page and 'value="10.00"' in page
    assert 'href="/budget" aria-current="page">Budget<' in page
    fragment = htmx_fragment(browser.get("/budget", htmx=True))
    assert 'id="budget"' in fragment and "<h1>" not in fragment


def test_setting_the_limit_through_the_form(login_as, account):
    spend(account, 3)
    browser = login_as("manager")
    response = browser.post("/budget", {"monthly_spend_limit": "500"})
    assert response.status_code == 303 and response.headers["Location"] == "/budget"
    assert fresh(Account, account.id).monthly_spend_limit == Decimal("500.00")
    assert "The monthly spending limit is now 500.00 NOK." in text(browser.get("/budget"))
    # The HTMX form swaps the section in place; an empty value removes the limit.
    fragment = htmx_fragment(browser.post("/budget", {"monthly_spend_limit": ""}, htmx=True))
    assert 'id="budget-limit">No limit<' in fragment
    assert fresh(Account, account.id).monthly_spend_limit is None


@pytest.mark.parametrize("typed, error", [("-5", "zero or more"), ("12.345", "two decimals"), ("ten", "Enter an amount")])
def test_a_bad_limit_is_refused_next_to_the_field(login_as, account, typed, error):
    browser = login_as("admin")
    response = browser.post("/budget", {"monthly_spend_limit": typed}, htmx=True)
    assert response.status_code == 422
    fragment = htmx_fragment(response)
    assert error in fragment and f'value="{typed}"' in fragment
    assert fresh(Account, account.id).monthly_spend_limit is None


def test_the_form_needs_its_csrf_token(login_as, account):
    browser = login_as("admin")
    assert browser.post("/budget", {"monthly_spend_limit": "5"}, csrf=False).status_code == 400
    assert fresh(Account, account.id).monthly_spend_limit is None


@pytest.mark.parametrize("role", ["marketer", "viewer"])
def test_only_admins_and_managers_see_or_set_the_budget(login_as, account, role):
    browser = login_as(role)
    assert browser.get("/budget").status_code == 403
    assert browser.post("/budget", {"monthly_spend_limit": "5"}).status_code == 403
    assert fresh(Account, account.id).monthly_spend_limit is None
    assert 'href="/budget"' not in text(browser.get("/"))


def test_another_account_neither_sees_nor_sets_this_budget(login_as, account, other_account):
    other, _ = other_account
    budgets.set_limit(account, Decimal("123"))
    browser = login_as("admin", of_account=other)
    page = text(browser.get("/budget"))
    assert "123.00" not in page and "No limit" in page and "EUR" in page
    browser.post("/budget", {"monthly_spend_limit": "7"})
    assert fresh(Account, account.id).monthly_spend_limit == Decimal("123.00")
    assert fresh(Account, other.id).monthly_spend_limit == Decimal("7.00")


# -- the banner ------------------------------------------------------------------------------------

def test_the_banner_says_sending_is_paused_at_the_limit(login_as, account):
    budgets.set_limit(account, Decimal("2"))
    spend(account, 2)  # 1.98: not even one more part fits
    admin = text(login_as("admin").get("/"))
    assert "Sending is paused: the account reached its monthly spending limit of 2.00 NOK" in admin
    assert '<a href="/budget">Raise the limit</a>' in admin
    marketer = text(login_as("marketer").get("/contacts"))
    assert "Sending is paused" in marketer and 'href="/budget"' not in marketer  # told, not linked where it cannot go
    assert "Sending is paused" not in text(login_as("viewer").get("/"))


def test_the_banner_warns_at_80_percent(login_as, account):
    budgets.set_limit(account, Decimal("10"))
    spend(account, 8)  # 7.92
    assert "Sending is paused" not in text(login_as("admin").get("/"))
    spend(account, 1)  # 8.91
    page = text(login_as("admin").get("/"))
    assert "89 % of the monthly spending limit of 10.00 NOK is committed" in page and "budget-banner" in page


def test_no_banner_without_a_limit_or_in_another_account(login_as, account, other_account):
    spend(account, 3)
    assert "budget-banner" not in text(login_as("admin").get("/"))
    budgets.set_limit(account, Decimal("1"))
    other, _ = other_account
    assert "budget-banner" not in text(login_as("admin", of_account=other).get("/"))


def paused_by_cap(account) -> Campaign:
    group = create_group(account, "Customers")
    campaign = campaigns.create(account, campaigns.CampaignSpec(name="Spring sale", message="Hi",
                                                                group_ids=(group.id,), spend_cap=Decimal("5")))
    db.session.execute(update(Campaign).where(Campaign.id == campaign.id).values(
        status=CampaignStatus.PAUSED, started_at=utcnow(), paused_at=utcnow(),
        note=budgets.cap_note(Decimal("5"), "NOK")))
    db.session.commit()
    return campaign


def test_the_banner_links_to_a_campaign_its_cap_paused(login_as, account):
    campaign = paused_by_cap(account)
    page = text(login_as("marketer").get("/messages"))
    assert "Campaign “Spring sale” is paused: Reached its spending cap of 5.00 NOK" in page
    assert f'<a href="/campaigns/{campaign.id}">Open the campaign</a>' in page
    budget_page = text(login_as("admin").get("/budget"))
    assert 'id="budget-paused"' in budget_page and "Spring sale" in budget_page


# -- a campaign's cap ------------------------------------------------------------------------------

def test_the_composer_saves_a_cap_and_refuses_a_bad_one(login_as, account):
    group = create_group(account, "Customers")
    browser = login_as("marketer")
    browser.get("/campaigns/new")
    form = {"intent": "save", "name": "Capped", "message": "Hi", "group_ids": [group.id], "timezone": "Europe/Oslo",
            "sender_profile_id": "", "spend_cap": "12.5"}
    response = browser.post("/campaigns/new", form)
    assert response.status_code == 303, text(response)
    saved = db.session.scalar(db.select(Campaign).where(Campaign.name == "Capped"))
    assert saved.spend_cap == Decimal("12.50")
    assert 'value="12.50"' in text(browser.get(f"/campaigns/{saved.id}/edit"))
    refused = browser.post("/campaigns/new", {**form, "name": "Other", "spend_cap": "-3"})
    assert refused.status_code == 422 and "The amount must be zero or more" in text(refused)


def test_the_preview_warns_when_the_campaign_would_pass_its_cap(login_as, account):
    group = create_group(account, "Customers")
    from tests.jobs.test_campaign_run import add_contacts, numbers
    add_contacts(account, group, numbers(10))
    browser = login_as("marketer")
    browser.get("/campaigns/new")
    fragment = text(browser.post("/campaigns/new", {"intent": "preview", "name": "x", "message": "Hi",
                                                     "group_ids": [group.id], "timezone": "Europe/Oslo",
                                                     "spend_cap": "5"}, htmx=True))
    assert "This campaign costs 9.90 NOK, more than its spending cap of 5.00 NOK" in fragment


def test_raising_the_cap_on_the_campaign_page(login_as, account):
    campaign = paused_by_cap(account)
    browser = login_as("marketer")
    page = text(browser.get(f"/campaigns/{campaign.id}"))
    assert 'id="campaign-cap"' in page and "Cap 5.00 NOK" in page
    fragment = htmx_fragment(browser.post(f"/campaigns/{campaign.id}/cap", {"cap-spend_cap": "50"}, htmx=True))
    assert "Cap 50.00 NOK" in fragment
    assert fresh(Campaign, campaign.id).spend_cap == Decimal("50.00")
    bad = browser.post(f"/campaigns/{campaign.id}/cap", {"cap-spend_cap": "x"}, htmx=True)
    assert bad.status_code == 422 and "Enter an amount" in text(bad)
    assert browser.post(f"/campaigns/{campaign.id}/cap", {"cap-spend_cap": "9"}, csrf=False).status_code == 400
    assert login_as("viewer").post(f"/campaigns/{campaign.id}/cap", {"cap-spend_cap": "9"}).status_code == 403
    assert fresh(Campaign, campaign.id).spend_cap == Decimal("50.00")


def test_another_accounts_campaign_cap_is_not_found(login_as, account, other_account):
    campaign = paused_by_cap(account)
    other, _ = other_account
    browser = login_as("admin", of_account=other)
    assert browser.post(f"/campaigns/{campaign.id}/cap", {"cap-spend_cap": "500"}).status_code == 404
    assert fresh(Campaign, campaign.id).spend_cap == Decimal("5.00")


# -- the send page ---------------------------------------------------------------------------------

def test_the_send_page_shows_the_limit_as_a_form_error(login_as, account):
    budgets.set_limit(account, Decimal("1"))
    browser = login_as("marketer")
    response = submit(browser, to="+4799999999\n+4798888888")
    assert response.status_code == 422
    page = text(response)
    assert "This send would pass the account's monthly spending limit of 1.00 NOK" in page
    assert "costs 1.98 NOK" in page
    assert db.session.scalar(db.select(db.func.count()).select_from(Message)) == 0
