"""The send page: marketers and admins send through app.services.send (the API's service); the live
preview counts with the SMS core; the schedule is read in the chosen zone; a form sends once."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from html import unescape
from zoneinfo import ZoneInfo, available_timezones

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Message, Status
from app.services import contacts, groups, optouts, senders
from app.sms import DEFAULT_PRICES, costs_in_all_currencies, count_segments
from tests.dashboard.conftest import full_page, htmx_fragment

KEY = re.compile(r'name="idempotency_key" type="hidden" value="([^"]+)"')
SENDING_ROLES = ["admin", "marketer"]
READ_ONLY_ROLES = ["manager", "viewer"]


# -- helpers -------------------------------------------------------------------------------------

def open_form(browser) -> str:
    """GET /send as a browser does; returns the form's idempotency key."""
    response = browser.get("/send")
    assert response.status_code == 200
    return KEY.search(response.get_data(as_text=True)).group(1)


def submit(browser, key: str | None = None, **fields):
    """Press Send on a freshly opened form (or the one whose key is given)."""
    data = {"message": "Hello", "timezone": "Europe/Oslo", "intent": "send",
            "idempotency_key": key or open_form(browser), **fields}
    return browser.post("/send", data)


def preview(browser, htmx: bool = True, **fields):
    return browser.post("/send", {"message": "", "timezone": "Europe/Oslo", "intent": "preview", **fields}, htmx=htmx)


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert found, f"no {name} in preview"
    return unescape(found.group(1)).strip()


