"""The main journey in a real browser, against the real product: sign in, import a CSV, make a
group, send to it, and watch the log until every message is DELIVERED. And what a viewer may not do.

Elements are found as a person finds them: by role, label and text. The send preview's figures are
found by their ``data-figure`` marks (Playwright's test ids here, see conftest).
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN, VIEWER
from tests.e2e.pages import sign_in

pytestmark = pytest.mark.e2e

DELIVERY_TIMEOUT_MS = 20_000
IMPORT_TIMEOUT_MS = 20_000

# What a Norwegian customer list exported from a spreadsheet looks like: semicolons, a BOM, CRLF,
# numbers written the national way, one that is no number at all, and a column ("Kundegruppe")
# that smsdesk cannot guess, so it is mapped by hand.
CSV_ROWS = [
    ("Fornavn", "Etternavn", "Mobil", "E-post", "Kundegruppe"),
    ("Åse", "Bjørnstad", "912 34 567", "ase.bjornstad@example.no", "Gull"),
    ("Ørjan", "Kværnes", "+47 934 56 789", "orjan.kvaernes@example.no", "Sølv"),
    ("Kjærsti", "Lønseth", "0047 41 23 45 67", "", "Gull"),
    ("Bjørn", "Æsøy", "98 76 54 32", "bjorn@example.no", "Bronse"),
    ("Håkon", "Dæhlie", "12 34", "hakon.daehlie@example.no", "Gull"),
]
IMPORTED = {  # name as the contact list shows it -> the number in E.164
    "Åse Bjørnstad": "+4791234567",
    "Ørjan Kværnes": "+4793456789",
    "Kjærsti Lønseth": "+4741234567",
    "Bjørn Æsøy": "+4798765432",
}
REJECTED_NUMBER = "12 34"
GROUP = "Customers"
MESSAGE_START = "Hei! Vårsalget hos Nordlys Sykkel starter på lørdag. "
MESSAGE_MORE = ("Alle sykler og tilbehør er på tilbud hele helgen, og vi byr på kaffe og vafler i butikken. "
                "Velkommen innom, hilsen oss i Nordlys Sykkel på Grønland!")


def write_csv(path: Path) -> Path:
    text = "\r\n".join(";".join(row) for row in CSV_ROWS) + "\r\n"
    path.write_bytes(text.encode("utf-8-sig"))
    return path


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()


def fact(page: Page, term: str):
    """The <div><dt>term</dt><dd>value</dd></div> of a facts list, by its term."""
    return page.get_by_role("term").filter(has_text=re.compile(rf"^{re.escape(term)}$")).locator("xpath=..")


def test_journey_import_group_send_delivered(browser, product, tmp_path):
    page = browser.page
    started = time.monotonic()
    csv_file = write_csv(tmp_path / "kunder.csv")

    # -- sign in ------------------------------------------------------------------------------------
    sign_in(page, *ADMIN)

    # -- contacts -> import: upload, map, preview ------------------------------------------------------
    nav(page, "Contacts")
    expect(page.get_by_role("heading", name="Contacts", level=1)).to_be_visible()
    expect(page.get_by_text("No contacts yet.")).to_be_visible()
    page.get_by_role("link", name="Import contacts from a CSV file").click()
    expect(page.get_by_role("heading", name="Import contacts", level=1)).to_be_visible()
    page.get_by_label("CSV file").set_input_files(csv_file)
    page.get_by_role("button", name="Upload and choose columns").click()

    expect(page.get_by_role("heading", name="Import kunder.csv")).to_be_visible()
    expect(page.get_by_text(re.compile(r"5 rows · 5 columns · semicolon separated", re.I))).to_be_visible()
    expect(page.get_by_role("heading", name="Which column is which?")).to_be_visible()
    # The guesses from the Norwegian headers...
    expect(page.get_by_label("Phone number", exact=True).locator("option:checked")).to_have_text("Mobil")
    expect(page.get_by_label("First name", exact=True).locator("option:checked")).to_have_text("Fornavn")
    expect(page.get_by_label("Last name", exact=True).locator("option:checked")).to_have_text("Etternavn")
    expect(page.get_by_label("Email", exact=True).locator("option:checked")).to_have_text("E-post")
    # ...and the column nobody could guess, mapped by hand: the preview follows.
    preview = page.locator("#import-preview")
    expect(preview.get_by_role("cell", name="Gull", exact=True)).to_have_count(0)
    page.get_by_label("Tags", exact=True).select_option(label="Kundegruppe")
    expect(preview.get_by_role("cell", name="Gull", exact=True).first).to_be_visible()

    preview_rows = preview.get_by_role("row")
    expect(preview_rows.filter(has_text="New contact")).to_have_count(4)
    rejected_row = preview_rows.filter(has_text="Rejected")
    expect(rejected_row).to_have_count(1)
    # Row 6 of the file (the header is row 1). The preview shows no values for a rejected row, only
    # the reason, which quotes the number.
    expect(rejected_row.get_by_role("cell").first).to_have_text("6")
    expect(rejected_row).to_contain_text(f"invalid phone number: '{REJECTED_NUMBER}' is too short")
    expect(page.get_by_label("Skip them: keep their details as they are")).to_be_checked()

    # -- start, watch the progress, see the outcome ------------------------------------------------------
    page.get_by_role("button", name="Import 5 rows").click()
    expect(page.get_by_role("progressbar", name="Import progress")).to_be_visible()
    expect(page.get_by_text("Imported kunder.csv: 5 rows read")).to_be_visible(timeout=IMPORT_TIMEOUT_MS)
    expect(page.get_by_role("progressbar")).to_have_count(0)
    expect(fact(page, "New contacts")).to_contain_text("4")
    expect(fact(page, "Rejected")).to_contain_text("1")
    expect(fact(page, "Updated")).to_contain_text("0")
    page.screenshot(path=str(product.tmp / "journey-1-import-result.png"), full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the rejected rows").click()
    rejected_csv = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    assert REJECTED_NUMBER in rejected_csv and "Håkon" in rejected_csv, rejected_csv
    assert "too short" in rejected_csv, rejected_csv

    page.get_by_role("link", name="Go to contacts").click()
    contacts = page.get_by_role("table")
    for name, number in IMPORTED.items():
        row = contacts.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))
        expect(row).to_contain_text(number)
    expect(page.get_by_text("4 contacts", exact=True)).to_be_visible()

    # -- groups: create "Customers" ------------------------------------------------------------------
    nav(page, "Groups")
    expect(page.get_by_role("heading", name="Groups", level=1)).to_be_visible()
    page.get_by_label("Name", exact=True).fill(GROUP)
    page.get_by_label("Description", exact=True).fill("Kunder fra vårens import")
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("status")).to_contain_text(f"Created group {GROUP}.")
    expect(page.get_by_role("row").filter(has=page.get_by_role("link", name=GROUP, exact=True))).to_contain_text("0")

    # -- contacts: tick the imported contacts, add them to the group ---------------------------------------
    nav(page, "Contacts")
    for name in IMPORTED:
        page.get_by_role("checkbox", name=f"Select {name}").check()
    page.get_by_label("Add the ticked contacts to").select_option(label=GROUP)
    page.get_by_role("button", name="Add to group").click()
    expect(page.get_by_role("status")).to_contain_text(f"Added 4 contacts to {GROUP}.")

    nav(page, "Groups")
    page.get_by_role("link", name=GROUP, exact=True).click()
    expect(page.get_by_role("heading", name="Members (4)")).to_be_visible()
    for name in IMPORTED:
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()

    # -- send: the group, a message, the live preview -------------------------------------------------
    nav(page, "Send")
    expect(page.get_by_role("heading", name="Send an SMS")).to_be_visible()
    expect(page.get_by_text("Type a message to see its encoding, parts and cost.")).to_be_visible()
    page.get_by_label("Groups", exact=True).select_option(label=f"{GROUP} (4 members)")
    expect(page.get_by_test_id("recipients")).to_have_count(0)  # no figures before there is text

    message = page.get_by_label("Message", exact=True)
    message.press_sequentially(MESSAGE_START)
    expect(page.get_by_test_id("recipients")).to_have_text("4")
    expect(page.get_by_test_id("characters")).to_have_text(str(len(MESSAGE_START)))
    expect(page.get_by_test_id("encoding")).to_have_text("GSM-7")  # æøå are in the GSM alphabet
    expect(page.get_by_test_id("parts")).to_have_text("1")
    units_short = page.get_by_test_id("units").inner_text()
    cost_short = page.get_by_test_id("cost").inner_text()
    assert units_short == "4", units_short
    assert re.fullmatch(r"\d+\.\d\d NOK", cost_short), cost_short

    message.press_sequentially(MESSAGE_MORE)
    text = MESSAGE_START + MESSAGE_MORE
    assert len(text) > 160
    expect(page.get_by_test_id("characters")).to_have_text(str(len(text)))
    expect(page.get_by_test_id("parts")).to_have_text("2")
    expect(page.get_by_test_id("units")).not_to_have_text(units_short)
    expect(page.get_by_test_id("units")).to_have_text("8")
    expect(page.get_by_test_id("cost")).not_to_have_text(cost_short)
    expect(page.get_by_text("Sends as soon as you press Send.")).to_be_visible()
    page.screenshot(path=str(product.tmp / "journey-2-send-preview.png"), full_page=True)

    page.get_by_role("button", name="Send", exact=True).click()

    # -- the messages log: the rows update themselves until every one is DELIVERED ----------------------
    expect(page).to_have_url(re.compile(r"/messages\?batch_id="))
    expect(page.get_by_role("heading", name="Messages", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Sent to 4 recipients.")
    rows = page.get_by_role("row").filter(has=page.get_by_role("cell"))
    expect(rows).to_have_count(4)
    for number in IMPORTED.values():
        expect(rows.filter(has_text=number)).to_have_count(1)
    first_look = [row.get_by_role("cell").nth(5).inner_text() for row in rows.all()]
    page.evaluate("window.__e2e_same_page = true")  # gone if the page were reloaded
    delivered = rows.filter(has=page.get_by_role("cell", name="delivered", exact=True))
    expect(delivered).to_have_count(4, timeout=DELIVERY_TIMEOUT_MS)
    assert page.evaluate("window.__e2e_same_page === true"), "the log was reloaded; it should update in place"
    for row in rows.all():
        expect(row.get_by_role("cell").nth(5)).to_have_text("delivered")
        expect(row.get_by_role("cell").nth(6)).to_have_text("2")  # units: two parts each
    print(f"\nstatuses at first look: {first_look}")

    # What a person sees when it is done.
    shot = product.tmp / "journey-3-messages-log.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")

    assert not browser.page_errors, f"JavaScript errors on the pages: {browser.page_errors}"
    assert not [c for c in browser.console if "Content Security Policy" in c or "Refused to" in c], browser.console
    assert not browser.server_errors, f"server errors: {browser.server_errors}"
    print(f"journey took {time.monotonic() - started:.1f}s")


def test_viewer_sees_no_send_or_import_and_gets_403_on_send(browser):
    page = browser.page
    sign_in(page, *VIEWER)
    expect(page.get_by_role("navigation").get_by_role("link", name="Messages", exact=True)).to_be_visible()
    expect(page.get_by_role("navigation").get_by_role("link", name="Send", exact=True)).to_have_count(0)

    nav(page, "Contacts")
    expect(page.get_by_role("heading", name="Contacts", level=1)).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("import", re.I))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("import|send|add to group", re.I))).to_have_count(0)

    nav(page, "Messages")
    expect(page.get_by_role("heading", name="Messages", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Send", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Send", exact=True)).to_have_count(0)

    response = page.goto("/send")
    assert response is not None and response.status == 403, response and response.status
    response = page.goto("/contacts/import")
    assert response is not None and response.status == 403, response and response.status
    assert not browser.page_errors, f"JavaScript errors on the pages: {browser.page_errors}"
    assert not [c for c in browser.console if "Content Security Policy" in c or "Refused to" in c], browser.console
