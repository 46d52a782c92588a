"""The dashboard under its Content-Security-Policy in real Chromium: every page an admin can reach,
htmx swaps and a Chart.js chart, with nothing refused. The journeys check the same on their pages;
this one also proves the check can fail (an inline style injected on purpose is refused)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e

# How Chromium reports a CSP violation on the console ("Refused to apply inline style because it
# violates the following Content Security Policy directive: ...").
REFUSED = re.compile(r"Content Security Policy|Refused to")


def refused(browser) -> list[str]:
    return [line for line in browser.console if REFUSED.search(line)]


def test_every_admin_page_runs_under_the_policy(browser):
    page = browser.page
    sign_in(page, *ADMIN)
    links = page.get_by_role("navigation").get_by_role("link")
    names = links.all_inner_texts()
    assert {"Usage", "Contacts", "Inbox", "API reference"} <= set(names), names
    for name in names:
        response = page.goto(links.filter(has_text=re.compile(rf"^{re.escape(name)}$")).first.get_attribute("href"))
        assert response is not None and response.ok, (name, response and response.status)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], name
        expect(page.locator("h1").first).to_be_visible()

    # htmx: a search swaps the contact list in place (no reload).
    page.goto("/contacts")
    page.evaluate("window.__e2e_same_page = true")
    with page.expect_response(lambda r: "/contacts?" in r.url and r.request.headers.get("hx-request") == "true"):
        page.get_by_role("searchbox").first.fill("nobody-by-this-name")
    assert page.evaluate("window.__e2e_same_page === true"), "the search reloaded the page"

    # Chart.js: the usage chart is drawn, then drawn again for the month htmx swaps in.
    page.goto("/usage")
    drawn = "() => { const c = document.getElementById('usage-chart'); return !!(c && window.Chart && window.Chart.getChart(c)); }"
    page.wait_for_function(drawn)
    page.evaluate("window.__e2e_same_page = true")
    page.get_by_role("link", name=re.compile("^← ")).click()
    expect(page).to_have_url(re.compile(r"month="))
    page.wait_for_function(drawn)
    assert page.evaluate("window.__e2e_same_page === true"), "the month picker reloaded the page"

    assert not refused(browser), refused(browser)
    assert not browser.page_errors, f"JavaScript errors on the pages: {browser.page_errors}"
    assert not browser.server_errors, f"server errors: {browser.server_errors}"

    # The check is live: the policy refuses an inline <style> and the console says so.
    page.evaluate("document.head.append(Object.assign(document.createElement('style'), {textContent: 'body{}'}))")
    for _ in range(20):
        if refused(browser):
            break
        page.wait_for_timeout(100)
    assert refused(browser), browser.console[-5:]