def costs(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-cost="([A-Z]{3})">([^<]+)<', html)


def stored(account) -> list[Message]:
    db.session.rollback()
    db.session.expire_all()
    return list(db.session.scalars(select(Message).where(Message.account_id == account.id)))


def followed(browser, response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    return browser.get(response.headers["Location"]).get_data(as_text=True)


def contact(account, name: str, number: str | None):
    return contacts.create_contact(account, {"name": name, "phone_number": number})


def group_with(account, name: str, *members) -> str:
    group = groups.create_group(account, name)
    groups.add_members(account, group.id, [m.id for m in members])
    return group.id


# -- who may use it ------------------------------------------------------------------------------

@pytest.mark.parametrize("role", SENDING_ROLES)
def test_page_and_fragment_for_senders(login_as, role):
    browser = login_as(role)
    html = full_page(browser.get("/send"))
    assert '<form id="send-form"' in html and '<section id="send-preview"' in html
    nav = html.split('<ul class="nav">')[1].split("</ul>")[0]
    assert 'href="/send" aria-current="page">Send<' in nav and 'href="/messages"' in nav
    fragment = htmx_fragment(browser.get("/send", htmx=True))
    assert "<option" in fragment and "send-form" not in fragment


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_read_only_roles_get_403_everywhere(login_as, account, role):
    browser = login_as(role)
    assert browser.get("/send").status_code == 403
    assert browser.get("/send", htmx=True).status_code == 403
    nav = browser.get("/").get_data(as_text=True).split('<ul class="nav">')[1].split("</ul>")[0]
    assert 'href="/send"' not in nav and 'href="/messages"' in nav
    # Hand-crafted requests with the person's own valid CSRF token: a send, and a preview.
    form = {"message": "Hi", "to": "+4799999999", "intent": "send", "idempotency_key": "k1"}
    assert browser.post("/send", form).status_code == 403
    assert browser.post("/send", form, htmx=True).status_code == 403
    assert browser.post("/send", {**form, "intent": "preview"}, htmx=True).status_code == 403
    assert stored(account) == []


def test_anonymous_is_sent_to_sign_in(browser):
    response = browser.get("/send")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert browser.post("/send", {"message": "x"}, csrf=False).status_code in (302, 400)


def test_send_without_csrf_token_is_400_and_sends_nothing(login_as, account):
    browser = login_as("marketer")
    key = open_form(browser)
    data = {"message": "Hi", "to": "+4799999999", "intent": "send", "idempotency_key": key}
    assert browser.post("/send", data, csrf=False).status_code == 400
    assert browser.request("POST", "/send", data=data, htmx=True).status_code == 400
    assert stored(account) == []


# -- the form -----------------------------------------------------------------------------------------

def test_form_defaults_time_zone_sender_and_a_fresh_key(login_as, account):
    senders.create_profile(account, "Support", "+4791234567")
    browser = login_as("marketer")
    html = browser.get("/send").get_data(as_text=True)
    zones = re.findall(r'<option (?:selected )?value="([^"]+)"', html.split('id="timezone"')[1].split("</select>")[0])
    assert zones == sorted(available_timezones() - {"localtime"})
    assert '<option selected value="Europe/Oslo">' in html
    default = next(p for p in senders.list_profiles(account) if p.is_default)
    assert f'<option selected value="{default.id}">' in html
    assert "Support (+4791234567)" in html
    assert KEY.search(html).group(1) != open_form(browser)  # one key per rendered form


def test_pending_sender_is_not_offered(login_as, account, app, monkeypatch):
    monkeypatch.setitem(app.config, "AUTO_APPROVE_SENDERS", False)
    senders.create_profile(account, "Brand", "ACME", brand_confirmation=True)
    html = login_as("admin").get("/send").get_data(as_text=True)
    assert "Brand (ACME)" not in html


def test_enter_in_a_field_cannot_send(login_as):
    """The form's default button (the first submit button) is disabled, so implicit submission does
    nothing; only the Send button carries intent=send."""
    html = login_as("admin").get("/send").get_data(as_text=True)
    form = html.split('<form id="send-form"')[1]
    first_button = re.search(r"<button[^>]*>", form).group(0)
    assert 'type="submit"' in first_button and "disabled" in first_button
    assert '<button type="submit" name="intent" value="send" class="primary">Send</button>' in form


def test_fields_ask_for_a_preview_as_they_change(login_as):
    html = login_as("admin").get("/send").get_data(as_text=True)
    textarea = re.search(r'<textarea[^>]*id="message"[^>]*>', html).group(0)
    assert 'hx-post="/send"' in textarea and 'hx-trigger="input changed delay:300ms"' in textarea
    assert 'hx-target="#send-preview"' in textarea and "intent" in unescape(textarea)
    for field in ("to", "to_contacts", "to_groups", "scheduled_at", "timezone"):
        tag = re.search(rf'<(?:textarea|select|input)[^>]*id="{field}"[^>]*>', html).group(0)
        assert 'hx-post="/send"' in tag, field


def test_link_can_prefill_the_form_but_not_the_key(login_as):
    html = login_as("admin").get("/send?to=%2B4799999999&message=Hi+there&idempotency_key=mine").get_data(as_text=True)
    assert "Hi there</textarea>" in html and "+4799999999</textarea>" in html
    assert 'value="mine"' not in html
    assert figure(html, "recipients") == "1"


# -- the contact picker (GET /send with HX-Request) ------------------------------------------------

def test_contact_search_returns_matching_options_and_keeps_the_chosen(login_as, account, other_account):
    ann, bob = contact(account, "Ann Berg", "+4791000001"), contact(account, "Bob Dahl", "+4791000002")
    contact(account, "Carl Eng", None)
    contact(other_account[0], "Ann Other", "+4791000009")
    browser = login_as("marketer")
    html = htmx_fragment(browser.get("/send?contact_search=ann", htmx=True))
    assert f'<option value="{ann.id}">Ann Berg (+4791000001)</option>' in html
    assert "Bob" not in html and "Ann Other" not in html
    html = htmx_fragment(browser.get(f"/send?contact_search=ann&to_contacts={bob.id}", htmx=True))
    assert f'<option value="{bob.id}" selected>Bob Dahl' in html and "Ann Berg" in html
    assert html.index("Bob Dahl") < html.index("Ann Berg")
    html = htmx_fragment(browser.get("/send?contact_search=carl", htmx=True))
    assert "Carl Eng (no phone number)</option>" in html and " disabled>" in html
    assert "No contacts found" in htmx_fragment(browser.get("/send?contact_search=zzz", htmx=True))


def test_groups_show_member_counts(login_as, account, other_account):
    group_with(account, "VIP", contact(account, "Ann", "+4791000001"), contact(account, "Bob", "+4791000002"))
    groups.create_group(account, "Empty")
    groups.create_group(other_account[0], "Theirs")
    html = login_as("marketer").get("/send").get_data(as_text=True)
    assert "VIP (2 members)" in html and "Empty (0 members)" in html and "Theirs" not in html


# -- the live preview -------------------------------------------------------------------------------

def test_preview_is_a_fragment_and_sends_nothing(login_as, account):
    browser = login_as("marketer")
    response = preview(browser, message="Hello", to="+4799999999")
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<section id="send-preview"')
    assert "send-form" not in html
    assert stored(account) == []


def test_preview_without_javascript_is_the_page_with_the_input_kept(login_as, account):
    browser = login_as("marketer")
    html = full_page(preview(browser, htmx=False, message="Hello there", to="+4799999999",
                             idempotency_key="dashboard-abc"))
    assert "Hello there</textarea>" in html and 'value="dashboard-abc"' in html
    assert figure(html, "recipients") == "1" and figure(html, "parts") == "1"
    assert stored(account) == []


def test_a_post_without_the_send_intent_only_previews(login_as, account):
    browser = login_as("admin")
    data = {"message": "Hi", "to": "+4799999999", "idempotency_key": open_form(browser)}
    response = browser.post("/send", data)
    assert response.status_code == 200 and 'id="send-preview"' in response.get_data(as_text=True)
    assert stored(account) == []


TEXTS = {
    "gsm": "Hello, world!",
    "gsm 161": "a" * 161,
    "gsm extension": "Price {10€} [ok] ~ " * 9,
    "extension at a part end": "a" * 152 + "€" + "b" * 10,
    "emoji": "Hi 😀 " * 20,
    "emoji straddling": "x" * 66 + "😀" + "y" * 10,
    "smart quotes": "It’s “quoted” – yes",
    "newlines": "line one\r\nline two\r\n",
}


@pytest.mark.parametrize("name", TEXTS)
@pytest.mark.parametrize("recipients", [0, 3])
def test_preview_figures_are_the_sms_cores(login_as, account, name, recipients):
    text = TEXTS[name]
    numbers = "\n".join(f"+47910000{i:02d}" for i in range(recipients))
    html = htmx_fragment(preview(login_as("marketer"), message=text, to=numbers))
    seg = count_segments(text.replace("\r\n", "\n"))
    units = seg.parts * max(recipients, 1)
    assert figure(html, "encoding") == seg.encoding
    assert figure(html, "characters") == str(seg.characters)
    assert figure(html, "parts") == str(seg.parts)
    assert figure(html, "remaining") == str(seg.remaining)
    assert figure(html, "recipients") == str(recipients)
    assert figure(html, "units") == str(units)
    expected = [(c, f"{amount:.2f}") for c, amount in costs_in_all_currencies(units, DEFAULT_PRICES, first="NOK")]
    assert costs(html) == expected
    assert costs(html)[0][0] == "NOK"
    assert figure(html, "cost") == f"{expected[0][1]} NOK"


def test_costs_lead_with_the_account_currency(login_as, ctx):
    from app.services.accounts import create_account

    euro = create_account("Euro Shop", "EUR", "Europe/Berlin")
    html = htmx_fragment(preview(login_as("admin", of_account=euro), message="a" * 200, to="+4799999999"))
    assert [c for c, _ in costs(html)] == ["EUR", "NOK", "SEK", "DKK", "USD"]
    assert figure(html, "cost") == "0.20 EUR"


def test_preview_names_the_characters_forcing_ucs2_with_replacements(login_as):
    html = htmx_fragment(preview(login_as("marketer"), message="It’s 10 – 12 😀"))
    assert figure(html, "encoding") == "UCS-2"
    items = re.findall(r"<code data-char>(.*?)</code>.*?(?:<code data-replacement>(.*?)</code>)?</li>", html, re.S)
    assert [(unescape(c), unescape(r)) for c, r in items] == [("’", "'"), ("–", "-"), ("😀", "")]
    assert "right single quotation mark" in html


def test_gsm_text_names_no_characters(login_as):
    html = htmx_fragment(preview(login_as("marketer"), message="Plain [text] €"))
    assert figure(html, "encoding") == "GSM-7" and 'data-preview="ucs2"' not in html


def test_preview_of_an_empty_or_too_long_message(login_as):
    browser = login_as("marketer")
    html = htmx_fragment(preview(browser, message="   "))
    assert "Type a message" in html and "data-figure" not in html
    html = htmx_fragment(preview(browser, message="a" * 1601))
    assert 'data-preview="message-error"' in html and "maximum is 1600" in html


def test_preview_counts_recipients_and_says_who_is_skipped(login_as, account):
    ann, bob = contact(account, "Ann", "+4791000001"), contact(account, "Bob", "+4791000002")
    nobody = contact(account, "Nobody", None)
    vip = group_with(account, "VIP", ann, bob)
    optouts.add_optout(account, "+4791000002")
    html = htmx_fragment(preview(
        login_as("marketer"), message="Hi", to="+4799999999, 12\n99 99 99 99",
        to_contacts=[ann.id, nobody.id], to_groups=[vip]))
    # +4799999999, Ann; Bob opted out; "12" invalid; "99 99 99 99" a duplicate; Nobody has no number.
    assert figure(html, "recipients") == "2" and figure(html, "units") == "2"
    skipped = unescape(html.split('data-preview="skipped"')[1])
    assert "1 invalid number ('12' is too short)" in skipped
    assert "1 duplicate (99 99 99 99)" in skipped
    assert "1 opted out (+4791000002)" in skipped
    assert "1 contact without a phone number (Nobody (no phone number))" in skipped


def test_preview_says_when_a_schedule_sends(login_as):
    browser = login_as("marketer")
    assert "Sends as soon as you press Send" in htmx_fragment(preview(browser, message="Hi"))
    when = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=3)).replace(hour=9, minute=0)
    html = htmx_fragment(preview(browser, message="Hi", scheduled_at=when.strftime("%Y-%m-%dT%H:%M"),
                                 timezone="America/New_York"))
    oslo = when.astimezone(ZoneInfo("Europe/Oslo"))
    assert f"Sends at {when:%Y-%m-%d} 09:00 America/New_York ({oslo:%Y-%m-%d %H:%M} Europe/Oslo)." in html
    html = htmx_fragment(preview(browser, message="Hi", scheduled_at="2027-03-28T02:30", timezone="Europe/Oslo"))
    assert 'data-preview="schedule-error"' in html and "does not exist in Europe/Oslo" in html


