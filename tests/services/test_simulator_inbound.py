"""Texts made up through the carrier simulator: they go through ``inbound.receive`` exactly as a
carrier's callback would (STOP, keywords, auto-replies), reach only the account that asked, and are
refused plainly when the simulator is not the provider."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Message, OptOut
from app.services import demo, keywords, senders
from app.services.accounts import authenticate, find_account
from app.services.errors import Conflict, Invalid, NotFound
from app.services.provider_routes import parse_routes
from app.services.send import SendRequest, send
from app.services.simulator_inbound import (
    describe,
    our_numbers,
    simulate_in_thread,
    simulate_inbound,
    simulate_reply,
    simulator_in_use,
)

REPLY_NUMBER = "+4759440001"
PERSON = "+4790000001"


@pytest.fixture
def reply_profile(account):
    return senders.create_profile(account, "Two-way", REPLY_NUMBER, allow_reply=True)


def messages(account, direction: str) -> list[Message]:
    return list(db.session.scalars(select(Message).where(
        Message.account_id == account.id, Message.direction == direction).order_by(Message.created_at)))


def test_a_text_reaches_the_accounts_reply_number_as_a_carrier_would_deliver_it(account, reply_profile):
    received = simulate_inbound(account, "900 00 001", "Hei der")
    message = received.message
    assert (message.from_number, message.to_number) == (PERSON, REPLY_NUMBER)  # read in the account's region
    assert message.status == "RECEIVED" and message.provider == "simulator"
    assert message.provider_message_id.startswith("sim-in-") and message.sender_profile_id == reply_profile.id
    assert received.action is None and not received.duplicate
    assert describe(received) == f"Text from {PERSON} to {REPLY_NUMBER} received."


def test_every_call_is_a_new_text_never_a_repeat(account, reply_profile):
    first = simulate_inbound(account, PERSON, "same")
    second = simulate_inbound(account, PERSON, "same")
    assert not second.duplicate and first.message.id != second.message.id
    assert len(messages(account, "INBOUND")) == 2


def test_stop_opts_the_number_out_and_queues_the_one_confirmation(account, reply_profile):
    received = simulate_inbound(account, PERSON, "STOP")
    assert received.action == "opt_out" and received.reply_message_id
    optout = db.session.scalar(select(OptOut).where(OptOut.account_id == account.id))
    assert (optout.number, optout.source) == (PERSON, "sms")
    (confirmation,) = messages(account, "OUTBOUND")
    assert confirmation.id == received.reply_message_id and confirmation.to_number == PERSON
    assert confirmation.from_number == REPLY_NUMBER and confirmation.related_message_id == received.message.id
    assert "the number is opted out; an answer is on its way" in describe(received)


def test_a_keyword_is_counted_and_auto_replied(account, reply_profile):
    keywords.create_keyword(account, "JOIN", auto_reply_message="Welcome aboard", auto_reply_enabled=True)
    received = simulate_inbound(account, PERSON, "join please")
    assert received.action == "keyword" and received.keyword == "JOIN"
    (answer,) = messages(account, "OUTBOUND")
    assert answer.body == "Welcome aboard" and answer.message_type == "REPLY"
    assert answer.related_message_id == received.message.id
    assert "it matched the keyword JOIN" in describe(received)
    assert keywords.list_keywords(account)[0].messages_received == 1


@pytest.mark.parametrize("to", [REPLY_NUMBER, REPLY_NUMBER.removeprefix("+"), "profile id"])
def test_the_number_texted_may_be_named_by_number_or_profile(account, reply_profile, to):
    default = our_numbers(account)[-1]  # the platform's number, every account's default
    assert default.sender_id == "+4759440000" and not default.allow_reply
    received = simulate_inbound(account, PERSON, "hi", to=reply_profile.id if to == "profile id" else to)
    assert received.message.to_number == REPLY_NUMBER
    platform = simulate_inbound(account, PERSON, "hi", to=default.id)
    assert platform.message.to_number == "+4759440000" and platform.reply_message_id is None


def test_our_numbers_list_reply_numbers_first_and_no_brand_names(ctx, account, reply_profile, monkeypatch):
    monkeypatch.setitem(ctx.config, "AUTO_APPROVE_SENDERS", True)
    senders.create_profile(account, "Brand", "Acme", brand_confirmation=True)
    assert [p.sender_id for p in our_numbers(account)] == [REPLY_NUMBER, "+4759440000"]


@pytest.mark.parametrize("call, field, message", [
    (lambda a: simulate_inbound(a, "12", "hi"), "from_number", "From number '12' is too short"),
    (lambda a: simulate_inbound(a, "", "hi"), "from_number", "From number must not be empty"),
    (lambda a: simulate_inbound(a, PERSON, "   "), "text", "Text is required"),
    (lambda a: simulate_inbound(a, PERSON, "hi", to="+4711111111"), "to",
     "'+4711111111' is not one of this account's numbers (approved phone-number senders: +4759440001, +4759440000)"),
    (lambda a: simulate_inbound(a, PERSON, "x" * 10_001), "text", "The simulator cannot carry this text"),
])
def test_what_cannot_be_simulated_is_refused_naming_the_field(account, reply_profile, call, field, message):
    with pytest.raises(Invalid) as refused:
        call(account)
    assert refused.value.message.startswith(message)
    assert refused.value.fields[0]["loc"] == ["body", field]
    assert messages(account, "INBOUND") == []


def test_without_a_number_that_allows_replies_the_number_must_be_named(account):
    with pytest.raises(Invalid) as refused:
        simulate_inbound(account, PERSON, "hi")
    assert refused.value.code == "no_reply_number" and "Allow replies" in refused.value.message


def test_only_while_the_simulator_is_the_provider(ctx, account, reply_profile, monkeypatch):
    assert simulator_in_use()
    monkeypatch.setitem(ctx.config, "SMS_PROVIDER", "wayscloud")
    assert not simulator_in_use()
    for call in (lambda: simulate_inbound(account, PERSON, "hi"), lambda: simulate_reply(account, None, "hi"),
                 lambda: simulate_in_thread(account, PERSON, None, "hi")):
        with pytest.raises(Conflict) as refused:
            call()
        assert refused.value.code == "simulator_not_in_use" and "SMS_PROVIDER" in refused.value.message
    assert messages(account, "INBOUND") == []


def test_routes_decide_which_numbers_go_through_the_simulator(ctx, account, other_account, reply_profile,
                                                               monkeypatch):
    """``PROVIDER_ROUTES`` sends an account's or a sender profile's messages through another provider:
    texts to those numbers cannot be simulated, texts to numbers routed to the simulator can."""
    monkeypatch.setitem(ctx.config, "PROVIDER_ROUTES", parse_routes(f"account:{account.id}=wayscloud"))
    assert not simulator_in_use(account) and simulator_in_use(other_account[0])
    with pytest.raises(Conflict) as refused:
        simulate_inbound(account, PERSON, "hi")
    assert refused.value.code == "simulator_not_in_use"

    monkeypatch.setitem(ctx.config, "SMS_PROVIDER", "wayscloud")
    monkeypatch.setitem(ctx.config, "PROVIDER_ROUTES", parse_routes(f"sender:{reply_profile.id}=simulator"))
    assert simulator_in_use(account) and not simulator_in_use(other_account[0]) and not simulator_in_use()
    assert [p.id for p in our_numbers(account)] == [reply_profile.id]
    assert simulate_inbound(account, PERSON, "hi").message.to_number == REPLY_NUMBER
    with pytest.raises(Invalid) as platform:
        simulate_inbound(account, PERSON, "hi", to="+4759440000")
    assert platform.value.message == ("+4759440000 sends through 'wayscloud', not the carrier simulator: texts to "
                                      "it cannot be simulated")
    sent, _ = send(account, SendRequest(message="Through WAYSCloud", to=(PERSON,)))
    with pytest.raises(Conflict) as real:
        simulate_reply(account, sent["message_ids"][0], "hi")
    assert "went out through 'wayscloud'" in real.value.message


def test_a_reply_comes_from_the_recipient_of_the_latest_message_to_its_sender(account, reply_profile):
    send(account, SendRequest(message="First", to=("+4790000002",)))
    response, _ = send(account, SendRequest(message="Hello?", to=(PERSON,), sender_profile_id=reply_profile.id))
    received = simulate_reply(account, None, "Yes!")
    message = received.message
    assert (message.from_number, message.to_number, message.body) == (PERSON, REPLY_NUMBER, "Yes!")
    assert message.message_type == "REPLY" and message.related_message_id == response["message_ids"][0]


def test_a_reply_to_a_named_message(account, reply_profile):
    first, _ = send(account, SendRequest(message="First", to=("+4790000002",), sender_profile_id=reply_profile.id))
    send(account, SendRequest(message="Second", to=(PERSON,), sender_profile_id=reply_profile.id))
    received = simulate_reply(account, first["message_ids"][0], "About the first")
    assert received.message.from_number == "+4790000002"
    assert received.message.related_message_id == first["message_ids"][0]


def test_replies_that_cannot_be(ctx, account, other_account, reply_profile, monkeypatch):
    with pytest.raises(NotFound) as nothing:
        simulate_reply(account, None, "hi")
    assert nothing.value.code == "nothing_to_reply_to"
    theirs, _ = send(other_account[0], SendRequest(message="Theirs", to=(PERSON,)))
    with pytest.raises(NotFound):
        simulate_reply(account, theirs["message_ids"][0], "hi")  # another tenant's message is unknown here
    inbound = simulate_inbound(account, PERSON, "in").message
    with pytest.raises(NotFound):
        simulate_reply(account, inbound.id, "hi")  # not a message we sent
    monkeypatch.setitem(ctx.config, "AUTO_APPROVE_SENDERS", True)
    brand = senders.create_profile(account, "Brand", "Acme", brand_confirmation=True)
    sent, _ = send(account, SendRequest(message="From a name", to=(PERSON,), sender_profile_id=brand.id))
    with pytest.raises(Invalid) as named:
        simulate_reply(account, sent["message_ids"][0], "hi")
    assert named.value.code == "reply_not_possible" and "'Acme', a name rather than a number" in named.value.message


def test_a_text_never_lands_in_another_accounts_inbox(account, other_account):
    """Every account's default number is the platform's; the account that messaged the person last
    owns their texts to it, so simulating from this account must not deliver one to that account."""
    other, _ = other_account
    send(other, SendRequest(message="From Globex", to=(PERSON,)))
    platform = our_numbers(account)[0]
    with pytest.raises(Conflict) as refused:
        simulate_inbound(account, PERSON, "STOP", to=platform.id)
    assert refused.value.code == "number_owned_elsewhere"
    assert db.session.scalar(select(func.count()).select_from(Message).where(Message.direction == "INBOUND")) == 0
    assert db.session.scalar(select(func.count()).select_from(OptOut)) == 0


def test_in_a_thread_the_person_answers_our_latest_message_or_texts_again(account, reply_profile):
    with pytest.raises(NotFound):
        simulate_in_thread(account, PERSON, None, "hi")  # no conversation at all
    opened = simulate_inbound(account, PERSON, "Hello").message
    again = simulate_in_thread(account, PERSON, REPLY_NUMBER, "Anyone?")
    assert again.message.to_number == REPLY_NUMBER and again.message.related_message_id is None
    response, _ = send(account, SendRequest(message="Yes?", to=(PERSON,), sender_profile_id=reply_profile.id))
    answer = simulate_in_thread(account, PERSON, REPLY_NUMBER, "Thanks").message
    assert answer.related_message_id == response["message_ids"][0] and answer.id != opened.id


# -- the demo account `make run` seeds ----------------------------------------------------------------

def test_the_demo_is_ready_for_two_way_at_once(ctx):
    demo.seed("demo-password-1")
    account = authenticate(demo.DEMO_EMAIL, "demo-password-1").account
    received = simulate_inbound(account, PERSON, "tilbud")  # to the demo's number that allows replies
    assert received.message.to_number == demo.DEMO_REPLY_NUMBER and received.keyword == "TILBUD"
    (answer,) = messages(account, "OUTBOUND")
    assert answer.body == demo.DEMO_KEYWORD[2] and answer.from_number == demo.DEMO_REPLY_NUMBER
    default = next(p for p in senders.list_profiles(account) if p.is_default)
    assert default.sender_id == "+4759440000"  # sends still go from the platform's number by default


def test_seeding_the_demo_again_adds_nothing_and_keeps_a_deleted_keyword_deleted(ctx):
    demo.seed("demo-password-1")
    account = find_account(demo.DEMO_ACCOUNT)
    keywords.delete_keyword(account, keywords.list_keywords(account)[0].id)
    demo.seed("demo-password-2")
    assert [p.name for p in senders.list_profiles(account)] == ["default", "Two-way"]
    assert keywords.list_keywords(account) == []


def test_a_demo_seeded_before_two_way_gets_its_number_and_keyword(ctx, monkeypatch):
    monkeypatch.setattr(demo, "_seed_two_way", lambda account: None)
    demo.seed("demo-password-1")
    account = find_account(demo.DEMO_ACCOUNT)
    assert [p.name for p in senders.list_profiles(account)] == ["default"]
    monkeypatch.undo()
    demo.seed("demo-password-1")
    assert [p.sender_id for p in our_numbers(account)] == [demo.DEMO_REPLY_NUMBER, "+4759440000"]
    assert [k.keyword for k in keywords.list_keywords(account)] == ["TILBUD"]
