"""A campaign in a real browser, against the real product: a marketer composes it with merge fields,
checks the live preview's units and cost, saves it, schedules it for the next minute, and watches
the worker's tick start it when it is due and the page follow it to every message DELIVERED; then
the campaign's report draws its chart.

Its tenant is an account of its own (made with the CLI, its contacts and group through the API), so
the main journey's account stays as that journey expects it.

Why the next minute: the schedule form takes minutes, as people schedule, and the product refuses a
time that has passed, so the earliest honest schedule is the next minute boundary (at least a few
seconds away, so the form is sent before it). The tick then starts the campaign within a tick of that
time; the test waits for it rather than making it due by any back door.
"""
from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from app.sms import DEFAULT_PRICES, costs_in_all_currencies, count_segments
from tests.e2e.conftest import _flask
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e

ACCOUNT = "Fjellkaffe AS"
MARKETER = ("marketer@fjellkaffe.test", "e2e-seller-passphrase")
GROUP = "Stamkunder"
CAMPAIGN = "Vinterkaffe"
ZONE = ZoneInfo("Europe/Oslo")
CONTACTS = [  # first name (None: the fallback is used), phone number
    ("Ola", "+4791234501"),
    ("Kari", "+4791234502"),
    ("Maximilian-Alexander", "+4791234503"),
    (None, "+4791234504"),
]
NO_NUMBER = "Uten Nummer"
GREETING = "Hei "
FIELD = "{first_name|there}"
BODY = ("! Vinterkaffen fra Fjellkaffe er her: ristet i Valdres, malt når du vil. Vis denne meldingen i "
        "butikken og få en kopp på huset. Hilsen oss")
SCHEDULE_MARGIN = timedelta(seconds=8)  # the form must reach the server before the chosen minute
DUE_TIMEOUT_MS = 120_000  # up to a minute until due, then the tick, the sends and the reports


def texts() -> list[str]:
    return [f"{GREETING}{first or 'there'}{BODY}" for first, _ in CONTACTS]