# -- sending ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", SENDING_ROLES)
def test_send_to_numbers_and_a_group(login_as, account, role):
    vip = group_with(account, "VIP", contact(account, "Ann", "+4791000001"), contact(account, "Bob", "+4791000002"))
    browser = login_as(role)
    response = submit(browser, message="Sale today", to="+4799999999\n+4798888888", to_groups=[vip])
    rows = stored(account)
    assert {m.to_number for m in rows} == {"+4799999999", "+4798888888", "+4791000001", "+4791000002"}
    assert {m.status for m in rows} == {Status.QUEUED} and {m.body for m in rows} == {"Sale today"}
    batch = rows[0].batch_id
    assert {m.batch_id for m in rows} == {batch}
    assert response.headers["Location"] == f"/messages?batch_id={batch}"
    html = followed(browser, response)
    assert "Sent to 4 recipients." in html
    assert html.count('<tr id="message-') == 4


def test_send_to_chosen_contacts_with_another_sender(login_as, account):
    ann = contact(account, "Ann", "+4791000001")
    support = senders.create_profile(account, "Support", "+4791234567")
    browser = login_as("marketer")
    followed(browser, submit(browser, to_contacts=[ann.id], sender_profile_id=support.id))
    [row] = stored(account)
    assert (row.to_number, row.from_number, row.sender_profile_id) == ("+4791000001", "+4791234567", support.id)


