"""The campaign pages: the list, the composer and its live preview, dispatch with the numbers it
commits to, schedules read in a zone, the live progress with pause/resume/cancel, test sends,
resend to the failed ones; roles, CSRF and tenants. Jobs run for real (``run_jobs``)."""
from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta, timezone
from html import unescape
from zoneinfo import ZoneInfo, available_timezones

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Campaign, CampaignStatus, Message, Status
from app.services import campaign_run, campaigns, contacts, groups, optouts, senders
from app.services.campaigns import CampaignSpec
from app.services.simulator import deliver_due_reports
from app.sms import DEFAULT_PRICES, costs_in_all_currencies, count_segments
from tests.dashboard.conftest import fresh, full_page, htmx_fragment

EDITORS = ["admin", "marketer"]
READ_ONLY = ["manager", "viewer"]
OSLO = ZoneInfo("Europe/Oslo")


# -- helpers -------------------------------------------------------------------------------------

def contact(account, first_name: str | None, number: str | None, name: str | None = None):
    return contacts.create_contact(account, {"first_name": first_name, "name": name or first_name,
                                             "phone_number": number})


def group_with(account, name: str, *members):
    group = groups.create_group(account, name)
    if members:
        groups.add_members(account, group.id, [m.id for m in members])
    return group


def audience(account, count: int = 3, name: str = "Customers", start: int = 0):
    return group_with(account, name, *[contact(account, f"Ada{start + i}", f"+4792{100001 + start + i}")
                                       for i in range(count)])


def draft(account, group, message: str = "Hi {first_name|there}, 20% off today", **changes):
    return campaigns.create(account, CampaignSpec(**{"name": "Spring sale", "message": message,
                                                     "group_ids": (group.id,), **changes}))


def compose(browser, htmx: bool = True, url: str = "/campaigns/new", **fields):
    data = {"name": "Spring sale", "message": "", "timezone": "Europe/Oslo", "intent": "preview", **fields}
    return browser.post(url, data, htmx=htmx)


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, f"no {name} in {html[:3000]}"
    return unescape(found.group(1)).strip()


