"""The inbox pages: the threads (everyone), one conversation with its opt-out state and what each
text matched, replies (admins and marketers, through the send service), and the simulator's
controls that make texts arrive while it is the provider. Full pages and HTMX fragments."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Message, OptOut
from app.services import contacts, keywords, senders
from app.services.send import SendRequest, send
from app.services.simulator_inbound import simulate_inbound
from tests.dashboard.conftest import full_page, htmx_fragment

ROLES = ["admin", "manager", "marketer", "viewer"]
REPLIERS = ["admin", "marketer"]
READERS = ["manager", "viewer"]
REPLY_NUMBER = "+4759440001"
PLATFORM = "+4759440000"
ADA, BOB = "+4790000001", "+4790000002"
T0 = datetime(2025, 1, 15, 12, 0, tzinfo=timezone.utc)  # 13:00 in Oslo


@pytest.fixture
def reply_profile(account):
    return senders.create_profile(account, "Two-way", REPLY_NUMBER, allow_reply=True)


@pytest.fixture
def ada(account, reply_profile):
    """Ada (a contact) wrote to the two-way number at T0; we had written to her before."""
    contacts.create_contact(account, {"name": "Ada Lovelace", "phone_number": ADA})
    response, _ = send(account, SendRequest(message="Spring sale this weekend", to=(ADA,),
                                            sender_profile_id=reply_profile.id))
    db.session.execute(update(Message).where(Message.id == response["message_ids"][0])
                       .values(created_at=T0 - timedelta(hours=1)))
    return text_in(account, ADA, "Is it open on Sunday?", T0)


def text_in(account, sender: str, body: str, at: datetime, to: str | None = None) -> Message:
    message = simulate_inbound(account, sender, body, to=to).message
    db.session.execute(update(Message).where(Message.id == message.id).values(created_at=at, received_at=at))
    db.session.commit()
    return db.session.get(Message, message.id)


def thread_url(number: str = ADA, via: str | None = REPLY_NUMBER) -> str:
    return f"/inbox/{number}" + (f"?via={quote(via)}" if via else "")


def outbound(account) -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(select(Message).where(
        Message.account_id == account.id, Message.direction == "OUTBOUND").order_by(Message.created_at)))


def thread_rows(html: str) -> list[str]:
    return [part.split('"')[0] for part in html.split('<tbody id="thread-rows">')[1].split('data-number="')[1:]]


def bodies(html: str) -> list[str]:
    return [part.split("</blockquote>")[0] for part in html.split('<blockquote class="body">')[1:]]


# -- the thread list -------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_threads(login_as, account, other_account, ada, role):
    theirs = senders.create_profile(other_account[0], "Theirs", "+4759449999", allow_reply=True)
    simulate_inbound(other_account[0], BOB, "a text for another tenant", to=theirs.sender_id)
    browser = login_as(role)
    html = full_page(browser.get("/inbox"))
    row = html.split(f'data-number="{ADA}">')[1].split("</tr>")[0]
    assert "Ada Lovelace" in row and "Is it open on Sunday?" in row and "2025-01-15 13:00" in row
    assert '<td class="number">1</td>' in row and f"<code>{REPLY_NUMBER}</code>" in row
    assert f'href="{thread_url()}"' in row
    assert BOB not in html and "another tenant" not in html
    assert ('id="simulate-inbound"' in html) == (role in REPLIERS)
    assert 'href="/inbox" aria-current="page"' in html

    fragment = htmx_fragment(browser.get("/inbox", htmx=True))
    assert fragment.lstrip().startswith('<section id="thread-list">') and "Ada Lovelace" in fragment
    assert 'id="simulate-inbound"' not in fragment


def test_no_threads_yet(login_as):
    assert "Nobody has texted your numbers yet." in login_as("viewer").get("/inbox").get_data(as_text=True)


def test_threads_newest_text_first_a_page_at_a_time(login_as, account, reply_profile):
    for i in range(27):
        text_in(account, f"+47900001{i:02d}", f"text {i}", T0 + timedelta(minutes=i))
    browser = login_as("viewer")
    first = browser.get("/inbox").get_data(as_text=True)
    assert thread_rows(first)[:2] == ["+4790000126", "+4790000125"] and len(thread_rows(first)) == 25
    assert "1–25 of 27 conversations" in first and 'hx-get="/inbox?page=2"' in first
    second = htmx_fragment(browser.get("/inbox?page=2", htmx=True))
    assert thread_rows(second) == ["+4790000101", "+4790000100"]


def test_search_by_name_or_number(login_as, account, ada):
    text_in(account, BOB, "Bob here", T0 + timedelta(minutes=1))
    browser = login_as("viewer")
    by_name = htmx_fragment(browser.get("/inbox?search=lovelace", htmx=True))
    assert thread_rows(by_name) == [ADA] and "Conversations matching “lovelace”" in by_name
    by_number = full_page(browser.get("/inbox", query_string={"search": "900 00 002"}))
    assert thread_rows(by_number) == [BOB] and 'value="900 00 002"' in by_number
    nothing = htmx_fragment(browser.get("/inbox?search=zzz", htmx=True))
    assert "No conversation matches this search." in nothing


# -- one conversation -----------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_a_conversation_in_time_order(login_as, account, ada, role):
    keywords.create_keyword(account, "SUNDAY")
    text_in(account, ADA, "sunday?", T0 + timedelta(minutes=1))
    browser = login_as(role)
    html = full_page(browser.get(thread_url()))
    assert "<h1>Ada Lovelace</h1>" in html
    assert bodies(html) == ["Spring sale this weekend", "Is it open on Sunday?", "sunday?"]
    conversation = html.split('<section id="thread-messages"')[1].split("</section>")[0]
    assert '<span class="badge status queued">queued</span>' in conversation  # our message's status
    assert '<span class="badge source keyword">keyword SUNDAY</span>' in conversation
    assert 'data-opted-out="no"' in conversation and "2025-01-15 13:00" in conversation
    assert 'hx-trigger="every 2s"' in conversation  # our message is on its way: the list polls
    assert ('id="reply-form"' in html) == (role in REPLIERS)
    assert ('id="simulate-reply"' in html) == (role in REPLIERS)

    fragment = htmx_fragment(browser.get(thread_url(), htmx=True))
    assert fragment.lstrip().startswith('<section id="thread-messages"') and 'id="reply-form"' not in fragment
    assert 'id="flashes"' in fragment
    poll = htmx_fragment(browser.get(thread_url(), htmx=True, headers={"HX-Trigger": "thread-messages"}))
    assert poll.lstrip().startswith('<section id="thread-messages"') and 'id="flashes"' not in poll


def test_older_messages_behind_a_link(login_as, account, reply_profile):
    for i in range(52):
        text_in(account, ADA, f"text {i}", T0 + timedelta(minutes=i))
    browser = login_as("viewer")
    html = browser.get(thread_url()).get_data(as_text=True)
    assert bodies(html)[0] == "text 2" and bodies(html)[-1] == "text 51"
    older = html.split('<p><a href="')[1].split('">Older messages')[0].replace("&amp;", "&")
    page = browser.get(older).get_data(as_text=True)
    assert bodies(page) == ["text 0", "text 1"] and "Back to the latest messages" in page
    assert 'hx-trigger="every 2s"' not in page


def test_another_accounts_or_an_unknown_conversation_is_not_found(login_as, account, other_account, ada):
    theirs = senders.create_profile(other_account[0], "Theirs", "+4759449999", allow_reply=True)
    simulate_inbound(other_account[0], BOB, "not yours", to=theirs.sender_id)
    browser = login_as("admin")
    for path in (thread_url(BOB, None), thread_url(BOB, "+4759449999"), thread_url("+4790009999"),
                 "/inbox/not-a-number", thread_url(ADA, "+4711111111")):
        assert browser.get(path).status_code == 404, path
        assert browser.get(path, htmx=True).status_code == 404, path
    assert browser.post(thread_url(BOB, None), {"message": "hi", "idempotency_key": "k"}).status_code == 404
    assert browser.post(f"/inbox/{BOB}/simulate-reply", {"text": "hi"}).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Message).where(
        Message.account_id == other_account[0].id)) == 1


def test_the_number_may_be_written_as_people_write_it(login_as, ada):
    assert login_as("viewer").get("/inbox/90000001").status_code == 200  # read in the account's region


# -- replying ---------------------------------------------------------------------------------------

def reply_form(browser, url: str = None) -> dict:
    html = browser.get(url or thread_url()).get_data(as_text=True)
    key = html.split('name="idempotency_key" type="hidden" value="')[1].split('"')[0]
    profile = html.split('name="sender_profile_id" value="')[1].split('"')[0] if 'type="hidden" name="sender_profile_id"' in html else None
    return {"idempotency_key": key, "sender_profile_id": profile}


@pytest.mark.parametrize("role", REPLIERS)
def test_reply_with_htmx_answers_a_fresh_form_and_the_conversation(login_as, account, ada, reply_profile, role):
    browser = login_as(role)
    form = reply_form(browser)
    assert form["sender_profile_id"] == reply_profile.id  # the number Ada wrote to allows replies
    response = browser.post(thread_url(), {**form, "message": "Yes, 12–16"}, htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<div id="reply">') and "Yes, 12–16</textarea>" not in html
    assert form["idempotency_key"] not in html  # a new form, a new key
    conversation = html.split('<section id="thread-messages" class="conversation" hx-swap-oob="true"')[1]
    assert bodies(conversation)[-1] == "Yes, 12–16"
    assert f"Reply to {ADA} queued from {REPLY_NUMBER}." in html
    reply = outbound(account)[-1]
    assert (reply.body, reply.from_number, reply.message_type, reply.related_message_id) == (
        "Yes, 12–16", REPLY_NUMBER, "REPLY", ada.id)


def test_reply_without_javascript_and_a_repeated_form_sends_once(login_as, account, ada):
    browser = login_as("admin")
    form = {**reply_form(browser), "message": "Yes"}
    response = browser.post(thread_url(), form)
    assert response.status_code == 303 and response.headers["Location"] == thread_url()
    assert browser.post(thread_url(), form).status_code == 303  # the same form again (double click)
    assert [m.body for m in outbound(account)] == ["Spring sale this weekend", "Yes"]


def test_a_reply_to_an_opted_out_number_is_refused_with_the_send_services_message(login_as, account, ada):
    text_in(account, ADA, "STOP", T0 + timedelta(minutes=1))
    browser = login_as("marketer")
    page = browser.get(thread_url()).get_data(as_text=True)
    state = page.split('data-opted-out="yes">')[1].split("</p>")[0]
    assert "Opted out by text (STOP) on" in state
    sent_before = len(outbound(account))
    response = browser.post(thread_url(), {**reply_form(browser), "message": "Come back!"}, htmx=True)
    assert response.status_code == 422
    html = htmx_fragment(response)
    assert f"No valid recipient: &#39;{ADA}&#39;: opted out" in html.split('class="error form-error"')[1]
    assert "Come back!</textarea>" in html  # what was typed is kept
    assert len(outbound(account)) == sent_before


def test_an_empty_reply_is_refused_next_to_the_text(login_as, ada):
    browser = login_as("admin")
    response = browser.post(thread_url(), {**reply_form(browser), "message": "   "})
    assert response.status_code == 422
    html = full_page(response)
    assert '<p class="error" id="message-error">' in html and bodies(html)  # the page, conversation and all


def test_without_a_profile_that_allows_replies_there_is_no_form(login_as, account):
    send(account, SendRequest(message="From the platform", to=(ADA,)))
    text_in(account, ADA, "hello?", T0, to=PLATFORM)
    browser = login_as("admin")
    html = full_page(browser.get(thread_url(ADA, PLATFORM)))
    assert "None of this account's sender profiles allows replies" in html and 'id="reply-form"' not in html
    response = browser.post(thread_url(ADA, PLATFORM), {"message": "hi", "idempotency_key": "k1"}, htmx=True)
    assert response.status_code == 422
    assert "None of this account's sender profiles allows replies" in htmx_fragment(response)
    assert [m.body for m in outbound(account)] == ["From the platform"]


def test_when_the_number_written_to_cannot_reply_the_user_picks_one_that_can(login_as, account, reply_profile):
    send(account, SendRequest(message="From the platform", to=(ADA,)))
    text_in(account, ADA, "hello?", T0, to=PLATFORM)
    browser = login_as("admin")
    html = browser.get(thread_url(ADA, PLATFORM)).get_data(as_text=True)
    select_html = html.split('<select id="sender_profile_id" name="sender_profile_id">')[1].split("</select>")[0]
    assert f'value="{reply_profile.id}"' in select_html and PLATFORM not in select_html
    platform = next(p for p in senders.list_profiles(account) if p.sender_id == PLATFORM)
    form = reply_form(browser, thread_url(ADA, PLATFORM))
    refused = browser.post(thread_url(ADA, PLATFORM), {**form, "message": "hi", "sender_profile_id": platform.id},
                           htmx=True)
    assert refused.status_code == 422 and 'id="sender_profile_id-error"' in refused.get_data(as_text=True)
    ok = browser.post(thread_url(ADA, PLATFORM), {**form, "message": "hi", "sender_profile_id": reply_profile.id},
                      htmx=True)
    assert ok.status_code == 200 and outbound(account)[-1].from_number == REPLY_NUMBER


@pytest.mark.parametrize("role", READERS)
def test_readers_cannot_reply_or_simulate(login_as, account, ada, role):
    browser = login_as(role)
    html = browser.get(thread_url()).get_data(as_text=True)
    assert 'id="reply-form"' not in html and 'id="simulate-reply"' not in html
    assert browser.post(thread_url(), {"message": "hi", "idempotency_key": "k"}).status_code == 403
    assert browser.post(thread_url(), {"message": "hi", "idempotency_key": "k"}, htmx=True).status_code == 403
    assert browser.post(f"/inbox/{ADA}/simulate-reply", {"text": "hi"}).status_code == 403
    assert browser.post("/inbox/simulate", {"from_number": BOB, "text": "hi"}).status_code == 403
    assert len(outbound(account)) == 1


def test_changes_without_the_csrf_token_are_refused(login_as, account, ada):
    browser = login_as("admin")
    assert browser.post(thread_url(), {"message": "hi", "idempotency_key": "k"}, csrf=False).status_code == 400
    assert browser.post(thread_url(), {"message": "hi", "idempotency_key": "k"}, csrf=False, htmx=True).status_code == 400
    assert browser.post("/inbox/simulate", {"from_number": BOB, "text": "STOP"}, csrf=False).status_code == 400
    assert browser.post(f"/inbox/{ADA}/simulate-reply", {"text": "STOP"}, csrf=False).status_code == 400
    assert len(outbound(account)) == 1
    assert db.session.scalar(select(func.count()).select_from(OptOut)) == 0


# -- the simulator's controls ----------------------------------------------------------------------

def test_stop_through_the_simulator_control_opts_out_and_the_thread_shows_it(login_as, account, reply_profile):
    browser = login_as("marketer")
    page = browser.get("/inbox").get_data(as_text=True)
    assert f'<option selected value="{reply_profile.id}">Two-way ({REPLY_NUMBER})</option>' in page
    response = browser.post("/inbox/simulate", {"from_number": "900 00 002", "text": "STOP", "to": reply_profile.id},
                            htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<form id="simulate-inbound"')
    assert 'value="900 00 002"' in html and 'name="text" placeholder="STOP, a keyword, or anything" type="text" value=""' in html
    assert thread_rows(html.split('<section id="thread-list" hx-swap-oob="true">')[1]) == [BOB]
    assert f"Text from {BOB} to {REPLY_NUMBER} received; the number is opted out" in html
    assert db.session.scalar(select(OptOut.source).where(OptOut.number == BOB)) == "sms"

    thread = browser.get(thread_url(BOB)).get_data(as_text=True)
    assert "Opted out by text (STOP) on" in thread.split('data-opted-out="yes">')[1]
    assert bodies(thread)[0] == "STOP" and "STOP (opt-out)" in thread
    assert bodies(thread)[1] == browser.app.config["STOP_REPLY_TEXT"]  # the one confirmation


def test_a_keyword_auto_reply_appears_in_the_thread(login_as, account, reply_profile):
    keywords.create_keyword(account, "TILBUD", auto_reply_message="Ukens tilbud: kaffe", auto_reply_enabled=True)
    browser = login_as("admin")
    response = browser.post("/inbox/simulate", {"from_number": ADA, "text": "tilbud?", "to": reply_profile.id})
    assert response.status_code == 303 and response.headers["Location"] == "/inbox"
    assert "it matched the keyword TILBUD; an answer is on its way" in browser.get("/inbox").get_data(as_text=True)
    thread = browser.get(thread_url()).get_data(as_text=True)
    assert bodies(thread) == ["tilbud?", "Ukens tilbud: kaffe"]
    assert "keyword TILBUD" in thread and "(reply)" in thread


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("form, field, message", [
    ({"from_number": "12", "text": "hi"}, "from_number", "From number &#39;12&#39; is too short"),
    ({"from_number": ADA, "text": ""}, "text", "Text is required"),
    ({"from_number": ADA, "text": "hi", "to": "nope"}, "to", "&#39;nope&#39; is not one of this account&#39;s numbers"),
])
def test_the_simulator_control_says_what_is_wrong(login_as, reply_profile, form, field, message, htmx):
    response = login_as("admin").post("/inbox/simulate", form, htmx=htmx)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html.split(f'id="{field}-error">')[1].split("</p>")[0]
    if htmx:
        assert htmx_fragment(response).lstrip().startswith('<form id="simulate-inbound"')
    else:
        assert 'id="thread-list"' in full_page(response)
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_simulate_a_reply_on_a_thread(login_as, account, ada):
    browser = login_as("marketer")
    response = browser.post(f"/inbox/{ADA}/simulate-reply?via={quote(REPLY_NUMBER)}", {"text": "See you then"},
                            htmx=True)
    assert response.status_code == 200
    html = htmx_fragment(response)
    assert html.lstrip().startswith('<form id="simulate-reply"')
    conversation = html.split('<section id="thread-messages" class="conversation" hx-swap-oob="true"')[1]
    assert bodies(conversation)[-1] == "See you then"
    latest = db.session.scalars(select(Message).where(Message.direction == "INBOUND")
                                .order_by(Message.created_at.desc())).first()
    assert (latest.from_number, latest.to_number, latest.message_type) == (ADA, REPLY_NUMBER, "REPLY")
    assert latest.related_message_id == outbound(account)[0].id  # a reply to our message to Ada
    refused = browser.post(f"/inbox/{ADA}/simulate-reply", {"text": " "}, htmx=True)
    assert refused.status_code == 422 and 'id="text-error"' in refused.get_data(as_text=True)


def test_no_simulator_controls_with_another_provider(ctx, login_as, account, ada, monkeypatch):
    browser = login_as("admin")
    monkeypatch.setitem(ctx.config, "SMS_PROVIDER", "wayscloud")
    assert 'id="simulate-inbound"' not in browser.get("/inbox").get_data(as_text=True)
    assert 'id="simulate-reply"' not in browser.get(thread_url()).get_data(as_text=True)
    assert browser.post("/inbox/simulate", {"from_number": BOB, "text": "STOP"}).status_code == 404
    assert browser.post(f"/inbox/{ADA}/simulate-reply", {"text": "hi"}, htmx=True).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(OptOut)) == 0