def test_line_breaks_are_sent_as_typed(login_as, account):
    browser = login_as("marketer")
    followed(browser, submit(browser, message="one\r\ntwo", to="+4799999999"))
    assert stored(account)[0].body == "one\ntwo"


def test_flash_counts_opted_out_and_invalid_numbers(login_as, account):
    optouts.add_optout(account, "+4791111111")
    optouts.add_optout(account, "+4792222222")
    browser = login_as("marketer")
    html = followed(browser, submit(browser, to="+4799999999, +4791111111, 92222222, 12"))
    assert "Sent to 1 recipient; 3 skipped (2 opted out (+4791111111, +4792222222); " \
           "1 invalid number (&#39;12&#39; is too short))." in html
    assert [m.to_number for m in stored(account)] == ["+4799999999"]


def test_only_invalid_numbers_is_an_error_next_to_the_numbers(login_as, account):
    browser = login_as("marketer")
    response = submit(browser, message="Keep me", to="12\nabc")
    assert response.status_code == 422
    html = full_page(response)
    error = re.search(r'<p class="error" id="to-error">([^<]+)</p>', html).group(1)
    assert "No valid recipient" in error and "is too short" in unescape(error)
    assert "Keep me</textarea>" in html and "12\nabc</textarea>" in html
    assert stored(account) == []


