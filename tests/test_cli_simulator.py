"""``flask simulator inbound`` and ``flask simulator reply``: a person's text, made up on the command
line after ``make run``, with the service's refusals as plain messages rather than tracebacks."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Message, OptOut
from app.services import senders
from app.services.send import SendRequest, send

REPLY_NUMBER = "+4759440001"
PERSON = "+4790000001"


@pytest.fixture
def reply_profile(account):
    return senders.create_profile(account, "Two-way", REPLY_NUMBER, allow_reply=True)


def run(ctx, *args: str):
    return ctx.test_cli_runner().invoke(args=["simulator", *args])


def inbound(account) -> list[Message]:
    return list(db.session.scalars(select(Message).where(
        Message.account_id == account.id, Message.direction == "INBOUND").order_by(Message.created_at)))


def test_inbound_stop_opts_the_number_out(ctx, account, reply_profile):
    result = run(ctx, "inbound", "--account", "acme", "--from", "900 00 001", "--text", "STOP")
    assert result.exit_code == 0, result.output
    (message,) = inbound(account)
    assert result.output.strip() == (f"Text from {PERSON} to {REPLY_NUMBER} received; the number is opted out; "
                                     f"an answer is on its way. Message id: {message.id}")
    assert db.session.scalar(select(OptOut.source).where(OptOut.number == PERSON)) == "sms"


def test_inbound_to_a_named_number(ctx, account, reply_profile):
    result = run(ctx, "inbound", "--account", "Acme", "--from", PERSON, "--text", "hei", "--to", "4759440000")
    assert result.exit_code == 0, result.output
    assert inbound(account)[0].to_number == "+4759440000"


def test_reply_to_the_latest_or_a_named_message(ctx, account, reply_profile):
    first, _ = send(account, SendRequest(message="First", to=("+4790000002",), sender_profile_id=reply_profile.id))
    send(account, SendRequest(message="Second", to=(PERSON,), sender_profile_id=reply_profile.id))
    latest = run(ctx, "reply", "--account", "Acme", "--text", "Svar")
    assert latest.exit_code == 0, latest.output
    assert latest.output.startswith(f"Text from {PERSON} to {REPLY_NUMBER} received.")
    named = run(ctx, "reply", "--account", "Acme", "--message-id", first["message_ids"][0], "--text", "Svar 2")
    assert named.exit_code == 0, named.output
    assert [(m.from_number, m.body) for m in inbound(account)] == [(PERSON, "Svar"), ("+4790000002", "Svar 2")]


@pytest.mark.parametrize("args, message", [
    (("inbound", "--account", "Nobody", "--from", PERSON, "--text", "hi"), "No account named 'Nobody'"),
    (("inbound", "--account", "Acme", "--from", "12", "--text", "hi"), "From number '12' is too short"),
    (("inbound", "--account", "Acme", "--from", PERSON, "--text", "hi", "--to", "+4711111111"),
     "'+4711111111' is not one of this account's numbers"),
    (("reply", "--account", "Acme", "--text", "hi"), "This account has sent no message yet"),
    (("reply", "--account", "Acme", "--message-id", "nope", "--text", "hi"), "No message 'nope' sent by this account"),
])
def test_refusals_are_plain_messages(ctx, account, reply_profile, args, message):
    result = run(ctx, *args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"Error: {message}" in result.output
    assert inbound(account) == []


def test_no_reply_number_says_how_to_get_one(ctx, account):
    result = run(ctx, "inbound", "--account", "Acme", "--from", PERSON, "--text", "hi")
    assert result.exit_code == 1 and "Allow replies" in result.output


def test_not_while_another_provider_is_in_use(ctx, account, reply_profile, monkeypatch):
    monkeypatch.setitem(ctx.config, "SMS_PROVIDER", "wayscloud")
    result = run(ctx, "inbound", "--account", "Acme", "--from", PERSON, "--text", "hi")
    assert result.exit_code == 1 and "The carrier simulator is not in use" in result.output
    assert inbound(account) == []
