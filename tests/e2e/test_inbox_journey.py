"""The two-way journey in a real browser, against the real product, as ``make run`` leaves it: the
demo account (seeded by ``flask seed-demo``, its two-way number and example keyword included).
Sign in as the demo user, make a person text in through the simulator control on the inbox, open
the conversation, reply, and watch the reply reach DELIVERED in the conversation. Then a keyword:
the text is answered by its auto-reply without anyone doing anything.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.services.demo import DEMO_EMAIL, DEMO_KEYWORD, DEMO_REPLY_NUMBER
from tests.e2e.conftest import _flask
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e

DEMO_PASSWORD = "e2e-demo-password"
PERSON = "+4791112233"
QUESTION = "Hei! Har dere åpent på søndag?"
ANSWER = "Ja, søndag 12–16. Velkommen!"
DELIVERY_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def demo(product):
    """The demo account, seeded as ``make run`` seeds it (with a password of the test's own)."""
    if product is None:
        return None
    _flask({**product.env, "DEMO_PASSWORD": DEMO_PASSWORD}, product.tmp / "setup.log", "seed-demo")
    return DEMO_EMAIL, DEMO_PASSWORD


def test_a_text_comes_in_is_answered_and_the_answer_delivered(browser, product, demo):
    page = browser.page
    sign_in(page, *demo)

    # -- the inbox: nobody has written yet; make a person text the demo's two-way number ------------------
    page.get_by_role("navigation").get_by_role("link", name="Inbox", exact=True).click()
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    expect(page.get_by_text("Nobody has texted your numbers yet.")).to_be_visible()
    expect(page.get_by_label("To our number")).to_have_value(re.compile(".+"))
    expect(page.get_by_label("To our number").locator("option:checked")).to_contain_text(DEMO_REPLY_NUMBER)
    page.get_by_label("From").fill("911 12 233")
    page.get_by_label("Text", exact=True).fill(QUESTION)
    page.evaluate("window.__e2e_same_page = true")
    page.get_by_role("button", name="Simulate the text").click()
    expect(page.get_by_role("status")).to_contain_text(f"Text from {PERSON} to {DEMO_REPLY_NUMBER} received.")
    thread_link = page.locator("#thread-list").get_by_role("link", name=QUESTION)
    expect(thread_link).to_be_visible()  # the list updated in place
    assert page.evaluate("window.__e2e_same_page === true"), "the inbox was reloaded; it should update in place"
    expect(page.get_by_label("Text", exact=True)).to_have_value("")

    # -- the conversation: reply from the number they wrote to ---------------------------------------------
    thread_link.click()
    expect(page.get_by_role("heading", name=PERSON, level=1)).to_be_visible()
    conversation = page.locator("#thread-messages")
    expect(conversation.locator("blockquote")).to_have_text([QUESTION])
    expect(page.get_by_text("the number they wrote to")).to_contain_text(DEMO_REPLY_NUMBER)
    page.get_by_label("Reply", exact=True).fill(ANSWER)
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status")).to_contain_text(f"Reply to {PERSON} queued from {DEMO_REPLY_NUMBER}.")
    expect(conversation.locator("blockquote")).to_have_text([QUESTION, ANSWER])
    expect(page.get_by_label("Reply", exact=True)).to_have_value("")
    ours = conversation.locator('li[data-direction="OUTBOUND"]')
    expect(ours).to_have_attribute("data-status", "DELIVERED", timeout=DELIVERY_TIMEOUT_MS)
    expect(ours.locator(".badge.status")).to_have_text("delivered")
    page.screenshot(path=str(product.tmp / "inbox-1-conversation.png"), full_page=True)

    # -- the person texts the demo keyword: its auto-reply answers at once ----------------------------------
    word, _, auto_reply = DEMO_KEYWORD
    page.get_by_label("Their reply").fill(word.lower())
    page.get_by_role("button", name="Simulate a reply").click()
    expect(page.get_by_role("status")).to_contain_text(f"it matched the keyword {word}")
    expect(conversation.locator("blockquote")).to_have_text([QUESTION, ANSWER, word.lower(), auto_reply])
    expect(conversation.get_by_text(f"keyword {word}")).to_be_visible()
    expect(ours.last).to_have_attribute("data-status", "DELIVERED", timeout=DELIVERY_TIMEOUT_MS)

    page.get_by_role("navigation").get_by_role("link", name="Keywords", exact=True).click()
    keyword_row = page.get_by_role("row").filter(has_text=word)
    expect(keyword_row.get_by_role("cell").nth(1)).to_have_text("1")  # texts received

    assert not browser.page_errors, f"JavaScript errors on the pages: {browser.page_errors}"
    assert not [c for c in browser.console if "Content Security Policy" in c or "Refused to" in c], browser.console
    assert not browser.server_errors, f"server errors: {browser.server_errors}"