def test_no_recipient_and_empty_message_errors_sit_by_their_fields(login_as, account):
    browser = login_as("marketer")
    html = submit(browser, message="Hi").get_data(as_text=True)
    assert 'id="to-error">At least one recipient' in html
    html = submit(browser, message=" ", to="+4799999999").get_data(as_text=True)
    assert 'id="message-error">Message must not be empty' in html
    assert stored(account) == []


def test_another_accounts_group_or_contact_is_never_sent_to(login_as, account, other_account):
    theirs = other_account[0]
    their_group = group_with(theirs, "Theirs", contact(theirs, "Eve", "+4797777777"))
    their_contact = contact(theirs, "Mallory", "+4796666666")
    browser = login_as("admin")
    response = submit(browser, to_groups=[their_group], to_contacts=[their_contact.id])
    assert response.status_code == 422
    assert "contact not found" in response.get_data(as_text=True)
    assert stored(account) == [] and stored(theirs) == []


def test_pending_sender_is_refused_next_to_the_sender(login_as, account, app, monkeypatch):
    monkeypatch.setitem(app.config, "AUTO_APPROVE_SENDERS", False)
    brand = senders.create_profile(account, "Brand", "ACME", brand_confirmation=True)
    html = submit(login_as("admin"), to="+4799999999", sender_profile_id=brand.id).get_data(as_text=True)
    assert 'id="sender_profile_id-error">Sender profile &#39;Brand&#39; is pending' in html
    assert stored(account) == []


# -- scheduling ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("zone", ["Europe/Oslo", "America/New_York"])
def test_schedule_is_stored_in_utc(login_as, account, zone):
    local = datetime.combine(datetime.now(ZoneInfo(zone)).date() + timedelta(days=3), time(10, 15))
    browser = login_as("marketer")
    html = followed(browser, submit(browser, to="+4799999999", scheduled_at=local.strftime("%Y-%m-%dT%H:%M"),
                                    timezone=zone))
    [row] = stored(account)
    assert row.status == Status.SCHEDULED
    assert row.scheduled_at == local.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
    assert f"Scheduled for {local:%Y-%m-%d} 10:15 {zone} to 1 recipient." in html


def test_dst_gap_is_an_error_next_to_the_time(login_as, account):
    browser = login_as("marketer")
    response = submit(browser, to="+4799999999", scheduled_at="2027-03-28T02:30", timezone="Europe/Oslo")
    assert response.status_code == 422
    html = full_page(response)
    assert re.search(r'id="scheduled_at-error">2027-03-28 02:30 does not exist in Europe/Oslo', html)
    assert 'value="2027-03-28T02:30"' in html
    assert stored(account) == []


