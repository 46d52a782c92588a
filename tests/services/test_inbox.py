"""The inbox service: threads (one per our number and their number, the person's latest text first,
built from inbound rows through their index), one conversation in time order, and replies through
the send service."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text, update

from app.extensions import db
from app.models import Message
from app.services import contacts, inbox, keywords, optouts, senders
from app.services.errors import Invalid
from app.services.send import SendRequest, send
from app.services.simulator_inbound import simulate_inbound

REPLY_NUMBER = "+4759440001"
PLATFORM = "+4759440000"
ADA, BOB, CAROL = "+4790000001", "+4790000002", "+4790000003"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def reply_profile(account):
    return senders.create_profile(account, "Two-way", REPLY_NUMBER, allow_reply=True)


def text_in(account, sender: str, body: str, minutes: int, to: str | None = None) -> Message:
    """An inbound text stamped ``minutes`` after T0 (stamps decide the order, not the clock)."""
    message = simulate_inbound(account, sender, body, to=to).message
    at = T0 + timedelta(minutes=minutes)
    db.session.execute(update(Message).where(Message.id == message.id).values(created_at=at, received_at=at))
    db.session.commit()
    return db.session.get(Message, message.id)


def sent(account, to: str, body: str, minutes: int, profile=None) -> Message:
    response, _ = send(account, SendRequest(message=body, to=(to,), sender_profile_id=profile.id if profile else None))
    message_id = response["message_ids"][0]
    db.session.execute(update(Message).where(Message.id == message_id).values(created_at=T0 + timedelta(minutes=minutes)))
    db.session.commit()
    return db.session.get(Message, message_id)


def keys(page) -> list[tuple[str, str]]:
    return [(t.number, t.our_number) for t in page.items]


def test_one_thread_per_our_number_and_theirs_latest_text_first(account, other_account, reply_profile):
    contacts.create_contact(account, {"name": "Ada Lovelace", "phone_number": ADA})
    text_in(account, ADA, "first", 1)
    text_in(account, BOB, "bob here", 2)
    text_in(account, ADA, "second", 3)
    sent(account, ADA, "from the platform number", 0)  # it is shared: the account in conversation gets texts
    text_in(account, ADA, "to the other number", 4, to=PLATFORM)
    sent(account, CAROL, "a campaign text nobody answered", 5)
    other_reply = senders.create_profile(other_account[0], "Theirs", "+4759449999", allow_reply=True)
    simulate_inbound(other_account[0], ADA, "to another tenant", to=other_reply.sender_id)

    page = inbox.threads(account, None, 1, 10)
    assert keys(page) == [(ADA, PLATFORM), (ADA, REPLY_NUMBER), (BOB, REPLY_NUMBER)]
    assert page.total == 3
    by_key = {(t.number, t.our_number): t for t in page.items}
    ada = by_key[(ADA, REPLY_NUMBER)]
    assert ada.inbound_count == 2 and ada.last_text.body == "second" and ada.name == "Ada Lovelace"
    assert ada.last_inbound_at == T0 + timedelta(minutes=3)
    assert by_key[(BOB, REPLY_NUMBER)].name is None and by_key[(BOB, REPLY_NUMBER)].last_text.body == "bob here"


def test_threads_come_a_page_at_a_time(account, reply_profile):
    for i in range(5):
        text_in(account, f"+479000010{i}", f"text {i}", i)
    first, last = inbox.threads(account, None, 1, 2), inbox.threads(account, None, 3, 2)
    assert [t.number for t in first.items] == ["+4790000104", "+4790000103"] and first.has_more
    assert [t.number for t in last.items] == ["+4790000100"] and not last.has_more and last.total == 5


@pytest.mark.parametrize("search, found", [
    ("Ada", [ADA]), ("lovelace", [ADA]), ("analytical", [ADA]),  # a contact's name or company
    ("900 00 002", [BOB]), ("90000002", [BOB]), ("+4790000002", [BOB]),  # the number, as typed
    ("9000000", [BOB, ADA]), ("nobody", []), ("", [BOB, ADA]),
])
def test_search_by_number_or_contact(account, reply_profile, search, found):
    contacts.create_contact(account, {"first_name": "Ada", "last_name": "Lovelace",
                                      "company_name": "Analytical Engines", "phone_number": ADA})
    text_in(account, ADA, "a", 1)
    text_in(account, BOB, "b", 2)
    assert [t.number for t in inbox.threads(account, search, 1, 10).items] == found


def test_the_thread_list_reads_inbound_rows_through_their_index(account, reply_profile):
    """The list must not read every message of the account: its query is served by the partial
    index on received messages (on PostgreSQL with sequential scans off, so the plan shows whether
    the index can serve the query at all, whatever the table's size)."""
    text_in(account, ADA, "a", 1)
    last_in = func.max(Message.received_at)
    query = (select(Message.to_number, Message.from_number, func.count(), last_in)
             .where(*inbox._inbound(account.id)).group_by(Message.to_number, Message.from_number))
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
        else:
            plan = "\n".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
    # Either partial index on received messages serves it; both hold inbound rows only.
    assert "ix_messages_account_received" in plan or "ix_messages_account_from_received" in plan, plan


def test_a_conversation_in_time_order_with_what_each_text_matched(ctx, account, reply_profile):
    keywords.create_keyword(account, "JOIN", auto_reply_message="Welcome", auto_reply_enabled=False)
    keywords.create_keyword(account, "OLD", is_active=False)
    sent(account, ADA, "Hello from us", 1, reply_profile)
    join = text_in(account, ADA, "join", 2)
    old = text_in(account, ADA, "old stuff", 3)
    stop = text_in(account, ADA, "Stopp", 4)
    text_in(account, BOB, "not Ada", 5)
    found = inbox.conversation(account, ADA, REPLY_NUMBER)
    confirmation = ctx.config["STOP_REPLY_TEXT"]  # the opt-out's answer, sent after it
    assert [m.body for m in found.messages] == ["Hello from us", "join", "old stuff", "Stopp", confirmation]
    assert [m.direction for m in found.messages] == ["OUTBOUND", "INBOUND", "INBOUND", "INBOUND", "OUTBOUND"]
    assert found.meanings == {join.id: "keyword JOIN", old.id: "keyword OLD (inactive)", stop.id: "STOP (opt-out)"}
    assert found.optout.source == "sms" and found.older_than is None
    assert [p.id for p in found.reply_profiles] == [reply_profile.id] and found.written_to.id == reply_profile.id


def test_a_conversation_through_one_of_our_numbers_or_all_of_them(account, reply_profile):
    sent(account, ADA, "from the platform number", 1)
    text_in(account, ADA, "to the platform number", 2, to=PLATFORM)
    text_in(account, ADA, "to the reply number", 3)
    assert [m.body for m in inbox.conversation(account, ADA, REPLY_NUMBER).messages] == ["to the reply number"]
    assert [m.body for m in inbox.conversation(account, ADA, PLATFORM).messages] == [
        "from the platform number", "to the platform number"]
    assert len(inbox.conversation(account, ADA).messages) == 3


def test_older_messages_a_page_at_a_time(account, reply_profile):
    for i in range(5):
        text_in(account, ADA, f"text {i}", i)
    newest = inbox.conversation(account, ADA, page_size=2)
    assert [m.body for m in newest.messages] == ["text 3", "text 4"] and newest.older_than
    older = inbox.conversation(account, ADA, before=newest.older_than, page_size=2)
    assert [m.body for m in older.messages] == ["text 1", "text 2"]
    oldest = inbox.conversation(account, ADA, before=older.older_than, page_size=2)
    assert [m.body for m in oldest.messages] == ["text 0"] and oldest.older_than is None
    assert not inbox.conversation(account, ADA).in_flight


def test_another_accounts_conversation_is_empty_here(account, other_account, reply_profile):
    text_in(account, ADA, "ours", 1)
    found = inbox.conversation(other_account[0], ADA)
    assert found.messages == [] and found.written_to is None


def test_a_reply_goes_from_the_number_written_to_and_answers_the_latest_text(account, reply_profile):
    text_in(account, ADA, "first", 1)
    latest = text_in(account, ADA, "any news?", 2)
    reply = inbox.reply(account, ADA, "Yes!", reply_profile.id)
    assert (reply.to_number, reply.from_number, reply.body, reply.status) == (ADA, REPLY_NUMBER, "Yes!", "QUEUED")
    assert reply.message_type == "REPLY" and reply.related_message_id == latest.id
    assert inbox.conversation(account, ADA, REPLY_NUMBER).in_flight


def test_a_reply_sent_twice_with_one_key_is_sent_once(account, reply_profile):
    text_in(account, ADA, "hi", 1)
    first = inbox.reply(account, ADA, "Once", reply_profile.id, idempotency_key="form-1")
    again = inbox.reply(account, ADA, "Once", reply_profile.id, idempotency_key="form-1")
    assert first.id == again.id and again.message_type == "REPLY"
    assert db.session.scalar(select(func.count()).select_from(Message).where(Message.direction == "OUTBOUND")) == 1


def test_a_reply_to_an_opted_out_number_is_refused_by_the_send_service(account, reply_profile):
    text_in(account, ADA, "STOP", 1)
    before = db.session.scalar(select(func.count()).select_from(Message))
    with pytest.raises(Invalid) as refused:
        inbox.reply(account, ADA, "Please come back", reply_profile.id)
    assert refused.value.code == "no_valid_recipients" and "opted out" in refused.value.message
    assert db.session.scalar(select(func.count()).select_from(Message)) == before
    optouts.remove_optout(account, ADA)
    assert inbox.reply(account, ADA, "Welcome back", reply_profile.id).status == "QUEUED"


def test_a_reply_only_from_a_profile_that_allows_replies(ctx, account, other_account, reply_profile, monkeypatch):
    sent(account, ADA, "from the platform number", 0)
    text_in(account, ADA, "hi", 1, to=PLATFORM)
    platform = next(p for p in senders.list_profiles(account) if p.sender_id == PLATFORM)
    theirs = senders.create_profile(other_account[0], "Theirs", "+4759449999", allow_reply=True)
    monkeypatch.setitem(ctx.config, "AUTO_APPROVE_SENDERS", False)
    pending = senders.create_profile(account, "Brand", "Acme", allow_reply=True, brand_confirmation=True)
    for profile_id in (platform.id, theirs.id, pending.id, None, "nope"):
        with pytest.raises(Invalid) as refused:
            inbox.reply(account, ADA, "hello", profile_id)
        assert refused.value.code == "reply_not_possible"
        assert refused.value.fields[0]["loc"] == ["body", "sender_profile_id"]
    found = inbox.conversation(account, ADA, PLATFORM)
    assert found.written_to is None and [p.id for p in found.reply_profiles] == [reply_profile.id]
    assert inbox.reply(account, ADA, "From the two-way number", reply_profile.id).from_number == REPLY_NUMBER


def test_no_profile_allows_replies(account):
    text_in(account, ADA, "hi", 1, to=PLATFORM)
    found = inbox.conversation(account, ADA)
    assert found.reply_profiles == [] and found.written_to is None


@pytest.mark.parametrize("raw, number", [("900 00 001", ADA), ("+4790000001", ADA), ("004790000001", ADA)])
def test_numbers_are_read_in_the_accounts_region(account, raw, number):
    assert inbox.read_number(account, raw) == number


def test_an_unreadable_number_is_invalid(account):
    with pytest.raises(Invalid):
        inbox.read_number(account, "abc")


def test_raw_sql_of_the_partial_index_matches_the_query(ctx):
    """The index the thread list relies on exists with the condition the query repeats."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            definition = conn.execute(text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_messages_account_received'")).scalar()
        else:
            definition = conn.execute(text(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_messages_account_received'")).scalar()
    assert definition and "received_at IS NOT NULL" in definition.replace("(", "").replace(")", "")
