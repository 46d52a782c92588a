"""The keywords page: everyone sees the account's keywords with their counts (times in the
account's zone); admins and marketers create, edit and delete them through the keywords service
(the API's rules: reserved words, one per account, the webhook URL's safety check), and the create
form says whether a word is free as it is typed."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Keyword
from app.services import keywords as keyword_service
from tests.dashboard.conftest import fresh, full_page, htmx_fragment

ROLES = ["admin", "manager", "marketer", "viewer"]
EDITORS = ["admin", "marketer"]
READ_ONLY = ["manager", "viewer"]
FORM = {"keyword": "Join", "description": "Spring club", "webhook_url": "", "auto_reply_message": "Welcome!",
        "auto_reply_enabled": "y", "is_active": "y"}


@pytest.fixture
def join(account):
    """JOIN, with 3 texts, the last at 2025-01-15 12:00 UTC (13:00 in Oslo)."""
    row = keyword_service.create_keyword(account, "JOIN", description="Spring club", auto_reply_message="Welcome!",
                                         auto_reply_enabled=True, webhook_url="https://hooks.example.com/sms")
    row.messages_received = 3
    row.last_message_at = datetime(2025, 1, 15, 12, 0, tzinfo=timezone.utc)
    db.session.commit()
    return row


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Keyword))


def row_of(html: str, keyword) -> str:
    return html.split(f'id="keyword-{keyword.id}"')[1].split("</tr>")[0]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_keywords_with_counts_and_local_times(login_as, join, other_account, role):
    keyword_service.create_keyword(other_account[0], "SECRET")
    browser = login_as(role)
    html = full_page(browser.get("/keywords"))
    row = row_of(html, join)
    assert "<strong>JOIN</strong>" in row and "Spring club" in row
    assert '<td class="number">3</td>' in row and "2025-01-15 13:00" in row  # Europe/Oslo
    assert '<span class="badge active">active</span>' in row and '<span class="badge active">on</span>' in row
    assert "Welcome!" in row and "<code>https://hooks.example.com/sms</code>" in row
    assert "SECRET" not in html
    assert ('id="new-keyword"' in html) == (role in EDITORS)
    assert (">Edit</a>" in row and ">Delete</button>" in row) == (role in EDITORS)
    nav = html.split('<ul class="nav">')[1].split("</ul>")[0]
    assert 'href="/keywords"' in nav and 'href="/inbox"' in nav


def test_an_account_without_keywords(login_as):
    assert "No keywords yet." in login_as("viewer").get("/keywords").get_data(as_text=True)


@pytest.mark.parametrize("role", EDITORS)
def test_create_without_javascript(login_as, account, role):
    browser = login_as(role)
    response = browser.post("/keywords", FORM)
    assert response.status_code == 303 and response.headers["Location"] == "/keywords"
    row = db.session.scalars(select(Keyword)).one()
    assert (row.keyword, row.description, row.auto_reply_message, row.auto_reply_enabled, row.is_active) == (
        "Join", "Spring club", "Welcome!", True, True)
    assert row.account_id == account.id and row.webhook_url is None
    assert "Created the keyword Join." in browser.get("/keywords").get_data(as_text=True)


def test_create_with_htmx_answers_a_fresh_form_and_the_new_row(login_as):
    response = login_as("marketer").post("/keywords", {**FORM, "is_active": ""}, htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<form id="new-keyword"') and 'value="Join"' not in html
    new_row = html.split('<tbody hx-swap-oob="afterbegin:#keyword-rows">')[1]
    assert "<strong>Join</strong>" in new_row and 'class="inactive added"' in new_row
    assert "Created the keyword Join." in html
    assert db.session.scalars(select(Keyword)).one().is_active is False


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("changes, field, message", [
    ({"keyword": "stop"}, "keyword", "&#39;stop&#39; is reserved: it is an opt-out (unsubscribe) word"),
    ({"keyword": "INFO"}, "keyword", "&#39;INFO&#39; is reserved: it is a help word"),
    ({"keyword": "två"}, "keyword", "contains Æ, Ø or Å"),
    ({"keyword": "two words"}, "keyword", "may contain only the letters A-Z and the digits 0-9"),
    ({"keyword": ""}, "keyword", "Keyword is required"),
    ({"keyword": "join"}, "keyword", "You already have the keyword &#39;JOIN&#39; (keywords ignore case)"),
    ({"webhook_url": "http://hooks.example.com/x"}, "webhook_url", "&#39;Webhook URL&#39; must be an https:// URL"),
    ({"webhook_url": "https://169.254.169.254/latest"}, "webhook_url",
     "&#39;Webhook URL&#39; may not point at &#39;169.254.169.254&#39;"),
    ({"webhook_url": "https://localhost/hook"}, "webhook_url", "may not point at &#39;localhost&#39;"),
    ({"auto_reply_message": ""}, "auto_reply_message",
     "&#39;Send the auto-reply&#39; needs an &#39;Auto-reply text&#39; (the text to send back)"),
    ({"auto_reply_message": "x" * 2000}, "auto_reply_message", "&#39;Auto-reply text&#39;: "),
    ({"description": "d" * 501}, "description", "Description may be at most 500 characters"),
])
def test_refusals_are_shown_next_to_their_field(login_as, join, changes, field, message, htmx):
    response = login_as("admin").post("/keywords", {**FORM, **changes}, htmx=htmx)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html.split(f'id="{field}-error">')[1].split("</p>")[0]
    assert message in error
    assert count() == 1
    if htmx:
        assert htmx_fragment(response).lstrip().startswith('<form id="new-keyword"')
    else:
        assert row_of(full_page(response), join)  # the list stays on the page
    if changes.get("keyword"):
        assert f'value="{changes["keyword"]}"' in html  # what was typed is kept


@pytest.mark.parametrize("typed, reason, says", [
    ("Sale", "yes", "Sale is free."),
    ("join", "taken", "You already have the keyword &#39;JOIN&#39;"),
    ("STOPP", "reserved", "&#39;STOPP&#39; is reserved"),
    ("hjelp", "reserved", "help word"),
    ("a", "invalid", "keyword must be 2 to 20 characters, not 1"),
    ("x" * 200, "invalid", "keyword must be 2 to 20 characters, not 64"),
])
def test_availability_as_the_keyword_is_typed(login_as, join, typed, reason, says):
    browser = login_as("marketer")
    fragment = htmx_fragment(browser.get("/keywords", query_string={"keyword": typed}, htmx=True))
    assert fragment.lstrip().startswith('<p id="keyword-availability"')
    assert f'data-available="{reason}"' in fragment and says in fragment
    # Without JavaScript: the page, with the form filled in and the same answer.
    page = full_page(browser.get("/keywords", query_string={"keyword": typed}))
    assert f'data-available="{reason}"' in page and says in page


def test_availability_of_nothing_typed_says_nothing(login_as):
    fragment = htmx_fragment(login_as("admin").get("/keywords?keyword=+", htmx=True))
    assert "data-available" not in fragment and "badge" not in fragment


def test_the_keyword_field_asks_as_it_is_typed(login_as):
    html = login_as("admin").get("/keywords").get_data(as_text=True)
    field = next(tag for tag in html.split("<input") if 'id="keyword"' in tag.split(">")[0]).split(">")[0]
    assert 'hx-get="/keywords"' in field and 'hx-target="#keyword-availability"' in field


def test_edit_row_and_save(login_as, join):
    browser = login_as("admin")
    edit_row = htmx_fragment(browser.get(f"/keywords/{join.id}/edit", htmx=True))
    assert edit_row.lstrip().startswith(f'<tr id="keyword-{join.id}" class="editing">')
    assert f'name="k-{join.id}-description"' in edit_row and 'name="keyword"' not in edit_row
    assert "<strong>JOIN</strong> <small>(cannot be changed)</small>" in edit_row
    prefix = f"k-{join.id}-"
    response = browser.post(f"/keywords/{join.id}", {
        f"{prefix}description": "Summer club", f"{prefix}webhook_url": "", f"{prefix}auto_reply_message": "Hi!",
        f"{prefix}is_active": "y", "keyword": "RENAMED"}, htmx=True)
    assert response.status_code == 200
    row = htmx_fragment(response)
    assert row.lstrip().startswith(f'<tr id="keyword-{join.id}">') and "Summer club" in row
    saved = fresh(Keyword, join.id)
    assert (saved.keyword, saved.description, saved.webhook_url, saved.auto_reply_message) == (
        "JOIN", "Summer club", None, "Hi!")
    assert saved.auto_reply_enabled is False and saved.messages_received == 3  # the counter is the handler's


def test_edit_without_javascript(login_as, join):
    browser = login_as("marketer")
    page = full_page(browser.get(f"/keywords/{join.id}/edit"))
    assert "Edit the keyword JOIN" in page
    prefix = f"k-{join.id}-"
    response = browser.post(f"/keywords/{join.id}", {f"{prefix}description": "", f"{prefix}is_active": ""})
    assert response.status_code == 303 and response.headers["Location"] == "/keywords"
    saved = fresh(Keyword, join.id)
    assert saved.description is None and saved.is_active is False


def test_an_edit_refused_keeps_the_row_open_with_the_message(login_as, join):
    prefix = f"k-{join.id}-"
    response = login_as("admin").post(f"/keywords/{join.id}", {
        f"{prefix}webhook_url": "https://10.0.0.5/hook", f"{prefix}auto_reply_message": "Welcome!",
        f"{prefix}auto_reply_enabled": "y", f"{prefix}is_active": "y"}, htmx=True)
    assert response.status_code == 422
    html = htmx_fragment(response)
    assert 'class="editing"' in html and "may not point at &#39;10.0.0.5&#39;" in html
    assert fresh(Keyword, join.id).webhook_url == "https://hooks.example.com/sms"


def test_cancel_an_edit_answers_the_row(login_as, join):
    browser = login_as("admin")
    row = htmx_fragment(browser.get(f"/keywords/{join.id}", htmx=True))
    assert row.lstrip().startswith(f'<tr id="keyword-{join.id}">')
    assert browser.get(f"/keywords/{join.id}").headers["Location"] == "/keywords"


@pytest.mark.parametrize("htmx", [False, True])
def test_delete(login_as, join, htmx):
    browser = login_as("marketer")
    page = browser.get("/keywords").get_data(as_text=True)
    assert "hx-confirm=\"Delete the keyword JOIN?" in row_of(page, join)
    response = browser.post(f"/keywords/{join.id}/delete", htmx=htmx)
    if htmx:
        assert response.status_code == 200 and "Deleted the keyword JOIN." in htmx_fragment(response)
    else:
        assert response.status_code == 303
    assert count() == 0


def test_another_accounts_keyword_is_not_found(login_as, other_account):
    theirs = keyword_service.create_keyword(other_account[0], "THEIRS", description="theirs")
    browser = login_as("admin")
    prefix = f"k-{theirs.id}-"
    assert browser.get(f"/keywords/{theirs.id}/edit").status_code == 404
    assert browser.get(f"/keywords/{theirs.id}", htmx=True).status_code == 404
    assert browser.post(f"/keywords/{theirs.id}", {f"{prefix}description": "mine now"}).status_code == 404
    assert browser.post(f"/keywords/{theirs.id}/delete").status_code == 404
    assert fresh(Keyword, theirs.id).description == "theirs"


@pytest.mark.parametrize("role", READ_ONLY)
def test_readers_cannot_change_keywords(login_as, join, role):
    browser = login_as(role)
    assert browser.post("/keywords", FORM).status_code == 403
    assert browser.get(f"/keywords/{join.id}/edit").status_code == 403
    assert browser.post(f"/keywords/{join.id}", {"description": "x"}, htmx=True).status_code == 403
    assert browser.post(f"/keywords/{join.id}/delete").status_code == 403
    assert count() == 1 and fresh(Keyword, join.id).description == "Spring club"


def test_changes_without_the_csrf_token_are_refused(login_as, join):
    browser = login_as("admin")
    assert browser.post("/keywords", {**FORM, "keyword": "NEW"}, csrf=False).status_code == 400
    assert browser.post(f"/keywords/{join.id}/delete", csrf=False, htmx=True).status_code == 400
    assert count() == 1


def test_signed_out_goes_to_sign_in(browser):
    response = browser.get("/keywords")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
