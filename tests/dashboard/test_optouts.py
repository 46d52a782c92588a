"""The opt-outs page: the account's suppression list with each number's source and time (in the
account's time zone); admins and marketers add numbers (read in the account's region) and remove
them. Fetched whole and as htmx asks for it, by each role."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.extensions import db
from app.models import OptOut
from app.services import contacts as contact_service
from app.services import optouts as optout_service
from tests.dashboard.conftest import fresh, full_page, htmx_fragment

ROLES = ["admin", "manager", "marketer", "viewer"]
EDITORS = ["admin", "marketer"]
READ_ONLY = ["manager", "viewer"]


@pytest.fixture
def marketer(login_as):
    return login_as("marketer")


@pytest.fixture
def stop(account):
    """A STOP reply from a known time: 2025-01-15 12:00 UTC, 13:00 in Oslo."""
    row = optout_service.add_optout(account, "+4791000001", "sms")
    row.created_at = datetime(2025, 1, 15, 12, 0, tzinfo=timezone.utc)
    db.session.commit()
    return row


def numbers(html: str) -> list[str]:
    return [part.split("</code>")[0] for part in html.split('<tbody id="optout-rows">')[1].split("<code>")[1:]]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_list_with_source_and_local_time(login_as, stop, other_account, role):
    optout_service.add_optout(other_account[0], "+4791999999", "api")
    browser = login_as(role)
    html = full_page(browser.get("/opt-outs"))
    row = html.split(f'<tr id="optout-{stop.id}">')[1].split("</tr>")[0]
    assert "<code>+4791000001</code>" in row and '<span class="badge source">sms</span>' in row
    assert "2025-01-15 13:00" in row  # Europe/Oslo, the account's zone
    assert "+4791999999" not in html
    assert ('id="new-optout"' in html and ">Remove<" in html) == (role in EDITORS)

    fragment = htmx_fragment(browser.get("/opt-outs", htmx=True))
    assert fragment.lstrip().startswith('<section id="optout-list">')
    assert "+4791000001" in fragment and 'id="new-optout"' not in fragment


def test_newest_first_a_page_at_a_time(login_as, account):
    for i in range(55):
        row = optout_service.add_optout(account, f"+479400{i:04d}", "import")
        row.created_at = datetime(2025, 1, 1, tzinfo=timezone.utc).replace(minute=i)
    db.session.commit()
    browser = login_as("viewer")
    first = browser.get("/opt-outs").get_data(as_text=True)
    assert numbers(first)[:2] == ["+4794000054", "+4794000053"] and len(numbers(first)) == 50
    assert "1–50 of 55 numbers" in first and 'hx-get="/opt-outs?page=2"' in first
    second = htmx_fragment(browser.get("/opt-outs?page=2", htmx=True))
    assert numbers(second) == [f"+479400{i:04d}" for i in range(4, -1, -1)]


@pytest.mark.parametrize("role", EDITORS)
def test_add_a_number_read_in_the_accounts_region(login_as, account, role):
    browser = login_as(role)
    response = browser.post("/opt-outs", {"number": "412 34 567"})
    assert response.status_code == 303 and response.headers["Location"] == "/opt-outs"
    row = db.session.scalars(db.select(OptOut)).one()
    assert row.number == "+4741234567" and row.source == "dashboard" and row.account_id == account.id
    assert "+4741234567 will not be messaged any more." in browser.get("/opt-outs").get_data(as_text=True)
    assert optout_service.suppressed_numbers(account.id, ["+4741234567"]) == {"+4741234567"}


def test_add_with_htmx_answers_a_fresh_form_and_the_list(marketer, stop):
    response = marketer.post("/opt-outs", {"number": "+46701234567"}, htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<form id="new-optout"') and 'value="+46701234567"' not in html
    listed = html.split('<section id="optout-list" hx-swap-oob="true">')[1]
    assert numbers(listed) == ["+46701234567", "+4791000001"]
    assert "+46701234567 will not be messaged any more." in html


def test_a_number_already_on_the_list_keeps_its_source_and_time(marketer, stop):
    response = marketer.post("/opt-outs", {"number": "91000001"}, htmx=True)
    assert response.status_code == 200
    assert "+4791000001 has been on the list since 2025-01-15 13:00 (sms)." in response.get_data(as_text=True)
    rows = db.session.scalars(db.select(OptOut)).all()
    assert len(rows) == 1 and rows[0].source == "sms"


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("number, message", [
    ("12", "Phone number &#39;12&#39; is too short"),
    ("+999123456", "Phone number &#39;+999123456&#39; has an unknown country code"),
    ("stop", "Phone number &#39;stop&#39; contains letters; a phone number may only contain digits"),
    ("  ", "Enter a phone number."),
])
def test_an_invalid_number_is_shown_next_to_the_field(marketer, number, message, htmx):
    response = marketer.post("/opt-outs", {"number": number}, htmx=htmx)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'<p class="error" id="number-error">{message}</p>' in html
    if number.strip():
        assert f'value="{number}"' in html  # what was typed is kept
    assert db.session.scalar(db.select(db.func.count()).select_from(OptOut)) == 0
    if htmx:
        assert htmx_fragment(response).lstrip().startswith('<form id="new-optout"')
    else:
        full_page(response)


def test_remove(marketer, account, stop):
    optout_id = stop.id
    response = marketer.post(f"/opt-outs/{optout_id}/remove", htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert "<tr" not in html and "+4791000001 may be messaged again." in html
    assert fresh(OptOut, optout_id) is None
    assert optout_service.suppressed_numbers(account.id, ["+4791000001"]) == set()

    again = optout_service.add_optout(account, "+4791000002", "api")
    response = marketer.post(f"/opt-outs/{again.id}/remove")
    assert response.status_code == 303 and response.headers["Location"] == "/opt-outs"


def test_anonymising_a_contact_keeps_its_number_suppressed(marketer, account):
    contact = contact_service.create_contact(account, {"name": "Quitter", "phone_number": "+4791000005"})
    optout_service.add_optout(account, "+4791000005", "sms")
    marketer.post(f"/contacts/{contact.id}/anonymise", htmx=True)
    assert "+4791000005" in marketer.get("/opt-outs").get_data(as_text=True)


@pytest.mark.parametrize("role", READ_ONLY)
def test_read_only_roles_cannot_change_the_list_by_hand_crafted_requests(login_as, stop, role):
    browser = login_as(role)
    for htmx in (False, True):
        assert browser.post("/opt-outs", {"number": "+4791000002"}, htmx=htmx).status_code == 403
        assert browser.post(f"/opt-outs/{stop.id}/remove", htmx=htmx).status_code == 403
    assert [row.number for row in db.session.scalars(db.select(OptOut))] == ["+4791000001"]


def test_every_change_needs_the_csrf_token(marketer, stop):
    for path in ("/opt-outs", f"/opt-outs/{stop.id}/remove"):
        assert marketer.post(path, {"number": "+4791000002"}, csrf=False).status_code == 400, path
        assert marketer.request("POST", path, data={"number": "+4791000002"}, htmx=True).status_code == 400, path
    assert [row.number for row in db.session.scalars(db.select(OptOut))] == ["+4791000001"]


def test_another_accounts_opt_out_cannot_be_removed(login_as, other_account):
    theirs = optout_service.add_optout(other_account[0], "+4791999999", "sms")
    admin = login_as("admin")
    for htmx in (False, True):
        assert admin.post(f"/opt-outs/{theirs.id}/remove", htmx=htmx).status_code == 404
    assert fresh(OptOut, theirs.id) is not None


def test_find_optout_reads_the_number_in_the_accounts_region(account, stop):
    assert optout_service.find_optout(account, "910 00 001").id == stop.id
    assert optout_service.find_optout(account, "+4791000002") is None