def api(product, key: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{product.base_url}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"X-API-Key": key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def shop(product):
    """The account with a marketer, and its contacts in one group (one contact has no number)."""
    if product is None:
        return None
    log = product.tmp / "setup.log"
    _flask(product.env, log, "accounts", "create", ACCOUNT, "--currency", "NOK", "--timezone", "Europe/Oslo")
    _flask(product.env, log, "users", "create", "--account", ACCOUNT, "--email", MARKETER[0],
           "--password", MARKETER[1], "--role", "marketer")
    key = _flask(product.env, log, "api-keys", "create", "--account", ACCOUNT).strip().splitlines()[-1]
    ids = [api(product, key, "/v1/contacts", {"first_name": first, "name": first or "Kunde uten fornavn",
                                              "phone_number": number})["id"] for first, number in CONTACTS]
    ids.append(api(product, key, "/v1/contacts", {"name": NO_NUMBER})["id"])
    group = api(product, key, "/v1/contacts/groups", {"name": GROUP})
    api(product, key, f"/v1/contacts/groups/{group['id']}/members", {"contact_ids": ids})
    return group


def next_minute(now: datetime) -> datetime:
    """The first whole minute at least SCHEDULE_MARGIN after ``now``."""
    return (now + SCHEDULE_MARGIN + timedelta(minutes=1)).replace(second=0, microsecond=0)


def test_compose_schedule_and_watch_it_delivered(browser, product, shop):
    page = browser.page
    started = time.monotonic()
    units = sum(count_segments(text).parts for text in texts())
    cost = costs_in_all_currencies(units, DEFAULT_PRICES, first="NOK")[0][1]
    assert {count_segments(t).parts for t in texts()} == {1, 2}, "the long name should need a second part"

    sign_in(page, *MARKETER)
    page.get_by_role("navigation").get_by_role("link", name="Campaigns", exact=True).click()
    expect(page.get_by_role("heading", name="Campaigns", level=1)).to_be_visible()
    expect(page.get_by_text("No campaigns yet.")).to_be_visible()
    page.get_by_role("link", name="New campaign").click()

    # -- compose: the preview follows the text and the choices --------------------------------------
    expect(page.get_by_role("heading", name="New campaign", level=1)).to_be_visible()
    expect(page.get_by_text("Type a message to see its recipients, parts and cost.")).to_be_visible()
    page.get_by_label("Name", exact=True).fill(CAMPAIGN)
    page.get_by_label("Groups", exact=True).select_option(label=f"{GROUP} (5 members)")
    message = page.get_by_label("Message", exact=True)
    message.press_sequentially(GREETING)
    page.get_by_role("button", name="First name").click()  # inserts {first_name|there} at the cursor
    message.press_sequentially(BODY)
    expect(message).to_have_value(GREETING + FIELD + BODY)

    expect(page.get_by_test_id("recipients")).to_have_text("4")
    expect(page.get_by_test_id("units")).to_have_text(str(units))
    expect(page.get_by_test_id("parts")).to_have_text("2")
    expect(page.get_by_test_id("encoding")).to_have_text("GSM-7")
    expect(page.get_by_test_id("cost")).to_have_text(f"NOK {cost:,.2f}")
    preview = page.locator("#campaign-preview")
    expect(preview.get_by_text("1 no phone number")).to_be_visible()
    expect(preview.get_by_text("3 messages in 1 part")).to_be_visible()
    expect(preview.get_by_text("1 message in 2 parts")).to_be_visible()
    samples = preview.locator("blockquote")
    expect(samples).to_have_count(3)  # as the first recipients get it, personalised
    assert set(samples.all_inner_texts()) <= set(texts()), samples.all_inner_texts()
    page.screenshot(path=str(product.tmp / "campaign-1-composer.png"), full_page=True)

    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name=CAMPAIGN, level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(f"Saved the draft {CAMPAIGN}.")
    commits = f"4 recipients · {units} units · NOK {cost:,.2f}"
    expect(page.get_by_role("button", name=f"Send now to {commits}")).to_be_visible()

    # -- schedule it for the next minute -------------------------------------------------------------
    due = next_minute(datetime.now(ZONE))
    page.get_by_label("Send at").fill(due.strftime("%Y-%m-%dT%H:%M"))
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Oslo")
    page.get_by_role("button", name=f"Schedule for {commits}").click()
    utc = due.astimezone(ZoneInfo("UTC"))
    # The UTC time carries its date when it falls on another day than the local one.
    utc_text = utc.strftime("%H:%M" if utc.date() == due.date() else "%Y-%m-%d %H:%M")
    expect(page.get_by_role("status")).to_contain_text(
        f"Scheduled {CAMPAIGN} for {due:%Y-%m-%d %H:%M} Europe/Oslo ({utc_text} UTC).")
    expect(page.locator("h1 [data-status]")).to_have_text("scheduled")
    expect(page.get_by_role("button", name=f"Reschedule for {commits}")).to_be_visible()
    page.screenshot(path=str(product.tmp / "campaign-2-scheduled.png"), full_page=True)

    # -- the tick starts it when due; the page follows it until every message is delivered ------------
    delivered = page.locator('[data-count="DELIVERED"]')
    expect(delivered).to_have_text("4", timeout=DUE_TIMEOUT_MS)
    assert datetime.now(ZONE) >= due, "the campaign ran before its time"
    expect(page.locator("h1 [data-status]")).to_have_text("completed")
    expect(page.get_by_role("progressbar", name="Campaign progress")).to_have_attribute("value", "4")
    expect(page.locator('[data-progress="failed"]')).to_have_text("0 failed")
    page.screenshot(path=str(product.tmp / "campaign-3-completed.png"), full_page=True)

    # -- the report's chart ---------------------------------------------------------------------------
    page.get_by_role("link", name="Report").click()
    expect(page.get_by_test_id("delivered")).to_have_text("4")
    chart = page.wait_for_function(
        """() => {
            const canvas = document.getElementById("chart-statuses");
            const chart = canvas && window.Chart && window.Chart.getChart(canvas);
            if (!chart) return null;
            const i = chart.data.labels.findIndex((label) => /deliver/i.test(String(label)));
            return i < 0 ? null : chart.data.datasets.map((set) => Number(set.data[i]));
        }""")
    assert 4 in chart.json_value(), chart.json_value()
    page.screenshot(path=str(product.tmp / "campaign-4-report.png"), full_page=True)

    assert not browser.page_errors, f"JavaScript errors on the pages: {browser.page_errors}"
    assert not [c for c in browser.console if "Content Security Policy" in c or "Refused to" in c], browser.console
    assert not browser.server_errors, f"server errors: {browser.server_errors}"
    print(f"\ncampaign journey took {time.monotonic() - started:.1f}s")