def test_unknown_time_zone_is_an_error_next_to_the_zone(login_as, account):
    html = submit(login_as("marketer"), to="+4799999999", scheduled_at="2030-01-01T10:00",
                  timezone="Mars/Olympus").get_data(as_text=True)
    assert 'id="timezone-error">Unknown time zone' in html
    assert stored(account) == []


def test_ambiguous_time_says_the_first_is_taken(login_as, account, app, monkeypatch):
    """2027-10-31 02:30 happens twice in Oslo; the first (CEST, 00:30 UTC) is used, and said."""
    monkeypatch.setitem(app.config, "SCHEDULE_MAX_DAYS", 400)
    browser = login_as("marketer")
    html = followed(browser, submit(browser, to="+4799999999", scheduled_at="2027-10-31T02:30"))
    assert stored(account)[0].scheduled_at == datetime(2027, 10, 31, 0, 30, tzinfo=timezone.utc)
    assert "2027-10-31 02:30 Europe/Oslo (the first of the two, before clocks go back)" in html


# -- sending once --------------------------------------------------------------------------------------------

def test_the_same_form_posted_twice_sends_once(login_as, account):
    browser = login_as("marketer")
    key = open_form(browser)
    first = submit(browser, key, to="+4799999999\n+4798888888")
    second = submit(browser, key, to="+4799999999\n+4798888888")
    assert first.headers["Location"] == second.headers["Location"]
    rows = stored(account)
    assert len(rows) == 2 and len({m.batch_id for m in rows}) == 1
    html = browser.get(second.headers["Location"]).get_data(as_text=True)
    assert "This form was sent already; nothing was sent again. Sent to 2 recipients." in html


def test_a_changed_form_with_a_used_key_asks_again_with_a_new_key(login_as, account):
    browser = login_as("marketer")
    key = open_form(browser)
    followed(browser, submit(browser, key, to="+4799999999"))
    response = submit(browser, key, to="+4798888888")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "already used with a different request" in html
    new_key = KEY.search(html).group(1)
    assert new_key != key
    assert len(stored(account)) == 1
    followed(browser, submit(browser, new_key, to="+4798888888"))
    assert len(stored(account)) == 2


def test_a_form_without_its_key_sends_nothing(login_as, account):
    browser = login_as("marketer")
    response = browser.post("/send", {"message": "Hi", "to": "+4799999999", "intent": "send"})
    assert response.status_code == 422
    assert "out of date" in response.get_data(as_text=True)
    assert stored(account) == []


def test_rows_cost_what_the_preview_said(login_as, account):
    browser = login_as("marketer")
    text = "Hi 😀 " * 20
    shown = figure(htmx_fragment(preview(browser, message=text, to="+4799999999\n+4798888888")), "cost")
    followed(browser, submit(browser, message=text, to="+4799999999\n+4798888888"))
    total = sum((m.cost for m in stored(account)), Decimal("0"))
    assert shown == f"{total:.2f} NOK"


def test_nul_characters_never_reach_a_query_nor_a_row(login_as, account):
    """PostgreSQL cannot store or compare NUL: the app-wide guard (app.text) refuses the request
    before any view runs, never a server error, and nothing is sent."""
    browser = login_as("marketer")
    assert preview(browser, message="Hi", to_contacts=["a\x00b"], to_groups=["\x00"]).status_code == 400
    assert browser.get("/send?contact_search=a%00b", htmx=True).status_code == 400
    assert submit(browser, message="Hi\x00", to="+4799999999").status_code == 400
    assert submit(browser, to="+4799999999", to_contacts=["a\x00b"]).status_code == 400
    assert stored(account) == []


def test_a_refused_send_shows_every_problem_it_can_by_its_field(login_as, account):
    """The service stops at the first refusal (recipients here); the schedule's own problem is
    shown next to its field in the same round."""
    html = submit(login_as("marketer"), to="12", scheduled_at="2027-03-28T02:30").get_data(as_text=True)
    assert 'id="to-error">No valid recipient' in html
    assert 'id="scheduled_at-error">2027-03-28 02:30 does not exist' in html
    assert stored(account) == []