def costs(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-cost="([A-Z]{3})">([^<]+)<', html)


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def commitment(browser, campaign_id: str) -> dict:
    html = browser.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    return {"recipients": hidden(html, "recipients"), "units": hidden(html, "units")}


def ledger(campaign_id: str) -> dict:
    db.session.rollback()
    rows = db.session.scalars(select(Message.status).where(Message.campaign_id == campaign_id))
    counts: dict = {}
    for status in rows:
        counts[status] = counts.get(status, 0) + 1
    return counts


def finish(run_jobs) -> None:
    """Run the jobs, deliver the carrier's reports, let the tick complete what is done."""
    run_jobs()
    deliver_due_reports()
    campaign_run.complete_finished()


def sent(account, group, run_jobs) -> str:
    """A campaign sent to ``group`` and completed; its id (the jobs end the session holding it)."""
    campaign = draft(account, group)
    campaigns.send_now(account, campaign)
    cid = campaign.id
    finish(run_jobs)
    return cid


def flashes(html: str) -> str:
    return unescape(html.split('id="flashes"')[1].split("</div>")[0])


def in_a_few_days(days: int = 3, hour: int = 12) -> datetime:
    """A wall time in Oslo a few days ahead at noon: never in a DST gap, never ambiguous."""
    return (datetime.now(OSLO) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0,
                                                               tzinfo=None)


# -- the list ------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", EDITORS + READ_ONLY)
def test_list_page_and_fragment_for_every_role(login_as, account, role):
    group = audience(account, 1)
    draft(account, group, name="Winter")
    browser = login_as(role)
    html = full_page(browser.get("/campaigns"))
    assert 'href="/campaigns" aria-current="page">Campaigns<' in html
    assert ">Winter</a>" in html and 'data-status="DRAFT"' in html
    assert ("New campaign" in html) == (role in EDITORS)
    fragment = htmx_fragment(browser.get("/campaigns", htmx=True))
    assert fragment.lstrip().startswith('<section id="campaign-list"') and ">Winter</a>" in fragment


def test_list_filters_by_status_and_pages(login_as, account, monkeypatch):
    from app.dashboard import campaigns as views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    group = audience(account, 1)
    for name in ("One", "Two", "Three"):
        draft(account, group, name=name)
    later = draft(account, group, name="Later")
    campaigns.schedule(account, later, in_a_few_days().strftime("%Y-%m-%dT%H:%M"))
    browser = login_as("viewer")
    html = htmx_fragment(browser.get("/campaigns?status=scheduled", htmx=True))
    assert ">Later</a>" in html and ">One</a>" not in html
    assert '<option value="SCHEDULED" selected>' in html
    html = full_page(browser.get("/campaigns?status=draft"))
    assert html.count("data-campaign=") == 2 and "3 campaigns" in html and 'rel="next"' in html
    assert "status=DRAFT" in re.search(r'href="([^"]+)" rel="next"', html).group(1)
    html = browser.get("/campaigns?status=DRAFT&page=2").get_data(as_text=True)
    assert html.count("data-campaign=") == 1
    assert "No completed campaigns." in browser.get("/campaigns?status=completed").get_data(as_text=True)
    # A mistyped status shows them all rather than an error.
    assert "4 campaigns" in browser.get("/campaigns?status=nonsense").get_data(as_text=True)


def test_list_shows_scheduled_time_in_the_campaigns_zone_and_utc(login_as, account):
    group = audience(account, 1)
    campaign = draft(account, group, timezone="America/New_York")
    wall = in_a_few_days(hour=9)
    campaigns.schedule(account, campaign, wall.strftime("%Y-%m-%dT%H:%M"))
    html = login_as("viewer").get("/campaigns").get_data(as_text=True)
    utc = wall.replace(tzinfo=ZoneInfo("America/New_York")).astimezone(timezone.utc)
    assert f"{wall:%Y-%m-%d} 09:00 America/New_York" in html
    assert f"({utc:%Y-%m-%d %H:%M} UTC)" in html


# -- the composer --------------------------------------------------------------------------------

def test_composer_offers_approved_senders_groups_zones_and_merge_fields(login_as, account, app, monkeypatch):
    monkeypatch.setitem(app.config, "AUTO_APPROVE_SENDERS", False)
    senders.create_profile(account, "Brand", "ACME", brand_confirmation=True)  # pending
    audience(account, 2, name="VIP")
    html = full_page(login_as("marketer").get("/campaigns/new"))
    default = next(p for p in senders.list_profiles(account) if p.is_default)
    assert f'<option selected value="{default.id}">' in html and "Brand (ACME)" not in html
    assert "VIP (2 members)" in html
    zones = re.findall(r'<option (?:selected )?value="([^"]+)"', html.split('id="timezone"')[1].split("</select>")[0])
    assert zones == sorted(available_timezones() - {"localtime"})
    assert '<option selected value="Europe/Oslo">' in html
    for text in ("{first_name|there}", "{last_name}", "{name}", "{company_name}"):
        assert f'data-insert="{text}"' in html
    assert "becomes “there” when the first name is empty" in html
    textarea = re.search(r'<textarea[^>]*id="message"[^>]*>', html).group(0)
    assert 'hx-post="/campaigns/new"' in textarea and "delay:" in textarea and 'hx-target="#campaign-preview"' in textarea


def test_preview_counts_a_known_audience_with_units_cost_and_samples(login_as, account):
    ann, bob, cid = contact(account, "Ann", "+4791000001"), contact(account, "Bob", "+4791000002"), \
        contact(account, None, "+4791000003", name="C. Idun")
    out, lost = contact(account, "Out", "+4791000004"), contact(account, "Lost", None)
    customers = group_with(account, "Customers", ann, bob, cid, out, lost)
    vip = group_with(account, "VIP", ann)
    excluded = group_with(account, "Staff", bob)
    optouts.add_optout(account, "+4791000004")
    html = htmx_fragment(compose(login_as("marketer"), message="Hi {first_name|there}!",
                                 group_ids=[customers.id, vip.id], excluded_group_ids=[excluded.id]))
    assert html.lstrip().startswith('<section id="campaign-preview"')
    assert figure(html, "recipients") == "2"  # Ann (once), C. Idun
    assert figure(html, "units") == "2" and figure(html, "parts") == "1" and figure(html, "encoding") == "GSM-7"
    expected = [(c, f"{a:,.2f}") for c, a in costs_in_all_currencies(2, DEFAULT_PRICES, first="NOK")]
    assert costs(html) == expected and figure(html, "cost") == f"NOK {expected[0][1]}"
    skipped = unescape(html.split('data-preview="skipped"')[1])
    for reason, count in {"excluded_group": 1, "opted_out": 1, "no_number": 1, "in_several_groups": 1}.items():
        assert re.search(rf'data-skipped="{reason}">{count} ', skipped), reason
    assert "1 opted out" in skipped and "1 in an excluded group" in skipped
    samples = [unescape(s) for s in re.findall(r"<blockquote data-sample>(.*?)</blockquote>", html)]
    assert sorted(samples) == ["Hi Ann!", "Hi there!"]
    assert db.session.scalar(select(Campaign.id)) is None  # a preview saves nothing


def test_preview_shows_how_merge_fields_vary_the_parts(login_as, account):
    short = [contact(account, "Al", f"+479100001{i}") for i in range(3)]
    long_ = [contact(account, "Bartholomew-Maximilian", f"+479100002{i}") for i in range(2)]
    group = group_with(account, "Mixed", *short, *long_)
    message = "Hi {first_name}! " + "x" * 140  # 144 characters for Al, 164 for the long name
    html = htmx_fragment(compose(login_as("marketer"), message=message, group_ids=[group.id]))
    assert figure(html, "parts") == "2" and figure(html, "recipients") == "5"
    assert figure(html, "units") == str(3 * 1 + 2 * 2)
    parts = dict(re.findall(r'data-parts="(\d)">(\d+) message', html))
    assert parts == {"1": "3", "2": "2"}
    assert "it varies with the personal details" in html


def test_preview_names_ucs2_characters_with_replacements(login_as, account):
    group = audience(account, 2)
    html = htmx_fragment(compose(login_as("marketer"), message="It’s {first_name|there} – welcome",
                                 group_ids=[group.id]))
    assert figure(html, "encoding") == "UCS-2"
    items = re.findall(r"<code data-char>(.*?)</code>.*?(?:<code data-replacement>(.*?)</code>)?</li>", html, re.S)
    assert [(unescape(c), unescape(r)) for c, r in items] == [("’", "'"), ("–", "-")]
    assert count_segments("It’s Ada0 – welcome").encoding == "UCS-2"


@pytest.mark.parametrize("fields, expected", [
    ({"message": "Hi {firstname}"}, "Unknown merge field {firstname}"),
    ({"message": "Hi", "group_ids": []}, "Choose at least one group"),
    ({"message": "Hi", "window_start": "09:00"}, "needs both a start and an end"),
    ({"message": "Hi", "sender_profile_id": "nope"}, "Sender profile 'nope' not found"),
    ({"message": "Hi", "group_ids": ["00000000-0000-0000-0000-000000000000"]}, "Group not found"),
    ({"message": "a" * 1601}, "1600"),
])
def test_preview_errors_are_shown_inline(login_as, account, fields, expected):
    group = audience(account, 1)
    response = compose(login_as("marketer"), **{"group_ids": [group.id], **fields})
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert 'data-preview="error"' in html and expected in unescape(html)


def test_preview_before_any_text_asks_for_it(login_as, account):
    html = htmx_fragment(compose(login_as("marketer"), message="  "))
    assert "Type a message" in html and "data-figure" not in html


def test_preview_without_javascript_is_the_whole_composer(login_as, account):
    group = audience(account, 2)
    html = full_page(compose(login_as("marketer"), htmx=False, message="Hello", group_ids=[group.id]))
    assert "Hello</textarea>" in html and figure(html, "recipients") == "2"


# -- saving drafts -------------------------------------------------------------------------------

def test_create_a_draft_and_see_its_page(login_as, account):
    group, staff = audience(account, 2), audience(account, 1, name="Staff", start=10)
    browser = login_as("marketer")
    response = compose(browser, htmx=False, intent="save", name="  Spring sale ", message="Hi {first_name|there}",
                       group_ids=[group.id], excluded_group_ids=[staff.id], timezone="Europe/Stockholm",
                       window_start="09:00", window_end="20:00")
    assert response.status_code == 303, response.get_data(as_text=True)
    campaign = db.session.scalar(select(Campaign))
    assert response.headers["Location"] == f"/campaigns/{campaign.id}"
    assert (campaign.name, campaign.status, campaign.timezone) == ("Spring sale", "DRAFT", "Europe/Stockholm")
    assert campaign.group_ids == [group.id] and campaign.excluded_group_ids == [staff.id]
    assert (campaign.window_start, campaign.window_end) == ("09:00", "20:00")
    assert campaign.created_by_id == browser.user.id
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved the draft Spring sale." in flashes(html)
    assert "09:00 until 20:00 (Europe/Stockholm)" in html and ">Staff</a>" in html


@pytest.mark.parametrize("fields, field, message", [
    ({"name": ""}, "name", "Enter a name."),
    ({"name": "x" * 201}, "name", "At most 200 characters."),
    ({"message": "Hi {firstname}"}, "message", "Unknown merge field {firstname}"),
    ({"message": ""}, "message", "empty"),
    ({"group_ids": []}, "group_ids", "Choose at least one group"),
    ({"window_start": "25:00", "window_end": "08:00"}, "window_start", "HH:MM on a 24-hour clock"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone"),
])
def test_draft_validation_errors_are_422_next_to_the_field(login_as, account, fields, field, message):
    group = audience(account, 1)
    data = {"intent": "save", "message": "Hi", "group_ids": [group.id], **fields}
    response = compose(login_as("marketer"), htmx=False, **data)
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', html)
    assert error and message in error.group(1), html[html.index("<form"):][:3000]
    assert db.session.scalar(select(Campaign.id)) is None


def test_every_problem_that_can_be_seen_is_shown_at_once(login_as, account):
    response = compose(login_as("marketer"), htmx=False, intent="save", name="", message="Hi {nope}",
                       window_start="9", window_end="")
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    for field in ("name", "message", "window_start"):
        assert f'id="{field}-error"' in html, field


def test_edit_a_draft(login_as, account):
    group, other = audience(account, 2), audience(account, 1, name="Other", start=10)
    campaign = draft(account, group)
    browser = login_as("marketer")
    html = full_page(browser.get(f"/campaigns/{campaign.id}/edit"))
    assert "Hi {first_name|there}, 20% off today</textarea>" in unescape(html)
    assert f'<option selected value="{group.id}">' in html
    url = f"/campaigns/{campaign.id}/edit"
    html = htmx_fragment(compose(browser, url=url, message="Hello {name}", group_ids=[other.id]))
    assert figure(html, "recipients") == "1"
    response = compose(browser, htmx=False, url=url, intent="save", name="Autumn", message="Hello {name}",
                       group_ids=[other.id])
    assert response.status_code == 303
    campaign = fresh(Campaign, campaign.id)
    assert (campaign.name, campaign.body, campaign.group_ids) == ("Autumn", "Hello {name}", [other.id])
    response = compose(browser, htmx=False, url=url, intent="save", name="", message="Hello", group_ids=[other.id])
    assert response.status_code == 422 and fresh(Campaign, campaign.id).name == "Autumn"


def test_a_scheduled_campaign_cannot_be_edited(login_as, account):
    campaign = draft(account, audience(account, 1))
    campaigns.schedule(account, campaign, in_a_few_days().strftime("%Y-%m-%dT%H:%M"))
    browser = login_as("marketer")
    response = browser.get(f"/campaigns/{campaign.id}/edit")
    assert response.status_code == 303
    assert "take it off the schedule first" in flashes(browser.get(response.headers["Location"]).get_data(as_text=True))
    response = compose(browser, htmx=False, url=f"/campaigns/{campaign.id}/edit", intent="save", name="Changed",
                       message="Changed", group_ids=campaign.group_ids)
    assert response.status_code == 303 and fresh(Campaign, campaign.id).name == "Spring sale"


# -- send now --------------------------------------------------------------------------------------

def test_send_now_states_its_numbers_and_writes_the_ledger(login_as, account, run_jobs):
    group = audience(account, 3)
    campaign = draft(account, group, message="Hi {first_name|there}! " + "x" * 155)  # two parts each
    browser = login_as("marketer")
    html = full_page(browser.get(f"/campaigns/{campaign.id}"))
    cost = costs_in_all_currencies(6, DEFAULT_PRICES, first="NOK")[0][1]
    button = unescape(re.search(r"<button[^>]*data-commit[^>]*>(.*?)</button>", html).group(1))
    assert button == f"Send now to 3 recipients · 6 units · NOK {cost:,.2f}"
    assert hidden(html, "recipients") == "3" and hidden(html, "units") == "6"
    cid = campaign.id  # the jobs below end the session that holds ``campaign``
    response = browser.post(f"/campaigns/{cid}/send", {"recipients": "3", "units": "6"})
    assert response.status_code == 303 and response.headers["Location"] == f"/campaigns/{cid}"
    assert fresh(Campaign, cid).status == CampaignStatus.SENDING
    finish(run_jobs)
    assert ledger(cid) == {Status.DELIVERED: 3}
    db.session.expire_all()
    assert {m.body for m in db.session.scalars(select(Message).where(Message.campaign_id == cid))} == {
        f"Hi Ada{i}! " + "x" * 155 for i in range(3)}
    assert fresh(Campaign, cid).status == CampaignStatus.COMPLETED
    html = browser.get(f"/campaigns/{cid}").get_data(as_text=True)
    assert 'data-count="DELIVERED">3<' in html and "3 delivered" in html and "hx-trigger" not in html


def test_a_changed_audience_is_a_conflict_with_the_fresh_numbers(login_as, account):
    group = audience(account, 2)
    campaign = draft(account, group)
    browser = login_as("marketer")
    seen = commitment(browser, campaign.id)
    assert seen == {"recipients": "2", "units": "2"}
    groups.add_members(account, group.id, [contact(account, "Newcomer", "+4791999999").id])
    for action, extra in (("send", {}), ("schedule", {"local_time": in_a_few_days().strftime("%Y-%m-%dT%H:%M"),
                                                      "timezone": "Europe/Oslo"})):
        response = browser.post(f"/campaigns/{campaign.id}/{action}", {**seen, **extra})
        assert response.status_code == 409, action
        html = unescape(response.get_data(as_text=True))
        assert "The audience changed since the preview: it is now 3 recipients and 3 units" in html
        assert hidden(html, "recipients") == "3" and hidden(html, "units") == "3"
        assert "Send now to 3 recipients · 3 units" in html
        assert fresh(Campaign, campaign.id).status == CampaignStatus.DRAFT
    response = browser.post(f"/campaigns/{campaign.id}/send", {"recipients": "3", "units": "3"})
    assert response.status_code == 303 and fresh(Campaign, campaign.id).status == CampaignStatus.SENDING


def test_sending_twice_sends_once_and_says_so(login_as, account):
    campaign = draft(account, audience(account, 2))
    browser = login_as("marketer")
    seen = commitment(browser, campaign.id)
    assert browser.post(f"/campaigns/{campaign.id}/send", seen).status_code == 303
    response = browser.post(f"/campaigns/{campaign.id}/send", seen)  # Back, and the button again
    assert response.status_code == 303
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "A SENDING campaign cannot be sent or resumed" in flashes(html)
    assert fresh(Campaign, campaign.id).status == CampaignStatus.SENDING


@pytest.mark.parametrize("data", [{}, {"recipients": "2"}, {"recipients": "two", "units": "2"}])
def test_a_dispatch_without_its_numbers_is_refused(login_as, account, data):
    campaign = draft(account, audience(account, 2))
    response = login_as("marketer").post(f"/campaigns/{campaign.id}/send", data)
    assert response.status_code == 422 and "This form is out of date" in response.get_data(as_text=True)
    assert fresh(Campaign, campaign.id).status == CampaignStatus.DRAFT


def test_a_draft_that_cannot_be_sent_says_why(login_as, account):
    group = audience(account, 1)
    campaign = draft(account, group)
    groups.delete_group(account, group.id)
    html = login_as("marketer").get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "This campaign cannot be sent as it is: Group not found" in unescape(html)
    assert "data-commit" not in html and "a deleted group" in html


# -- schedule --------------------------------------------------------------------------------------

def test_schedule_shows_the_time_in_its_zone_and_utc(login_as, account):
    campaign = draft(account, audience(account, 2))
    browser = login_as("marketer")
    wall = in_a_few_days()
    response = browser.post(f"/campaigns/{campaign.id}/schedule", {
        **commitment(browser, campaign.id), "local_time": wall.strftime("%Y-%m-%dT%H:%M"), "timezone": "Europe/Oslo"})
    assert response.status_code == 303, response.get_data(as_text=True)
    campaign = fresh(Campaign, campaign.id)
    utc = wall.replace(tzinfo=OSLO).astimezone(timezone.utc)
    assert campaign.status == CampaignStatus.SCHEDULED and campaign.scheduled_at == utc
    html = browser.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    local = f"{wall:%Y-%m-%d} 12:00 Europe/Oslo"
    assert f"Scheduled Spring sale for {local} ({utc:%H:%M} UTC)." in flashes(html)
    assert f"{local}</time>" in html and f"({utc:%Y-%m-%d %H:%M} UTC)" in html
    # The form offers to reschedule, prefilled; the poll waits for its time.
    assert f'value="{wall:%Y-%m-%dT%H:%M}"' in html and "Reschedule for 2 recipients" in html
    assert 'hx-trigger="every 5s"' in html


def test_reschedule_in_another_zone_then_unschedule_and_cancel(login_as, account):
    campaign = draft(account, audience(account, 1))
    browser = login_as("marketer")
    first = in_a_few_days()
    campaigns.schedule(account, campaign, first.strftime("%Y-%m-%dT%H:%M"))
    later = in_a_few_days(days=5, hour=8)
    response = browser.post(f"/campaigns/{campaign.id}/schedule", {
        **commitment(browser, campaign.id), "local_time": later.strftime("%Y-%m-%dT%H:%M"),
        "timezone": "Asia/Tokyo"})
    assert response.status_code == 303
    campaign = fresh(Campaign, campaign.id)
    assert campaign.timezone == "Asia/Tokyo"
    assert campaign.scheduled_at == later.replace(tzinfo=ZoneInfo("Asia/Tokyo")).astimezone(timezone.utc)

    response = browser.post(f"/campaigns/{campaign.id}/unschedule", htmx=True)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == f"/campaigns/{campaign.id}"
    campaign = fresh(Campaign, campaign.id)
    assert campaign.status == CampaignStatus.DRAFT and campaign.scheduled_at is None
    assert "it is a draft again" in flashes(browser.get(f"/campaigns/{campaign.id}").get_data(as_text=True))

    response = browser.post(f"/campaigns/{campaign.id}/cancel")
    assert response.status_code == 303 and fresh(Campaign, campaign.id).status == CampaignStatus.CANCELLED
    html = browser.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "data-commit" not in html and "Send test" not in html


@pytest.mark.parametrize("local_time, message", [
    ("", "Choose a date and time."),
    ("next tuesday", "The time must be an ISO 8601 date-time"),
    ("2026-02-30T10:00", "The time must be an ISO 8601 date-time"),
    ("2020-01-01T10:00", "The time is in the past"),
    ((datetime.now(OSLO) + timedelta(days=45)).strftime("%Y-%m-%dT10:00"), "The time may be at most 30 days ahead"),
])
def test_a_malformed_or_out_of_range_time_is_422_with_a_clear_message(login_as, account, local_time, message):
    campaign = draft(account, audience(account, 1))
    browser = login_as("marketer")
    response = browser.post(f"/campaigns/{campaign.id}/schedule", {
        **commitment(browser, campaign.id), "local_time": local_time, "timezone": "Europe/Oslo"})
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    error = re.search(r'<p class="error" id="local_time-error">(.*?)</p>', html)
    assert error and message in error.group(1), html
    assert f'value="{local_time}"' in html or not local_time  # what was typed stays
    assert fresh(Campaign, campaign.id).status == CampaignStatus.DRAFT


def test_an_unknown_zone_is_shown_at_the_zone(login_as, account):
    campaign = draft(account, audience(account, 1))
    browser = login_as("marketer")
    response = browser.post(f"/campaigns/{campaign.id}/schedule", {
        **commitment(browser, campaign.id), "local_time": in_a_few_days().strftime("%Y-%m-%dT%H:%M"),
        "timezone": "Mars/Olympus"})
    assert response.status_code == 422
    assert re.search(r'id="timezone-error">Unknown time zone', response.get_data(as_text=True))


def test_the_service_refuses_a_time_in_the_spring_forward_gap(account):
    """Real clocks rarely put a DST change within 30 days, so ``now`` is given to the service."""
    campaign = draft(account, audience(account, 1))
    with pytest.raises(ValueError, match=r"2027-03-28 02:30 does not exist in Europe/Oslo"):
        campaigns.schedule(account, campaign, "2027-03-28T02:30", "Europe/Oslo",
                           now=datetime(2027, 3, 20, tzinfo=timezone.utc))
    _, note = campaigns.schedule(account, campaign, "2027-10-31T02:30", "Europe/Oslo",
                                 now=datetime(2027, 10, 20, tzinfo=timezone.utc))
    assert "occurs twice" in note


@pytest.mark.parametrize("local_time, shown", [
    ("2027-03-28T02:30", "2027-03-28 02:30 does not exist in Europe/Oslo (clocks move forward); choose another time"),
])
def test_the_page_shows_the_services_gap_error(login_as, account, monkeypatch, local_time, shown):
    # The page passes the service's error through; the service is given a fixed ``now`` near the change.
    monkeypatch.setattr(campaigns, "schedule", functools.partial(
        campaigns.schedule, now=datetime(2027, 3, 20, tzinfo=timezone.utc)))
    campaign = draft(account, audience(account, 1))
    browser = login_as("marketer")
    response = browser.post(f"/campaigns/{campaign.id}/schedule", {
        **commitment(browser, campaign.id), "local_time": local_time, "timezone": "Europe/Oslo"})
    assert response.status_code == 422
    assert shown in unescape(response.get_data(as_text=True))


def test_the_page_says_which_of_two_equal_times_it_took(login_as, account, monkeypatch):
    monkeypatch.setattr(campaigns, "schedule", functools.partial(
        campaigns.schedule, now=datetime(2027, 10, 20, tzinfo=timezone.utc)))
    campaign = draft(account, audience(account, 1))
    browser = login_as("marketer")
    response = browser.post(f"/campaigns/{campaign.id}/schedule", {
        **commitment(browser, campaign.id), "local_time": "2027-10-31T02:30", "timezone": "Europe/Oslo"})
    assert response.status_code == 303
    shown = flashes(browser.get(response.headers["Location"]).get_data(as_text=True))
    assert "2027-10-31 02:30 Europe/Oslo (00:30 UTC)" in shown
    assert "2027-10-31T02:30 occurs twice in Europe/Oslo (clocks go back); the first occurrence" in shown


# -- while it sends: progress, pause, resume, cancel ---------------------------------------------

def sending(account, count: int = 30, released: int = 10):
    """A SENDING campaign whose ledger is written and partly released."""
    campaign = draft(account, audience(account, count))
    campaigns.send_now(account, campaign)
    campaign_run.write_ledger(db.session.get(Campaign, campaign.id))
    campaign_run.release(campaign.id, released)
    return campaign.id


def test_progress_polls_while_sending_and_stops_when_final(login_as, account, run_jobs):
    cid = sending(account)
    browser = login_as("viewer")
    html = full_page(browser.get(f"/campaigns/{cid}"))
    assert 'hx-trigger="every 2s"' in html and '"seen": "SENDING"' in html
    assert 'aria-label="Campaign progress"' in html and "Pause" not in html  # viewers only look
    poll = browser.get(f"/campaigns/{cid}?seen=SENDING", htmx=True, headers={"HX-Trigger": "campaign-progress"})
    fragment = htmx_fragment(poll)
    assert fragment.lstrip().startswith('<section id="campaign-progress"') and "flashes" not in fragment
    assert 'data-count="QUEUED">10<' in fragment and 'data-count="SCHEDULED">20<' in fragment
    assert '<progress max="30" value="0"' in fragment and "0 of 30 messages done" in fragment

    finish(run_jobs)  # the run queued by send_now releases and sends the rest
    assert fresh(Campaign, cid).status == CampaignStatus.COMPLETED
    # The poll that finds the campaign moved on reloads the page; the page no longer polls.
    response = browser.get(f"/campaigns/{cid}?seen=SENDING", htmx=True, headers={"HX-Trigger": "campaign-progress"})
    assert response.headers.get("HX-Refresh") == "true"
    fragment = htmx_fragment(browser.get(f"/campaigns/{cid}?seen=COMPLETED", htmx=True,
                                         headers={"HX-Trigger": "campaign-progress"}))
    assert "hx-trigger" not in fragment and 'data-count="DELIVERED">30<' in fragment
    assert "30 of 30 messages done (100 %)" in fragment and '<progress max="30" value="30"' in fragment


def test_pause_resume_and_cancel_from_the_progress(login_as, account, run_jobs):
    cid = sending(account)
    browser = login_as("marketer")
    html = browser.get(f"/campaigns/{cid}").get_data(as_text=True)
    assert f'hx-post="/campaigns/{cid}/pause"' in html and f'hx-post="/campaigns/{cid}/cancel"' in html
    assert "Resume" not in html

    response = browser.post(f"/campaigns/{cid}/pause", htmx=True)
    assert response.headers["HX-Redirect"] == f"/campaigns/{cid}"
    assert fresh(Campaign, cid).status == CampaignStatus.PAUSED
    finish(run_jobs)  # what was released is still sent; nothing more
    assert ledger(cid) == {Status.DELIVERED: 10, Status.SCHEDULED: 20}
    html = browser.get(f"/campaigns/{cid}").get_data(as_text=True)
    assert "Paused Spring sale." in flashes(html)
    assert f'hx-post="/campaigns/{cid}/resume"' in html and f'/campaigns/{cid}/pause"' not in html

    # Pausing again is refused: with htmx the message goes to the flash area, without it to the page.
    assert browser.post(f"/campaigns/{cid}/pause", htmx=True).status_code == 409
    response = browser.post(f"/campaigns/{cid}/pause")
    assert response.status_code == 303
    assert "A PAUSED campaign cannot be paused" in flashes(browser.get(f"/campaigns/{cid}").get_data(as_text=True))

    assert browser.post(f"/campaigns/{cid}/resume").status_code == 303
    assert fresh(Campaign, cid).status == CampaignStatus.SENDING
    response = browser.post(f"/campaigns/{cid}/cancel", htmx=True)
    assert response.headers["HX-Redirect"] == f"/campaigns/{cid}"
    run_jobs()
    assert fresh(Campaign, cid).status == CampaignStatus.CANCELLED
    counts = ledger(cid)
    assert counts.get(Status.DELIVERED) == 10 and sum(counts.values()) == 30
    html = browser.get(f"/campaigns/{cid}").get_data(as_text=True)
    assert "Cancelled Spring sale." in flashes(html) and "hx-trigger" not in html


def test_cancel_asks_for_confirmation(login_as, account):
    cid = sending(account, 2, 0)
    html = login_as("marketer").get(f"/campaigns/{cid}").get_data(as_text=True)
    form = re.search(rf'<form[^>]*action="/campaigns/{cid}/cancel"[^>]*>', html).group(0)
    assert "hx-confirm=" in form


def test_a_campaign_the_engine_paused_says_why(login_as, account):
    cid = sending(account, 2, 0)
    campaign = fresh(Campaign, cid)
    campaigns.pause(campaign)
    campaign.note = "Its sender profile is no longer approved"
    db.session.commit()
    html = login_as("viewer").get(f"/campaigns/{cid}").get_data(as_text=True)
    assert "smsdesk paused this campaign: Its sender profile is no longer approved" in html


# -- test send -------------------------------------------------------------------------------------

def test_test_send_from_the_composer_uses_the_first_recipients_text(login_as, account):
    group = audience(account, 2)
    browser = login_as("marketer")
    response = compose(browser, intent="test", message="Hi {first_name|there}, see you", group_ids=[group.id],
                       test_number="+4798765432")
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<div id="test-result"') and "Test sent to +4798765432" in html
    db.session.expire_all()
    sent = db.session.scalar(select(Message).where(Message.to_number == "+4798765432"))
    assert sent.body in {"Hi Ada0, see you", "Hi Ada1, see you"} and sent.campaign_id is None
    assert db.session.scalar(select(Campaign.id)) is None  # a test saves no draft

    response = compose(browser, intent="test", message="Hi", group_ids=[group.id], test_number="12")
    assert response.status_code == 422 and "too short" in htmx_fragment(response)
    response = compose(browser, intent="test", message="Hi", group_ids=[group.id], test_number="")
    assert response.status_code == 422 and "Enter the number" in htmx_fragment(response)


def test_test_send_from_the_campaign_page(login_as, account):
    campaign = draft(account, audience(account, 1))
    browser = login_as("admin")
    response = browser.post(f"/campaigns/{campaign.id}/test", {"test_number": "+4798765432"}, htmx=True)
    assert "Test sent to +4798765432" in htmx_fragment(response)
    response = browser.post(f"/campaigns/{campaign.id}/test", {"test_number": "+4798765432"})
    assert "Test sent to +4798765432" in full_page(response)
    db.session.expire_all()
    bodies = db.session.scalars(select(Message.body).where(Message.to_number == "+4798765432")).all()
    assert bodies == ["Hi Ada0, 20% off today"] * 2


# -- resend to failed ------------------------------------------------------------------------------

def test_resend_to_failed_only_makes_a_draft_and_goes_there(login_as, account, run_jobs):
    good = [contact(account, f"Ok{i}", f"+479300000{i + 1}") for i in range(3)]
    bad = [contact(account, f"Bad{i}", f"+47912{i}0000") for i in range(2)]  # the simulator fails ...0000
    cid = sent(account, group_with(account, "Mixed", *good, *bad), run_jobs)
    assert ledger(cid) == {Status.DELIVERED: 3, Status.FAILED: 2}
    browser = login_as("marketer")
    html = browser.get(f"/campaigns/{cid}").get_data(as_text=True)
    assert "Resend to failed only" in html and "2 failed" in html
    response = browser.post(f"/campaigns/{cid}/resend")
    assert response.status_code == 303
    db.session.expire_all()
    resend = db.session.scalar(select(Campaign).where(Campaign.source_campaign_id == cid))
    assert response.headers["Location"] == f"/campaigns/{resend.id}" and resend.status == CampaignStatus.DRAFT
    html = unescape(browser.get(response.headers["Location"]).get_data(as_text=True))
    assert "Created the draft Spring sale (resend to failed)" in html
    assert figure(html, "recipients") == "2" and "Send now to 2 recipients" in html
    # Its composer shows the text it resends, not editable, and no group pickers.
    html = browser.get(f"/campaigns/{resend.id}/edit").get_data(as_text=True)
    assert re.search(r'<textarea[^>]*readonly', html) and 'id="group_ids"' not in html
    assert figure(html, "recipients") == "2"


def test_resend_without_failures_is_refused_with_a_message(login_as, account, run_jobs):
    cid = sent(account, audience(account, 1), run_jobs)
    browser = login_as("marketer")
    assert "Resend to failed only" not in browser.get(f"/campaigns/{cid}").get_data(as_text=True)
    row = browser.get("/campaigns").get_data(as_text=True).split(f'data-campaign="{cid}"')[1].split("</tr>")[0]
    assert "<td data-progress>1 · 0</td>" in row and 'data-status="COMPLETED"' in row
    response = browser.post(f"/campaigns/{cid}/resend")
    assert response.status_code == 303
    assert "nothing to resend" in flashes(browser.get(response.headers["Location"]).get_data(as_text=True))


def test_report_link_only_when_the_report_page_exists(login_as, account, run_jobs, app):
    cid = sent(account, audience(account, 1), run_jobs)
    html = login_as("viewer").get(f"/campaigns/{cid}").get_data(as_text=True)
    assert (f'href="/campaigns/{cid}/report"' in html) == ("dashboard.campaign_report" in app.view_functions)


# -- who may do what -------------------------------------------------------------------------------

CHANGES = ["send", "schedule", "unschedule", "pause", "resume", "cancel", "resend", "test", "edit"]


@pytest.mark.parametrize("role", READ_ONLY)
def test_read_only_roles_look_but_change_nothing(login_as, account, role):
    campaign = draft(account, audience(account, 1))
    browser = login_as(role)
    html = browser.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert browser.get(f"/campaigns/{campaign.id}").status_code == 200
    assert "data-commit" not in html and "Send test" not in html and ">Edit<" not in html
    assert browser.get("/campaigns/new").status_code == 403
    assert browser.get(f"/campaigns/{campaign.id}/edit").status_code == 403
    data = {"recipients": "1", "units": "1", "name": "x", "message": "x", "intent": "save", "test_number": "+4798765432",
            "local_time": in_a_few_days().strftime("%Y-%m-%dT%H:%M")}
    assert browser.post("/campaigns/new", data).status_code == 403
    for change in CHANGES:
        assert browser.post(f"/campaigns/{campaign.id}/{change}", data).status_code == 403, change
        assert browser.post(f"/campaigns/{campaign.id}/{change}", data, htmx=True).status_code == 403, change
    assert fresh(Campaign, campaign.id).status == CampaignStatus.DRAFT
    assert db.session.scalar(select(Message.id)) is None


def test_another_tenants_campaign_is_not_found(login_as, account, other_account):
    theirs = draft(other_account[0], audience(other_account[0], 1))
    browser = login_as("admin")
    assert browser.get(f"/campaigns/{theirs.id}").status_code == 404
    assert browser.get(f"/campaigns/{theirs.id}", htmx=True).status_code == 404
    assert browser.get(f"/campaigns/{theirs.id}/edit").status_code == 404
    for change in CHANGES:
        assert browser.post(f"/campaigns/{theirs.id}/{change}", {"recipients": "1", "units": "1"}).status_code == 404
    assert "Spring sale" not in browser.get("/campaigns").get_data(as_text=True)
    # Their groups cannot be borrowed either.
    html = htmx_fragment(compose(browser, message="Hi", group_ids=theirs.group_ids))
    assert "Group not found" in html
    assert fresh(Campaign, theirs.id).status == CampaignStatus.DRAFT


def test_posts_without_a_csrf_token_are_refused(login_as, account):
    campaign = draft(account, audience(account, 1))
    browser = login_as("marketer")
    for path in ("/campaigns/new", f"/campaigns/{campaign.id}/send", f"/campaigns/{campaign.id}/cancel"):
        assert browser.post(path, {"recipients": "1", "units": "1", "intent": "save"}, csrf=False).status_code == 400
    assert fresh(Campaign, campaign.id).status == CampaignStatus.DRAFT


def test_anonymous_is_sent_to_sign_in(browser, account):
    campaign = draft(account, audience(account, 1))
    for path in ("/campaigns", f"/campaigns/{campaign.id}", "/campaigns/new"):
        response = browser.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_unknown_campaign_is_404(login_as):
    assert login_as("viewer").get(f"/campaigns/{'0' * 8}-0000-0000-0000-{'0' * 12}").status_code == 404
    assert login_as("viewer").get("/campaigns/not-an-id").status_code == 404
